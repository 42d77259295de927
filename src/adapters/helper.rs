//! The `c9aws-probe` executable, seen from `c9aws`: where it is, how a probe
//! request and its answer cross the process boundary (JSON on stdin/stdout),
//! and the bounds on waiting for it. Also the helper's side of the exchange
//! ([`serve`]).
//!
//! Why a second executable: the probes need an async runtime, an HTTP client,
//! TLS and aws-config's IMDS client; linked into `c9aws` they made the image
//! that starts in front of every `aws` call 8 MB and pulled in libm. They run
//! only on a cold cache (once per TTL), where starting one more process costs
//! ~2 ms of a budget of 50.

use crate::adapters::environment;
use crate::adapters::facts_cache::InstanceRec;
use crate::adapters::probe::{self, ProbeRequest, Probed};
use crate::core::process::ProcessPlan;
use crate::core::profile::EnvMap;
use crate::error::{Error, LocateError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The helper's first argument for a probe request (not a word a user types).
pub const PROBE_WORD: &str = "__probe";
/// The helper's file name, next to `c9aws`.
pub const HELPER: &str = "c9aws-probe";
/// Time for the helper to start and answer, on top of the probe's own deadline.
const START_MARGIN: Duration = Duration::from_millis(500);
/// credential-process's own bound is 5 s.
const CREDENTIALS_WAIT: Duration = Duration::from_secs(6);

#[derive(Serialize, Deserialize)]
struct Request {
    want_instance: bool,
    want_egress: bool,
    hosts: Vec<String>,
    checkip_url: String,
    ca_bundle: Option<PathBuf>,
    deadline_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    instance: Option<Result<InstanceRec, String>>,
    egress: Option<Result<IpAddr, String>>,
    dns: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    elapsed_ms: u64,
}

/// `c9aws-probe` next to the running executable.
pub fn path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this c9aws binary is: {e}"))?;
    Ok(exe.with_file_name(HELPER))
}

/// Runs the probe in `c9aws-probe`. Whatever goes wrong (helper missing, killed,
/// late, garbled) makes every asked-for fact an `Err` naming the cause, so the
/// caller treats it like any failed probe (unknown facts, never a hang).
pub fn probe(req: &ProbeRequest) -> Probed {
    let started = std::time::Instant::now();
    let deadline = req.deadline.min(probe::MAX_DEADLINE);
    let wire = Request {
        want_instance: req.want_instance,
        want_egress: req.want_egress,
        hosts: req.hosts.clone(),
        checkip_url: req.checkip_url.clone(),
        ca_bundle: req.ca_bundle.clone(),
        deadline_ms: deadline.as_millis() as u64,
    };
    let input = serde_json::to_vec(&wire).unwrap_or_default();
    let got = path().and_then(|helper| {
        run(
            Command::new(&helper).arg(PROBE_WORD),
            &input,
            deadline + START_MARGIN,
        )
        .map_err(|e| match e {
            Failure::Said(msg) | Failure::Helper(msg) => format!("{}: {msg}", helper.display()),
        })
    });
    let answer = got.and_then(|out| {
        serde_json::from_slice::<Answer>(&out)
            .map_err(|e| format!("{HELPER} answered something else than a probe answer: {e}"))
    });
    match answer {
        Ok(a) => Probed {
            instance: a.instance.map(|r| r.map(|i| (&i).into())),
            egress: a.egress,
            dns: a.dns,
            elapsed: started.elapsed(),
            failure: None,
        },
        Err(msg) => {
            let mut hosts = req.hosts.clone();
            hosts.sort();
            hosts.dedup();
            Probed {
                instance: req.want_instance.then(|| Err(msg.clone())),
                egress: req.want_egress.then(|| Err(msg.clone())),
                dns: hosts.into_iter().map(|h| (h, Err(msg.clone()))).collect(),
                elapsed: started.elapsed(),
                failure: Some(msg),
            }
        }
    }
}

/// The instance role's credential_process JSON, from `c9aws-probe
/// credential-process`. The JSON (a secret) stays in memory; on failure the
/// helper's own one-line message.
pub fn credentials(env: &EnvMap, role: Option<&str>) -> Result<String, Error> {
    credentials_text(env, role).map_err(Error::Credentials)
}

fn credentials_text(_env: &EnvMap, role: Option<&str>) -> Result<String, String> {
    let helper = path()?;
    let mut cmd = Command::new(&helper);
    cmd.arg("credential-process");
    if let Some(r) = role {
        cmd.arg("--role").arg(r);
    }
    cmd.stderr(Stdio::piped());
    let out = run(&mut cmd, &[], CREDENTIALS_WAIT).map_err(|e| match e {
        Failure::Said(msg) => msg,
        Failure::Helper(msg) => format!("{}: {msg}", helper.display()),
    })?;
    String::from_utf8(out)
        .map(|s| s.trim_end().to_string())
        .map_err(|_| format!("{HELPER} credential-process wrote something that is not text"))
}

enum Failure {
    /// The helper ran and said why it failed (its stderr, when captured).
    Said(String),
    /// The helper could not be run, or did not answer in time.
    Helper(String),
}

/// `c9aws-probe ARGS` (`credential-process`: the CLI reads its stdout and
/// stderr as they are), to be exec'd in place of this process.
pub fn process(args: &[std::ffi::OsString]) -> Result<ProcessPlan, Error> {
    let helper = path().map_err(|e| Error::Locate(LocateError::NotFound(e)))?;
    Ok(ProcessPlan::new(helper).args(args.iter().cloned()))
}

/// What to do when the helper cannot be exec'd.
pub const MISSING_HINT: &str = "it is installed with c9aws (`cargo install --path .` \
                                installs both) and must sit in the same directory";

/// Starts `cmd` with `input` on stdin and returns its stdout if it exits 0
/// within `wait`; else kills it and says why.
fn run(cmd: &mut Command, input: &[u8], wait: Duration) -> Result<Vec<u8>, Failure> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::Helper(match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "not found; it is installed with c9aws (`cargo install --path .` installs \
                     both) and must sit in the same directory ({e})"
                ),
                _ => format!("cannot start it: {e}"),
            })
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits before reading gets EPIPE here: its exit tells why.
        let _ = stdin.write_all(input);
    }
    let mut stdout = child.stdout.take().expect("piped");
    // stderr (when captured) drains on a thread of its own, so that a helper
    // filling one pipe never blocks while the other is being read.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = e.read_to_end(&mut err);
            err
        })
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let err = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        let _ = tx.send((out, err));
    });
    let (out, err) = match rx.recv_timeout(wait) {
        Ok(got) => got,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::Helper(format!(
                "no answer within {} ms",
                wait.as_millis()
            )));
        }
    };
    let status = child
        .wait()
        .map_err(|e| Failure::Helper(format!("cannot wait for it: {e}")))?;
    if status.success() {
        return Ok(out);
    }
    // Its debug lines are passed on as they are; the rest is its message.
    let err = String::from_utf8_lossy(&err);
    let mut said = Vec::new();
    for line in err.lines() {
        if line.starts_with("c9aws: debug:") {
            eprintln!("{line}");
        } else if !line.trim().is_empty() {
            said.push(
                line.strip_prefix("c9aws credential-process: ")
                    .unwrap_or(line),
            );
        }
    }
    let said = said.join("; ");
    Err(if said.is_empty() {
        Failure::Helper(format!("failed ({status})"))
    } else {
        Failure::Said(said.to_string())
    })
}

/// The helper's side: one probe request on stdin, the answer on stdout.
pub fn serve() -> i32 {
    let env = environment::snapshot();
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        eprintln!("{HELPER}: cannot read the probe request");
        return 2;
    }
    let Ok(req) = serde_json::from_slice::<Request>(&input) else {
        eprintln!("{HELPER}: `{PROBE_WORD}` is for c9aws's own use (a probe request on stdin)");
        return 2;
    };
    let got = probe::probe(&ProbeRequest {
        env: &env,
        want_instance: req.want_instance,
        want_egress: req.want_egress,
        hosts: req.hosts,
        checkip_url: req.checkip_url,
        ca_bundle: req.ca_bundle,
        deadline: Duration::from_millis(req.deadline_ms),
    });
    let answer = Answer {
        instance: got.instance.map(|r| r.map(|i| InstanceRec::from(&i))),
        egress: got.egress,
        dns: got.dns,
        elapsed_ms: got.elapsed.as_millis() as u64,
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, &answer).map(|_| out.flush()) {
        Ok(Ok(())) => 0,
        _ => 1,
    }
}
