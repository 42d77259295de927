//! Secret hygiene: every c9aws command, with the most verbose logging
//! (C9AWS_DEBUG=1, and the CLI's --debug passed through), off Cloud9, with
//! Cloud9's managed credentials, and switching to a fallback, never shows a
//! secret key or session token — from the credentials file, a profile, the
//! environment or the instance role in IMDS — in its output or in any file it
//! writes; and what it writes is 0600 in 0700 directories.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

const AMTC_SECRET: &str = "amtcSECRETkeyNEVERshow0000000000000000001";
const AMTC_TOKEN: &str = "amtcSESSIONtokenNEVERshow0000000000001";
const FB_SECRET: &str = "fallbackSECRETkeyNEVERshow00000000000002";
const ENV_SECRET: &str = "envSECRETkeyNEVERshow0000000000000000003";
const ENV_TOKEN: &str = "envSESSIONtokenNEVERshow000000000003";
const ROLE_SECRET: &str = "roleSECRETkeyNEVERshow000000000000000004";
const ROLE_TOKEN: &str = "roleSESSIONtokenNEVERshow00000000004";
const SECRETS: &[&str] = &[
    AMTC_SECRET,
    AMTC_TOKEN,
    FB_SECRET,
    ENV_SECRET,
    ENV_TOKEN,
    ROLE_SECRET,
    ROLE_TOKEN,
];

const FAKE_AWS: &str = "#!/bin/sh\n[ \"$1\" = --version ] && echo 'aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11'\nexit 0\n";

/// A fake IMDSv2 on 127.0.0.1 serving a private-subnet instance with a role;
/// stopped on drop.
struct Imds {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Imds {
    fn start() -> Imds {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            for c in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = c {
                    answer(c);
                }
            }
        });
        Imds {
            port,
            stop,
            thread: Some(thread),
        }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let req = String::from_utf8_lossy(&buf);
    let path = req.split(' ').nth(1).unwrap_or("");
    let role = format!(
        r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAROLEKEY000000001","SecretAccessKey":"{ROLE_SECRET}","Token":"{ROLE_TOKEN}","Expiration":"2099-01-01T00:00:00Z"}}"#
    );
    let (status, body): (u16, String) = match path {
        "/latest/api/token" => (200, "tok".into()),
        "/latest/meta-data/instance-id" => (200, "i-0abc".into()),
        "/latest/meta-data/placement/region" => (200, "ap-northeast-1".into()),
        "/latest/meta-data/mac" => (200, "0a:00:00:00:00:01".into()),
        "/latest/meta-data/local-ipv4" => (200, "10.0.1.5".into()),
        "/latest/meta-data/iam/security-credentials/" => (200, "c9role".into()),
        "/latest/meta-data/iam/security-credentials/c9role" => (200, role),
        p if p.ends_with("/vpc-ipv4-cidr-blocks") => (200, "10.0.0.0/16".into()),
        p if p.ends_with("/vpc-id") => (200, "vpc-1".into()),
        p if p.ends_with("/subnet-id") => (200, "subnet-1".into()),
        _ => (404, String::new()),
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = c.write_all(resp.as_bytes());
}

struct World {
    dir: tempfile::TempDir,
    imds: Imds,
}

impl World {
    fn new(cloud9: bool) -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
            imds: Imds::start(),
        };
        let home = w.home();
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::create_dir_all(w.dir.path().join("bin")).unwrap();
        let aws = w.dir.path().join("bin/aws");
        fs::write(&aws, FAKE_AWS).unwrap();
        fs::set_permissions(&aws, fs::Permissions::from_mode(0o755)).unwrap();
        if cloud9 {
            fs::write(
                home.join(".aws/credentials"),
                format!("# Do not modify this file, if this file is modified it will not be updated.\n[default]\naws_access_key_id = ASIAAMTCKEY000000001\naws_secret_access_key = {AMTC_SECRET}\naws_session_token = {AMTC_TOKEN}\nregion = ap-northeast-1\n"),
            )
            .unwrap();
            fs::create_dir_all(home.join(".c9")).unwrap();
        }
        fs::write(
            home.join(".aws/config"),
            format!("[profile fb]\naws_access_key_id = AKIAFALLBACK00000001\naws_secret_access_key = {FB_SECRET}\n"),
        )
        .unwrap();
        fs::create_dir_all(home.join(".config/c9aws")).unwrap();
        fs::write(home.join(".config/c9aws/config"), "fallback_profile = fb\n").unwrap();
        // As `c9aws setup` would have made them.
        fs::set_permissions(
            home.join(".config/c9aws"),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        w
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(C9AWS)
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display()),
            )
            .env("C9AWS_DEBUG", "1")
            .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.imds.url())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn assert_clean(what: &str, text: &[u8]) {
    let t = String::from_utf8_lossy(text);
    for s in SECRETS {
        assert!(
            !t.contains(s),
            "{what}: a secret ({}…) appears:\n{t}",
            &s[..12]
        );
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.clone());
            if p.is_dir() {
                walk(&p, out);
            }
        }
    }
}

/// Every file c9aws wrote (its cache and config dirs) is clean and private.
fn check_files(w: &World, case: &str) {
    let mut found = Vec::new();
    for d in [".cache/c9aws", ".config/c9aws"] {
        let root = w.home().join(d);
        if root.exists() {
            found.push(root.clone());
            walk(&root, &mut found);
        }
    }
    for p in found {
        let m = fs::metadata(&p).unwrap();
        let mode = m.permissions().mode() & 0o777;
        if m.is_dir() {
            assert_eq!(mode, 0o700, "{case}: {} is {mode:o}", p.display());
        } else {
            // c9aws's config here was written by the test (0644 by umask) unless setup rewrote it.
            if !p.ends_with("config") {
                assert_eq!(mode, 0o600, "{case}: {} is {mode:o}", p.display());
            }
            assert_clean(
                &format!("{case}: file {}", p.display()),
                &fs::read(&p).unwrap(),
            );
        }
    }
}

#[test]
fn no_command_shows_or_stores_a_secret() {
    let env_keys: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIAENVKEY0000000001"),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ("AWS_SESSION_TOKEN", ENV_TOKEN),
    ];
    let cases: Vec<(&str, bool, Vec<&str>, &[(&str, &str)])> = vec![
        (
            "off cloud9, env keys",
            false,
            vec!["--debug", "sts", "get-caller-identity"],
            env_keys,
        ),
        ("amtc, kept", true, vec!["--debug", "s3", "ls"], &[]),
        (
            "amtc, switched",
            true,
            vec!["--debug", "iam", "create-user", "--user-name", "x"],
            &[],
        ),
        (
            "explain",
            true,
            vec!["explain", "--refresh", "iam", "list-users"],
            &[],
        ),
        (
            "explain json",
            true,
            vec!["explain", "--json", "sts", "get-caller-identity"],
            &[],
        ),
        (
            "explain env keys",
            true,
            vec!["explain", "--json", "s3", "ls"],
            env_keys,
        ),
        ("doctor", true, vec!["doctor"], &[]),
        ("doctor json", true, vec!["doctor", "--json"], env_keys),
        (
            "exec switched",
            true,
            vec!["exec", "--service", "iam", "--", "true"],
            &[],
        ),
        ("exec kept", true, vec!["exec", "--", "true"], env_keys),
        ("init", true, vec!["init", "bash"], &[]),
        ("setup", true, vec!["setup", "--instance-role"], &[]),
    ];
    for (case, cloud9, args, env) in cases {
        let w = World::new(cloud9);
        let o = w.run(&args, env);
        assert_clean(&format!("{case}: stdout"), &o.stdout);
        assert_clean(&format!("{case}: stderr"), &o.stderr);
        check_files(&w, case);
    }
}

#[test]
fn credential_process_keeps_its_secret_on_stdout_only() {
    let w = World::new(true);
    let o = w.run(&["credential-process"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // stdout is the credential_process answer: the role's key, by design.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["SecretAccessKey"], ROLE_SECRET);
    assert_clean("credential-process stderr (debug on)", &o.stderr);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("credential-process"),
        "debug lines were written"
    );
    check_files(&w, "credential-process");
}
