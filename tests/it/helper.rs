//! `c9aws` and the `c9aws-probe` helper beside it: the cold probe and
//! `credential-process` cross over to the helper, and a `c9aws` installed
//! without it still runs every call, says what is wrong, and remembers nothing
//! false. Hermetic: a temporary HOME, a fake `aws`, IMDS and checkip on closed
//! loopback ports, the endpoint on 127.0.0.1 (no DNS query leaves the machine).

use crate::fake_aws;
use crate::world::{
    assert_stderr_has, doctor_check, stderr, stdout_json, World, C9AWS, CLOSED_PORT,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// What the fake CLI prints, and its exit code: the call's own.
const CLI_OUT: &str = "fake aws: the CLI's own output\n";

/// Cloud9 (AMTC), IMDS on a closed port (probed, and fails), every AWS
/// endpoint on 127.0.0.1, debug lines on.
fn world() -> World {
    let w = World::new()
        .with_imds_at(CLOSED_PORT)
        .with_env("AWS_ENDPOINT_URL", "http://127.0.0.1:1/")
        .with_env("C9AWS_DEBUG", "1")
        .with_env(fake_aws::OUT, CLI_OUT)
        .with_env(fake_aws::EXIT, "3");
    w.cloud9();
    w
}

/// `c9aws` copied alone into a directory of its own (no helper beside it).
fn lone_c9aws(w: &World) -> PathBuf {
    let d = w.root().join("lone");
    fs::create_dir_all(&d).unwrap();
    crate::world::place_c9aws(&d.join("c9aws"));
    d.join("c9aws")
}

/// `c9aws ARGS`, this `c9aws` binary, run in `w`.
fn run(w: &World, c9aws: &Path, args: &[&str]) -> Output {
    w.command(c9aws).args(args).output().unwrap()
}

fn cached_facts(w: &World) -> Option<String> {
    fs::read_to_string(w.home().join(".cache/c9aws/facts.json")).ok()
}

#[test]
fn the_cold_probe_runs_in_the_helper_and_is_cached() {
    let w = world();
    let o = run(
        &w,
        Path::new(C9AWS),
        &["explain", "--json", "sts", "get-caller-identity"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The helper's own debug line: it ran the probes (and found IMDS closed).
    assert_stderr_has(&o, "c9aws: debug: probe: finished");
    // Its answer is cached: IMDS closed (remembered as failed) and the endpoint's address.
    let facts = cached_facts(&w).expect("the probe's answer is cached");
    assert!(facts.contains("\"imds\":{\"at\":"), "{facts}");
    assert!(facts.contains("\"127.0.0.1\":{\"at\":"), "{facts}");
    // Warm: no helper started.
    let o = run(
        &w,
        Path::new(C9AWS),
        &["explain", "--json", "sts", "get-caller-identity"],
    );
    assert!(!stderr(&o).contains("debug: probe:"), "{}", stderr(&o));
}

#[test]
fn without_the_helper_the_call_runs_unchanged_with_one_clear_line_and_nothing_cached() {
    let w = world();
    let lone = lone_c9aws(&w);
    let o = run(&w, &lone, &["sts", "get-caller-identity"]);
    assert_eq!(o.status.code(), Some(3), "the CLI's own exit code");
    assert_eq!(String::from_utf8_lossy(&o.stdout), CLI_OUT);
    assert_eq!(w.argv_strings(), ["sts", "get-caller-identity"]);
    let e = stderr(&o);
    let said: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("c9aws: cannot probe the network"))
        .collect();
    assert_eq!(said.len(), 1, "{e}");
    assert!(
        said[0].contains("c9aws-probe") && said[0].contains("cargo install"),
        "{e}"
    );
    // A missing helper is not a fact about the network: nothing remembered.
    assert!(
        cached_facts(&w).is_none_or(|f| !f.contains("\"imds\"") && !f.contains("\"127.0.0.1\"")),
        "{:?}",
        cached_facts(&w)
    );
    // explain still answers, with the route unknown.
    let o = run(
        &w,
        &lone,
        &["explain", "--json", "sts", "get-caller-identity"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["routes"]["sts"]["verdict"], "unknown");
    assert_eq!(v["decision"]["action"], "passthrough");
}

/// The `c9aws` check of a `doctor --json` run.
fn c9aws_check(o: &Output) -> serde_json::Value {
    doctor_check(&stdout_json(o), "c9aws").clone()
}

#[test]
fn doctor_names_a_missing_helper_with_its_fix() {
    let w = world();
    let o = run(&w, &lone_c9aws(&w), &["doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let c = c9aws_check(&o);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["fix"].as_str().unwrap().contains("c9aws-probe"), "{c}");
    // Installed with its helper, the same check is fine.
    let o = run(&w, Path::new(C9AWS), &["doctor", "--json"]);
    let c = c9aws_check(&o);
    assert_eq!(c["status"], "ok", "{c}");
}

#[test]
fn credential_process_without_the_helper_is_127_with_one_line() {
    let w = world();
    let o = run(&w, &lone_c9aws(&w), &["credential-process"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    let lines: Vec<&str> = e.lines().filter(|l| !l.contains("debug:")).collect();
    assert_eq!(lines.len(), 1, "{e}");
    assert!(
        lines[0].contains("c9aws-probe") && lines[0].contains("cargo install"),
        "{e}"
    );
}

#[test]
fn the_helper_refuses_a_probe_request_it_cannot_read() {
    let helper = Path::new(C9AWS).with_file_name("c9aws-probe");
    let o = run(&world(), &helper, &["__probe"]);
    assert_eq!(o.status.code(), Some(2));
    assert_stderr_has(&o, "for c9aws's own use");
}

/// The split is only worth its keep if `c9aws`, which starts in front of every
/// call, links none of the probes' machinery: no async runtime, HTTP client,
/// TLS stack or aws-config. A type of theirs named anywhere on c9aws's side
/// (an error enum, say) pulls it back in; the symbols of the test build show it.
#[test]
fn c9aws_links_no_async_runtime_http_tls_or_aws_config() {
    crate::world::need("nm");
    let symbols = |bin: &Path| {
        let o = std::process::Command::new("nm")
            .args(["-C", "--defined-only"])
            .arg(bin)
            .output()
            .unwrap();
        assert!(o.status.success(), "nm {}: {}", bin.display(), stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let crates = [
        "tokio::",
        "hyper::",
        "rustls::",
        "ureq::",
        "aws_config::",
        "aws_smithy_",
    ];
    let found = |text: &str, krate: &str| {
        text.lines()
            .filter(|l| {
                l.match_indices(krate).any(|(i, _)| {
                    i == 0
                        || !l.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && l.as_bytes()[i - 1] != b'_'
                })
            })
            .count()
    };
    let c9aws = symbols(Path::new(C9AWS));
    let probe = symbols(&Path::new(C9AWS).with_file_name("c9aws-probe"));
    for krate in crates {
        assert_eq!(found(&c9aws, krate), 0, "c9aws links {krate}");
        assert!(
            found(&probe, krate) > 0,
            "the check sees {krate} in c9aws-probe"
        );
    }
}
