//! The cold-cache network probe: IMDS, the egress IP and DNS, concurrently,
//! on a current-thread runtime, under one deadline. Owns only the scheduling:
//! whatever has not finished by the deadline is an `Err`, and the runtime is
//! shut down in the background so that a getaddrinfo stuck on a blocking
//! thread never holds the caller past the deadline.

use crate::adapters::dns;
use crate::adapters::egress;
use crate::adapters::environment::debug;
use crate::adapters::helper::HelperError;
use crate::adapters::imds;
use crate::core::route::Instance;
use crate::core::EnvMap;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest deadline honoured; a longer one is cut to this.
pub const MAX_DEADLINE: Duration = Duration::from_millis(1500);
/// The checkip call's own timeout (it still ends at the probe's deadline).
pub const EGRESS_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_CHECKIP_URL: &str = "https://checkip.amazonaws.com/";

/// What to probe.
pub struct ProbeRequest<'a> {
    pub env: &'a EnvMap,
    pub want_instance: bool,
    pub want_egress: bool,
    /// Host names to resolve (duplicates are probed once).
    pub hosts: Vec<String>,
    pub checkip_url: String,
    /// `AWS_CA_BUNDLE` or the profile's `ca_bundle`, already expanded.
    pub ca_bundle: Option<PathBuf>,
    /// One deadline for everything, at most `MAX_DEADLINE`.
    pub deadline: Duration,
}

/// Why one fact was not learnt.
#[derive(Debug)]
pub enum ProbeError {
    /// Unfinished at the deadline (the deadline it was given).
    TimedOut(Duration),
    /// A probe's own error in words. The probes' error types (IMDS through
    /// aws-config, checkip through ureq and rustls, the runtime's) stay inside
    /// the probe: `Probed` is also what `c9aws` handles, and naming those types
    /// there would link their machinery into the binary that starts in front of
    /// every call. Only words cross, in-process as over the helper's pipe.
    Said(String),
    /// The helper could not be run, or gave no answer.
    Helper(Arc<HelperError>),
}

impl ProbeError {
    /// `e`, said in words (see [`ProbeError::Said`]).
    fn said(e: impl fmt::Display) -> ProbeError {
        ProbeError::Said(e.to_string())
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ProbeError::TimedOut(t) => write!(f, "timed out after {} ms", t.as_millis()),
            ProbeError::Said(msg) => f.write_str(msg),
            ProbeError::Helper(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProbeError::Helper(e) => Some(e.as_ref()),
            ProbeError::TimedOut(_) | ProbeError::Said(_) => None,
        }
    }
}

/// What came back. `None`: not asked for. `Err`: failed or unfinished.
#[derive(Debug)]
pub struct Probed {
    pub instance: Option<Result<Instance, ProbeError>>,
    pub egress: Option<Result<IpAddr, ProbeError>>,
    pub dns: BTreeMap<String, Result<Vec<IpAddr>, ProbeError>>,
    pub elapsed: Duration,
    /// The probe could not run at all (the `c9aws-probe` helper missing or
    /// broken): nothing was learnt, and nothing should be remembered.
    pub failure: Option<Arc<HelperError>>,
}

/// Runs the wanted probes and returns within the deadline (plus scheduling
/// noise), whatever the network does. Never panics.
pub fn probe(req: &ProbeRequest) -> Probed {
    let start = Instant::now();
    let deadline = req.deadline.min(MAX_DEADLINE);
    let timed_out = || ProbeError::TimedOut(deadline);
    let mut hosts: Vec<String> = req.hosts.clone();
    hosts.sort();
    hosts.dedup();

    let mut out = Probed {
        instance: req.want_instance.then(|| Err(timed_out())),
        egress: req.want_egress.then(|| Err(timed_out())),
        dns: hosts
            .iter()
            .map(|h| (h.clone(), Err(timed_out())))
            .collect(),
        elapsed: Duration::ZERO,
        failure: None,
    };
    if !req.want_instance && !req.want_egress && hosts.is_empty() {
        return out;
    }

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let failed = || ProbeError::said(format!("cannot start the async runtime: {e}"));
            out.instance = out.instance.map(|_| Err(failed()));
            out.egress = out.egress.map(|_| Err(failed()));
            for v in out.dns.values_mut() {
                *v = Err(failed());
            }
            out.elapsed = start.elapsed();
            return out;
        }
    };

    // Each probe writes its own slot as soon as it finishes, so that what
    // finished before the deadline survives the timeout of the others.
    let slots = std::cell::RefCell::new(&mut out);
    let env = req.env;
    let egress_timeout = EGRESS_TIMEOUT.min(deadline);
    let work = async {
        let instance = async {
            if req.want_instance {
                let r = imds::instance(env).await;
                slots.borrow_mut().instance = Some(r.map_err(ProbeError::said));
            }
        };
        let egress = async {
            if req.want_egress {
                let r =
                    egress::egress_ip(&req.checkip_url, req.ca_bundle.as_deref(), egress_timeout)
                        .await;
                slots.borrow_mut().egress = Some(r.map_err(ProbeError::said));
            }
        };
        let names = async {
            let lookups = hosts.iter().map(|h| async {
                let r = dns::resolve(h).await.map_err(ProbeError::said);
                slots.borrow_mut().dns.insert(h.clone(), r);
            });
            join_all(lookups).await;
        };
        tokio::join!(instance, egress, names);
    };
    let finished = rt.block_on(async { tokio::time::timeout(deadline, work).await.is_ok() });
    // Never wait for blocking threads (getaddrinfo, ureq) still running.
    rt.shutdown_background();

    out.elapsed = start.elapsed();
    debug(req.env, || {
        format!(
            "probe: {} in {} ms (imds {}, egress {}, dns {} host(s))",
            if finished {
                "finished"
            } else {
                "deadline reached"
            },
            out.elapsed.as_millis(),
            state(out.instance.as_ref().map(|r| r.is_ok())),
            state(out.egress.as_ref().map(|r| r.is_ok())),
            out.dns.len()
        )
    });
    out
}

fn state(s: Option<bool>) -> &'static str {
    match s {
        None => "not asked",
        Some(true) => "ok",
        Some(false) => "failed",
    }
}

/// Polls every future concurrently on the current task (no spawn, no extra
/// dependency): a minimal `join_all`.
async fn join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        futs.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if futs.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::imds::fake;
    use std::collections::BTreeMap as Map;
    use std::sync::Arc;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn checkip(body: &'static str) -> fake::Server {
        fake::serve(Arc::new(
            move |_: &str, _: &str, _: &Map<String, String>| Some((200, body.to_string())),
        ))
    }

    fn req<'a>(e: &'a EnvMap, url: String, hosts: &[&str], deadline: Duration) -> ProbeRequest<'a> {
        ProbeRequest {
            env: e,
            want_instance: true,
            want_egress: true,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            checkip_url: url,
            ca_bundle: None,
            deadline,
        }
    }

    #[test]
    fn everything_against_local_fakes() {
        let imds = fake::imds(&fake::cloud9_values(Some("198.51.100.4")));
        let check = checkip("203.0.113.7\n");
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url())]);
        let r = req(
            &e,
            format!("{}/", check.url()),
            &["localhost", "localhost", "127.0.0.1", "bad..invalid"],
            MAX_DEADLINE,
        );
        let p = probe(&r);
        let i = p.instance.unwrap().unwrap();
        assert_eq!(i.public_ipv4, Some("198.51.100.4".parse().unwrap()));
        assert_eq!(i.subnet_id.as_deref(), Some("subnet-0def"));
        assert_eq!(
            p.egress.unwrap().unwrap(),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p.dns.len(), 3);
        assert!(p.dns["localhost"]
            .as_ref()
            .unwrap()
            .iter()
            .all(|ip| ip.is_loopback()));
        assert!(p.dns["bad..invalid"].is_err());
        assert!(p.elapsed < MAX_DEADLINE);
        eprintln!("cold probe against local fakes: {:?}", p.elapsed);
    }

    #[test]
    fn silent_servers_end_at_the_deadline_and_keep_finished_answers() {
        let imds = fake::silent();
        let check = fake::silent();
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url())]);
        let deadline = Duration::from_millis(250);
        let r = req(&e, check.url(), &["localhost"], deadline);
        let p = probe(&r);
        assert!(
            p.elapsed < deadline + Duration::from_millis(300),
            "{:?}",
            p.elapsed
        );
        let ierr = p.instance.unwrap().unwrap_err().to_string();
        assert!(ierr.contains("timed out after 250 ms"), "{ierr}");
        assert!(p.egress.unwrap().is_err());
        // DNS of localhost finished long before the deadline and is kept.
        assert!(p.dns["localhost"].is_ok());
        assert!(imds.count() >= 1, "the fake IMDS was never reached");
    }

    #[test]
    fn long_deadline_is_capped() {
        let imds = fake::silent();
        let check = fake::silent();
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url())]);
        let r = req(&e, check.url(), &[], Duration::from_secs(3600));
        let p = probe(&r);
        assert!(
            p.elapsed < MAX_DEADLINE + Duration::from_millis(300),
            "{:?}",
            p.elapsed
        );
        assert!(p.instance.unwrap().is_err());
        assert!(p.egress.unwrap().is_err());
    }

    #[test]
    fn nothing_wanted_starts_nothing() {
        let e = env(&[("AWS_EC2_METADATA_DISABLED", "true")]);
        let mut r = req(&e, String::new(), &[], MAX_DEADLINE);
        r.want_instance = false;
        r.want_egress = false;
        let p = probe(&r);
        assert!(p.instance.is_none() && p.egress.is_none() && p.dns.is_empty());
    }

    #[test]
    fn disabled_imds_and_odd_inputs_do_not_panic() {
        let imds = fake::imds(&fake::cloud9_values(None));
        let e = env(&[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]);
        let r = req(
            &e,
            "::::".into(),
            &["", "\0", "[", "bad..invalid"],
            Duration::ZERO,
        );
        let p = probe(&r);
        assert!(p.instance.unwrap().is_err());
        assert!(p.egress.unwrap().is_err());
        assert_eq!(imds.count(), 0);
        assert!(p.elapsed < Duration::from_millis(300), "{:?}", p.elapsed);
    }
}
