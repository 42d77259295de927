//! (hidden `__refresh`) the detached refresher: probes again, in the
//! background, the facts a call found past their TTL and used anyway, and
//! saves them for the next call. Started by
//! [`crate::adapters::refresher::start`] as a session of its own with
//! /dev/null for stdin, stdout and stderr; what it fails to learn is written
//! beside the cache, where `doctor` reports it. Exit 0, or 1 when something
//! failed (nobody reads it).

use crate::adapters::network::{self, Needs};
use crate::error::Error;
use crate::session::Session;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The call's region.
    #[arg(long)]
    pub region: Option<String>,
    /// A host the call contacts (repeated).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// A service the call calls (repeated).
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// The CA bundle checkip is verified with.
    #[arg(long)]
    pub ca_bundle: Option<String>,
}

pub fn run(s: &Session, a: Args) -> Result<i32, Error> {
    let needs = Needs {
        region: a.region,
        hosts: a.hosts,
        services: a.services,
        ca_bundle: a.ca_bundle,
    };
    std::thread::sleep(crate::adapters::refresher::START_DELAY);
    let Ok(aws) = s.aws() else {
        return Ok(1);
    };
    let failed = network::refresh(
        &s.engine,
        &s.env,
        aws,
        &needs,
        s.settings(),
        std::time::Duration::ZERO,
    );
    s.debug(|| format!("refresh: {failed:?}"));
    Ok(i32::from(failed.is_some_and(|f| !f.is_empty())))
}
