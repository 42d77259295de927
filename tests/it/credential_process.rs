//! `c9aws credential-process` against a fake IMDSv2 on 127.0.0.1: the
//! `credential_process` JSON the CLI expects, clear failures (no role, IMDS
//! down or disabled) that end within the deadline, and no secret on stderr
//! even with `C9AWS_DEBUG=1`. Nothing here leaves the machine.

use crate::fake_imds::{imds, silent, Server, TOKEN};
use crate::world::{assert_stderr_has, output_within, role_json, stderr, stdout_json, World};
use std::process::{Command, Output};
use std::time::Duration;

const ROLE: &str = "c9-fallback-role";
const KEY_ID: &str = "ASIAC9AWSCREDPROC001";
const SECRET: &str = "credProcSecretDoNotPrint000000000000000";
const SESSION: &str = "credProcSessionTokenDoNotPrint";
/// Far in the future, so that aws-config never extends it.
const EXPIRATION: &str = "2099-01-02T03:04:05Z";

/// The command's own bound is 5 s (src/commands/credential_process.rs); a
/// child still running after this is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(20);

fn the_role_json() -> String {
    role_json(KEY_ID, SECRET, SESSION, EXPIRATION)
}

fn with_role() -> Server {
    imds(&[
        ("iam/security-credentials/", ROLE.to_string()),
        (&format!("iam/security-credentials/{ROLE}"), the_role_json()),
    ])
}

/// A world with debug lines on (IMDS to be given).
fn world() -> World {
    World::new().with_env("C9AWS_DEBUG", "1")
}

/// Runs `c9aws credential-process ARGS` in `w`, killing it if it outlives
/// [`WATCHDOG`].
fn run(w: &World, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut c = w.c9aws(["credential-process"]);
    c.args(args).envs(extra.iter().copied());
    output_within(&mut c, None, WATCHDOG)
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
    let w = world().with_imds(with_role());
    let o = run(&w, &[], &[]);
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
    let w = world().with_imds(with_role());
    let o = run(&w, &[], &[("C9AWS_ACTIVE", "1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["AccessKeyId"], KEY_ID);
}

#[test]
fn a_named_role_is_asked_for_directly() {
    let w = world().with_imds(imds(&[(
        &format!("iam/security-credentials/{ROLE}"),
        the_role_json(),
    )]));
    let o = run(&w, &["--role", ROLE], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["SessionToken"], SESSION);
}

#[test]
fn no_role_attached_is_one_clear_line() {
    // IMDS answers, but the role listing is a 404.
    let w = world().with_imds(imds(&[("instance-id", "i-0123456789abcdef0")]));
    let o = run(&w, &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(line.starts_with("c9aws credential-process: "), "{line}");
    assert!(line.contains("no IAM role is attached"), "{line}");
    assert!(line.contains("Attach an instance profile"), "{line}");
    assert_no_secret(&o);
    assert!(w.imds().count() >= 2, "token and listing were asked for");
}

#[test]
fn a_role_ec2_may_not_assume_is_an_error() {
    let w = world().with_imds(imds(&[
        ("iam/security-credentials/", ROLE.to_string()),
        (
            &format!("iam/security-credentials/{ROLE}"),
            r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role","LastUpdated":"2026-11-28T19:00:00Z"}"#.to_string(),
        ),
    ]));
    let o = run(&w, &[], &[]);
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
    let o = run(&world().with_imds_at(&url), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(
        line.contains(&format!("cannot reach IMDS at {url}")),
        "{line}"
    );

    // Silent: connections accepted, never answered (the watchdog bounds it).
    let w = world().with_imds(silent());
    let o = run(&w, &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let line = error_line(&o);
    assert!(line.contains(&w.imds().url()), "{line}");
    assert!(!line.contains("no IAM role is attached"), "{line}");
}

#[test]
fn disabled_imds_is_never_asked() {
    let w = world().with_imds(with_role());
    let o = run(&w, &[], &[("AWS_EC2_METADATA_DISABLED", "true")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(error_line(&o).contains("AWS_EC2_METADATA_DISABLED"));
    assert_eq!(w.imds().count(), 0);
}

/// The whole chain as the CLI runs it: `c9aws setup --instance-role` writes
/// the profile, and botocore (the CLI's own code) runs `credential_process`
/// from it and accepts the JSON. Skipped, saying so, where botocore is absent.
#[test]
fn botocore_takes_the_credentials_of_the_profile_setup_writes() {
    // Which python has botocore: asked of this machine's PATH, not the world's.
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
    let w = World::new().with_imds(with_role());
    let o = w.run(["setup", "--instance-role"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_stderr_has(&o, "IMDS hands out this instance's role credentials");
    assert_no_secret(&o);
    let o = w
        .command(python)
        .args([
            "-c",
            "import botocore.session as s\n\
             c = s.Session(profile='c9-fallback').get_credentials()\n\
             f = c.get_frozen_credentials()\n\
             print(c.method, f.access_key, f.token, c._expiry_time.isoformat())",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("custom-process {KEY_ID} {SESSION} 2099-01-02T03:04:05+00:00")
    );
}
