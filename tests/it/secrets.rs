//! Secret hygiene: every c9aws command, at its most verbose (`C9AWS_DEBUG=1`,
//! the CLI's `--debug` passed through), off Cloud9, with Cloud9's managed
//! credentials kept, and switched to the fallback profile, never shows a secret
//! key, session token or IMDS token — not on stdout, not on stderr, not in any
//! file it writes under `~/.cache` and `~/.config` — and what it writes there
//! is 0600 in 0700 directories. (`credential-process` prints the instance
//! role's credentials on stdout by design; its stderr is checked.)
//!
//! Hermetic: a temporary HOME, the fake `aws` (saying nothing), and loopback
//! fakes of IMDS (IMDSv2, serving a role) and checkip. Every AWS host is
//! `AWS_ENDPOINT_URL`'s loopback address, so nothing is resolved or reached
//! off this machine.

use crate::fake_imds::{cloud9_values, imds, serve, TOKEN};
use crate::world::{output_within, role_json, World};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const AMTC_SECRET: &str = "c9awsSECRETamtcKEY0000000000000000000001";
const AMTC_TOKEN: &str = "IQoJc9awsSECRETamtcSESSIONtoken000000000000000001";
const FALLBACK_SECRET: &str = "c9awsSECRETfallbackKEY00000000000000000002";
const STATIC_SECRET: &str = "c9awsSECRETstaticKEY0000000000000000000003";
const ENV_SECRET: &str = "c9awsSECRETenvKEY000000000000000000000004";
const ENV_TOKEN: &str = "IQoJc9awsSECRETenvSESSIONtoken0000000000000004";
const ROLE_SECRET: &str = "c9awsSECRETroleKEY00000000000000000000005";
const ROLE_TOKEN: &str = "IQoJc9awsSECRETroleSESSIONtoken000000000000005";
const SETUP_SECRET: &str = "c9awsSECRETsetupKEY000000000000000000007";

/// Every secret handed to c9aws (the IMDS session token is the fake IMDS's).
const SECRETS: &[&str] = &[
    AMTC_SECRET,
    AMTC_TOKEN,
    FALLBACK_SECRET,
    STATIC_SECRET,
    ENV_SECRET,
    ENV_TOKEN,
    ROLE_SECRET,
    ROLE_TOKEN,
    TOKEN,
    SETUP_SECRET,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Situation {
    /// Static keys, no Cloud9: nothing is probed.
    OffCloud9,
    /// Cloud9's managed credentials, public subnet: AMTC kept.
    Amtc,
    /// Cloud9's managed credentials, no public IPv4 (NAT): switched.
    Switch,
}

/// A fake IMDS (IMDSv2, the instance role Cloud9 gives) and checkip: with a
/// public IPv4, checkip answers it (AMTC kept); without, another (a NAT).
fn fake_instance(public_ip: Option<&'static str>) -> World {
    const ROLE: &str = "AWSCloud9SSMAccessRole";
    let role_path = format!("iam/security-credentials/{ROLE}");
    let mut values: Vec<(&str, String)> = cloud9_values(public_ip)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    values.push(("iam/security-credentials/", ROLE.into()));
    values.push((
        &role_path,
        role_json(
            "ASIAC9AWSROLEKEY0001",
            ROLE_SECRET,
            ROLE_TOKEN,
            "2099-01-01T00:00:00Z",
        ),
    ));
    let egress = format!("{}\n", public_ip.unwrap_or("203.0.113.99"));
    World::new()
        .with_imds(imds(&values))
        .with_checkip(serve(Arc::new(
            move |_: &str, _: &str, _: &BTreeMap<String, String>| Some((200, egress.clone())),
        )))
        .with_env("C9_PID", "1234")
        .with_env("C9_USER", "c9aws-test")
}

/// Every call at its most verbose, notices always on, the fallback named by
/// the environment, every AWS host on a loopback address (nothing to resolve).
fn world(sit: Situation) -> World {
    let w = match sit {
        Situation::OffCloud9 => World::new(),
        Situation::Amtc => fake_instance(Some("203.0.113.11")),
        Situation::Switch => fake_instance(None),
    }
    .with_env("C9AWS_DEBUG", "1")
    .with_env("C9AWS_NOTICE", "always")
    .with_env("C9AWS_FALLBACK_PROFILE", "c9-fallback")
    .with_env("AWS_ENDPOINT_URL", "https://127.0.0.1:9");
    let fallback = format!(
        "[profile c9-fallback]\naws_access_key_id = AKIAC9AWSFALLBACK001\naws_secret_access_key = {FALLBACK_SECRET}\nregion = ap-northeast-1\n"
    );
    if sit == Situation::OffCloud9 {
        w.credentials(format!("[default]\naws_access_key_id = AKIAC9AWSSTATIC00001\naws_secret_access_key = {STATIC_SECRET}\n"))
            .aws_config(format!("[default]\nregion = ap-northeast-1\n\n{fallback}"));
    } else {
        w.cloud9_with("ASIAC9AWSAMTCKEY0001", AMTC_SECRET, AMTC_TOKEN)
            .aws_config(fallback);
    }
    w
}

struct Ran {
    what: String,
    out: String,
    err: String,
}

/// Runs with a bound (a hung command fails the test instead of hanging it).
fn run(mut c: Command, what: &str, stdin: Option<&str>) -> Ran {
    let o = output_within(&mut c, stdin.map(str::as_bytes), Duration::from_secs(60));
    Ran {
        what: what.to_string(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
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
    let w = world(sit);
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
        ran.push(run(w.c9aws(*args), &what, None));
    }
    // Env keys (with a session token) win over every profile: never switched, never shown.
    let mut c = w.c9aws(["--debug", "sts", "get-caller-identity"]);
    c.env("AWS_ACCESS_KEY_ID", "ASIAC9AWSENVKEY00001")
        .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
        .env("AWS_SESSION_TOKEN", ENV_TOKEN);
    ran.push(run(c, &format!("{sit:?}: env keys, --debug"), None));
    for args in [
        &["explain", "--json", "sts", "get-caller-identity"][..],
        &["doctor", "--json"],
        &["exec", "--service", "iam", "--", "true"],
    ] {
        let mut c = w.c9aws(args);
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
        w.c9aws([
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
        w.c9aws(["credential-process"]),
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
        w.c9aws(["credential-process", "--role", "NoSuchRole"]),
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
        w.c9aws(["explain", "--json", "sts", "get-caller-identity"]),
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
    if sit != Situation::OffCloud9 {
        assert!(w.imds().count() > 0, "{sit:?}: IMDS never asked");
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
