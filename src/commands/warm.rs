//! Warming the facts cache, so that no call pays a probe it could have had
//! earlier: the calls whose facts are warmed ([`CALLS`], which `doctor` also
//! checks), the foreground warm-up of `setup` and `doctor`, and the detached
//! one (hidden `__warm`) that `init` starts when a shell starts on Cloud9 and
//! the facts are missing or past their hard limit. `C9AWS_NO_WARM` (any
//! non-empty value) turns off `init`'s and `setup`'s warm-up.

use crate::adapters::network::{self, Needs};
use crate::adapters::{aws_files, refresher};
use crate::error::Error;
use crate::session::Session;
use std::time::Duration;

/// The usual calls: their network facts are what a warm-up probes, and what
/// `doctor` reports (the first, sts, decides its network checks).
pub const CALLS: &[&[&str]] = &[
    &["sts", "get-caller-identity"],
    &["s3api", "list-buckets"],
    &["dynamodb", "list-tables"],
    &["ec2", "describe-instances"],
    &["ssm", "describe-parameters"],
    &["logs", "describe-log-groups"],
];

/// The hidden word of the detached warm-up.
pub const WORD: &str = "__warm";

/// Turns off `init`'s and `setup`'s warm-up (the tests' worlds set it).
pub const NO_WARM: &str = "C9AWS_NO_WARM";

/// How long a foreground warm-up waits for another process that is probing.
const LOCK_WAIT: Duration = Duration::from_millis(2500);

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

pub fn disabled(s: &Session) -> bool {
    s.env.get(NO_WARM).is_some_and(|v| !v.is_empty())
}

/// Every call's needs together; `None` when no call needs network facts
/// (Cloud9's managed credentials are not in play).
pub fn needs(s: &Session) -> Option<Needs> {
    let mut all: Option<Needs> = None;
    for c in CALLS {
        if let Some(n) = s.needs(&args(c)) {
            match &mut all {
                Some(a) => a.add(n),
                None => all = Some(n),
            }
        }
    }
    all
}

/// Probes what [`CALLS`] need that is missing or past its TTL, and saves it.
/// What failed (empty: all learnt), or `None` when there was nothing to do.
pub fn warm(s: &Session, lock_wait: Duration) -> Option<Vec<String>> {
    let needs = needs(s)?;
    let aws = s.aws().ok()?;
    network::refresh(&s.engine, &s.env, aws, &needs, s.settings(), lock_wait)
}

/// `setup`'s and `doctor`'s warm-up, in the foreground.
pub fn warm_now(s: &Session) -> Option<Vec<String>> {
    warm(s, LOCK_WAIT)
}

/// `init`'s: on Cloud9 (`~/.c9`), when the facts are missing or past their
/// hard limit, start a detached `c9aws __warm` and return at once. Reads one
/// small file (and c9aws's config); never fails `init`.
pub fn start_if_wanted(s: &Session) {
    if disabled(s) || !aws_files::cloud9_facts(&s.env).c9_dir {
        return;
    }
    if !network::warm_wanted(&s.env, s.settings()) {
        return;
    }
    match refresher::detach(WORD, &[]) {
        Ok(t) => s.debug(|| format!("facts cache cold: warm-up started ({} us)", t.as_micros())),
        Err(e) => s.debug(|| format!("cannot start the warm-up: {e}")),
    }
}

/// `c9aws __warm`: the detached warm-up. Exit 0, or 1 when something failed
/// (nobody reads it; `doctor` reports the failure from the cache's side file).
pub fn run(s: &Session) -> Result<i32, Error> {
    std::thread::sleep(refresher::START_DELAY);
    let failed = warm(s, Duration::ZERO);
    s.debug(|| format!("warm-up: {failed:?}"));
    Ok(i32::from(failed.is_some_and(|f| !f.is_empty())))
}
