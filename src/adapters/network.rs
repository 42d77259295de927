//! Network facts for one AMTC call: from the cache when fresh, else probed
//! (IMDS first; egress and DNS only on an EC2 instance; the route table only for
//! S3/DynamoDB and only with a fallback profile), then cached.
//!
//! A warm call reads one small file and starts no async runtime. Concurrent
//! cold calls take a lock so that only one of them probes. A call whose facts
//! are past their TTL but within `stale_limit` times it decides on them and
//! leaves the probing to a detached refresher ([`Freshness::StaleOk`]).

use crate::adapters::engine::Engine;
use crate::adapters::environment::debug;
use crate::adapters::facts_cache::{self, FactsCache, RefreshStatus};
use crate::adapters::probe::{ProbeError, ProbeRequest};
use crate::adapters::route_tables;
use crate::adapters::settings::{Settings, Ttls};
use crate::core::plan::Plan;
use crate::core::route::NetFacts;
use crate::core::EnvMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The probes' one deadline (IMDS, DNS and checkip together).
pub const PROBE_DEADLINE: Duration = Duration::from_millis(1500);
/// The route-table read runs the real CLI twice, concurrently.
pub const ROUTE_TABLE_DEADLINE: Duration = Duration::from_secs(15);
/// How long a process waits for another one that is probing.
const LOCK_WAIT: Duration = Duration::from_millis(2500);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How a call may use the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Fresh facts serve; facts past their TTL but within `stale_limit` times
    /// it serve too, while a detached refresher probes them again
    /// ([`crate::adapters::refresher`]); anything older or missing is probed
    /// in the foreground. What a normal call does.
    StaleOk,
    /// Fresh facts serve; anything past its TTL is probed in the foreground
    /// (`doctor`).
    Foreground,
    /// Everything is probed again (`--refresh`, `doctor`).
    Refresh,
}

/// What one call needs from the cache: taken from its plan, and what a
/// detached refresher is told (`c9aws __refresh`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub region: Option<String>,
    pub hosts: Vec<String>,
    pub services: Vec<String>,
    pub ca_bundle: Option<String>,
}

impl Needs {
    pub fn of(plan: &Plan) -> Needs {
        Needs {
            region: plan.region.clone(),
            hosts: plan.hosts.clone(),
            services: plan.services.clone(),
            ca_bundle: plan.ca_bundle.clone(),
        }
    }

    /// What either needs: the first region and CA bundle, every host and
    /// service once (the warm-up's calls share the default profile's region).
    pub fn add(&mut self, other: Needs) {
        if self.region.is_none() {
            self.region = other.region;
        }
        if self.ca_bundle.is_none() {
            self.ca_bundle = other.ca_bundle;
        }
        for h in other.hosts {
            if !self.hosts.contains(&h) {
                self.hosts.push(h);
            }
        }
        for v in other.services {
            if !self.services.contains(&v) {
                self.services.push(v);
            }
        }
    }

    fn routing(&self) -> bool {
        self.services.iter().any(|s| s == "s3" || s == "dynamodb")
    }
}

/// What is still missing from `cache` for this call.
struct Missing {
    instance: bool,
    egress: bool,
    hosts: Vec<String>,
}

fn missing(cache: &FactsCache, needs: &Needs, t: &Ttls, now: u64, refresh: bool) -> Missing {
    if !refresh && cache.instance_failed(now, t) {
        // No IMDS here lately: off EC2 nothing else is worth asking either.
        return Missing {
            instance: false,
            egress: false,
            hosts: Vec::new(),
        };
    }
    let instance = refresh || cache.instance(now, t).is_none();
    Missing {
        instance,
        egress: refresh || cache.egress(now, t).is_none(),
        hosts: needs
            .hosts
            .iter()
            .filter(|h| refresh || cache.dns(h, now, t).is_none())
            .cloned()
            .collect(),
    }
}

/// Is the subnet's routing wanted and missing (or, `refresh`, wanted at all)?
fn routing_missing(
    c: &FactsCache,
    needs: &Needs,
    s: &Settings,
    t: &Ttls,
    now: u64,
    refresh: bool,
) -> bool {
    let wanted = needs.routing() && s.policy.fallback_profile.is_some();
    wanted
        && match (c.instance(now, t), needs.region.as_deref()) {
            (Some(i), Some(region)) => match (&i.vpc_id, &i.subnet_id) {
                (Some(v), Some(sub)) => {
                    refresh
                        || (c.routing(region, v, sub, now, t).is_none()
                            && !c.routing_failed(region, v, sub, now, t))
                }
                _ => false,
            },
            // Without instance facts (yet, or IMDS failed) there is no
            // subnet to read; the instance probe comes first.
            _ => false,
        }
}

/// Does anything this call needs have to be probed (under these TTLs)?
fn due(c: &FactsCache, needs: &Needs, s: &Settings, t: &Ttls, now: u64, refresh: bool) -> bool {
    let m = missing(c, needs, t, now, refresh);
    m.instance || m.egress || !m.hosts.is_empty() || routing_missing(c, needs, s, t, now, refresh)
}

/// The hard limits: each TTL times `stale_limit` (at least the TTL itself).
fn hard_ttls(s: &Settings) -> Ttls {
    s.ttls.scaled(s.stale_limit.max(1))
}

pub fn gather(
    engine: &Engine,
    env: &EnvMap,
    aws: &Path,
    plan: &Plan,
    s: &Settings,
    freshness: Freshness,
) -> NetFacts {
    let needs = Needs::of(plan);
    let refresh = freshness == Freshness::Refresh;
    let t = s.ttls;
    let hard = hard_ttls(s);
    let path = FactsCache::path(env);
    let load = || path.as_deref().map(FactsCache::load).unwrap_or_default();
    let mut cache = load();
    let at = now();
    if !due(&cache, &needs, s, &t, at, refresh) {
        return facts_from(&cache, &needs, &t, &hard, at);
    }
    if freshness == Freshness::StaleOk
        && s.stale_limit > 1
        && cache.instance(at, &hard).is_some()
        && !due(&cache, &needs, s, &hard, at, false)
    {
        // Everything is there, some of it past its TTL but within the hard
        // limit: decide on it now, and let a detached process probe again.
        // (Off EC2 there is no instance fact: a remembered IMDS failure is
        // not a fact to serve, and asking again is cheap, so it stays in
        // the foreground as before.)
        if let Some(p) = &path {
            crate::adapters::refresher::start(env, p, &needs, at);
        }
        return facts_from(&cache, &needs, &t, &hard, at);
    }
    let work = || {
        // Another process may have probed while we waited for the lock.
        let mut c = if refresh {
            FactsCache::default()
        } else {
            load()
        };
        let mut failed = Vec::new();
        probe_into(engine, &mut c, env, &needs, s, &t, refresh, &mut failed);
        if routing_missing(&c, &needs, s, &t, now(), refresh) {
            read_routing(engine, &mut c, env, aws, &needs, s, &t, &mut failed);
        }
        if let Some(p) = &path {
            if let Err(e) = c.save(p) {
                crate::adapters::environment::cache_unwritable(p, &e);
            }
            if failed.is_empty() {
                // Whatever a detached refresh failed to learn is learnt now.
                RefreshStatus::clear(p);
            }
        }
        c
    };
    cache = match &path {
        Some(p) => facts_cache::with_probe_lock(p, LOCK_WAIT, work).unwrap_or_else(|| {
            debug(env, || {
                "another c9aws is probing; using what is cached".into()
            });
            load()
        }),
        None => work(),
    };
    facts_from(&cache, &needs, &t, &hard, now())
}

/// The detached refresher's work (`c9aws __refresh`), and the warm-up's
/// (`setup`, `doctor`, `c9aws __warm`): probe again what `needs` has missing
/// or past its TTL, holding the probe lock (`lock_wait`: zero for a detached
/// process, one refresher at a time; a process already probing will save what
/// we would), save it, and write the outcome beside the cache for `doctor`.
/// Returns what failed, or `None` when there was nothing to do.
pub fn refresh(
    engine: &Engine,
    env: &EnvMap,
    aws: &Path,
    needs: &Needs,
    s: &Settings,
    lock_wait: Duration,
) -> Option<Vec<String>> {
    let path = FactsCache::path(env)?;
    let t = s.ttls;
    let failed = facts_cache::with_probe_lock(&path, lock_wait, || {
        let mut c = FactsCache::load(&path);
        if !due(&c, needs, s, &t, now(), false) {
            return None;
        }
        let mut failed = Vec::new();
        probe_into(engine, &mut c, env, needs, s, &t, false, &mut failed);
        if routing_missing(&c, needs, s, &t, now(), false) {
            read_routing(engine, &mut c, env, aws, needs, s, &t, &mut failed);
        }
        if let Err(e) = c.save(&path) {
            failed.push(format!("cannot write {}: {e}", path.display()));
        }
        Some(failed)
    })??;
    let status = RefreshStatus {
        at: now(),
        failed: failed.clone(),
    };
    if status.failed.is_empty() {
        RefreshStatus::clear(&path);
    } else {
        let _ = status.save(&path);
    }
    Some(failed)
}

/// Is a warm-up worth starting (`init`, on a shell's start)? Cheap: one small
/// file read, no plan. Yes when the instance's facts or the egress address are
/// missing or past their hard limit, or, with a fallback configured, the
/// routing of the instance's subnet in its own region; no off EC2 (a
/// remembered IMDS failure) and while another process is probing.
pub fn warm_wanted(env: &EnvMap, s: &Settings) -> bool {
    let Some(path) = FactsCache::path(env) else {
        return false;
    };
    let c = FactsCache::load(&path);
    let (t, hard, at) = (s.ttls, hard_ttls(s), now());
    if c.instance_failed(at, &t) {
        return false;
    }
    let Some(inst) = c.instance(at, &hard) else {
        return true;
    };
    if c.egress(at, &hard).is_none() {
        return true;
    }
    if s.policy.fallback_profile.is_some() {
        if let (Some(r), Some(v), Some(sub)) = (&inst.region, &inst.vpc_id, &inst.subnet_id) {
            if c.routing(r, v, sub, at, &hard).is_none() && !c.routing_failed(r, v, sub, at, &t) {
                return true;
            }
        }
    }
    false
}

#[allow(clippy::too_many_arguments)]
fn probe_into(
    engine: &Engine,
    c: &mut FactsCache,
    env: &EnvMap,
    needs: &Needs,
    s: &Settings,
    t: &Ttls,
    refresh: bool,
    failed: &mut Vec<String>,
) {
    let m = missing(c, needs, t, now(), refresh);
    if !(m.instance || m.egress || !m.hosts.is_empty()) {
        return;
    }
    if m.instance && crate::adapters::imds::disabled(env) {
        // Told there is no instance metadata: nothing else is worth asking.
        debug(env, || "IMDS: disabled by AWS_EC2_METADATA_DISABLED".into());
        c.set_instance_failed(now());
        return;
    }
    let started = std::time::Instant::now();
    let ca_bundle = needs.ca_bundle.as_ref().map(PathBuf::from);
    // IMDS, checkip and DNS at once, under one deadline: a cold call waits for
    // the slowest, not for their sum. (Off EC2 the checkip answer is then
    // learnt for nothing; AMTC off EC2 is rare, and the answer is cached.)
    let got = (engine.probe)(&ProbeRequest {
        env,
        want_instance: m.instance,
        want_egress: m.egress,
        hosts: m.hosts.clone(),
        checkip_url: s.checkip_url.clone(),
        ca_bundle: ca_bundle.clone(),
        deadline: PROBE_DEADLINE,
    });
    if let Some(why) = &got.failure {
        // An installation problem, not a fact about the network: say so every
        // time (nothing is cached, so it is retried once fixed).
        eprintln!("c9aws: cannot probe the network: {why}; routes stay unknown");
        failed.push(format!("cannot probe the network: {why}"));
        return finish(env, started);
    }
    let learnt_instance = match got.instance {
        Some(Ok(i)) => {
            c.set_instance(i, now());
            true
        }
        Some(Err(e)) => {
            debug(env, || format!("IMDS: {e}"));
            failed.push(format!("IMDS: {e}"));
            // Remembered only when it shows there is no IMDS here (no token):
            // one late read of an IMDS that is there must not make the next
            // ten minutes of calls act as if off EC2.
            if e.means_no_imds() {
                c.set_instance_failed(now());
            }
            false
        }
        None => false,
    };
    record(c, env, s, got.egress, got.dns, failed);
    // The instance's region can change the hosts (CLI v2 takes the region from
    // IMDS last): resolve those too, within what is left of the deadline.
    if !learnt_instance {
        return finish(env, started);
    }
    let mut more = missing(c, needs, t, now(), false);
    more.hosts.retain(|h| !m.hosts.contains(h));
    more.egress &= !m.egress;
    let left = PROBE_DEADLINE.saturating_sub(started.elapsed());
    if !left.is_zero() && (more.egress || !more.hosts.is_empty()) {
        let got = (engine.probe)(&ProbeRequest {
            env,
            want_instance: false,
            want_egress: more.egress,
            hosts: more.hosts,
            checkip_url: s.checkip_url.clone(),
            ca_bundle,
            deadline: left,
        });
        record(c, env, s, got.egress, got.dns, failed);
    }
    finish(env, started);
}

fn record(
    c: &mut FactsCache,
    env: &EnvMap,
    s: &Settings,
    egress: Option<Result<std::net::IpAddr, ProbeError>>,
    dns: std::collections::BTreeMap<String, Result<Vec<std::net::IpAddr>, ProbeError>>,
    failed: &mut Vec<String>,
) {
    match egress {
        Some(Ok(ip)) => c.set_egress(ip, now()),
        Some(Err(e)) => {
            let line = format!("checkip ({}): {e}", s.checkip_url);
            debug(env, || line.clone());
            failed.push(line);
        }
        None => {}
    }
    for (host, r) in dns {
        match r {
            Ok(addrs) => c.set_dns(&host, addrs, now()),
            Err(e) => {
                let line = format!("DNS {host}: {e}");
                debug(env, || line.clone());
                failed.push(line);
            }
        }
    }
}

fn finish(env: &EnvMap, started: std::time::Instant) {
    debug(env, || {
        format!("probed in {} ms", started.elapsed().as_millis())
    });
}

#[allow(clippy::too_many_arguments)]
fn read_routing(
    engine: &Engine,
    c: &mut FactsCache,
    env: &EnvMap,
    aws: &Path,
    needs: &Needs,
    s: &Settings,
    t: &Ttls,
    failed: &mut Vec<String>,
) {
    let (Some(fb), Some(region)) = (
        s.policy.fallback_profile.as_deref(),
        needs.region.as_deref(),
    ) else {
        return;
    };
    let Some(inst) = c.instance(now(), t) else {
        return;
    };
    let (Some(vpc), Some(subnet)) = (inst.vpc_id.clone(), inst.subnet_id.clone()) else {
        return;
    };
    let started = std::time::Instant::now();
    match route_tables::read_routing(
        engine,
        s.route_tables_read,
        aws,
        fb,
        region,
        &vpc,
        &subnet,
        env,
        ROUTE_TABLE_DEADLINE,
    ) {
        Ok(r) => c.set_routing(region, &vpc, &subnet, r, now()),
        Err(e) => {
            // Told once per TTL: the failure is remembered like a route table.
            c.set_routing_failed(region, &vpc, &subnet, now());
            failed.push(format!(
                "the route table of {subnet} with profile {fb}: {e}"
            ));
            eprintln!(
                "c9aws: cannot read the route table of {subnet} with profile {fb}: {e}; S3/DynamoDB routes stay unknown for {} s",
                t.route_tables
            );
        }
    }
    debug(env, || {
        format!("route tables read in {} ms", started.elapsed().as_millis())
    });
}

/// The facts a call decides on: each within its hard limit (`hard`: a fact
/// past its TTL serves while it is refreshed, or when its refresh failed);
/// learnt refusals within their own TTL (`t`).
fn facts_from(c: &FactsCache, needs: &Needs, t: &Ttls, hard: &Ttls, now: u64) -> NetFacts {
    let instance = c.instance(now, hard);
    let routing = match (&instance, needs.region.as_deref()) {
        (Some(i), Some(region)) => match (&i.vpc_id, &i.subnet_id) {
            (Some(v), Some(sub)) => c.routing(region, v, sub, now, hard),
            _ => None,
        },
        _ => None,
    };
    let learnt_refused = match needs.region.as_deref() {
        Some(region) => needs
            .services
            .iter()
            .filter(|svc| c.learnt_refused(svc, region, now, t))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    NetFacts {
        egress_ip: c.egress(now, hard),
        dns: needs
            .hosts
            .iter()
            .map(|h| (h.clone(), c.dns(h, now, hard)))
            .collect(),
        instance,
        routing,
        learnt_refused,
    }
}

/// The safety net saw AMTC refused for these services: remember it.
pub fn remember_refusal(env: &EnvMap, services: &[String], region: Option<&str>) {
    let (Some(path), Some(region)) = (FactsCache::path(env), region) else {
        return;
    };
    let _ = facts_cache::with_probe_lock(&path, LOCK_WAIT, || {
        let mut c = FactsCache::load(&path);
        for svc in services {
            c.set_learnt_refused(svc, region, now());
        }
        if let Err(e) = c.save(&path) {
            crate::adapters::environment::cache_unwritable(&path, &e);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::route::{Instance, Routing};

    const T0: u64 = 1_790_000_000;

    fn s3_needs() -> Needs {
        Needs {
            region: Some("ap-northeast-1".into()),
            hosts: vec!["s3.ap-northeast-1.amazonaws.com".into()],
            services: vec!["s3".into()],
            ca_bundle: None,
        }
    }

    fn cache_at(at: u64) -> FactsCache {
        let mut c = FactsCache::default();
        c.set_instance(
            Instance {
                region: Some("ap-northeast-1".into()),
                vpc_id: Some("vpc-1".into()),
                subnet_id: Some("subnet-1".into()),
                ..Instance::default()
            },
            at,
        );
        c.set_egress("203.0.113.10".parse().unwrap(), at);
        c.set_dns("s3.ap-northeast-1.amazonaws.com", vec![], at);
        c.set_routing(
            "ap-northeast-1",
            "vpc-1",
            "subnet-1",
            Routing::default(),
            at,
        );
        c
    }

    fn settings() -> Settings {
        let mut s = Settings::default();
        s.policy.fallback_profile = Some("fb".into());
        s
    }

    /// A probe whose IMDS answered a token but failed a read, and one where
    /// no token could be had (off EC2).
    fn late_read(_: &ProbeRequest) -> crate::adapters::probe::Probed {
        probed(ProbeError::ImdsAnswered(
            "IMDS mac: HTTP read timeout occurred after 500ms".into(),
        ))
    }
    fn no_token(_: &ProbeRequest) -> crate::adapters::probe::Probed {
        probed(ProbeError::Said(
            "IMDS instance-id: no session token (IMDS unreachable)".into(),
        ))
    }
    fn probed(e: ProbeError) -> crate::adapters::probe::Probed {
        crate::adapters::probe::Probed {
            instance: Some(Err(e)),
            egress: None,
            dns: Default::default(),
            elapsed: std::time::Duration::ZERO,
            failure: None,
        }
    }

    /// One late IMDS read must not make ten minutes of calls act as off EC2
    /// (the lab's imds-slow-once case); a missing token is remembered.
    #[test]
    fn only_a_missing_imds_is_remembered_as_one() {
        let s = settings();
        let env = EnvMap::new();
        for (probe, remembered) in [
            (
                late_read as fn(&ProbeRequest) -> crate::adapters::probe::Probed,
                false,
            ),
            (no_token, true),
        ] {
            let engine = Engine {
                in_process: true,
                probe,
                credentials: crate::adapters::helper::credentials,
                route_tables: crate::adapters::helper::route_tables,
            };
            let mut c = FactsCache::default();
            let mut failed = Vec::new();
            probe_into(
                &engine,
                &mut c,
                &env,
                &s3_needs(),
                &s,
                &s.ttls,
                false,
                &mut failed,
            );
            assert_eq!(c.instance_failed(now(), &s.ttls), remembered);
            assert_eq!(failed.len(), 1, "{failed:?}");
        }
    }

    #[test]
    fn fresh_stale_and_past_the_hard_limit() {
        let (s, n) = (settings(), s3_needs());
        let (t, hard) = (s.ttls, hard_ttls(&s));
        let c = cache_at(T0);
        // Fresh: nothing to probe.
        assert!(!due(&c, &n, &s, &t, T0 + 10, false));
        // Past the TTLs (DNS 5 min, egress and route tables 10 min), within 3 ×:
        // due, but everything serves under the hard limits.
        let now = T0 + 700;
        assert!(due(&c, &n, &s, &t, now, false));
        assert!(!due(&c, &n, &s, &hard, now, false));
        let f = facts_from(&c, &n, &t, &hard, now);
        assert!(f.instance.is_some() && f.routing.is_some() && f.egress_ip.is_some());
        assert_eq!(
            f.dns.get("s3.ap-northeast-1.amazonaws.com"),
            Some(&Some(vec![]))
        );
        // Past the DNS hard limit (15 min): probed in front of the call.
        assert!(due(&c, &n, &s, &hard, T0 + 900, false));
        // Without a fallback the route table is not wanted at all.
        let mut none = settings();
        none.policy.fallback_profile = None;
        let mut fresh_but_routing = cache_at(T0 + 700);
        fresh_but_routing.set_routing(
            "ap-northeast-1",
            "vpc-1",
            "subnet-1",
            Routing::default(),
            T0,
        );
        assert!(due(&fresh_but_routing, &n, &s, &t, T0 + 700, false));
        assert!(!due(&fresh_but_routing, &n, &none, &t, T0 + 700, false));
        // Off EC2 (IMDS failed) nothing is served stale.
        let mut off_ec2 = FactsCache::default();
        off_ec2.set_instance_failed(T0);
        assert!(off_ec2.instance(T0 + 700, &hard).is_none());
        // stale_limit 0 or 1: the hard limits are the TTLs.
        let mut off = settings();
        off.stale_limit = 0;
        assert_eq!(hard_ttls(&off), off.ttls);
    }

    #[test]
    fn a_failed_route_table_read_keeps_the_old_routing_until_the_hard_limit() {
        let (s, n) = (settings(), s3_needs());
        let (t, hard) = (s.ttls, hard_ttls(&s));
        let mut c = cache_at(T0);
        // The refresher re-learnt everything but the route table.
        let now = T0 + 700;
        c.set_egress("203.0.113.10".parse().unwrap(), now);
        c.set_dns("s3.ap-northeast-1.amazonaws.com", vec![], now);
        c.set_routing_failed("ap-northeast-1", "vpc-1", "subnet-1", now);
        assert!(
            !due(&c, &n, &s, &t, now + 1, false),
            "the failure is remembered"
        );
        assert!(facts_from(&c, &n, &t, &hard, now + 1).routing.is_some());
        assert!(facts_from(&c, &n, &t, &hard, T0 + 1800).routing.is_none());
    }
}
