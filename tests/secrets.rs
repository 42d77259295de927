//! Secret hygiene: every c9aws command, at its most verbose (`C9AWS_DEBUG=1`,
//! the CLI's `--debug` passed through), off Cloud9, with Cloud9's managed
//! credentials kept, and switched to the fallback profile, never shows a secret
//! key, session token or IMDS token — not on stdout, not on stderr, not in any
//! file it writes under `~/.cache` and `~/.config` — and what it writes there
//! is 0600 in 0700 directories. (`credential-process` prints the instance
//! role's credentials on stdout by design; its stderr is checked.)
//!
//! Hermetic: a temporary HOME, a fake `aws` that says nothing, and a loopback
//! fake IMDS (IMDSv2, serving a role) that also answers checkip. Every AWS host
//! is `AWS_ENDPOINT_URL`'s loopback address, so nothing is resolved or reached
//! off this machine.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

const AMTC_SECRET: &str = "c9awsSECRETamtcKEY0000000000000000000001";
const AMTC_TOKEN: &str = "IQoJc9awsSECRETamtcSESSIONtoken000000000000000001";
const FALLBACK_SECRET: &str = "c9awsSECRETfallbackKEY00000000000000000002";
const STATIC_SECRET: &str = "c9awsSECRETstaticKEY0000000000000000000003";
const ENV_SECRET: &str = "c9awsSECRETenvKEY000000000000000000000004";
const ENV_TOKEN: &str = "IQoJc9awsSECRETenvSESSIONtoken0000000000000004";
const ROLE_SECRET: &str = "c9awsSECRETroleKEY00000000000000000000005";
const ROLE_TOKEN: &str = "IQoJc9awsSECRETroleSESSIONtoken000000000000005";
const IMDS_TOKEN: &str = "AQAEc9awsSECRETimdsTOKEN0000000000006";
const SETUP_SECRET: &str = "c9awsSECRETsetupKEY000000000000000000007";

const SECRETS: &[&str] = &[
    AMTC_SECRET,
    AMTC_TOKEN,
    FALLBACK_SECRET,
    STATIC_SECRET,
    ENV_SECRET,
    ENV_TOKEN,
    ROLE_SECRET,
    ROLE_TOKEN,
    IMDS_TOKEN,
    SETUP_SECRET,
];

/// Says its version, otherwise nothing: whatever c9aws prints is c9aws's own.
const FAKE_AWS: &str = "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11'; fi\nexit 0\n";

/// A fake IMDS (IMDSv2 with a role) and checkip, on 127.0.0.1, for one test.
struct Imds {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Imds {
    fn start(public_ip: Option<&'static str>) -> Imds {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                h.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(conn, public_ip));
            }
        });
        Imds { port, hits }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(conn: TcpStream, public_ip: Option<&str>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut token = None;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.to_ascii_lowercase().as_str() {
                "x-aws-ec2-metadata-token" => token = Some(v.trim().to_string()),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        let _ = r.read_exact(&mut body);
        let role = format!(
            "{{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-28T16:00:00Z\",\"Type\":\"AWS-HMAC\",\
             \"AccessKeyId\":\"ASIAC9AWSROLEKEY0001\",\"SecretAccessKey\":\"{ROLE_SECRET}\",\
             \"Token\":\"{ROLE_TOKEN}\",\"Expiration\":\"2099-01-01T00:00:00Z\"}}"
        );
        let mac = "02:c9:aa:bb:cc:01";
        let iface = format!("/latest/meta-data/network/interfaces/macs/{mac}/");
        let (status, text): (u16, String) = if method == "PUT" && path == "/latest/api/token" {
            (200, IMDS_TOKEN.into())
        } else if path == "/checkip" {
            (200, format!("{}\n", public_ip.unwrap_or("203.0.113.99")))
        } else if token.as_deref() != Some(IMDS_TOKEN) {
            (401, String::new())
        } else {
            let p = path.as_str();
            let sub = p.strip_prefix(iface.as_str());
            match (p, sub) {
                ("/latest/meta-data/instance-id", _) => (200, "i-0c9a5ec2e7000001".into()),
                ("/latest/meta-data/placement/region", _) => (200, "ap-northeast-1".into()),
                ("/latest/meta-data/mac", _) => (200, mac.into()),
                ("/latest/meta-data/local-ipv4", _) => (200, "10.0.1.10".into()),
                ("/latest/meta-data/public-ipv4", _) => match public_ip {
                    Some(ip) => (200, ip.into()),
                    None => (404, String::new()),
                },
                ("/latest/meta-data/iam/security-credentials/", _) => {
                    (200, "AWSCloud9SSMAccessRole".into())
                }
                ("/latest/meta-data/iam/security-credentials/AWSCloud9SSMAccessRole", _) => {
                    (200, role)
                }
                (_, Some("subnet-id")) => (200, "subnet-0c9a5ec2e7000001".into()),
                (_, Some("vpc-id")) => (200, "vpc-0c9a5ec2e7000001".into()),
                (_, Some("subnet-ipv4-cidr-block")) => (200, "10.0.1.0/24".into()),
                (_, Some("vpc-ipv4-cidr-block")) => (200, "10.0.0.0/16".into()),
                (_, Some("vpc-ipv4-cidr-blocks")) => (200, "10.0.0.0/16".into()),
                (_, Some("public-ipv4s")) => match public_ip {
                    Some(ip) => (200, ip.into()),
                    None => (404, String::new()),
                },
                (_, Some("local-ipv4s")) => (200, "10.0.1.10".into()),
                _ => (404, String::new()),
            }
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n{text}",
            text.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

const CLOUD9_HEADER: &str = "# Do not modify this file, if this file is modified it will not be updated. If the file is deleted, it will be recreated on Sat Nov 28 2026 16:00:00 GMT+0000 (Coordinated Universal Time).\n# 6d0d5f2b1c7e4a4f9b8e3d2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f #\n\n";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Situation {
    /// Static keys, no Cloud9: nothing is probed.
    OffCloud9,
    /// Cloud9's managed credentials, public subnet: AMTC kept.
    Amtc,
    /// Cloud9's managed credentials, no public IPv4 (NAT): switched.
    Switch,
}

struct World {
    dir: tempfile::TempDir,
    imds: Option<Imds>,
}

impl World {
    fn new(sit: Situation) -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World {
            dir,
            imds: match sit {
                Situation::OffCloud9 => None,
                Situation::Amtc => Some(Imds::start(Some("203.0.113.11"))),
                Situation::Switch => Some(Imds::start(None)),
            },
        };
        let home = w.home();
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::create_dir_all(w.bin()).unwrap();
        fs::write(w.bin().join("aws"), FAKE_AWS).unwrap();
        fs::set_permissions(w.bin().join("aws"), fs::Permissions::from_mode(0o755)).unwrap();
        let fallback = format!(
            "[profile c9-fallback]\naws_access_key_id = AKIAC9AWSFALLBACK001\naws_secret_access_key = {FALLBACK_SECRET}\nregion = ap-northeast-1\n"
        );
        if sit == Situation::OffCloud9 {
            fs::write(
                home.join(".aws/credentials"),
                format!("[default]\naws_access_key_id = AKIAC9AWSSTATIC00001\naws_secret_access_key = {STATIC_SECRET}\n"),
            )
            .unwrap();
            fs::write(
                home.join(".aws/config"),
                format!("[default]\nregion = ap-northeast-1\n\n{fallback}"),
            )
            .unwrap();
        } else {
            fs::write(
                home.join(".aws/credentials"),
                format!("{CLOUD9_HEADER}[default]\naws_access_key_id = ASIAC9AWSAMTCKEY0001\naws_secret_access_key = {AMTC_SECRET}\naws_session_token = {AMTC_TOKEN}\nregion = ap-northeast-1\n"),
            )
            .unwrap();
            fs::write(home.join(".aws/config"), fallback).unwrap();
            fs::create_dir_all(home.join(".c9")).unwrap();
        }
        w
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(C9AWS);
        c.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin().display()))
            .env("C9AWS_DEBUG", "1")
            .env("C9AWS_NOTICE", "always")
            .env("C9AWS_FALLBACK_PROFILE", "c9-fallback")
            // Every AWS host is this loopback address: nothing to resolve.
            .env("AWS_ENDPOINT_URL", "https://127.0.0.1:9")
            .current_dir(self.dir.path());
        match &self.imds {
            Some(i) => {
                c.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", i.url())
                    .env("C9AWS_CHECKIP_URL", format!("{}/checkip", i.url()))
                    .env("C9_PID", "1234")
                    .env("C9_USER", "c9aws-test");
            }
            None => {
                c.env("AWS_EC2_METADATA_DISABLED", "true")
                    .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/");
            }
        }
        c
    }
}

struct Ran {
    what: String,
    out: String,
    err: String,
}

/// Runs with a bound (a hung command fails the test instead of hanging it).
fn run(mut c: Command, what: &str, stdin: Option<&str>) -> Ran {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what}: still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ran {
        what: what.to_string(),
        out: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
        err: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}

/// The secret's name, never the secret, in a failure message.
fn leaked(text: &str) -> Vec<usize> {
    SECRETS
        .iter()
        .enumerate()
        .filter(|(_, s)| text.contains(*s))
        .map(|(i, _)| i)
        .collect()
}

fn assert_clean(r: &Ran, check_stdout: bool) {
    let e = leaked(&r.err);
    assert!(e.is_empty(), "{}: secret(s) #{e:?} on stderr", r.what);
    if check_stdout {
        let o = leaked(&r.out);
        assert!(o.is_empty(), "{}: secret(s) #{o:?} on stdout", r.what);
    }
    assert!(!r.err.contains("panicked"), "{}: panicked", r.what);
}

/// Every file under ~/.cache and ~/.config: no secret; c9aws's own
/// directories 0700, their files 0600.
fn assert_files_clean(home: &Path, sit: Situation) -> usize {
    let mut n = 0;
    let mut stack = vec![home.join(".cache"), home.join(".config")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        let ours = d.components().any(|c| c.as_os_str() == "c9aws");
        if ours {
            let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode,
                0o700,
                "{sit:?}: directory {} is {mode:o}",
                d.display()
            );
        }
        for e in rd.flatten() {
            let p = e.path();
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
                continue;
            }
            n += 1;
            let text = String::from_utf8_lossy(&fs::read(&p).unwrap_or_default()).into_owned();
            let l = leaked(&text);
            assert!(l.is_empty(), "{sit:?}: secret(s) #{l:?} in {}", p.display());
            if ours || p.ancestors().any(|a| a.ends_with("c9aws")) {
                let mode = md.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{sit:?}: file {} is {mode:o}", p.display());
            }
        }
    }
    n
}

fn every_command(sit: Situation) {
    let w = World::new(sit);
    let mut ran = Vec::new();
    let calls: &[&[&str]] = &[
        &["--debug", "sts", "get-caller-identity"],
        &["sts", "get-caller-identity", "--debug"],
        &["--debug", "iam", "create-user", "--user-name", "u"],
        &["--debug", "s3", "ls"],
        &["explain", "--debug", "sts", "get-caller-identity"],
        &[
            "explain",
            "--refresh",
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
            "--role-session-name",
            "s",
        ],
        &["explain", "--json", "--refresh", "--debug", "s3", "ls"],
        &[
            "explain",
            "--json",
            "--profile",
            "c9-fallback",
            "sts",
            "get-caller-identity",
        ],
        &["doctor"],
        &["doctor", "--json"],
        &["exec", "--service", "sts", "--", "true"],
        &["exec", "--", "true"],
        &["init", "bash"],
        &["init", "zsh"],
        &["init", "fish"],
        &["setup", "--use-profile", "c9-fallback"],
        &["setup", "--instance-role", "--profile-name", "c9-role"],
    ];
    for args in calls {
        let what = format!("{sit:?}: c9aws {}", args.join(" "));
        ran.push(run(w.cmd(args), &what, None));
    }
    // Env keys (with a session token) win over every profile: never switched, never shown.
    let mut c = w.cmd(&["--debug", "sts", "get-caller-identity"]);
    c.env("AWS_ACCESS_KEY_ID", "ASIAC9AWSENVKEY00001")
        .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
        .env("AWS_SESSION_TOKEN", ENV_TOKEN);
    ran.push(run(c, &format!("{sit:?}: env keys, --debug"), None));
    for args in [
        &["explain", "--json", "sts", "get-caller-identity"][..],
        &["doctor", "--json"],
        &["exec", "--service", "iam", "--", "true"],
    ] {
        let mut c = w.cmd(args);
        c.env("AWS_ACCESS_KEY_ID", "ASIAC9AWSENVKEY00001")
            .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
            .env("AWS_SESSION_TOKEN", ENV_TOKEN);
        ran.push(run(
            c,
            &format!("{sit:?}: env keys, {}", args.join(" ")),
            None,
        ));
    }
    // Access keys typed into setup (stdin: key id, secret).
    ran.push(run(
        w.cmd(&[
            "setup",
            "--access-keys",
            "--profile-name",
            "c9-keys",
            "--force",
        ]),
        &format!("{sit:?}: setup --access-keys"),
        Some(&format!("AKIAC9AWSSETUPKEY001\n{SETUP_SECRET}\n")),
    ));
    for r in &ran {
        assert_clean(r, true);
    }
    // The typed secret did go somewhere (the profile, by design), just not to the terminal.
    let config = fs::read_to_string(w.home().join(".aws/config")).unwrap();
    assert!(
        config.contains(SETUP_SECRET),
        "{sit:?}: setup --access-keys wrote no profile; stderr: {}",
        ran.last().unwrap().err
    );
    // credential-process: the role's credentials on stdout (by design), none on stderr.
    let r = run(
        w.cmd(&["credential-process"]),
        &format!("{sit:?}: credential-process"),
        None,
    );
    assert_clean(&r, false);
    if sit != Situation::OffCloud9 {
        assert!(
            r.out.contains("\"Version\"") && r.out.contains(ROLE_SECRET),
            "{sit:?}: credential-process printed no credentials; stderr: {}",
            r.err
        );
    }
    let r = run(
        w.cmd(&["credential-process", "--role", "NoSuchRole"]),
        &format!("{sit:?}: credential-process --role NoSuchRole"),
        None,
    );
    assert_clean(&r, true);
    assert!(
        !r.err.is_empty(),
        "{sit:?}: a failed credential-process says why"
    );

    // The situation is the one named: a switch really happened (and the probes ran).
    let explain = run(
        w.cmd(&["explain", "--json", "sts", "get-caller-identity"]),
        "explain",
        None,
    );
    let doc: serde_json::Value = serde_json::from_str(&explain.out)
        .unwrap_or_else(|e| panic!("{sit:?}: explain --json is not JSON ({e}): {}", explain.err));
    let action = doc["decision"]["action"].as_str().unwrap_or("").to_string();
    let source = doc["credentials"]["source"].as_str().unwrap_or("");
    match sit {
        Situation::OffCloud9 => assert_eq!(source, "profile", "{doc}"),
        Situation::Amtc => {
            assert_eq!(source, "amtc", "{doc}");
            assert!(!action.contains("switch"), "{sit:?}: {doc}");
        }
        Situation::Switch => {
            assert_eq!(source, "amtc", "{doc}");
            assert!(action.contains("switch"), "{sit:?}: {doc}");
        }
    }
    if let Some(i) = &w.imds {
        assert!(
            i.hits.load(Ordering::SeqCst) > 0,
            "{sit:?}: IMDS never asked"
        );
    }
    // The debug lines were there to leak from.
    assert!(
        ran.iter().any(|r| r.err.contains("c9aws: debug:")),
        "{sit:?}: C9AWS_DEBUG=1 printed nothing"
    );
    let files = assert_files_clean(&w.home(), sit);
    assert!(files > 0, "{sit:?}: c9aws wrote no file to check");
}

#[test]
fn off_cloud9_nothing_secret_is_shown_or_written() {
    every_command(Situation::OffCloud9);
}

#[test]
fn amtc_kept_nothing_secret_is_shown_or_written() {
    every_command(Situation::Amtc);
}

#[test]
fn switched_nothing_secret_is_shown_or_written() {
    every_command(Situation::Switch);
}
