//! The built `c9aws` binary against the fake `aws` on PATH, in a hermetic
//! world: a temporary HOME, a clean environment, and a fake CLI that records
//! its argv (as raw bytes), its environment, its stdin and its signal
//! dispositions.

use crate::fake_aws::{self, CALLER_IDENTITY};
use crate::world::{assert_stderr_has, doctor_check, stderr, stdout_json, write_exe, World, C9AWS};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;

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
    let o = w.run(&args);
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
            .c9aws(["sts", "get-caller-identity"])
            .env(fake_aws::EXIT, code.to_string())
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
            .c9aws(["s3", "ls"])
            .env(fake_aws::SIGNAL, name)
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
        .c9aws(["s3", "cp", "-", "s3://b/k"])
        .env(fake_aws::STDIN, "1")
        .env(fake_aws::OUT, "done")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, b"done");
    assert_eq!(fs::read(w.log("stdin")).unwrap(), data);
}

#[test]
fn signal_dispositions_are_those_of_a_direct_start() {
    let w = World::new();
    // Direct start, as a shell would do it.
    let direct = w.command(w.bin().join("aws")).arg("x").status().unwrap();
    assert!(direct.success());
    let want = w.logged("sig");
    let o = w.run(["x"]);
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
    w.cloud9().aws_config("").c9aws_config("[broken\n");
    let closed = |prog: &Path| {
        let o = w
            .command("/bin/sh")
            .args(["-c", "exec 0<&- 2>&- \"$@\"", "sh"])
            .arg(prog)
            .args(["sts", "get-caller-identity"])
            .output()
            .unwrap();
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
    let o = w
        .command(script)
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(w.logged("tty").trim(), "tty");
}

#[test]
fn c9aws_as_a_symlink_named_aws_never_loops() {
    let w = World::new();
    // c9aws installed as `aws`, ahead of the real one on PATH.
    let shim = w.root().join("shim");
    fs::create_dir_all(&shim).unwrap();
    symlink(C9AWS, shim.join("aws")).unwrap();
    let aws_s3_ls = |path: String| {
        w.command(shim.join("aws"))
            .args(["s3", "ls"])
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let o = aws_s3_ls(w.path_of(&[&shim, &w.bin()]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.argv(), vec![b"s3".to_vec(), b"ls".to_vec()]);

    // With only c9aws on PATH: a clear 127, not a loop.
    let o = aws_s3_ls(w.path_of(&[&shim]));
    assert_eq!(o.status.code(), Some(127));
    assert_stderr_has(&o, "skipping c9aws itself");
}

#[test]
fn a_wrapper_script_that_calls_c9aws_cannot_loop() {
    let w = World::new();
    let wrap = w.root().join("wrap");
    fs::create_dir_all(&wrap).unwrap();
    write_exe(
        &wrap.join("aws"),
        &format!("#!/bin/sh\nexec {C9AWS} \"$@\"\n"),
    );
    let o = w
        .c9aws(["ec2", "describe-vpcs"])
        .env("PATH", w.path_of(&[&wrap, &w.bin()]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.argv(), vec![b"ec2".to_vec(), b"describe-vpcs".to_vec()]);
}

#[test]
fn missing_aws_is_127_with_one_line() {
    let w = World::new();
    fs::remove_file(w.bin().join("aws")).unwrap();
    let o = w.run(["s3", "ls"]);
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
    let o = w.run(["s3", "ls"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
}

#[test]
fn c9aws_aws_and_config_aws_path_choose_the_cli() {
    let w = World::new();
    let other = w.root().join("other-aws");
    write_exe(&other, fake_aws::SCRIPT);
    let other_ran = || {
        let ran = w.logged("self");
        let _ = fs::remove_file(w.log("self"));
        ran == other.display().to_string()
    };
    let o = w
        .c9aws(["s3", "ls"])
        .env("C9AWS_AWS", &other)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(other_ran());

    w.c9aws_config(&format!("aws_path = {}\n", other.display()));
    let o = w.run(["s3", "ls"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(other_ran());

    let o = w
        .c9aws(["s3"])
        .env("C9AWS_AWS", w.root().join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn a_malformed_c9aws_config_is_named_and_the_call_still_runs() {
    let w = World::new();
    w.c9aws_config("[broken\n");
    let o = w.run(["s3", "ls"]);
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
        .c9aws(["explain", "s3"])
        .env("C9AWS_ACTIVE", "1")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(w.argv(), vec![b"explain".to_vec(), b"s3".to_vec()]);

    let o = w.run(["--", "explain", "--json"]);
    assert!(o.status.success());
    assert_eq!(w.argv(), vec![b"explain".to_vec(), b"--json".to_vec()]);
}

#[test]
fn own_words_never_reach_aws() {
    let w = World::new();
    for word in ["doctor", "init", "setup", "exec", "credential-process"] {
        let o = w.run([word, "--definitely-not-an-option"]);
        assert_eq!(o.status.code(), Some(2), "{word}: {}", stderr(&o));
        assert!(stderr(&o).contains("--definitely-not-an-option"), "{word}");
        assert!(!w.log("argv").exists());
    }
}

#[test]
fn credential_process_without_imds_fails_clearly() {
    let w = World::new();
    let o = w.run(["credential-process"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_stderr_has(&o, "AWS_EC2_METADATA_DISABLED");
}

fn explain_json(w: &World, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let o = w
        .c9aws(["explain", "--json"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!w.log("argv").exists(), "explain must not run aws");
    stdout_json(&o)
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
fn explain_operation_arguments_the_cli_stops_on() {
    let w = World::new();
    w.cloud9();
    let v2_cache = w.root().join("cache-v2").display().to_string();
    let v2: &[(&str, &str)] = &[(fake_aws::VERSION, "2.36.7"), ("XDG_CACHE_HOME", &v2_cache)];
    for env in [&[][..], v2] {
        // Ordinary valid commands still call.
        for line in [
            &["s3", "ls"][..],
            &["ec2", "describe-instances", "--instance-ids", "i-1"],
            &["sts", "get-caller-identity"],
            &[
                "kms",
                "re-encrypt",
                "--ciphertext",
                "x",
                "--destination-key-id",
                "k",
            ],
            &["kms", "re-encrypt", "--cli-input-json", "{}"],
        ] {
            let v = explain_json(&w, line, env);
            assert_eq!(v["kind"], "calls", "{line:?} {env:?}: {v}");
        }
        // The CLI's own parser stops: nothing is called, nothing switched.
        for (line, why) in [
            (
                &["kms", "re-encrypt"][..],
                "required --destination-key-id missing",
            ),
            (
                &["sts", "get-caller-identity", "--nosuch"],
                "Unknown options: --nosuch",
            ),
        ] {
            let v = explain_json(&w, line, env);
            assert_eq!(v["kind"], "fails", "{line:?} {env:?}: {v}");
            assert_eq!(v["services"], serde_json::json!([]));
            assert_eq!(v["decision"]["action"], "passthrough");
            let reason = v["decision"]["reason"].as_str().unwrap_or_default();
            assert!(reason.contains(why), "{reason}");
        }
    }
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
    let v2_cache = w.root().join("cache-v2").display().to_string();
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
            (fake_aws::VERSION, "2.36.7"),
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
    let o = w.run(["explain", "sts", "get-caller-identity"]);
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
    for _ in 0..3 {
        let o = w.run(["sts", "get-caller-identity"]);
        assert!(o.status.success());
    }
    assert_eq!(w.logged("version").lines().count(), 1);
    let cache = w.home().join(".cache/c9aws/cli-versions");
    let mode = fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A changed binary (upgrade) is measured again.
    fs::write(
        w.bin().join("aws"),
        format!("{}\n# upgraded\n", fake_aws::SCRIPT),
    )
    .unwrap();
    let o = w.run(["sts", "get-caller-identity"]);
    assert!(o.status.success());
    assert_eq!(w.logged("version").lines().count(), 2);
}

#[test]
fn an_unwritable_cache_still_runs_the_call_and_says_why_it_is_slow() {
    let w = World::new();
    w.cloud9();
    // A regular file where the cache directory should be: creating it fails
    // even for root (ENOTDIR), unlike permission bits.
    let blocker = w.root().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let o = w
        .c9aws(["s3", "ls"])
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

#[test]
fn refused_actions_switch_to_the_fallback_keeping_region_and_output() {
    let w = World::new();
    w.cloud9()
        .aws_config(format!("[default]\noutput = text\n{FALLBACK}"))
        .c9aws_config("fallback_profile = c9-fallback\n");
    let o = w.run(["iam", "create-user", "--user-name", "bob"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The fallback profile has no region and no output: the call must not move.
    assert_eq!(
        w.argv_strings(),
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
        .c9aws([
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::1:role/x",
            "--role-session-name",
            "s",
        ])
        .env("C9AWS_NOTICE", "always")
        .output()
        .unwrap();
    assert!(
        stderr(&o).starts_with("c9aws: sts via profile c9-fallback"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.argv_strings()[..2], ["--profile", "c9-fallback"]);
}

#[test]
fn allowed_actions_and_other_credentials_are_never_switched() {
    let w = World::new();
    w.cloud9()
        .aws_config(FALLBACK)
        .c9aws_config("fallback_profile = c9-fallback\n");
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
        let o = w.c9aws(&args).envs(env.iter().copied()).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(w.argv_strings(), args, "{env:?}");
    }
}

#[test]
fn no_fallback_configured_passes_through_with_one_line() {
    let w = World::new();
    w.cloud9();
    let o = w.run(["iam", "create-access-key"]);
    assert!(o.status.success());
    assert_eq!(w.argv_strings(), ["iam", "create-access-key"]);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fallback_profile"), "{err}");
    // A configured fallback that does not exist: same safe outcome.
    w.aws_config("").c9aws_config("fallback_profile = ghost\n");
    let o = w.run(["iam", "create-access-key"]);
    assert_eq!(w.argv_strings(), ["iam", "create-access-key"]);
    assert_stderr_has(&o, "ghost");
}

#[test]
fn explain_shows_the_switch() {
    let w = World::new();
    w.cloud9()
        .aws_config(FALLBACK)
        .c9aws_config("fallback_profile = c9-fallback\n");
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
    let o = w.run(["ec2", "describe-vpcs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let facts = w.home().join(".cache/c9aws/facts.json");
    let text = fs::read_to_string(&facts).unwrap();
    assert!(text.contains("\"imds\""), "IMDS failure remembered: {text}");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&facts), 0o600);
    assert_eq!(mode(facts.parent().unwrap()), 0o700);
    let before = fs::metadata(&facts).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = w.run(["ec2", "describe-vpcs"]);
    assert!(o.status.success());
    let after = fs::metadata(&facts).unwrap().modified().unwrap();
    assert_eq!(before, after, "a warm call writes nothing");
    assert!(!text.contains("c9awsTEST"), "no secret in the cache");
}

/// Cloud9 with a fallback, and a CLI that AWS refuses as it refuses AMTC's
/// credentials unless a profile is given.
fn safety_net_world() -> World {
    let w = World::new()
        .with_env(fake_aws::REFUSE, "InvalidClientTokenId")
        .with_env(fake_aws::OUT, "{\"Account\": \"123456789012\"}\n");
    w.cloud9()
        .aws_config(FALLBACK)
        .c9aws_config("fallback_profile = c9-fallback\n");
    w
}

#[test]
fn safety_net_retries_an_amtc_refusal_once_with_the_fallback() {
    // Off EC2 (IMDS disabled) the ec2 route is unknown: AMTC is kept first.
    let w = safety_net_world();
    let o = w.run(["ec2", "describe-vpcs"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        w.calls(),
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
    let o = w.run(["ec2", "describe-vpcs"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(w.calls().len(), 3);
    assert!(w.calls()[2].starts_with("--profile c9-fallback"));
}

#[test]
fn safety_net_leaves_other_errors_and_signals_to_the_cli() {
    let w = safety_net_world();
    let o = w
        .c9aws(["ec2", "describe-vpcs"])
        .env(fake_aws::REFUSE, "UnauthorizedOperation")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(254));
    assert_stderr_has(&o, "UnauthorizedOperation");
    assert_eq!(w.calls().len(), 1, "not retried");
    let o = w
        .c9aws(["ec2", "describe-vpcs"])
        .env(fake_aws::SIGNAL, "TERM")
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), Some(15), "dies of the CLI's signal");
}

/// Runs `args` with stdin a pipe (written and closed at once) and stdout a pipe.
fn run_with_piped_stdin(w: &World, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut child = w
        .c9aws(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn safety_net_retries_with_piped_stdin_when_the_argv_cannot_read_it() {
    // Scripts, CI and xargs start aws with stdin a pipe; describe-vpcs never
    // reads it, so the refused attempt is retried with the fallback.
    let w = safety_net_world();
    let o = run_with_piped_stdin(&w, &["ec2", "describe-vpcs"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(w.calls().len(), 2);
    assert!(w.calls()[1].starts_with("--profile c9-fallback"));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"Account\": \"123456789012\"}\n",
        "stdout holds the retry's output only"
    );
    assert!(!stderr(&o).contains("InvalidClientTokenId"));
    // The retry, exec'd after c9aws served the first attempt's pipes, starts
    // with the signal dispositions of a direct start.
    let retried = w.logged("sig");
    let direct = w
        .command(w.bin().join("aws"))
        .arg("--profile")
        .status()
        .unwrap();
    assert!(direct.success());
    assert_eq!(retried, w.logged("sig"), "signals as after a direct start");
}

#[test]
fn safety_net_never_reruns_a_call_that_read_piped_stdin() {
    let w = safety_net_world();
    let o = run_with_piped_stdin(
        &w,
        &[
            "ec2",
            "describe-vpcs",
            "--cli-input-json",
            "file:///dev/stdin",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(254), "the CLI's own failure");
    assert_eq!(w.calls().len(), 1);
    assert!(stderr(&o).contains("InvalidClientTokenId"));
    // The refusal is remembered all the same: the next call switches at once.
    let o = w.run(["ec2", "describe-vpcs"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(w.calls().len(), 2);
    assert!(w.calls()[1].starts_with("--profile c9-fallback"));
}

#[test]
fn safety_net_never_reruns_a_call_that_printed_on_stdout() {
    // A retry must never add a second copy to what a pipe already received.
    let w = safety_net_world();
    let o = run_with_piped_stdin(&w, &["ec2", "describe-vpcs"], &[(fake_aws::PROGRESS, "1")]);
    assert_eq!(o.status.code(), Some(254));
    assert_eq!(w.calls().len(), 1);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "progress on stdout\n");
    assert!(stderr(&o).contains("InvalidClientTokenId"));
}

#[test]
fn an_unlearnable_cli_version_is_not_asked_again() {
    // `aws --version` prints nothing.
    let w = World::new().with_env(fake_aws::VERSION, "none");
    for _ in 0..3 {
        let o = w.run(["sts", "get-caller-identity"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(w.logged("version").lines().count(), 1);
    fs::remove_file(w.log("argv")).unwrap();
    let v = explain_json(&w, &["sts", "get-caller-identity"], &[]);
    assert_eq!(v["cli_version"], serde_json::Value::Null);
    assert!(v["notes"].to_string().contains("v1 rules assumed"));
}

/// What doctor_exec.rs does not cover: a configured fallback missing from
/// the files, and the exact command line of the signing check.
#[test]
fn doctor_names_a_missing_fallback_and_signs_with_the_cli() {
    let w = World::new();
    w.cloud9();
    // A fallback that is configured but missing from the files.
    w.aws_config("").c9aws_config("fallback_profile = nope\n");
    let (_, v) = w.doctor(&[]);
    assert_eq!(doctor_check(&v, "fallback")["status"], "fail");
    assert!(
        v.to_string()
            .contains("\\\"nope\\\" is configured but is in neither"),
        "{v:#}"
    );
    // Present, and the CLI signs with it (the fake answers like STS).
    w.aws_config("[profile fb]\naws_access_key_id = AKIAFALLBACK0000\naws_secret_access_key = s\n")
        .c9aws_config("fallback_profile = fb\n");
    let (_, v) = w.doctor(&[(fake_aws::OUT, CALLER_IDENTITY)]);
    assert_eq!(doctor_check(&v, "fallback")["status"], "ok");
    assert_eq!(doctor_check(&v, "fallback-sign")["status"], "ok", "{v:#}");
    assert!(v.to_string().contains("arn:aws:iam::123456789012:user/fb"));
    assert_eq!(
        w.argv_strings(),
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
