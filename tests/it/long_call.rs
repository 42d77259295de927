//! Long calls under Cloud9's managed credentials (core::long_call): a
//! long-looking call that keeps AMTC runs the CLI with one more variable,
//! `AWS_SHARED_CREDENTIALS_FILE`, naming a generated 0600 file whose only
//! credential is a `credential_process` running `c9aws __amtc-credentials`
//! on Cloud9's real file; every other call runs exactly as before. The
//! helper prints the credential_process JSON, or fails with a clear message.

use crate::fake_aws;
use crate::world::{stderr, stdout_json, World, C9AWS};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

const KEY_ID: &str = "ASIAC9AWSTESTKEYID00";
const SECRET: &str = "c9awsTESTsecretKEYdoNOTprint0000000000000";
const TOKEN: &str = "c9awsTESTsessionTOKENdoNOTprint";

/// The `AWS_*`/`C9AWS_*` variables the fake CLI saw, as `NAME=value` lines.
fn cli_env(w: &World) -> Vec<String> {
    w.logged("env").lines().map(str::to_string).collect()
}

fn var(w: &World, name: &str) -> Option<String> {
    cli_env(w)
        .into_iter()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

fn run_aws(w: &World, args: &[&str]) -> std::process::Output {
    w.c9aws(args)
        .env(fake_aws::ENV, "1")
        .env("C9AWS_DEBUG", "1")
        .output()
        .unwrap()
}

#[test]
fn a_long_call_gets_a_reread_credentials_file_and_a_short_one_nothing() {
    let w = World::new();
    w.cloud9();
    let args = ["s3", "cp", "big file.bin", "s3://bucket/k\u{e9}y"];
    let o = run_aws(&w, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    // argv byte for byte.
    assert_eq!(w.argv_strings(), args);
    let file = PathBuf::from(var(&w, "AWS_SHARED_CREDENTIALS_FILE").expect("the variable is set"));
    assert!(
        file.starts_with(w.home().join(".cache/c9aws")),
        "{}",
        file.display()
    );
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let text = fs::read_to_string(&file).unwrap();
    let creds = w.home().join(".aws/credentials");
    let want = format!(
        "[default]\ncredential_process = {C9AWS} __amtc-credentials --life 900 {} default\nregion = ap-northeast-1\n",
        creds.display()
    );
    assert!(text.contains(&want), "{text}");
    for s in [KEY_ID, SECRET, TOKEN] {
        assert!(!text.contains(s), "a secret in the generated file: {text}");
        assert!(
            !stderr(&o).contains(s),
            "a secret on stderr: {}",
            stderr(&o)
        );
    }
    // Nothing else changed: the config file is the user's, the usual two marks.
    assert!(var(&w, "AWS_CONFIG_FILE").is_none());
    let ours: Vec<String> = cli_env(&w)
        .into_iter()
        .filter(|l| !l.starts_with("C9AWS_DEBUG=") && !l.starts_with("AWS_EC2_METADATA"))
        .map(|l| l.split('=').next().unwrap().to_string())
        .collect();
    assert_eq!(
        ours,
        [
            "AWS_SHARED_CREDENTIALS_FILE",
            "C9AWS_ACTIVE",
            "C9AWS_CHECKIP_URL",
            "C9AWS_NO_WARM",
            "C9AWS_VIA"
        ]
    );
    // Written once, reused.
    let before = meta.modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    run_aws(
        &w,
        &["ec2", "wait", "instance-running", "--instance-ids", "i-1"],
    );
    assert_eq!(
        var(&w, "AWS_SHARED_CREDENTIALS_FILE").as_deref(),
        file.to_str()
    );
    assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), before);
    assert_eq!(
        fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("long-call-")
            })
            .count(),
        1
    );

    // Raw bytes that are not UTF-8 reach the CLI as they are.
    use std::os::unix::ffi::OsStrExt;
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.bin");
    let o = w
        .c9aws(["s3", "sync"])
        .arg(raw)
        .arg("s3://bucket/")
        .env(fake_aws::ENV, "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        w.argv(),
        [
            b"s3".to_vec(),
            b"sync".to_vec(),
            b"caf\xe9.bin".to_vec(),
            b"s3://bucket/".to_vec()
        ]
    );
    assert_eq!(
        var(&w, "AWS_SHARED_CREDENTIALS_FILE").as_deref(),
        file.to_str()
    );

    // A short call: no variable added.
    fs::remove_file(w.log("env")).unwrap();
    let o = run_aws(&w, &["s3", "ls"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.argv_strings(), ["s3", "ls"]);
    assert!(
        var(&w, "AWS_SHARED_CREDENTIALS_FILE").is_none(),
        "{:?}",
        cli_env(&w)
    );
}

#[test]
fn not_for_explicit_profiles_env_keys_or_when_off() {
    let w = World::new();
    w.cloud9();
    w.aws_config("[profile other]\nregion = eu-west-1\n");
    let long = ["s3", "sync", ".", "s3://bucket/"];
    for (extra_args, env) in [
        (vec!["--profile", "default"], vec![]),
        (
            vec![],
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
            ],
        ),
        (vec![], vec![("AWS_PROFILE", "other")]),
        (vec![], vec![("C9AWS_LONG_CALLS", "off")]),
    ] {
        let _ = fs::remove_file(w.log("env"));
        let mut args: Vec<&str> = extra_args.clone();
        args.extend(long);
        let o = w
            .c9aws(&args)
            .envs(env.iter().copied())
            .env(fake_aws::ENV, "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(w.argv_strings(), args);
        assert!(
            var(&w, "AWS_SHARED_CREDENTIALS_FILE").is_none(),
            "{args:?} {env:?}: {:?}",
            cli_env(&w)
        );
    }
}

#[test]
fn explain_shows_the_long_call() {
    let w = World::new();
    w.cloud9();
    let o = w.run(["explain", "--json", "s3", "sync", ".", "s3://bucket/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["long_call"]["profile"], "default");
    assert!(v["long_call"]["why"].as_str().unwrap().contains("transfer"));
    let file = v["process"]["env"]["AWS_SHARED_CREDENTIALS_FILE"]
        .as_str()
        .unwrap();
    assert!(file.contains("long-call-"), "{v}");
    let o = w.run(["explain", "s3", "sync", ".", "s3://bucket/"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("long call") && text.contains("re-reads"),
        "{text}"
    );
    assert!(text.contains("AWS_SHARED_CREDENTIALS_FILE="), "{text}");
    let o = w.run(["explain", "--json", "s3", "ls"]);
    let v = stdout_json(&o);
    assert!(v["long_call"].is_null());
    assert!(v["process"]["env"]
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .is_none());
    let o = w
        .c9aws(["explain", "--json", "s3", "sync", ".", "s3://b/"])
        .env("C9AWS_LONG_CALLS", "off")
        .output()
        .unwrap();
    let v = stdout_json(&o);
    assert!(v["long_call"].is_null());
    assert!(v["notes"].to_string().contains("long_calls = off"), "{v}");
}

fn helper(w: &World, args: &[&str]) -> std::process::Output {
    // As the CLI starts it: inside the CLI c9aws ran, so C9AWS_ACTIVE is set.
    w.c9aws(["__amtc-credentials"])
        .args(args)
        .env("C9AWS_ACTIVE", "1")
        .env("C9AWS_DEBUG", "1")
        .output()
        .unwrap()
}

#[test]
fn the_helper_prints_cloud9s_keys_with_a_shifted_expiration() {
    let w = World::new();
    w.cloud9();
    let creds = w.home().join(".aws/credentials");
    let path = creds.to_str().unwrap();
    let o = helper(&w, &["--life", "900", path, "default"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Version"], 1);
    assert_eq!(v["AccessKeyId"], KEY_ID);
    assert_eq!(v["SecretAccessKey"], SECRET);
    assert_eq!(v["SessionToken"], TOKEN);
    // mtime + 900 − 300 + 900: 25 minutes after the file was written.
    let mtime = fs::metadata(&creds).unwrap().modified().unwrap();
    let secs = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1500;
    let exp = v["Expiration"].as_str().unwrap();
    assert_eq!(exp, c9aws::core::long_call::rfc3339(secs));
    let e = stderr(&o);
    for s in [KEY_ID, SECRET, TOKEN] {
        assert!(!e.contains(s), "{e}");
    }
    // The default section and life.
    let o = helper(&w, &[path]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn the_helper_fails_cleanly() {
    let w = World::new();
    w.cloud9();
    let creds = w.home().join(".aws/credentials");
    let path = creds.to_str().unwrap();
    let check = |o: &std::process::Output, want: &str| {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert!(o.stdout.is_empty());
        let e = stderr(o);
        assert!(e.contains(want), "want {want:?}: {e}");
        for s in [KEY_ID, SECRET, TOKEN] {
            assert!(!e.contains(s), "{e}");
        }
    };
    // Past its life: the IDE closed 20 minutes ago.
    let old = SystemTime::now() - Duration::from_secs(1200);
    fs::File::options()
        .write(true)
        .open(&creds)
        .unwrap()
        .set_modified(old)
        .unwrap();
    check(&helper(&w, &[path]), "past their life");
    check(&helper(&w, &["--life", "60", path]), "amtc_life = 60 s");
    // Missing file, missing section, malformed file.
    check(
        &helper(&w, &["/nonexistent/credentials"]),
        "/nonexistent/credentials",
    );
    w.cloud9();
    check(&helper(&w, &[path, "other"]), "no [other] in");
    w.credentials("[default]\naws_access_key_id = ASIAC9AWSTESTKEYID00\n  broken\n= x\n");
    check(&helper(&w, &[path]), "cannot parse");
    w.credentials("[default]\naws_access_key_id = ASIAC9AWSTESTKEYID00\n");
    check(&helper(&w, &[path]), "has no aws_secret_access_key");
}

/// Off EC2 the ec2 route is unknown: with a fallback, the safety net runs the
/// call as a child first. That child is the planned process, variable
/// included; the retry after a refusal is switched and gets none.
#[test]
fn the_safety_nets_first_run_carries_it_and_its_switched_retry_does_not() {
    let w = World::new();
    w.cloud9()
        .aws_config("[profile c9-fallback]\naws_access_key_id = AKIAFALLBACKKEY00000\naws_secret_access_key = fb\n")
        .c9aws_config("fallback_profile = c9-fallback\n");
    let args = ["ec2", "wait", "instance-running", "--instance-ids", "i-1"];
    let o = w.c9aws(args).env(fake_aws::ENV, "1").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.calls(), ["ec2 wait instance-running --instance-ids i-1"]);
    assert!(
        var(&w, "AWS_SHARED_CREDENTIALS_FILE").is_some(),
        "{:?}",
        cli_env(&w)
    );
    let v = stdout_json(&w.run(["explain", "--json", "ec2", "wait", "instance-running"]));
    assert_eq!(v["decision"]["retry_on_refusal"], true, "{v}");

    let o = w
        .c9aws(args)
        .env(fake_aws::ENV, "1")
        .env(fake_aws::REFUSE, "InvalidClientTokenId")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let calls = w.calls();
    assert!(
        calls.last().unwrap().starts_with("--profile c9-fallback"),
        "{calls:?}"
    );
    assert!(
        var(&w, "AWS_SHARED_CREDENTIALS_FILE").is_none(),
        "{:?}",
        cli_env(&w)
    );
}
