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

use crate::adapters::child::{self, ChildError};
use crate::adapters::environment;
use crate::adapters::facts_cache::InstanceRec;
use crate::adapters::probe::{self, ProbeError, ProbeRequest, Probed};
use crate::core::ec2_query::{DirectAnswer, DirectRequest};
use crate::core::process::ProcessPlan;
use crate::core::EnvMap;
use crate::error::{Error, LocateError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The helper's first argument for a probe request (not a word a user types).
pub const PROBE_WORD: &str = "__probe";
/// The helper's first argument for a direct route-table read
/// ([`crate::adapters::ec2_direct::serve`]).
pub const ROUTE_TABLES_WORD: &str = "__route-tables";
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

/// Why the instance's facts were not learnt, as it crosses the pipe: the
/// words, and whether IMDS had answered at all (ProbeError::ImdsAnswered).
#[derive(Serialize, Deserialize)]
struct InstanceFailure {
    message: String,
    #[serde(default)]
    imds_answered: bool,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    instance: Option<Result<InstanceRec, InstanceFailure>>,
    egress: Option<Result<IpAddr, String>>,
    dns: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    elapsed_ms: u64,
}

/// Why the helper gave no answer.
#[derive(Debug)]
pub enum HelperError {
    /// Where this executable is, and so its helper, is unknown.
    NoSelf(io::Error),
    /// The helper at `helper` could not be run, or did not answer in time.
    Run { helper: PathBuf, error: ChildError },
    /// It exited with `status` and said nothing about it.
    Failed { helper: PathBuf, status: ExitStatus },
    /// It failed and said why (credential-process's own one-line message).
    Said(String),
    /// Its answer is not a probe answer.
    Garbled(serde_json::Error),
    /// credential-process wrote something that is not text.
    NotText,
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            HelperError::NoSelf(e) => write!(f, "cannot tell where this c9aws binary is: {e}"),
            HelperError::Run {
                helper,
                error: ChildError::Spawn(e),
            } if e.kind() == io::ErrorKind::NotFound => write!(
                f,
                "{}: not found; it is installed with c9aws (`cargo install --path .` installs \
                 both) and must sit in the same directory ({e})",
                helper.display()
            ),
            HelperError::Run { helper, error } => write!(f, "{}: {error}", helper.display()),
            HelperError::Failed { helper, status } => {
                write!(f, "{}: failed ({status})", helper.display())
            }
            HelperError::Said(msg) => f.write_str(msg),
            HelperError::Garbled(e) => {
                write!(
                    f,
                    "{HELPER} answered something else than a probe answer: {e}"
                )
            }
            HelperError::NotText => write!(
                f,
                "{HELPER} credential-process wrote something that is not text"
            ),
        }
    }
}

impl std::error::Error for HelperError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HelperError::NoSelf(e) => Some(e),
            HelperError::Run { error, .. } => Some(error),
            HelperError::Garbled(e) => Some(e),
            HelperError::Failed { .. } | HelperError::Said(_) | HelperError::NotText => None,
        }
    }
}

/// `c9aws-probe` next to the running executable.
pub fn path() -> Result<PathBuf, HelperError> {
    let exe = std::env::current_exe().map_err(HelperError::NoSelf)?;
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
            &helper,
            &[PROBE_WORD],
            &input,
            deadline + START_MARGIN,
            Stderr::Forward,
        )
    });
    let answer =
        got.and_then(|out| serde_json::from_slice::<Answer>(&out).map_err(HelperError::Garbled));
    match answer {
        Ok(a) => Probed {
            instance: a.instance.map(|r| {
                r.map(|i| (&i).into()).map_err(|f| match f.imds_answered {
                    true => ProbeError::ImdsAnswered(f.message),
                    false => ProbeError::Said(f.message),
                })
            }),
            egress: a.egress.map(|r| r.map_err(ProbeError::Said)),
            dns: a
                .dns
                .into_iter()
                .map(|(h, r)| (h, r.map_err(ProbeError::Said)))
                .collect(),
            elapsed: started.elapsed(),
            failure: None,
        },
        Err(e) => {
            let e = std::sync::Arc::new(e);
            let failed = || ProbeError::Helper(e.clone());
            let mut hosts = req.hosts.clone();
            hosts.sort();
            hosts.dedup();
            Probed {
                instance: req.want_instance.then(|| Err(failed())),
                egress: req.want_egress.then(|| Err(failed())),
                dns: hosts.into_iter().map(|h| (h, Err(failed()))).collect(),
                elapsed: started.elapsed(),
                failure: Some(e),
            }
        }
    }
}

/// The direct route-table read in `c9aws-probe __route-tables`. Whatever goes
/// wrong with the helper itself makes the caller read with the CLI.
pub fn route_tables(_env: &EnvMap, req: &DirectRequest) -> DirectAnswer {
    let input = serde_json::to_vec(req).unwrap_or_default();
    let wait = Duration::from_millis(req.deadline_ms) + START_MARGIN;
    let got =
        path().and_then(|helper| run(&helper, &[ROUTE_TABLES_WORD], &input, wait, Stderr::Forward));
    match got.and_then(|out| serde_json::from_slice(&out).map_err(HelperError::Garbled)) {
        Ok(a) => a,
        Err(e) => DirectAnswer::UseCli {
            why: format!("{HELPER} {ROUTE_TABLES_WORD}: {e}"),
        },
    }
}

/// The instance role's credential_process JSON, from `c9aws-probe
/// credential-process`. The JSON (a secret) stays in memory; on failure the
/// helper's own one-line message.
pub fn credentials(_env: &EnvMap, role: Option<&str>) -> Result<String, Error> {
    fetch_credentials(role).map_err(|e| Error::Credentials(e.to_string()))
}

fn fetch_credentials(role: Option<&str>) -> Result<String, HelperError> {
    let mut args = vec!["credential-process"];
    if let Some(r) = role {
        args.extend(["--role", r]);
    }
    let out = run(&path()?, &args, &[], CREDENTIALS_WAIT, Stderr::Message)?;
    String::from_utf8(out)
        .map(|s| s.trim_end().to_string())
        .map_err(|_| HelperError::NotText)
}

/// `c9aws-probe ARGS` (`credential-process`: the CLI reads its stdout and
/// stderr as they are), to be exec'd in place of this process.
pub fn process(args: &[std::ffi::OsString]) -> Result<ProcessPlan, Error> {
    let helper = path().map_err(|e| Error::Locate(LocateError::NotFound(e.to_string())))?;
    Ok(ProcessPlan::new(helper).args(args.iter().cloned()))
}

/// What to do when the helper cannot be exec'd.
pub const MISSING_HINT: &str = "it is installed with c9aws (`cargo install --path .` \
                                installs both) and must sit in the same directory";

/// What the helper's stderr is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stderr {
    /// Passed on as it is (the probe: its debug lines, its complaints).
    Forward,
    /// On failure its debug lines are passed on and the rest is its message
    /// (credential-process); on success it is dropped.
    Message,
}

/// Runs `helper ARGS` with `input` on stdin and returns its stdout if it exits
/// 0 within `wait`; else it is killed and the error says why.
fn run(
    helper: &Path,
    args: &[&str],
    input: &[u8],
    wait: Duration,
    stderr: Stderr,
) -> Result<Vec<u8>, HelperError> {
    let mut cmd = Command::new(helper);
    cmd.args(args);
    let f = child::run(&mut cmd, Some(input), wait).map_err(|error| HelperError::Run {
        helper: helper.to_path_buf(),
        error,
    })?;
    if stderr == Stderr::Forward {
        let _ = io::stderr().write_all(&f.stderr);
    }
    if f.status.success() {
        return Ok(f.stdout);
    }
    let said = match stderr {
        Stderr::Forward => String::new(),
        Stderr::Message => message(&f.stderr),
    };
    Err(if said.is_empty() {
        HelperError::Failed {
            helper: helper.to_path_buf(),
            status: f.status,
        }
    } else {
        HelperError::Said(said)
    })
}

/// A failed credential-process's stderr: its debug lines are passed on as
/// they are; the rest, joined, is its message.
fn message(stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
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
    said.join("; ")
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
    // Only the words of an error cross over.
    let said = |e: ProbeError| e.to_string();
    let answer = Answer {
        instance: got.instance.map(|r| {
            r.map(|i| InstanceRec::from(&i))
                .map_err(|e| InstanceFailure {
                    imds_answered: !e.means_no_imds(),
                    message: e.to_string(),
                })
        }),
        egress: got.egress.map(|r| r.map_err(said)),
        dns: got
            .dns
            .into_iter()
            .map(|(h, r)| (h, r.map_err(said)))
            .collect(),
        elapsed_ms: got.elapsed.as_millis() as u64,
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, &answer).map(|_| out.flush()) {
        Ok(Ok(())) => 0,
        _ => 1,
    }
}
