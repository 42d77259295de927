//! `c9aws` and the `c9aws-probe` helper beside it: the cold probe and
//! `credential-process` cross over to the helper, and a `c9aws` installed
//! without it still runs every call, says what is wrong, and remembers nothing
//! false. Hermetic: a temporary HOME, a fake `aws`, IMDS and checkip on closed
//! loopback ports, the endpoint on 127.0.0.1 (no DNS query leaves the machine).

mod common;
use common::{doctor_check, sandbox, CLOUD9_CREDENTIALS};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

const FAKE_AWS: &str = "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11'; exit 0; }\necho \"fake aws: $*\"\nexit 3\n";

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: sandbox(FAKE_AWS),
        };
        fs::create_dir_all(w.home().join(".aws")).unwrap();
        fs::create_dir_all(w.home().join(".c9")).unwrap();
        fs::write(w.home().join(".aws/credentials"), CLOUD9_CREDENTIALS).unwrap();
        w
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn home(&self) -> PathBuf {
        self.path("home")
    }
    /// `c9aws` copied alone into a directory of its own (no helper beside it).
    fn lone_c9aws(&self) -> PathBuf {
        let d = self.path("lone");
        fs::create_dir_all(&d).unwrap();
        fs::copy(C9AWS, d.join("c9aws")).unwrap();
        d.join("c9aws")
    }
    fn run(&self, c9aws: &Path, args: &[&str]) -> Output {
        Command::new(c9aws)
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/")
            .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1/")
            .env("C9AWS_DEBUG", "1")
            .output()
            .unwrap()
    }
    fn facts(&self) -> Option<String> {
        fs::read_to_string(self.home().join(".cache/c9aws/facts.json")).ok()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_cold_probe_runs_in_the_helper_and_is_cached() {
    let w = World::new();
    let o = w.run(
        Path::new(C9AWS),
        &["explain", "--json", "sts", "get-caller-identity"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The helper's own debug line: it ran the probes (and found IMDS closed).
    assert!(
        stderr(&o).contains("c9aws: debug: probe: finished"),
        "{}",
        stderr(&o)
    );
    // Its answer is cached: IMDS closed (remembered as failed) and the endpoint's address.
    let facts = w.facts().expect("the probe's answer is cached");
    assert!(facts.contains("\"imds\":{\"at\":"), "{facts}");
    assert!(facts.contains("\"127.0.0.1\":{\"at\":"), "{facts}");
    // Warm: no helper started.
    let o = w.run(
        Path::new(C9AWS),
        &["explain", "--json", "sts", "get-caller-identity"],
    );
    assert!(!stderr(&o).contains("debug: probe:"), "{}", stderr(&o));
}

#[test]
fn without_the_helper_the_call_runs_unchanged_with_one_clear_line_and_nothing_cached() {
    let w = World::new();
    let lone = w.lone_c9aws();
    let o = w.run(&lone, &["sts", "get-caller-identity"]);
    assert_eq!(o.status.code(), Some(3), "the CLI's own exit code");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "fake aws: sts get-caller-identity\n"
    );
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
        w.facts()
            .is_none_or(|f| !f.contains("\"imds\"") && !f.contains("\"127.0.0.1\"")),
        "{:?}",
        w.facts()
    );
    // explain still answers, with the route unknown.
    let o = w.run(&lone, &["explain", "--json", "sts", "get-caller-identity"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["routes"]["sts"]["verdict"], "unknown");
    assert_eq!(v["decision"]["action"], "passthrough");
}

/// The `c9aws` check of a `doctor --json` run.
fn c9aws_check(o: &Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    doctor_check(&v, "c9aws").clone()
}

#[test]
fn doctor_names_a_missing_helper_with_its_fix() {
    let w = World::new();
    let o = w.run(&w.lone_c9aws(), &["doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let c = c9aws_check(&o);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["fix"].as_str().unwrap().contains("c9aws-probe"), "{c}");
    // Installed with its helper, the same check is fine.
    let o = w.run(Path::new(C9AWS), &["doctor", "--json"]);
    let c = c9aws_check(&o);
    assert_eq!(c["status"], "ok", "{c}");
}

#[test]
fn credential_process_without_the_helper_is_127_with_one_line() {
    let w = World::new();
    let o = w.run(&w.lone_c9aws(), &["credential-process"]);
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
    let o = Command::new(&helper)
        .arg("__probe")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("for c9aws's own use"), "{}", stderr(&o));
}
