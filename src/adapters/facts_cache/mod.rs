//! The cache of network facts and learnt verdicts:
//! `<cache dir>/c9aws/facts.json` (cache dir: `$XDG_CACHE_HOME`, else
//! `$HOME/.cache` from the environment map, else `dirs::cache_dir()`).
//!
//! This file is the cache's API: [`FactsCache::load`] and
//! [`FactsCache::save`], a getter and a setter per kind of fact, and the
//! typed verdicts ([`Learnt`] about a [`LearntKey`]). Each entry carries the
//! unix time it was learnt; whether it is still fresh is decided here, on
//! reading, with the TTLs of the moment ([`Ttls`], from c9aws's settings). A
//! file that cannot be read is an empty cache, never an error; writes are
//! atomic, 0600 in a 0700 directory. Only network facts are stored; none of
//! them is a secret. What it leaves to its parts: the file's layout
//! (`schema`), the merge with a concurrent writer's file (`merge`), the locks
//! (`lock`: concurrent cold processes probe once, see [`with_probe_lock`]),
//! and which machine this is (`machine`). It must not probe anything itself.

mod lock;
mod machine;
mod merge;
mod schema;

pub use lock::with_probe_lock;
pub use machine::machine_id;
pub(crate) use schema::InstanceRec;
pub use schema::FORMAT;

use crate::adapters::private_file::write_atomic;
use crate::adapters::settings::Ttls;
use crate::core::route::{Instance, Routing};
use crate::core::EnvMap;
use schema::{routing_key, RoutingRec, Stamped};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A learnt time this far in the future (a clock set back) makes the entry stale.
const FUTURE_SKEW: u64 = 300;
/// Files larger than this are not read (treated as empty).
const MAX_FILE: u64 = 8 << 20;

/// What was learnt the hard way, and is remembered so it is not learnt again
/// on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learnt {
    /// The safety net saw AWS refuse AMTC (Cloud9's managed credentials).
    Refused,
    /// A probe failed (IMDS, a route-table read).
    Failed,
}

/// What a [`Learnt`] verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LearntKey {
    /// The instance metadata service of this machine.
    Imds,
    /// The route-table read of one subnet.
    Routing {
        region: String,
        vpc: String,
        subnet: String,
    },
    /// One service in one region.
    Service { service: String, region: String },
}

impl LearntKey {
    /// How long a verdict about this stays fresh: a failed IMDS for the
    /// egress TTL (an instance without IMDS is not asked on every call), a
    /// failed route-table read like a route table, a refusal for `learnt`.
    fn ttl(&self, ttls: &Ttls) -> u64 {
        match self {
            LearntKey::Imds => ttls.egress,
            LearntKey::Routing { .. } => ttls.route_tables,
            LearntKey::Service { .. } => ttls.learnt,
        }
    }
}

fn fresh(at: u64, now: u64, ttl: u64) -> bool {
    at <= now.saturating_add(FUTURE_SKEW) && now.saturating_sub(at) < ttl
}

/// The network facts and learnt verdicts of this machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactsCache {
    instance: Option<Stamped<InstanceRec>>,
    egress: Option<Stamped<IpAddr>>,
    dns: BTreeMap<String, Stamped<Vec<IpAddr>>>,
    /// Key: `region vpc subnet`.
    routing: BTreeMap<String, Stamped<RoutingRec>>,
    learnt: BTreeMap<LearntKey, Stamped<Learnt>>,
}

impl FactsCache {
    /// `<cache dir>/c9aws/facts.json`, or `None` when no cache dir is known.
    pub fn path(env: &EnvMap) -> Option<PathBuf> {
        crate::adapters::environment::cache_dir(env).map(|d| d.join("facts.json"))
    }

    /// The cache at `path`; empty when it is missing, unreadable, corrupt, of
    /// another format version or written on another machine.
    pub fn load(path: &Path) -> FactsCache {
        Self::load_as(path, machine_id())
    }

    fn load_as(path: &Path, machine: &str) -> FactsCache {
        let Ok(f) = File::open(path) else {
            return FactsCache::default();
        };
        let mut bytes = Vec::new();
        if io::Read::read_to_end(&mut io::Read::take(f, MAX_FILE + 1), &mut bytes).is_err()
            || bytes.len() as u64 > MAX_FILE
        {
            return FactsCache::default();
        }
        Self::parse(&bytes, machine)
    }

    /// Writes the cache atomically (0600, directories 0700), merged with what
    /// is on disk now: an entry another process learnt later than ours wins.
    /// Holds `<path>.write.lock` (at most 1 s, else writes unlocked: never torn,
    /// at worst a concurrent writer's fact is lost and probed again). This lock
    /// is not the probe lock, so `save` may be called inside
    /// [`with_probe_lock`].
    pub fn save(&self, path: &Path) -> io::Result<()> {
        self.save_as(path, machine_id())
    }

    fn save_as(&self, path: &Path, machine: &str) -> io::Result<()> {
        let _guard = lock::write_lock(path);
        let mut merged = self.clone();
        merged.absorb(Self::load_as(path, machine));
        merged.prune();
        write_atomic(path, &merged.to_json(machine))
    }

    pub fn instance(&self, now: u64, ttls: &Ttls) -> Option<Instance> {
        self.instance
            .as_ref()
            .filter(|s| fresh(s.at, now, ttls.imds))
            .map(|s| Instance::from(&s.value))
    }

    pub fn set_instance(&mut self, instance: Instance, now: u64) {
        self.instance = Some(Stamped {
            at: now,
            value: InstanceRec::from(&instance),
        });
    }

    pub fn egress(&self, now: u64, ttls: &Ttls) -> Option<IpAddr> {
        self.egress
            .as_ref()
            .filter(|s| fresh(s.at, now, ttls.egress))
            .map(|s| s.value)
    }

    pub fn set_egress(&mut self, ip: IpAddr, now: u64) {
        self.egress = Some(Stamped { at: now, value: ip });
    }

    pub fn dns(&self, host: &str, now: u64, ttls: &Ttls) -> Option<Vec<IpAddr>> {
        self.dns
            .get(&host.to_ascii_lowercase())
            .filter(|s| fresh(s.at, now, ttls.dns))
            .map(|s| s.value.clone())
    }

    pub fn set_dns(&mut self, host: &str, addrs: Vec<IpAddr>, now: u64) {
        self.dns.insert(
            host.to_ascii_lowercase(),
            Stamped {
                at: now,
                value: addrs,
            },
        );
    }

    pub fn routing(
        &self,
        region: &str,
        vpc: &str,
        subnet: &str,
        now: u64,
        ttls: &Ttls,
    ) -> Option<Routing> {
        self.routing
            .get(&routing_key(region, vpc, subnet))
            .filter(|s| fresh(s.at, now, ttls.route_tables))
            .map(|s| Routing::from(&s.value))
    }

    pub fn set_routing(
        &mut self,
        region: &str,
        vpc: &str,
        subnet: &str,
        routing: Routing,
        now: u64,
    ) {
        self.routing.insert(
            routing_key(region, vpc, subnet),
            Stamped {
                at: now,
                value: RoutingRec::from(&routing),
            },
        );
    }

    /// Was `what` learnt about `key` within its TTL?
    fn learnt(&self, key: &LearntKey, what: Learnt, now: u64, ttls: &Ttls) -> bool {
        self.learnt
            .get(key)
            .is_some_and(|s| s.value == what && fresh(s.at, now, key.ttl(ttls)))
    }

    fn set_learnt(&mut self, key: LearntKey, what: Learnt, now: u64) {
        self.learnt.insert(
            key,
            Stamped {
                at: now,
                value: what,
            },
        );
    }

    /// Did the safety net see AWS refuse AMTC for this service and region lately?
    pub fn learnt_refused(&self, service: &str, region: &str, now: u64, ttls: &Ttls) -> bool {
        self.learnt(&service_key(service, region), Learnt::Refused, now, ttls)
    }

    pub fn set_learnt_refused(&mut self, service: &str, region: &str, now: u64) {
        self.set_learnt(service_key(service, region), Learnt::Refused, now);
    }

    /// Did IMDS fail to answer lately (off EC2, disabled, hop limit)? Remembered
    /// for the egress TTL so an instance without IMDS is not asked on every call.
    pub fn instance_failed(&self, now: u64, ttls: &Ttls) -> bool {
        self.learnt(&LearntKey::Imds, Learnt::Failed, now, ttls)
    }

    pub fn set_instance_failed(&mut self, now: u64) {
        self.set_learnt(LearntKey::Imds, Learnt::Failed, now);
    }

    /// Did reading this subnet's route table fail lately? Remembered like a
    /// route table (same TTL), so a fallback without ec2:Describe* does not make
    /// every S3 call run the CLI twice more.
    pub fn routing_failed(
        &self,
        region: &str,
        vpc: &str,
        subnet: &str,
        now: u64,
        ttls: &Ttls,
    ) -> bool {
        let key = subnet_key(region, vpc, subnet);
        self.learnt(&key, Learnt::Failed, now, ttls)
    }

    pub fn set_routing_failed(&mut self, region: &str, vpc: &str, subnet: &str, now: u64) {
        self.set_learnt(subnet_key(region, vpc, subnet), Learnt::Failed, now);
    }
}

fn service_key(service: &str, region: &str) -> LearntKey {
    LearntKey::Service {
        service: service.to_string(),
        region: region.to_string(),
    }
}

fn subnet_key(region: &str, vpc: &str, subnet: &str) -> LearntKey {
    LearntKey::Routing {
        region: region.to_string(),
        vpc: vpc.to_string(),
        subnet: subnet.to_string(),
    }
}

/// Facts shared by the tests of this module and its parts.
#[cfg(test)]
mod fixtures {
    use super::FactsCache;
    use crate::core::route::{Instance, Net4, Routing, VpcEndpoint};
    use crate::core::EnvMap;
    use std::net::IpAddr;

    pub(super) const T0: u64 = 1_790_000_000;

    pub(super) fn sample_instance() -> Instance {
        Instance {
            instance_id: Some("i-0123456789abcdef0".into()),
            region: Some("ap-northeast-1".into()),
            mac: Some("06:aa:bb:cc:dd:ee".into()),
            public_ipv4: Some("203.0.113.10".parse().unwrap()),
            local_ipv4: Some("10.0.1.10".parse().unwrap()),
            vpc_id: Some("vpc-0abc".into()),
            subnet_id: Some("subnet-0pub".into()),
            vpc_cidrs: vec![
                Net4::parse("10.0.0.0/16").unwrap(),
                Net4::parse("100.64.0.0/16").unwrap(),
            ],
        }
    }

    pub(super) fn sample_routing() -> Routing {
        Routing {
            route_table_id: Some("rtb-0priv".into()),
            prefix_list_routes: vec![("pl-61a54008".into(), "vpce-0s3".into())],
            endpoints: vec![
                VpcEndpoint {
                    id: "vpce-0s3".into(),
                    kind: "Gateway".into(),
                    service_name: "com.amazonaws.ap-northeast-1.s3".into(),
                    route_table_ids: vec!["rtb-0priv".into()],
                    private_dns: false,
                },
                VpcEndpoint {
                    id: "vpce-0sts".into(),
                    kind: "Interface".into(),
                    service_name: "com.amazonaws.ap-northeast-1.sts".into(),
                    route_table_ids: vec![],
                    private_dns: true,
                },
            ],
        }
    }

    pub(super) fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub(super) fn full(at: u64) -> FactsCache {
        let mut c = FactsCache::default();
        c.set_instance(sample_instance(), at);
        c.set_egress(ip("203.0.113.10"), at);
        c.set_dns(
            "sts.ap-northeast-1.amazonaws.com",
            vec![ip("10.0.5.5"), ip("fd00::5")],
            at,
        );
        c.set_routing(
            "ap-northeast-1",
            "vpc-0abc",
            "subnet-0priv",
            sample_routing(),
            at,
        );
        c.set_learnt_refused("dynamodb", "ap-northeast-1", at);
        c
    }

    pub(super) fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::lock::sibling;
    use super::*;
    use serde_json::Value;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn path_follows_xdg_then_home() {
        assert_eq!(
            FactsCache::path(&env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/c9aws/facts.json"))
        );
        assert_eq!(
            FactsCache::path(&env(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/c9aws/facts.json"))
        );
        // Nothing in the map: the platform's cache dir, if any.
        if let Some(p) = FactsCache::path(&EnvMap::new()) {
            assert!(p.ends_with("c9aws/facts.json"));
        }
    }

    #[test]
    fn ttl_expiry_per_kind() {
        let c = full(T0);
        let t = Ttls::default();
        let sts = "sts.ap-northeast-1.amazonaws.com";
        type Present<'a> = &'a dyn Fn(u64) -> bool;
        let checks: [(&str, u64, Present); 5] = [
            ("instance", t.imds, &|now| c.instance(now, &t).is_some()),
            ("egress", t.egress, &|now| c.egress(now, &t).is_some()),
            ("dns", t.dns, &|now| c.dns(sts, now, &t).is_some()),
            ("routing", t.route_tables, &|now| {
                c.routing("ap-northeast-1", "vpc-0abc", "subnet-0priv", now, &t)
                    .is_some()
            }),
            ("learnt", t.learnt, &|now| {
                c.learnt_refused("dynamodb", "ap-northeast-1", now, &t)
            }),
        ];
        for (kind, ttl, present) in checks {
            assert!(present(T0), "{kind} fresh when learnt");
            assert!(present(T0 + ttl - 1), "{kind} fresh just before its TTL");
            assert!(!present(T0 + ttl), "{kind} stale at its TTL ({ttl} s)");
            // A clock set back a little still finds it; far back does not.
            assert!(present(T0 - 10), "{kind}");
            assert!(!present(T0 - FUTURE_SKEW - 1), "{kind}");
        }
        assert_eq!(
            (t.imds, t.egress, t.dns, t.route_tables, t.learnt),
            (3600, 600, 300, 600, 600)
        );
        // Configured TTLs are honoured per kind; 0 turns a kind off.
        let short = Ttls {
            dns: 10,
            egress: 0,
            ..Ttls::default()
        };
        assert!(c.dns(sts, T0 + 9, &short).is_some());
        assert!(c.dns(sts, T0 + 10, &short).is_none());
        assert!(c.egress(T0, &short).is_none());
        assert!(c.instance(T0 + 3000, &short).is_some());
        // Other keys are other entries.
        assert!(c.dns("s3.amazonaws.com", T0, &t).is_none());
        assert!(c.dns("STS.ap-northeast-1.amazonaws.com", T0, &t).is_some());
        assert!(c
            .routing("ap-northeast-1", "vpc-0abc", "subnet-0pub", T0, &t)
            .is_none());
        assert!(c
            .routing("eu-west-1", "vpc-0abc", "subnet-0priv", T0, &t)
            .is_none());
        assert!(!c.learnt_refused("dynamodb", "eu-west-1", T0, &t));
        assert!(!c.learnt_refused("s3", "ap-northeast-1", T0, &t));
    }

    #[test]
    fn round_trip_and_private_modes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cache/c9aws/facts.json");
        let c = full(T0);
        c.save(&p).unwrap();
        let back = FactsCache::load(&p);
        assert_eq!(back, c);
        let t = Ttls::default();
        assert_eq!(back.instance(T0, &t), Some(sample_instance()));
        assert_eq!(
            back.routing("ap-northeast-1", "vpc-0abc", "subnet-0priv", T0, &t),
            Some(sample_routing())
        );
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        assert_eq!(mode(&sibling(&p, ".write.lock")), 0o600);
        assert_eq!(with_probe_lock(&p, Duration::from_secs(1), || 7), Some(7));
        assert_eq!(mode(&sibling(&p, ".lock")), 0o600);
        // The layout: versioned, machine-bound, entries stamped.
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(doc["format"], FORMAT);
        assert_eq!(doc["machine"], machine_id());
        assert_eq!(doc["egress"]["at"], T0);
        assert_eq!(doc["egress"]["value"], "203.0.113.10");
        assert_eq!(doc["learnt"]["dynamodb ap-northeast-1"]["value"], "refused");
        assert_eq!(doc["instance"]["value"]["vpc_cidrs"][1], "100.64.0.0/16");
    }

    #[test]
    fn unwritable_directory_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let blocker = d.path().join("cache");
        std::fs::write(&blocker, b"a regular file").unwrap();
        let p = blocker.join("c9aws/facts.json");
        assert!(full(T0).save(&p).is_err());
        assert_eq!(FactsCache::load(&p), FactsCache::default());
        // No lock can be taken: the work runs unguarded.
        assert_eq!(
            with_probe_lock(&p, Duration::from_millis(50), || 1),
            Some(1)
        );
        assert_eq!(std::fs::read(&blocker).unwrap(), b"a regular file");
    }

    #[test]
    fn a_failed_imds_is_remembered_for_the_egress_ttl() {
        let t = Ttls::default();
        let mut c = FactsCache::default();
        assert!(!c.instance_failed(1000, &t));
        c.set_instance_failed(1000);
        assert!(c.instance_failed(1000 + t.egress - 1, &t));
        assert!(!c.instance_failed(1000 + t.egress, &t));
    }

    #[test]
    fn a_failed_route_table_read_is_remembered_for_the_routing_ttl() {
        let t = Ttls::default();
        let mut c = FactsCache::default();
        assert!(!c.routing_failed("r", "vpc-1", "subnet-1", 1000, &t));
        c.set_routing_failed("r", "vpc-1", "subnet-1", 1000);
        assert!(c.routing_failed("r", "vpc-1", "subnet-1", 1000 + t.route_tables - 1, &t));
        assert!(!c.routing_failed("r", "vpc-1", "subnet-1", 1000 + t.route_tables, &t));
        assert!(!c.routing_failed("r", "vpc-1", "subnet-2", 1000, &t));
        assert!(!c.learnt_refused("routing", "r", 1000, &t));
    }
}
