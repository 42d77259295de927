//! `c9aws doctor` and `c9aws exec` through the built binary, in a hermetic
//! temporary HOME with a fake `aws` on PATH, IMDS disabled and checkip on a
//! closed loopback port: nothing leaves the machine.

use crate::fake_aws::{self, CALLER_IDENTITY};
use crate::world::{assert_stderr_has, doctor_check, stderr, World, C9AWS};
use std::fs;
use std::process::Output;

/// Off Cloud9 (IMDS disabled, checkip closed), notices off, and a CLI whose
/// `sts get-caller-identity` answers for the fallback profile `fb`.
fn world() -> World {
    World::new()
        .with_env("C9AWS_NOTICE", "never")
        .with_env(fake_aws::OUT, CALLER_IDENTITY)
}

/// The fallback profile `fb` (its own region) in `~/.aws/config`, named in
/// c9aws's config.
fn fallback(w: &World) -> &World {
    w.aws_config("[profile fb]\naws_access_key_id = AKIAFALLBACKTEST0001\naws_secret_access_key = fbsecretDONOTPRINT\nregion = us-west-2\n")
        .c9aws_config("fallback_profile = fb\n")
}

fn status<'a>(v: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .map(|c| c["status"].as_str().unwrap())
        .collect()
}

/// Whether an ELF executable asks for a dynamic loader (has PT_INTERP).
fn has_interpreter(exe: &str) -> bool {
    let b = fs::read(exe).unwrap();
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(b[4], 2, "64-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54), u16_at(56));
    (0..count).any(|i| {
        let o = phoff + i * size;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

#[test]
fn doctor_says_truly_how_c9aws_is_linked() {
    let w = world();
    let (_, v) = w.doctor(&[]);
    let link = doctor_check(&v, "link");
    let detail = link["summary"].as_str().unwrap_or_default();
    if has_interpreter(C9AWS) {
        assert_eq!(link["status"], "info", "{link}");
        assert!(detail.contains("linked dynamically"), "{link}");
        assert!(
            link["fix"].as_str().unwrap().contains("glibc-static"),
            "{link}"
        );
    } else {
        assert_eq!(link["status"], "ok", "{link}");
        assert_eq!(detail, "c9aws is linked statically", "{link}");
    }
}

#[test]
fn doctor_off_cloud9_is_healthy_and_probes_nothing() {
    let w = world();
    w.credentials("[default]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = x\n");
    let (code, v) = w.doctor(&[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["healthy"], true);
    assert_eq!(status(&v, "cloud9"), ["info"]);
    assert_eq!(status(&v, "aws-cli"), ["ok"]);
    assert_eq!(status(&v, "recursion"), ["ok"]);
}

#[test]
fn doctor_on_cloud9_without_a_fallback_fails_with_a_fix() {
    let w = world();
    w.cloud9();
    let (code, v) = w.doctor(&[]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(status(&v, "cloud9"), ["ok"]);
    assert_eq!(status(&v, "fallback"), ["fail"]);
    let fb = doctor_check(&v, "fallback");
    assert!(fb["fix"].as_str().unwrap().contains("c9aws setup"), "{fb}");
    // What long calls do with AMTC, by the setting.
    let long_calls = |v: &serde_json::Value| doctor_check(v, "cloud9")["evidence"].to_string();
    assert!(long_calls(&v).contains("(long_calls = refresh)"), "{v}");
    let (_, off) = w.doctor(&[("C9AWS_LONG_CALLS", "off")]);
    assert!(long_calls(&off).contains("read AMTC once"), "{off}");
    // IMDS is disabled here: that is a failure too, with its fix.
    assert_eq!(status(&v, "imds"), ["fail"]);
    // Human output: exit 1 and a fix section.
    let o = w.run(["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("To do:"), "{text}");
}

#[test]
fn doctor_reports_a_fallback_that_cannot_sign_without_echoing_secrets() {
    let w = world();
    fallback(w.cloud9());
    let (_, v) = w.doctor(&[(fake_aws::REFUSE, "InvalidClientTokenId")]);
    assert_eq!(status(&v, "fallback"), ["ok"]);
    assert_eq!(status(&v, "fallback-sign"), ["fail"]);
    let s = v.to_string();
    assert!(s.contains("InvalidClientTokenId"), "{s}");
    assert!(
        !s.contains("DONOTPRINT") && !s.contains("doNOTprint"),
        "{s}"
    );

    let (_, v) = w.doctor(&[]);
    assert_eq!(status(&v, "fallback-sign"), ["ok"]);
    assert!(v.to_string().contains("arn:aws:iam::123456789012:user/fb"));
}

#[test]
fn under_c9aws_active_doctor_never_claims_health() {
    let w = world();
    let o = w
        .c9aws(["doctor", "--json"])
        .env("C9AWS_ACTIVE", "1")
        .output()
        .unwrap();
    // With C9AWS_ACTIVE set every other call passes straight through; doctor
    // still answers, and says that this is what is wrong.
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    let rec = doctor_check(&v, "recursion");
    assert_eq!(rec["status"], "fail", "{rec}");
}

/// `c9aws exec ARGS -- aws` (the fake, dumping its environment): the
/// `AWS_*` variables the program saw, but the world's own IMDS switch.
fn exec_env(w: &World, args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<String>) {
    let _ = fs::remove_file(w.log("env"));
    let o = w
        .c9aws(["exec"])
        .args(args)
        .arg("--")
        .arg(w.bin().join("aws"))
        .envs(env.iter().copied())
        .env(fake_aws::ENV, "1")
        .output()
        .unwrap();
    assert!(
        w.log("env").exists(),
        "the program did not run: {}",
        stderr(&o)
    );
    let lines = w
        .logged("env")
        .lines()
        .filter(|l| l.starts_with("AWS_") && !l.starts_with("AWS_EC2_METADATA_DISABLED="))
        .map(str::to_string)
        .collect();
    (o, lines)
}

#[test]
fn exec_switches_for_a_refused_service() {
    let w = world();
    fallback(w.cloud9());
    let (o, env) = exec_env(
        &w,
        &["--service", "iam"],
        // A lone token is no credential (no key id): AMTC is still in play,
        // and an explicit AWS_PROFILE=default is AMTC too.
        &[("AWS_SECURITY_TOKEN", "stale"), ("AWS_PROFILE", "default")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The fallback profile, Cloud9's region kept (the profile says
    // us-west-2), no key or token variables, nothing set empty.
    assert_eq!(
        env,
        [
            "AWS_DEFAULT_PROFILE=fb",
            "AWS_DEFAULT_REGION=ap-northeast-1",
            "AWS_PROFILE=fb",
            "AWS_REGION=ap-northeast-1"
        ]
    );
    // sts: SDK tools assume roles, which AMTC never allows.
    let (_, env) = exec_env(&w, &["--service", "sts"], &[]);
    assert!(env.contains(&"AWS_PROFILE=fb".to_string()), "{env:?}");
    // An allowed service on an unknown route (no IMDS here) keeps AMTC.
    let (o, env) = exec_env(&w, &["--service", "s3"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");
    // Without --service only a NAT switches; no IMDS, no NAT known.
    let (_, env) = exec_env(&w, &[], &[]);
    assert!(env.is_empty(), "{env:?}");
}

#[test]
fn exec_leaves_the_program_alone_off_cloud9_and_with_other_credentials() {
    let w = world();
    fallback(&w);
    let (o, env) = exec_env(&w, &["--service", "iam"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");

    let w = world();
    fallback(w.cloud9());
    let (o, env) = exec_env(
        &w,
        &["--service", "iam"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAUSER"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ],
    );
    assert_eq!(
        env,
        ["AWS_ACCESS_KEY_ID=AKIAUSER", "AWS_SECRET_ACCESS_KEY=s"]
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn exec_without_a_fallback_runs_unchanged_and_says_what_to_do() {
    let w = world();
    w.cloud9();
    let (o, env) = exec_env(&w, &["--service", "iam"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");
    let e = stderr(&o);
    assert!(
        e.contains("would be refused") && e.contains("c9aws setup"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn exec_exit_codes_are_the_programs() {
    let w = world();
    let o = w.run(["exec", "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = w.run(["exec", "--", "/nonexistent/prog"]);
    assert_eq!(o.status.code(), Some(127));
    assert_stderr_has(&o, "/nonexistent/prog");
    let o = w.run(["exec", "--", w.home().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(126));
}
