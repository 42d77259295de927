//! Network facts for one AMTC call: from the cache when fresh, else probed
//! (IMDS first; egress and DNS only on an EC2 instance; the route table only for
//! S3/DynamoDB and only with a fallback profile), then cached.
//!
//! A warm call reads one small file and starts no async runtime. Concurrent
//! cold calls take a lock so that only one of them probes.

use crate::adapters::engine::Engine;
use crate::adapters::environment::debug;
use crate::adapters::facts_cache::{self, FactsCache};
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

/// What is still missing from `cache` for this call.
struct Missing {
    instance: bool,
    egress: bool,
    hosts: Vec<String>,
}

fn missing(cache: &FactsCache, plan: &Plan, t: &Ttls, now: u64, refresh: bool) -> Missing {
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
        hosts: plan
            .hosts
            .iter()
            .filter(|h| refresh || cache.dns(h, now, t).is_none())
            .cloned()
            .collect(),
    }
}

fn needs_routing(plan: &Plan) -> bool {
    plan.services.iter().any(|s| s == "s3" || s == "dynamodb")
}

pub fn gather(
    engine: &Engine,
    env: &EnvMap,
    aws: &Path,
    plan: &Plan,
    s: &Settings,
    refresh: bool,
) -> NetFacts {
    let t = s.ttls;
    let path = FactsCache::path(env);
    let load = || path.as_deref().map(FactsCache::load).unwrap_or_default();
    let mut cache = load();
    let m = missing(&cache, plan, &t, now(), refresh);
    let routing_wanted = needs_routing(plan) && s.policy.fallback_profile.is_some();
    let routing_missing = |c: &FactsCache| -> bool {
        routing_wanted
            && match (c.instance(now(), &t), plan.region.as_deref()) {
                (Some(i), Some(region)) => match (&i.vpc_id, &i.subnet_id) {
                    (Some(v), Some(sub)) => {
                        refresh
                            || (c.routing(region, v, sub, now(), &t).is_none()
                                && !c.routing_failed(region, v, sub, now(), &t))
                    }
                    _ => false,
                },
                // Without instance facts (yet, or IMDS failed) there is no
                // subnet to read; the instance probe comes first.
                _ => false,
            }
    };
    if m.instance || m.egress || !m.hosts.is_empty() || routing_missing(&cache) {
        let work = || {
            // Another process may have probed while we waited for the lock.
            let mut c = if refresh {
                FactsCache::default()
            } else {
                load()
            };
            probe_into(engine, &mut c, env, plan, s, &t, refresh);
            if routing_missing(&c) {
                read_routing(&mut c, env, aws, plan, s, &t);
            }
            if let Some(p) = &path {
                if let Err(e) = c.save(p) {
                    crate::adapters::environment::cache_unwritable(p, &e);
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
    }
    facts_from(&cache, plan, &t, now())
}

fn probe_into(
    engine: &Engine,
    c: &mut FactsCache,
    env: &EnvMap,
    plan: &Plan,
    s: &Settings,
    t: &Ttls,
    refresh: bool,
) {
    let m = missing(c, plan, t, now(), refresh);
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
    let ca_bundle = plan.ca_bundle.as_ref().map(PathBuf::from);
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
        return finish(env, started);
    }
    let learnt_instance = match got.instance {
        Some(Ok(i)) => {
            c.set_instance(i, now());
            true
        }
        Some(Err(e)) => {
            debug(env, || format!("IMDS: {e}"));
            c.set_instance_failed(now());
            false
        }
        None => false,
    };
    record(c, env, s, got.egress, got.dns);
    // The instance's region can change the hosts (CLI v2 takes the region from
    // IMDS last): resolve those too, within what is left of the deadline.
    if !learnt_instance {
        return finish(env, started);
    }
    let mut more = missing(c, plan, t, now(), false);
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
        record(c, env, s, got.egress, got.dns);
    }
    finish(env, started);
}

fn record(
    c: &mut FactsCache,
    env: &EnvMap,
    s: &Settings,
    egress: Option<Result<std::net::IpAddr, ProbeError>>,
    dns: std::collections::BTreeMap<String, Result<Vec<std::net::IpAddr>, ProbeError>>,
) {
    match egress {
        Some(Ok(ip)) => c.set_egress(ip, now()),
        Some(Err(e)) => debug(env, || format!("checkip ({}): {e}", s.checkip_url)),
        None => {}
    }
    for (host, r) in dns {
        match r {
            Ok(addrs) => c.set_dns(&host, addrs, now()),
            Err(e) => debug(env, || format!("DNS {host}: {e}")),
        }
    }
}

fn finish(env: &EnvMap, started: std::time::Instant) {
    debug(env, || {
        format!("probed in {} ms", started.elapsed().as_millis())
    });
}

fn read_routing(c: &mut FactsCache, env: &EnvMap, aws: &Path, plan: &Plan, s: &Settings, t: &Ttls) {
    let (Some(fb), Some(region)) = (s.policy.fallback_profile.as_deref(), plan.region.as_deref())
    else {
        return;
    };
    let Some(inst) = c.instance(now(), t) else {
        return;
    };
    let (Some(vpc), Some(subnet)) = (inst.vpc_id.clone(), inst.subnet_id.clone()) else {
        return;
    };
    let started = std::time::Instant::now();
    match route_tables::read(aws, fb, region, &vpc, &subnet, env, ROUTE_TABLE_DEADLINE) {
        Ok(r) => c.set_routing(region, &vpc, &subnet, r, now()),
        Err(e) => {
            // Told once per TTL: the failure is remembered like a route table.
            c.set_routing_failed(region, &vpc, &subnet, now());
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

fn facts_from(c: &FactsCache, plan: &Plan, t: &Ttls, now: u64) -> NetFacts {
    let instance = c.instance(now, t);
    let routing = match (&instance, plan.region.as_deref()) {
        (Some(i), Some(region)) => match (&i.vpc_id, &i.subnet_id) {
            (Some(v), Some(sub)) => c.routing(region, v, sub, now, t),
            _ => None,
        },
        _ => None,
    };
    let learnt_refused = match plan.region.as_deref() {
        Some(region) => plan
            .services
            .iter()
            .filter(|svc| c.learnt_refused(svc, region, now, t))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    NetFacts {
        egress_ip: c.egress(now, t),
        dns: plan
            .hosts
            .iter()
            .map(|h| (h.clone(), c.dns(h, now, t)))
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
