//! An AWS CLI command line (anything that is not one of c9aws's own words):
//! plan it, tell the user what a switch changes, and exec the planned process.
//! When AMTC is kept on an unknown route, the safety net runs it as a child
//! first and, on an AMTC refusal, execs the fallback's plan instead.
//!
//! Every failure of c9aws's own falls back to running the CLI unchanged:
//! c9aws must never be the reason a call did not run.

use crate::adapters::network::Freshness;
use crate::adapters::{network, process, supervise};
use crate::core::decide::OnUnknown;
use crate::core::plan::{cli_process, Plan};
use crate::core::route::Verdict;
use crate::error::Error;
use crate::session::Session;
use std::ffi::OsString;

/// Runs the call. Returns only when the CLI could not be started (an error) or
/// when the safety net waited for it (its exit status).
pub fn run(s: &Session, args: &[OsString]) -> Result<i32, Error> {
    // No CLI to run: said at once (the session's process is this same `aws`).
    s.aws().map_err(|e| Error::Locate(e.clone()))?;
    let words = lossy(args);
    let p = s.plan(&words, Freshness::StaleOk).plan;
    s.debug(|| {
        format!(
            "credentials {:?} via {}; decision {}: {}",
            p.credentials.source,
            p.credentials.provider,
            p.decision.action.as_str(),
            p.decision.reason
        )
    });
    if p.decision.needs_fallback {
        eprintln!(
            "c9aws: {}. Configure one: `fallback_profile = NAME` in {} (or C9AWS_FALLBACK_PROFILE=NAME)",
            p.decision.reason,
            s.config_path()
        );
    }
    if p.decision.action.is_switch() {
        notice(s, &p);
    }
    if p.decision.retry_on_refusal {
        // Running it twice is safe when the first run cannot have consumed
        // stdin: the command line cannot make the CLI read it, or it is a
        // terminal or /dev/null.
        let may_retry = p.stdin.is_none() || supervise::stdin_replayable();
        return safety_net(s, &p, args, &words, may_retry);
    }
    Err(process::exec_replace(&s.process(&p, args), None))
}

/// A c9aws started by the CLI it exec'd (an `aws` shim that is c9aws): pass
/// straight through, reading no config, so that nothing can loop.
pub fn passthrough(s: &Session, args: &[OsString]) -> Result<i32, Error> {
    let aws = s.aws_unconfigured()?;
    s.debug(|| format!("exec {} (passthrough)", aws.display()));
    Err(process::exec_replace(&cli_process(&aws, &[], args), None))
}

/// AMTC kept on an unknown route: run once; on an AMTC refusal, remember it
/// (the next call switches at once) and, when `may_retry`, exec the call
/// again as planned with the fallback, without showing the refusal. stdout
/// is relayed only when a retry is possible and it is not a terminal, so
/// that a retry follows only a first run that printed nothing.
fn safety_net(
    s: &Session,
    p: &Plan,
    args: &[OsString],
    words: &[String],
    may_retry: bool,
) -> Result<i32, Error> {
    let first = s.process(p, args);
    let relay = may_retry && !supervise::stdout_is_terminal();
    match supervise::run_watched(&first, relay) {
        Ok(supervise::Outcome::Done { code, signal }) => Ok(supervise::finish(code, signal)),
        Ok(supervise::Outcome::Refused { code, stderr }) => {
            let unknown: Vec<String> = p
                .routes
                .iter()
                .filter(|(_, r)| r.verdict == Verdict::Unknown)
                .map(|(svc, _)| svc.clone())
                .collect();
            // An expired token is not remembered: learnt refusals are keyed by
            // service and region only, and would keep switching for their TTL
            // after Cloud9 wrote fresh keys (the `expired` verdict, from the
            // file's age, covers the closed IDE instead).
            if supervise::is_expiry(&String::from_utf8_lossy(&stderr)) {
                s.debug(|| "AMTC expired (ExpiredToken): retried, not remembered".into());
            } else {
                network::remember_refusal(&s.env, &unknown, p.region.as_deref());
            }
            if !may_retry {
                s.debug(|| {
                    format!(
                        "AMTC refused; not retried: the CLI may have read stdin ({})",
                        p.stdin.as_deref().unwrap_or("?")
                    )
                });
                let _ = std::io::Write::write_all(&mut std::io::stderr(), &stderr);
                return Ok(supervise::finish(code, None));
            }
            // Plan again as if unknown routes were refused: the switch keeps the
            // region and output, whether or not the refusal could be remembered.
            let mut forced = s.settings().policy.clone();
            forced.on_unknown = OnUnknown::Fallback;
            let again = s.plan_with(words, &forced, Freshness::StaleOk).plan;
            if again.decision.action.is_switch() {
                notice(s, &again);
            }
            Err(process::exec_replace(&s.process(&again, args), None))
        }
        Err(e) => {
            s.debug(|| format!("could not supervise aws ({e}); exec instead"));
            Err(process::exec_replace(&first, None))
        }
    }
}

/// One short line on stderr when a call is switched (if stderr is a terminal,
/// unless configured otherwise): the services, the profile and the first piece
/// of evidence of a refusing route.
fn notice(s: &Session, p: &Plan) {
    if !s.settings().notice.shows() {
        return;
    }
    let profile = p.decision.action.profile().unwrap_or("?");
    let services: Vec<&str> = p
        .decision
        .because
        .iter()
        .map(|c| c.service.as_str())
        .collect();
    let why = p
        .routes
        .values()
        .find(|r| r.verdict.refuses())
        .and_then(|r| r.evidence.first().cloned())
        .unwrap_or_default();
    eprintln!(
        "c9aws: {} via profile {profile} — {why}",
        services.join(", ")
    );
}

/// Lossy text of raw arguments, for the parser (exec always uses the raw bytes).
pub fn lossy(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
