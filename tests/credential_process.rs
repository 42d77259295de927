//! `c9aws credential-process` against a fake IMDSv2 on 127.0.0.1: the
//! `credential_process` JSON the CLI expects, clear failures (no role, IMDS
//! down or disabled) that end within the deadline, and no secret on stderr
//! even with `C9AWS_DEBUG=1`. Nothing here leaves the machine.

#[path = "common/fake_imds.rs"]
mod fake;
use fake::{imds, serve, Server, TOKEN};
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");
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
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
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
