//! `c9aws setup` on tricky `~/.aws/config` files: only c9aws's section
//! changes, byte for byte; a backup is kept; modes are private; it is
//! idempotent; and `~/.aws/credentials` is never opened for writing (strace).

use crate::world::{assert_stderr_has, need, stderr as err, World, C9AWS};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

const MARKER: &str = "# managed by c9aws setup (rerun `c9aws setup` to change it)";
const CREDS: &str = "# Do not modify this file, if this file is modified it will not be updated.\n[default]\naws_access_key_id = ASIAC9AWSTESTKEYID00\naws_secret_access_key = c9awsTESTsecretKEYdoNOTprint0000000000000\naws_session_token = c9awsTESTsessionTOKENdoNOTprint\n";

/// A HOME with a credentials file and, if given, `~/.aws/config` (mode 0644).
fn home(config: Option<&[u8]>) -> World {
    let w = World::new();
    w.credentials(CREDS);
    if let Some(c) = config {
        w.aws_config(c);
    }
    w
}

fn config(w: &World) -> PathBuf {
    w.home().join(".aws/config")
}

fn setup(w: &World, args: &[&str]) -> Output {
    w.c9aws(["setup"]).args(args).output().unwrap()
}

/// `c9aws setup ARGS` refuses (exit 1, saying `says`) and touches nothing.
#[track_caller]
fn assert_refused(w: &World, args: &[&str], says: &str) {
    let before = fs::read(config(w)).unwrap();
    let o = setup(w, args);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, says);
    assert_eq!(fs::read(config(w)).unwrap(), before);
    assert!(backups(w).is_empty());
}

fn backups(w: &World) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(w.home().join(".aws"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".c9aws-backup-"))
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn section(nl: &str) -> String {
    format!(
        "[profile c9-fallback]{nl}{MARKER}{nl}credential_process = {C9AWS} credential-process{nl}"
    )
}

/// Tricky files: each is kept byte for byte, with c9aws's section appended.
const TRICKY: &[&[u8]] = &[
    b"[default]\nregion = ap-northeast-1\n",
    b"# top comment\n; another\n[profile  work ]\nregion=us-east-1\noutput =  json\n\n[work2]\nregion = x",
    b"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\n[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n",
    b"[default]\r\nregion = eu-west-1\r\n[services local]\r\ns3 =\r\n  endpoint_url = http://localhost:4566\r\n",
    b"[profile c9-fallback-not]\nregion = x\n[c9-fallback]\nregion = y\n",
    b"\n\n   \n",
    // Not profile c9-fallback for the CLI: a header with spaces inside the
    // brackets, and an indented header that continues the value above it.
    b"[ profile  c9-fallback ]\nregion = z\n[profile a]\nregion = x\n  [profile c9-fallback]\n",
    b"[default]\r\n# no final newline\r\nregion = eu-west-1",
];

#[test]
fn appends_its_section_keeping_every_other_byte() {
    for (n, cfg) in TRICKY.iter().enumerate() {
        let h = home(Some(cfg));
        let o = setup(&h, &["--instance-role"]);
        assert!(o.status.success(), "case {n}: {}", err(&o));
        let after = fs::read(config(&h)).unwrap();
        assert!(after.starts_with(cfg), "case {n}: prefix changed");
        let nl = if cfg.windows(2).any(|w| w == b"\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let tail = String::from_utf8(after[cfg.len()..].to_vec()).unwrap();
        assert!(tail.ends_with(&section(nl)), "case {n}: {tail:?}");
        assert!(
            tail[..tail.len() - section(nl).len()]
                .chars()
                .all(|c| c == '\n' || c == '\r'),
            "case {n}: only line breaks separate the old file and the section: {tail:?}"
        );
        // The file's mode is kept; the backup is the original, private.
        assert_eq!(mode(&config(&h)), 0o644, "case {n}");
        let b = backups(&h);
        assert_eq!(b.len(), 1, "case {n}");
        assert_eq!(fs::read(&b[0]).unwrap(), *cfg, "case {n}");
        assert_eq!(mode(&b[0]), 0o600);
        // Idempotent: nothing changes, no new backup.
        let o = setup(&h, &["--instance-role"]);
        assert!(o.status.success());
        assert_stderr_has(&o, "nothing changed");
        assert_eq!(fs::read(config(&h)).unwrap(), after, "case {n}");
        assert_eq!(backups(&h).len(), 1);
        // c9aws's own config names the profile, privately.
        let c9 = h.home().join(".config/c9aws/config");
        assert_eq!(
            fs::read_to_string(&c9).unwrap(),
            "fallback_profile = c9-fallback\n"
        );
        assert_eq!(mode(&c9), 0o600);
        assert_eq!(mode(c9.parent().unwrap()), 0o700);
        // The credentials file is untouched.
        assert_eq!(
            fs::read_to_string(h.home().join(".aws/credentials")).unwrap(),
            CREDS
        );
    }
}

#[test]
fn rewrites_only_its_own_section_and_respects_the_users() {
    let before = format!("[default]\nregion = x\n\n[profile c9-fallback]\n{MARKER}\nregion = old\n# the next one is mine\n[profile work]\nregion = y");
    let h = home(Some(before.as_bytes()));
    let o = setup(&h, &["--instance-role", "--region", "eu-west-1"]);
    assert!(o.status.success(), "{}", err(&o));
    let want = format!(
        "[default]\nregion = x\n\n[profile c9-fallback]\n{MARKER}\ncredential_process = {C9AWS} credential-process\nregion = eu-west-1\n# the next one is mine\n[profile work]\nregion = y"
    );
    assert_eq!(fs::read_to_string(config(&h)).unwrap(), want);

    // A section of the user's with that name: refused, file untouched.
    let mine = "[profile c9-fallback]\nregion = mine\n";
    let h = home(Some(mine.as_bytes()));
    assert_refused(&h, &["--instance-role"], "--force");
    let o = setup(&h, &["--instance-role", "--force"]);
    assert!(o.status.success());
    assert_eq!(fs::read_to_string(config(&h)).unwrap(), section("\n"));
}

#[test]
fn a_new_config_file_is_private() {
    let h = home(None);
    let o = setup(&h, &["--instance-role", "--profile-name", "fb"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(mode(&config(&h)), 0o600);
    assert!(fs::read_to_string(config(&h))
        .unwrap()
        .starts_with("[profile fb]\n"));
    assert!(backups(&h).is_empty());
    assert!(
        err(&o).contains("ec2:DescribeRouteTables"),
        "the role's policies are named"
    );
    // IMDS is disabled here: the role could not be checked, and it says so.
    assert_stderr_has(&o, "Warning: IMDS is disabled");
}

#[test]
fn existing_profiles_and_access_keys() {
    let h = home(Some(b"[profile admin]\nregion = x\n"));
    let o = setup(&h, &["--use-profile", "admin"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(config(&h)).unwrap(),
        b"[profile admin]\nregion = x\n"
    );
    assert_eq!(
        fs::read_to_string(h.home().join(".config/c9aws/config")).unwrap(),
        "fallback_profile = admin\n"
    );
    let o = setup(&h, &["--use-profile", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "\"nope\" is in neither");
    let o = setup(&h, &["--use-profile", "default"]);
    assert_eq!(o.status.code(), Some(1));
    let o = setup(&h, &["--use-profile", "admin", "--region", "eu-west-1"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an existing profile is not edited"
    );
    assert_stderr_has(&o, "--region");
    // A profile only in Cloud9's credentials file: recorded, with a warning.
    let h2 = home(None);
    h2.credentials(format!(
        "{CREDS}[mine]\naws_access_key_id = AKIAC9AWSMINE0000001\n"
    ));
    let o = setup(&h2, &["--use-profile", "mine"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_stderr_has(&o, "Cloud9 rewrites");

    // Keys from stdin, never echoed.
    let mut child = h
        .c9aws(["setup", "--access-keys", "--profile-name", "keys"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"AKIAC9AWSSETUPTEST01\nsetupSecretDoNotEcho000000000000000000000\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", err(&o));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), err(&o));
    assert!(!all.contains("setupSecretDoNotEcho"), "{all}");
    assert!(all.contains("long-lived"), "{all}");
    let cfg = fs::read_to_string(config(&h)).unwrap();
    assert!(cfg.starts_with("[profile admin]\nregion = x\n"));
    assert!(cfg.contains("[profile keys]\n"));
    assert!(cfg.contains("aws_secret_access_key = setupSecretDoNotEcho000000000000000000000\n"));
    // Keys make the file private, whatever its mode was.
    assert_eq!(mode(&config(&h)), 0o600);
}

#[test]
fn a_section_the_cli_reads_as_that_profile_is_the_users() {
    for cfg in [
        "[profile c9-fallback] # mine\nregion = x\n",
        "[profile \"c9-fallback\"]\nregion = x\n",
        "[default]\n[profile   c9-fallback ]\nregion = x\n",
    ] {
        let h = home(Some(cfg.as_bytes()));
        let o = setup(&h, &["--instance-role"]);
        assert_eq!(o.status.code(), Some(1), "{cfg:?}");
        assert_stderr_has(&o, "--force");
        assert_eq!(fs::read_to_string(config(&h)).unwrap(), cfg);
        assert!(!h.home().join(".config/c9aws/config").exists());
    }
}

#[test]
fn a_file_the_cli_cannot_read_is_not_edited() {
    let cfg = "region = x\n[default]\n";
    let h = home(Some(cfg.as_bytes()));
    assert_refused(&h, &["--instance-role"], "line 1");
}

#[test]
fn values_that_would_inject_lines_are_refused() {
    let h = home(Some(b"[default]\n"));
    for args in [
        vec!["--instance-role", "--region", "x\n[profile evil]"],
        vec!["--instance-role", "--profile-name", "a]\n[b"],
        vec!["--instance-role", "--profile-name", "two words"],
        vec!["--use-profile", "a\nb"],
    ] {
        let o = setup(&h, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(fs::read_to_string(config(&h)).unwrap(), "[default]\n");
    }
}

#[test]
fn config_files_named_by_the_environment_and_symlinks() {
    let h = home(None);
    // AWS_CONFIG_FILE is a symlink to a dotfiles copy; C9AWS_CONFIG has other settings.
    let real = h.home().join("dotfiles/aws-config");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, "[default]\nregion = x\n").unwrap();
    let link = h.home().join("aws-config-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let c9 = h.home().join("dotfiles/c9aws.ini");
    fs::write(
        &c9,
        "# mine\nnotice = never\n\n[service s3]\nroute = amtc\n",
    )
    .unwrap();
    let c9_link = h.home().join("c9aws-link");
    std::os::unix::fs::symlink(&c9, &c9_link).unwrap();
    let o = h
        .c9aws(["setup", "--instance-role"])
        .env("AWS_CONFIG_FILE", &link)
        .env("C9AWS_CONFIG", &c9_link)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    for l in [&link, &c9_link] {
        let t = fs::symlink_metadata(l).unwrap().file_type();
        assert!(t.is_symlink(), "{} is still a link", l.display());
    }
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        format!("[default]\nregion = x\n\n{}", section("\n"))
    );
    assert_eq!(
        fs::read_to_string(&c9).unwrap(),
        "fallback_profile = c9-fallback\n# mine\nnotice = never\n\n[service s3]\nroute = amtc\n"
    );
    assert!(!config(&h).exists(), "~/.aws/config was not the file named");
}

#[test]
fn without_a_terminal_a_choice_is_required() {
    let h = home(None);
    let o = setup(&h, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "--instance-role");
    assert!(!config(&h).exists());
    let o = setup(&h, &["--sso"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("terminal"));
}

#[test]
fn the_credentials_file_is_never_opened_for_writing() {
    need("strace");
    for (n, args) in [
        vec!["--instance-role"],
        vec!["--instance-role", "--force", "--region", "x"],
        vec!["--use-profile", "admin"],
        vec!["--access-keys", "--profile-name", "keys"],
    ]
    .into_iter()
    .enumerate()
    {
        let h = home(Some(b"[profile admin]\n"));
        let log = h.home().join("strace.log");
        let mut a = vec![
            "-f",
            "-qq",
            "-o",
            log.to_str().unwrap(),
            "-e",
            "trace=open,openat,openat2,creat,rename,renameat,renameat2,unlink,unlinkat,truncate,link,linkat,symlink,symlinkat,chmod,fchmodat",
            C9AWS,
            "setup",
        ];
        a.extend(args.iter().copied());
        let mut child = h
            .command("strace")
            .args(&a)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read only by --access-keys.
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(b"AKIAC9AWSSETUPTEST01\nsetupSecretDoNotEcho000000000000000000000\n");
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "case {n}: {}", err(&o));
        let trace = fs::read_to_string(&log).unwrap();
        assert!(
            trace.contains(".aws/config"),
            "case {n}: strace saw nothing: {trace}"
        );
        for line in trace.lines().filter(|l| l.contains(".aws/credentials")) {
            let read_only = (line.contains("open") && line.contains("O_RDONLY"))
                && !line.contains("O_WRONLY")
                && !line.contains("O_RDWR")
                && !line.contains("O_CREAT")
                && !line.contains("O_TRUNC");
            assert!(read_only, "case {n}: credentials touched: {line}");
        }
        assert_eq!(
            fs::read_to_string(h.home().join(".aws/credentials")).unwrap(),
            CREDS
        );
    }
}
