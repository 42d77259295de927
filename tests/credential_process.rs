//! `c9aws credential-process` against a fake IMDSv2 on 127.0.0.1: the
//! `credential_process` JSON the CLI expects, clear failures (no role, IMDS
//! down or disabled) that end within the deadline, and no secret on stderr
//! even with `C9AWS_DEBUG=1`. Nothing here leaves the machine.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");
const TOKEN: &str = "fake-imds-token";
const ROLE: &str = "c9-fallback-role";
const KEY_ID: &str = "ASIAC9AWSCREDPROC001";
const SECRET: &str = "credProcSecretDoNotPrint000000000000000";
const SESSION: &str = "credProcSessionTokenDoNotPrint";
/// Far in the future, so that aws-config never extends it.
const EXPIRATION: &str = "2099-01-02T03:04:05Z";

/// The command's own bound is 5 s (src/commands/credential_process.rs); a
/// child still running after this is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(20);

fn role_json() -> String {
    format!(
        r#"{{"Code":"Success","LastUpdated":"2026-11-28T19:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{KEY_ID}","SecretAccessKey":"{SECRET}","Token":"{SESSION}","Expiration":"{EXPIRATION}"}}"#
    )
}

/// `(method, path, headers)` → `(status, body)`; `None`: never answer.
type Handler = dyn Fn(&str, &str, &BTreeMap<String, String>) -> Option<(u16, String)> + Send + Sync;

/// A listener on an ephemeral loopback port, one thread per connection,
/// stopped (connections closed, threads joined) on drop.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(500),
        );
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(handler: Arc<Handler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(Mutex::new(Vec::new()));
    let (r, s, h) = (requests.clone(), stop.clone(), held.clone());
    let thread = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            if let Ok(c) = conn.try_clone() {
                h.lock().unwrap().push(c);
            }
            let (r, handler) = (r.clone(), handler.clone());
            workers.push(std::thread::spawn(move || answer(conn, &r, &*handler)));
        }
        for w in workers {
            let _ = w.join();
        }
    });
    Server {
        port,
        requests,
        stop,
        held,
        thread: Some(thread),
    }
}

/// One request per connection, answered with `Connection: close`.
fn answer(mut conn: TcpStream, count: &AtomicUsize, handler: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let Some((status, body)) = handler(&method, &path, &headers) else {
        // Never answer: hold the connection until the peer or Drop closes it.
        let _ = conn.read(&mut chunk);
        return;
    };
    // Real IMDS echoes the token's TTL; aws-config requires it.
    let ttl = if path == "/latest/api/token" && status == 200 {
        "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n"
    } else {
        ""
    };
    let resp = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\n{ttl}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(resp.as_bytes());
    let _ = conn.flush();
}

/// IMDSv2: a token from PUT /latest/api/token, 401 without it, the
/// meta-data `values` (paths under /latest/meta-data/), 404 for the rest.
fn imds(values: &[(&str, String)]) -> Server {
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| (format!("/latest/meta-data/{k}"), v.clone()))
        .collect();
    serve(Arc::new(
        move |method: &str, path: &str, h: &BTreeMap<String, String>| {
            if path == "/latest/api/token" {
                return Some(
                    if method == "PUT" && h.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
                        (200, TOKEN.to_string())
                    } else {
                        (400, String::new())
                    },
                );
            }
            if h.get("x-aws-ec2-metadata-token").map(String::as_str) != Some(TOKEN) {
                return Some((401, String::new()));
            }
            Some(match (method, values.get(path)) {
                ("GET", Some(v)) => (200, v.clone()),
                _ => (404, String::new()),
            })
        },
    ))
}

fn with_role() -> Server {
    imds(&[
        ("iam/security-credentials/", ROLE.to_string()),
        (&format!("iam/security-credentials/{ROLE}"), role_json()),
    ])
}

/// Runs `c9aws credential-process ARGS` with IMDS at `endpoint` and a clean
/// environment (temp HOME), killing it if it outlives [`WATCHDOG`].
fn run(endpoint: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(C9AWS);
    c.arg("credential-process")
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
        .env("C9AWS_DEBUG", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "credential-process still running after {WATCHDOG:?}; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stderr names no secret (the key id is not secret, but is not printed either).
fn assert_no_secret(o: &Output) {
    let e = stderr(o);
    for s in [SECRET, SESSION, KEY_ID, TOKEN] {
        assert!(!e.contains(s), "stderr shows {s}: {e}");
    }
}

/// The one line that is not a `c9aws: debug:` line.
fn error_line(o: &Output) -> String {
    let e = stderr(o);
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| !l.starts_with("c9aws: debug:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {e}");
    lines[0].to_string()
}

#[test]
fn prints_the_instance_roles_credentials_as_credential_process_json() {
    let srv = with_role();
    let o = run(&srv.url(), &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 1, "one JSON line: {out:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let want = serde_json::json!({
        "Version": 1,
        "AccessKeyId": KEY_ID,
        "SecretAccessKey": SECRET,
        "SessionToken": SESSION,
        "Expiration": EXPIRATION,
    });
    assert_eq!(v, want);
    assert_no_secret(&o);
    assert!(
        stderr(&o).contains("c9aws: debug:"),
        "debug was on: {}",
        stderr(&o)
    );
}

#[test]
fn runs_when_started_by_a_cli_that_c9aws_started() {
    // The CLI c9aws exec'd carries C9AWS_ACTIVE=1 into credential_process.
    let srv = with_role();
    let o = run(&srv.url(), &[], &[("C9AWS_ACTIVE", "1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["AccessKeyId"], KEY_ID);
}

#[test]
fn a_named_role_is_asked_for_directly() {
    let srv = imds(&[(&format!("iam/security-credentials/{ROLE}"), role_json())]);
    let o = run(&srv.url(), &["--role", ROLE], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["SessionToken"], SESSION);
}

#[test]
fn no_role_attached_is_one_clear_line() {
    // IMDS answers, but the role listing is a 404.
    let srv = imds(&[("instance-id", "i-0123456789abcdef0".to_string())]);
    let o = run(&srv.url(), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(line.starts_with("c9aws credential-process: "), "{line}");
    assert!(line.contains("no IAM role is attached"), "{line}");
    assert!(line.contains("Attach an instance profile"), "{line}");
    assert_no_secret(&o);
    assert!(srv.count() >= 2, "token and listing were asked for");
}

#[test]
fn a_role_ec2_may_not_assume_is_an_error() {
    let srv = imds(&[
        ("iam/security-credentials/", ROLE.to_string()),
        (
            &format!("iam/security-credentials/{ROLE}"),
            r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role","LastUpdated":"2026-11-28T19:00:00Z"}"#.to_string(),
        ),
    ]);
    let o = run(&srv.url(), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(line.contains("AssumeRoleUnauthorizedAccess"), "{line}");
    assert_no_secret(&o);
}

#[test]
fn imds_down_fails_within_the_deadline() {
    // Refused: a port that was just free.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let o = run(&url, &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(
        line.contains(&format!("cannot reach IMDS at {url}")),
        "{line}"
    );

    // Silent: connections accepted, never answered (the watchdog bounds it).
    let srv = serve(Arc::new(
        |_: &str, _: &str, _: &BTreeMap<String, String>| None,
    ));
    let o = run(&srv.url(), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(line.contains(&srv.url()), "{line}");
    assert!(!line.contains("no IAM role is attached"), "{line}");
}

#[test]
fn disabled_imds_is_never_asked() {
    let srv = with_role();
    let o = run(&srv.url(), &[], &[("AWS_EC2_METADATA_DISABLED", "true")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(error_line(&o).contains("AWS_EC2_METADATA_DISABLED"));
    assert_eq!(srv.count(), 0);
}

/// The whole chain as the CLI runs it: `c9aws setup --instance-role` writes
/// the profile, and botocore (the CLI's own code) runs `credential_process`
/// from it and accepts the JSON. Skipped, saying so, where botocore is absent.
#[test]
fn botocore_takes_the_credentials_of_the_profile_setup_writes() {
    let py = Command::new("python3")
        .args(["-c", "import sys, botocore; print(sys.executable)"])
        .output();
    let Some(python) = py
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    else {
        eprintln!("skipped: python3 with botocore is not installed");
        return;
    };
    let srv = with_role();
    let home = tempfile::tempdir().unwrap();
    let env = |c: &mut Command| {
        c.env_clear()
            .env("HOME", home.path())
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url())
            .stdin(Stdio::null());
    };
    let mut c = Command::new(C9AWS);
    c.args(["setup", "--instance-role"]);
    env(&mut c);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("IMDS hands out this instance's role credentials"),
        "{}",
        stderr(&o)
    );
    assert_no_secret(&o);
    let mut c = Command::new(python);
    c.args([
        "-c",
        "import botocore.session as s\n\
         c = s.Session(profile='c9-fallback').get_credentials()\n\
         f = c.get_frozen_credentials()\n\
         print(c.method, f.access_key, f.token, c._expiry_time.isoformat())",
    ]);
    env(&mut c);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("custom-process {KEY_ID} {SESSION} 2099-01-02T03:04:05+00:00")
    );
}
