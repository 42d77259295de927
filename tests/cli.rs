//! The built `c9aws` binary against a fake `aws` on PATH, in a hermetic world:
//! a temporary HOME, a scrubbed environment, and a fake CLI that records its
//! argv (as raw bytes), its environment, its stdin and its signal dispositions.

mod common;
use common::{doctor_check, sandbox, write_exe, CLOUD9_CREDENTIALS};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

const FAKE_AWS: &str = r#"#!/bin/sh
# A stand-in for the AWS CLI: records how it was started, then behaves as told.
if [ "$1" = "--version" ] && [ -z "$FAKE_AWS_LOG_VERSION" ]; then
  echo "aws-cli/${FAKE_AWS_VERSION:-1.45.11} Python/3.11.7 Linux/6 botocore/1.43.11"
  exit 0
fi
log="$FAKE_AWS_LOG"
fds=""
for fd in 0 1 2; do if [ -e "/proc/$$/fd/$fd" ]; then fds="${fds}o"; else fds="${fds}c"; fi; done
printf '%s' "$fds" > "$log.fds"
: > "$log.argv"
for a in "$@"; do printf '%s\0' "$a" >> "$log.argv"; done
printf '%s' "${C9AWS_ACTIVE-unset}" > "$log.active"
# Read with builtins only: a forked helper would catch the shell mid-fork,
# when it briefly blocks signals.
while read -r k v; do
  case "$k" in SigIgn:|SigBlk:) echo "$k $v";; esac
done < "/proc/$$/status" > "$log.sig"
if [ -t 0 ] && [ -t 1 ]; then echo tty > "$log.tty"; else echo notty > "$log.tty"; fi
if [ -n "$FAKE_AWS_STDIN" ]; then cat > "$log.stdin"; fi
if [ -n "$FAKE_AWS_OUT" ]; then printf '%s' "$FAKE_AWS_OUT"; fi
if [ -n "$FAKE_AWS_SIGNAL" ]; then kill -"$FAKE_AWS_SIGNAL" $$; sleep 5; fi
exit "${FAKE_AWS_EXIT:-0}"
"#;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: sandbox(FAKE_AWS),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn home(&self) -> PathBuf {
        self.path().join("home")
    }
    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }
    fn log(&self) -> PathBuf {
        self.path().join("log")
    }
    fn cloud9(&self) -> &World {
        let aws = self.home().join(".aws");
        fs::create_dir_all(&aws).unwrap();
        fs::write(aws.join("credentials"), CLOUD9_CREDENTIALS).unwrap();
        fs::create_dir_all(self.home().join(".c9")).unwrap();
        self
    }
    /// `c9aws ARGS` with PATH = the given dirs (default: the fake's bin).
    fn cmd(&self, args: &[&OsStr]) -> Command {
        let mut c = Command::new(C9AWS);
        c.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin().display()))
            .env("FAKE_AWS_LOG", self.log())
            // Nothing in these tests may reach the network: no IMDS, no checkip
            // (and without IMDS, c9aws probes nothing else).
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/")
            .stdin(Stdio::null());
        c
    }
    fn config(&self, aws_config: &str, c9aws_config: &str) -> &World {
        fs::create_dir_all(self.home().join(".aws")).unwrap();
        fs::write(self.home().join(".aws/config"), aws_config).unwrap();
        let dir = self.home().join(".config/c9aws");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config"), c9aws_config).unwrap();
        self
    }
    fn run(&self, args: &[&str]) -> Output {
        let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        self.cmd(&a).output().unwrap()
    }
    fn argv(&self) -> Vec<Vec<u8>> {
        let raw = fs::read(self.log().with_extension("argv")).unwrap();
        raw.split(|b| *b == 0)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default()
    }
    fn logged(&self, what: &str) -> String {
        fs::read_to_string(self.log().with_extension(what)).unwrap_or_default()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn argv_reaches_aws_byte_for_byte() {
    let w = World::new();
    let args: Vec<OsString> = vec![
        "s3".into(),
        "cp".into(),
        OsString::from_vec(b"caf\xe9-\xff\xfe.txt".to_vec()),
        "s3://bucket/key with spaces".into(),
        "".into(),
        "--".into(),
        "line\nbreak".into(),
        "--reg=eu-west-1".into(),
        "*".into(),
        "$HOME".into(),
    ];
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    let o = w.cmd(&refs).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(w.argv(), want);
    assert_eq!(w.logged("active"), "1", "the CLI is marked as run by c9aws");
}

#[test]
fn exit_codes_are_the_clis() {
    let w = World::new();
    for code in [0, 1, 2, 130, 252, 253, 254, 255] {
        let o = w
            .cmd(&[OsStr::new("sts"), OsStr::new("get-caller-identity")])
            .env("FAKE_AWS_EXIT", code.to_string())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    }
}

#[test]
fn death_by_signal_is_the_clis() {
    let w = World::new();
    for (name, num) in [("TERM", 15), ("INT", 2), ("KILL", 9)] {
        let o = w
            .cmd(&[OsStr::new("s3"), OsStr::new("ls")])
            .env("FAKE_AWS_SIGNAL", name)
            .output()
            .unwrap();
        assert_eq!(o.status.signal(), Some(num), "{name}: {:?}", o.status);
    }
}

#[test]
fn stdin_and_stdout_stream_through_untouched() {
    let w = World::new();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut child = w
        .cmd(&[
            OsStr::new("s3"),
            OsStr::new("cp"),
            OsStr::new("-"),
            OsStr::new("s3://b/k"),
        ])
        .env("FAKE_AWS_STDIN", "1")
        .env("FAKE_AWS_OUT", "done")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, b"done");
    assert_eq!(fs::read(w.log().with_extension("stdin")).unwrap(), data);
}

#[test]
fn signal_dispositions_are_those_of_a_direct_start() {
    let w = World::new();
    // Direct start, as a shell would do it.
    let direct = Command::new(w.bin().join("aws"))
        .arg("x")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("FAKE_AWS_LOG", w.log())
        .status()
        .unwrap();
    assert!(direct.success());
    let want = w.logged("sig");
    let o = w.run(&["x"]);
    assert!(o.status.success());
    assert_eq!(
        w.logged("sig"),
        want,
        "c9aws must not leave signals ignored or blocked"
    );
}

#[test]
fn closed_standard_fds_stay_closed_and_catch_nothing_of_c9aws() {
    // stdin and stderr closed, as `cmd <&- 2>&-` in a shell. c9aws prints an
    // error (malformed config) and writes its cache on Cloud9; neither may land
    // in a file it opened on those fds, and aws must see them closed as a
    // direct start does.
    let w = World::new();
    w.cloud9();
    w.config("", "[broken\n");
    let closed = |prog: &Path| {
        let mut c = w.cmd(&[]);
        let envs: Vec<(OsString, OsString)> = c
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect();
        c = Command::new("/bin/sh");
        c.args(["-c", "exec 0<&- 2>&- \"$@\"", "sh"])
            .arg(prog)
            .args(["sts", "get-caller-identity"])
            .env_clear()
            .envs(envs);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{o:?}");
        w.logged("fds")
    };
    let direct = closed(&w.bin().join("aws"));
    assert_eq!(direct, "coc");
    assert_eq!(closed(Path::new(C9AWS)), direct);
    assert_eq!(
        w.argv(),
        vec![b"sts".to_vec(), b"get-caller-identity".to_vec()]
    );
    let cache = w.home().join(".cache/c9aws");
    let mut seen = 0;
    for e in fs::read_dir(&cache).unwrap() {
        let text = fs::read(e.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("c9aws:"));
        seen += 1;
    }
    assert!(seen > 0, "c9aws wrote no cache in {}", cache.display());
}

#[test]
fn terminal_stays_a_terminal() {
    let Ok(script) = which::which("script") else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    let w = World::new();
    let line = format!("{C9AWS} configure list");
    let o = Command::new(script)
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_clear()
        .env("HOME", w.home())
        .env("PATH", format!("{}:/usr/bin:/bin", w.bin().display()))
        .env("FAKE_AWS_LOG", w.log())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(w.logged("tty").trim(), "tty");
}

#[test]
fn c9aws_as_a_symlink_named_aws_never_loops() {
    let w = World::new();
    // c9aws installed as `aws`, ahead of the real one on PATH.
    let shim = w.path().join("shim");
    fs::create_dir_all(&shim).unwrap();
    symlink(C9AWS, shim.join("aws")).unwrap();
    let path = format!("{}:{}:/usr/bin:/bin", shim.display(), w.bin().display());
    let o = Command::new(shim.join("aws"))
        .args(["s3", "ls"])
        .env_clear()
        .env("HOME", w.home())
        .env("PATH", &path)
        .env("FAKE_AWS_LOG", w.log())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.argv(), vec![b"s3".to_vec(), b"ls".to_vec()]);

    // With only c9aws on PATH: a clear 127, not a loop.
    let o = Command::new(shim.join("aws"))
        .args(["s3", "ls"])
        .env_clear()
        .env("HOME", w.home())
        .env("PATH", format!("{}:/usr/bin:/bin", shim.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert!(
        stderr(&o).contains("skipping c9aws itself"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_wrapper_script_that_calls_c9aws_cannot_loop() {
    let w = World::new();
    let wrap = w.path().join("wrap");
    fs::create_dir_all(&wrap).unwrap();
    write_exe(
        &wrap.join("aws"),
        &format!("#!/bin/sh\nexec {C9AWS} \"$@\"\n"),
    );
    let o = w
        .cmd(&[OsStr::new("ec2"), OsStr::new("describe-vpcs")])
        .env(
            "PATH",
            format!("{}:{}:/usr/bin:/bin", wrap.display(), w.bin().display()),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.argv(), vec![b"ec2".to_vec(), b"describe-vpcs".to_vec()]);
}

#[test]
fn missing_aws_is_127_with_one_line() {
    let w = World::new();
    fs::remove_file(w.bin().join("aws")).unwrap();
    let o = w.run(&["s3", "ls"]);
    assert_eq!(o.status.code(), Some(127));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("PATH") && err.contains(&w.bin().display().to_string()),
        "{err}"
    );
}

#[test]
fn non_executable_aws_is_126() {
    let w = World::new();
    fs::set_permissions(w.bin().join("aws"), fs::Permissions::from_mode(0o644)).unwrap();
    let o = w.run(&["s3", "ls"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
}

#[test]
fn c9aws_aws_and_config_aws_path_choose_the_cli() {
    let w = World::new();
    let other = w.path().join("other-aws");
    write_exe(
        &other,
        &FAKE_AWS.replace("$FAKE_AWS_LOG", "$FAKE_AWS_LOG.other"),
    );
    let o = w
        .cmd(&[OsStr::new("s3"), OsStr::new("ls")])
        .env("C9AWS_AWS", &other)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.path().join("log.other.argv").exists());

    fs::remove_file(w.path().join("log.other.argv")).unwrap();
    let cfg = w.home().join(".config/c9aws");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(
        cfg.join("config"),
        format!("aws_path = {}\n", other.display()),
    )
    .unwrap();
    let o = w.run(&["s3", "ls"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.path().join("log.other.argv").exists());

    let o = w
        .cmd(&[OsStr::new("s3")])
        .env("C9AWS_AWS", w.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn a_malformed_c9aws_config_is_named_and_the_call_still_runs() {
    let w = World::new();
    let cfg = w.home().join(".config/c9aws");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(cfg.join("config"), "[broken\n").unwrap();
    let o = w.run(&["s3", "ls"]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("c9aws/config") && err.contains("line "),
        "{err}"
    );
    assert_eq!(w.argv(), vec![b"s3".to_vec(), b"ls".to_vec()]);
}

#[test]
fn nested_c9aws_and_double_dash_pass_straight_through() {
    let w = World::new();
    let o = w
        .cmd(&[OsStr::new("explain"), OsStr::new("s3")])
        .env("C9AWS_ACTIVE", "1")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(w.argv(), vec![b"explain".to_vec(), b"s3".to_vec()]);

    let o = w.run(&["--", "explain", "--json"]);
    assert!(o.status.success());
    assert_eq!(w.argv(), vec![b"explain".to_vec(), b"--json".to_vec()]);
}

#[test]
fn own_words_never_reach_aws() {
    let w = World::new();
    for word in ["doctor", "init", "setup", "exec", "credential-process"] {
        let o = w.run(&[word, "--definitely-not-an-option"]);
        assert_eq!(o.status.code(), Some(2), "{word}: {}", stderr(&o));
        assert!(stderr(&o).contains("--definitely-not-an-option"), "{word}");
        assert!(!w.log().with_extension("argv").exists());
    }
}

#[test]
fn credential_process_without_imds_fails_clearly() {
    let w = World::new();
    let o = w.run(&["credential-process"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("AWS_EC2_METADATA_DISABLED"),
        "{}",
        stderr(&o)
    );
}

fn explain_json(w: &World, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut a: Vec<&OsStr> = vec![OsStr::new("explain"), OsStr::new("--json")];
    a.extend(args.iter().map(OsStr::new));
    let mut c = w.cmd(&a);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !w.log().with_extension("argv").exists(),
        "explain must not run aws"
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn explain_json_contract_on_cloud9() {
    let w = World::new();
    w.cloud9();
    let v = explain_json(&w, &["s3", "ls"], &[("C9_PID", "0123abcd")]);
    for key in [
        "command",
        "operation",
        "services",
        "region",
        "cli_version",
        "endpoints",
        "hosts",
        "credentials",
        "routes",
        "decision",
        "exec",
        "c9aws_version",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["command"], "s3");
    assert_eq!(v["operation"], "ls");
    assert_eq!(v["services"], serde_json::json!(["s3"]));
    assert_eq!(v["region"], "ap-northeast-1");
    assert_eq!(v["cli_version"], "1.45.11");
    assert_eq!(
        v["endpoints"]["s3"],
        "https://s3.ap-northeast-1.amazonaws.com"
    );
    assert_eq!(
        v["hosts"],
        serde_json::json!(["s3.ap-northeast-1.amazonaws.com"])
    );
    assert_eq!(v["credentials"]["source"], "amtc");
    assert_eq!(v["credentials"]["profile"], "default");
    let evidence = v["credentials"]["evidence"].to_string();
    assert!(evidence.contains("Do not modify this file"), "{evidence}");
    assert!(evidence.contains("C9_PID"), "{evidence}");
    assert_eq!(v["decision"]["action"], "passthrough");
    assert_eq!(v["exec"], serde_json::json!(["aws", "s3", "ls"]));
    let text = v.to_string();
    assert!(!text.contains("c9awsTESTsecret") && !text.contains("c9awsTESTsession"));
}

#[test]
fn explain_sources_regions_and_buckets() {
    let w = World::new();
    w.cloud9();
    let v = explain_json(
        &w,
        &["sts", "get-caller-identity"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAX"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
        ],
    );
    assert_eq!(v["credentials"]["source"], "env");
    let v = explain_json(
        &w,
        &["--profile", "other", "sts", "get-caller-identity"],
        &[],
    );
    assert_eq!(
        v["credentials"]["problem"]
            .as_str()
            .map(|s| s.contains("ProfileNotFound")),
        Some(true)
    );
    let v = explain_json(&w, &["s3", "ls", "--no-sign-request"], &[]);
    assert_eq!(v["credentials"]["source"], "unsigned");
    let v = explain_json(&w, &["configure", "list"], &[]);
    assert_eq!(v["kind"], "local");
    assert_eq!(v["decision"]["action"], "passthrough");
    // Region precedence differs by major version: v1 ignores AWS_REGION.
    let v2_cache = w.path().join("cache-v2").display().to_string();
    let v = explain_json(
        &w,
        &["ec2", "describe-vpcs"],
        &[("AWS_REGION", "eu-west-1")],
    );
    assert_eq!(v["region"], "ap-northeast-1");
    let v = explain_json(
        &w,
        &["ec2", "describe-vpcs"],
        &[
            ("AWS_REGION", "eu-west-1"),
            ("FAKE_AWS_VERSION", "2.36.7"),
            ("XDG_CACHE_HOME", &v2_cache),
        ],
    );
    assert_eq!(v["cli_version"], "2.36.7");
    assert_eq!(v["region"], "eu-west-1");
    // Buckets: virtual-hosted unless the name is not DNS-compatible.
    let v = explain_json(
        &w,
        &["s3", "cp", "x", "s3://my-bucket/k", "--region", "eu-west-1"],
        &[],
    );
    assert_eq!(
        v["hosts"],
        serde_json::json!(["my-bucket.s3.eu-west-1.amazonaws.com"])
    );
    let v = explain_json(
        &w,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "My.Bucket",
            "--key",
            "k",
            "out",
        ],
        &[],
    );
    assert_eq!(
        v["hosts"],
        serde_json::json!(["s3.ap-northeast-1.amazonaws.com"])
    );
}

#[test]
fn explain_in_words_shows_the_evidence() {
    let w = World::new();
    w.cloud9();
    let o = w.run(&["explain", "sts", "get-caller-identity"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "c9aws",
        "sts get-caller-identity",
        "ap-northeast-1",
        "amtc",
        "Do not modify this file",
        "decision",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("c9awsTESTsecret"));
}

#[test]
fn the_cli_version_is_measured_once_per_binary() {
    let w = World::new();
    let counter = w.path().join("version-calls");
    let script = FAKE_AWS.replace(
        "if [ \"$1\" = \"--version\" ] && [ -z \"$FAKE_AWS_LOG_VERSION\" ]; then",
        &format!(
            "if [ \"$1\" = \"--version\" ]; then echo x >> {};",
            counter.display()
        ),
    );
    write_exe(&w.bin().join("aws"), &script);
    for _ in 0..3 {
        let o = w.run(&["sts", "get-caller-identity"]);
        assert!(o.status.success());
    }
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 1);
    let cache = w.home().join(".cache/c9aws/cli-versions");
    let mode = fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A changed binary (upgrade) is measured again.
    fs::write(w.bin().join("aws"), format!("{script}\n# upgraded\n")).unwrap();
    let o = w.run(&["sts", "get-caller-identity"]);
    assert!(o.status.success());
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 2);
}

#[test]
fn an_unwritable_cache_still_runs_the_call_and_says_why_it_is_slow() {
    let w = World::new();
    w.cloud9();
    // A regular file where the cache directory should be: creating it fails
    // even for root (ENOTDIR), unlike permission bits.
    let blocker = w.path().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let o = w
        .cmd(&[OsStr::new("s3"), OsStr::new("ls")])
        .env("XDG_CACHE_HOME", blocker.join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Nothing can be remembered, so every call pays for `aws --version` and
    // the probes again: the user is told once (not once per file), with the fix.
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("c9aws: cannot write its cache in ")
            && err.contains(&blocker.join("cache/c9aws").display().to_string())
            && err.contains("XDG_CACHE_HOME"),
        "{err}"
    );
    assert_eq!(w.argv(), vec![b"s3".to_vec(), b"ls".to_vec()]);
}

const FALLBACK: &str = "[profile c9-fallback]\naws_access_key_id = AKIAFALLBACKKEY00000\naws_secret_access_key = fallback-secret-do-not-print\n";

fn argv_strings(w: &World) -> Vec<String> {
    w.argv()
        .into_iter()
        .map(|a| String::from_utf8(a).unwrap())
        .collect()
}

#[test]
fn refused_actions_switch_to_the_fallback_keeping_region_and_output() {
    let w = World::new();
    w.cloud9().config(
        &format!("[default]\noutput = text\n{FALLBACK}"),
        "fallback_profile = c9-fallback\n",
    );
    let o = w.run(&["iam", "create-user", "--user-name", "bob"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The fallback profile has no region and no output: the call must not move.
    assert_eq!(
        argv_strings(&w),
        [
            "--profile",
            "c9-fallback",
            "--region",
            "ap-northeast-1",
            "--output",
            "text",
            "iam",
            "create-user",
            "--user-name",
            "bob"
        ]
    );
    // stderr is not a terminal here: no notice by default...
    assert_eq!(stderr(&o), "");
    // ...unless asked for.
    let o = w
        .cmd(&[
            OsStr::new("sts"),
            OsStr::new("assume-role"),
            OsStr::new("--role-arn"),
            OsStr::new("arn:aws:iam::1:role/x"),
            OsStr::new("--role-session-name"),
            OsStr::new("s"),
        ])
        .env("C9AWS_NOTICE", "always")
        .output()
        .unwrap();
    assert!(
        stderr(&o).starts_with("c9aws: sts via profile c9-fallback"),
        "{}",
        stderr(&o)
    );
    assert_eq!(argv_strings(&w)[..2], ["--profile", "c9-fallback"]);
}

#[test]
fn allowed_actions_and_other_credentials_are_never_switched() {
    let w = World::new();
    w.cloud9()
        .config(FALLBACK, "fallback_profile = c9-fallback\n");
    for (args, env) in [
        (vec!["sts", "get-caller-identity"], vec![]),
        (vec!["iam", "list-users"], vec![]),
        (
            vec![
                "iam",
                "create-user",
                "--user-name",
                "x",
                "--profile",
                "default",
            ],
            vec![],
        ),
        (
            vec!["iam", "create-user", "--user-name", "x"],
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIAENV"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
        ),
        (
            vec![
                "iam",
                "create-user",
                "--user-name",
                "x",
                "--no-sign-request",
            ],
            vec![],
        ),
        (vec!["configure", "list"], vec![]),
    ] {
        let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let mut c = w.cmd(&a);
        for (k, v) in &env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(argv_strings(&w), args, "{env:?}");
    }
}

#[test]
fn no_fallback_configured_passes_through_with_one_line() {
    let w = World::new();
    w.cloud9();
    let o = w.run(&["iam", "create-access-key"]);
    assert!(o.status.success());
    assert_eq!(argv_strings(&w), ["iam", "create-access-key"]);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fallback_profile"), "{err}");
    // A configured fallback that does not exist: same safe outcome.
    w.config("", "fallback_profile = ghost\n");
    let o = w.run(&["iam", "create-access-key"]);
    assert_eq!(argv_strings(&w), ["iam", "create-access-key"]);
    assert!(stderr(&o).contains("ghost"), "{}", stderr(&o));
}

#[test]
fn explain_shows_the_switch() {
    let w = World::new();
    w.cloud9()
        .config(FALLBACK, "fallback_profile = c9-fallback\n");
    let v = explain_json(&w, &["iam", "create-user", "--user-name", "u"], &[]);
    assert_eq!(v["decision"]["action"], "switch");
    assert_eq!(v["decision"]["profile"], "c9-fallback");
    assert_eq!(v["routes"]["iam"]["verdict"], "refused-action");
    assert_eq!(v["exec"][1], "--profile");
    // Off EC2 (IMDS disabled here) a network verdict is unknown, and AMTC is kept.
    let v = explain_json(&w, &["ec2", "describe-vpcs"], &[]);
    assert_eq!(v["routes"]["ec2"]["verdict"], "unknown");
    assert_eq!(v["decision"]["action"], "passthrough");
    assert!(!v.to_string().contains("fallback-secret"));
}

#[test]
fn without_imds_c9aws_asks_once_per_ttl_and_caches_privately() {
    let w = World::new();
    w.cloud9();
    let o = w.run(&["ec2", "describe-vpcs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let facts = w.home().join(".cache/c9aws/facts.json");
    let text = fs::read_to_string(&facts).unwrap();
    assert!(text.contains("\"imds\""), "IMDS failure remembered: {text}");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&facts), 0o600);
    assert_eq!(mode(facts.parent().unwrap()), 0o700);
    let before = fs::metadata(&facts).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = w.run(&["ec2", "describe-vpcs"]);
    assert!(o.status.success());
    let after = fs::metadata(&facts).unwrap().modified().unwrap();
    assert_eq!(before, after, "a warm call writes nothing");
    assert!(!text.contains("c9awsTEST"), "no secret in the cache");
}

/// A fake CLI that AWS "refuses" unless a profile is given: the shape of an AMTC refusal.
const REFUSING_AWS: &str = r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "aws-cli/1.45.11 Python/3 Linux botocore/1.43.11"; exit 0; fi
printf '%s\n' "$*" >> "$FAKE_AWS_LOG.calls"
if [ "$1" = "--profile" ]; then echo '{"Account": "123456789012"}'; exit 0; fi
echo "progress on stdout"
if [ -n "$FAKE_AWS_SIGNAL" ]; then kill -"$FAKE_AWS_SIGNAL" $$; sleep 5; fi
if [ -n "$FAKE_AWS_ERROR" ]; then
  echo "An error occurred ($FAKE_AWS_ERROR) when calling the DescribeVpcs operation: You are not authorized to perform this operation." >&2
else
  echo "An error occurred (InvalidClientTokenId) when calling the DescribeVpcs operation: The security token included in the request is invalid" >&2
fi
exit 254
"#;

fn safety_net_world() -> World {
    let w = World::new();
    write_exe(&w.bin().join("aws"), REFUSING_AWS);
    w.cloud9()
        .config(FALLBACK, "fallback_profile = c9-fallback\n");
    w
}

fn calls(w: &World) -> Vec<String> {
    fs::read_to_string(w.log().with_extension("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn safety_net_retries_an_amtc_refusal_once_with_the_fallback() {
    // Off EC2 (IMDS disabled) the ec2 route is unknown: AMTC is kept first.
    let w = safety_net_world();
    let o = w.run(&["ec2", "describe-vpcs"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        calls(&w),
        [
            "ec2 describe-vpcs",
            "--profile c9-fallback --region ap-northeast-1 --output json ec2 describe-vpcs"
        ]
    );
    assert!(
        !stderr(&o).contains("InvalidClientTokenId"),
        "the refused attempt's error is not shown: {}",
        stderr(&o)
    );
    // The refusal is remembered: the next call goes straight to the fallback.
    let o = w.run(&["ec2", "describe-vpcs"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(calls(&w).len(), 3);
    assert!(calls(&w)[2].starts_with("--profile c9-fallback"));
}

#[test]
fn safety_net_leaves_other_errors_and_signals_to_the_cli() {
    let w = safety_net_world();
    let o = w
        .cmd(&[OsStr::new("ec2"), OsStr::new("describe-vpcs")])
        .env("FAKE_AWS_ERROR", "UnauthorizedOperation")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(254));
    assert!(
        stderr(&o).contains("UnauthorizedOperation"),
        "{}",
        stderr(&o)
    );
    assert_eq!(calls(&w).len(), 1, "not retried");
    let o = w
        .cmd(&[OsStr::new("ec2"), OsStr::new("describe-vpcs")])
        .env("FAKE_AWS_SIGNAL", "TERM")
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), Some(15), "dies of the CLI's signal");
}

#[test]
fn safety_net_never_reruns_a_call_that_read_piped_stdin() {
    let w = safety_net_world();
    let mut child = w
        .cmd(&[OsStr::new("ec2"), OsStr::new("describe-vpcs")])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(254), "the CLI's own failure");
    assert_eq!(calls(&w).len(), 1);
    assert!(stderr(&o).contains("InvalidClientTokenId"));
}

#[test]
fn an_unlearnable_cli_version_is_not_asked_again() {
    let w = World::new();
    let counter = w.path().join("version-calls");
    write_exe(
        &w.bin().join("aws"),
        &FAKE_AWS.replace(
            "if [ \"$1\" = \"--version\" ] && [ -z \"$FAKE_AWS_LOG_VERSION\" ]; then",
            &format!(
                "if [ \"$1\" = \"--version\" ]; then echo x >> {}; exit 0; fi; if false; then",
                counter.display()
            ),
        ),
    );
    for _ in 0..3 {
        let o = w.run(&["sts", "get-caller-identity"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 1);
    fs::remove_file(w.log().with_extension("argv")).unwrap();
    let v = explain_json(&w, &["sts", "get-caller-identity"], &[]);
    assert_eq!(v["cli_version"], serde_json::Value::Null);
    assert!(v["notes"].to_string().contains("v1 rules assumed"));
}

fn doctor(w: &World, env: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let o = w
        .cmd(&[OsStr::new("doctor"), OsStr::new("--json")])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {}", stderr(&o)));
    (o.status.code(), v)
}

/// What tests/doctor_exec.rs does not cover: a configured fallback missing from
/// the files, and the exact command line of the signing check.
#[test]
fn doctor_names_a_missing_fallback_and_signs_with_the_cli() {
    let w = World::new();
    w.cloud9();
    // A fallback that is configured but missing from the files.
    w.config("", "fallback_profile = nope\n");
    let (_, v) = doctor(&w, &[]);
    assert_eq!(doctor_check(&v, "fallback")["status"], "fail");
    assert!(
        v.to_string()
            .contains("\\\"nope\\\" is configured but is in neither"),
        "{v:#}"
    );
    // Present, and the CLI signs with it (the fake answers like STS).
    w.config(
        "[profile fb]\naws_access_key_id = AKIAFALLBACK0000\naws_secret_access_key = s\n",
        "fallback_profile = fb\n",
    );
    let arn =
        r#"{"UserId":"AIDA","Account":"123456789012","Arn":"arn:aws:iam::123456789012:user/fb"}"#;
    let (_, v) = doctor(&w, &[("FAKE_AWS_OUT", arn)]);
    assert_eq!(doctor_check(&v, "fallback")["status"], "ok");
    assert_eq!(doctor_check(&v, "fallback-sign")["status"], "ok", "{v:#}");
    assert!(v.to_string().contains("arn:aws:iam::123456789012:user/fb"));
    assert_eq!(
        argv_strings(&w),
        [
            "sts",
            "get-caller-identity",
            "--output",
            "json",
            "--profile",
            "fb"
        ]
    );
}
