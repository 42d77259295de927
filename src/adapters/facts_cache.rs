//! The cache of network facts and learnt verdicts:
//! `<cache dir>/c9aws/facts.json` (cache dir: `$XDG_CACHE_HOME`, else
//! `$HOME/.cache` from the environment map, else `dirs::cache_dir()`).
//!
//! Each entry carries the unix time it was learnt; whether it is still fresh is
//! decided on reading, with the TTLs of the moment. The file names its format
//! version and the machine that wrote it (`/etc/machine-id` and the host name,
//! so a home directory carried to another instance, or an image cloned with its
//! machine-id, starts afresh): a file of another format or machine, a corrupt or
//! unreadable one, is treated as empty — never an error; a malformed entry is
//! dropped alone. Writes are atomic, 0600 in a 0700 directory, and merge what
//! another process wrote meanwhile (newer entry wins), under a short write
//! lock. Concurrent cold processes probe once: see [`with_probe_lock`].
//! Only network facts are stored; none of them is a secret.

use crate::adapters::private_file::write_atomic;
use crate::core::profile::EnvMap;
use crate::core::route::{Instance, Net4, Routing, VpcEndpoint};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bumped whenever the layout changes; other versions are ignored.
pub const FORMAT: u64 = 1;
/// A learnt time this far in the future (a clock set back) makes the entry stale.
const FUTURE_SKEW: u64 = 300;
/// Entries this much older than the newest one are dropped on save.
const PRUNE_AFTER: u64 = 7 * 24 * 3600;
/// At most this many DNS entries are kept (the newest).
const MAX_DNS: usize = 512;
/// How long `save` waits for another writer before writing anyway.
const WRITE_LOCK_WAIT: Duration = Duration::from_secs(1);
/// Files larger than this are not read (treated as empty).
const MAX_FILE: u64 = 8 << 20;

/// Seconds each kind of entry stays fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    pub instance: u64,
    pub egress: u64,
    pub dns: u64,
    pub routing: u64,
    pub learnt: u64,
}

impl Default for Ttls {
    fn default() -> Ttls {
        Ttls {
            instance: 3600,
            egress: 600,
            dns: 300,
            routing: 600,
            learnt: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stamped<T> {
    /// Unix time (s) the value was learnt.
    at: u64,
    value: T,
}

fn fresh(at: u64, now: u64, ttl: u64) -> bool {
    at <= now.saturating_add(FUTURE_SKEW) && now.saturating_sub(at) < ttl
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceRec {
    instance_id: Option<String>,
    region: Option<String>,
    mac: Option<String>,
    public_ipv4: Option<Ipv4Addr>,
    local_ipv4: Option<Ipv4Addr>,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    /// `a.b.c.d/len`; unparsable ones are dropped on reading.
    vpc_cidrs: Vec<String>,
}

impl From<&Instance> for InstanceRec {
    fn from(i: &Instance) -> Self {
        InstanceRec {
            instance_id: i.instance_id.clone(),
            region: i.region.clone(),
            mac: i.mac.clone(),
            public_ipv4: i.public_ipv4,
            local_ipv4: i.local_ipv4,
            vpc_id: i.vpc_id.clone(),
            subnet_id: i.subnet_id.clone(),
            vpc_cidrs: i.vpc_cidrs.iter().map(Net4::to_string).collect(),
        }
    }
}

impl From<&InstanceRec> for Instance {
    fn from(r: &InstanceRec) -> Self {
        Instance {
            instance_id: r.instance_id.clone(),
            region: r.region.clone(),
            mac: r.mac.clone(),
            public_ipv4: r.public_ipv4,
            local_ipv4: r.local_ipv4,
            vpc_id: r.vpc_id.clone(),
            subnet_id: r.subnet_id.clone(),
            vpc_cidrs: r.vpc_cidrs.iter().filter_map(|c| Net4::parse(c)).collect(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct EndpointRec {
    id: String,
    kind: String,
    service_name: String,
    route_table_ids: Vec<String>,
    private_dns: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct RoutingRec {
    route_table_id: Option<String>,
    prefix_list_routes: Vec<(String, String)>,
    endpoints: Vec<EndpointRec>,
}

impl From<&Routing> for RoutingRec {
    fn from(r: &Routing) -> Self {
        RoutingRec {
            route_table_id: r.route_table_id.clone(),
            prefix_list_routes: r.prefix_list_routes.clone(),
            endpoints: r
                .endpoints
                .iter()
                .map(|e| EndpointRec {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    service_name: e.service_name.clone(),
                    route_table_ids: e.route_table_ids.clone(),
                    private_dns: e.private_dns,
                })
                .collect(),
        }
    }
}

impl From<&RoutingRec> for Routing {
    fn from(r: &RoutingRec) -> Self {
        Routing {
            route_table_id: r.route_table_id.clone(),
            prefix_list_routes: r.prefix_list_routes.clone(),
            endpoints: r
                .endpoints
                .iter()
                .map(|e| VpcEndpoint {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    service_name: e.service_name.clone(),
                    route_table_ids: e.route_table_ids.clone(),
                    private_dns: e.private_dns,
                })
                .collect(),
        }
    }
}

/// The network facts and learnt verdicts of this machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactsCache {
    instance: Option<Stamped<InstanceRec>>,
    egress: Option<Stamped<IpAddr>>,
    dns: BTreeMap<String, Stamped<Vec<IpAddr>>>,
    /// Key: `region vpc subnet`.
    routing: BTreeMap<String, Stamped<RoutingRec>>,
    /// Key: `service region`; value `refused`.
    learnt: BTreeMap<String, Stamped<String>>,
}

fn routing_key(region: &str, vpc: &str, subnet: &str) -> String {
    format!("{region} {vpc} {subnet}")
}

/// Marks a probe that failed (IMDS, a route-table read) in the `learnt` map.
const FAILED: &str = "failed";

const IMDS_FAILURE_KEY: &str = "imds";

fn routing_failure_key(region: &str, vpc: &str, subnet: &str) -> String {
    format!("routing {region} {vpc} {subnet}")
}

fn learnt_key(service: &str, region: &str) -> String {
    format!("{service} {region}")
}

const REFUSED: &str = "refused";

/// This machine: `<machine-id>/<host name>`, either part possibly empty.
pub fn machine_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mid = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| {
                std::fs::read_to_string(p)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_default();
        format!("{mid}/{}", hostname())
    })
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Entries of one map section, each parsed on its own (a bad one is dropped).
fn section<T: DeserializeOwned>(
    doc: &Map<String, Value>,
    key: &str,
) -> BTreeMap<String, Stamped<T>> {
    doc.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn single<T: DeserializeOwned>(doc: &Map<String, Value>, key: &str) -> Option<Stamped<T>> {
    serde_json::from_value(doc.get(key)?.clone()).ok()
}

/// Keeps whichever of the two entries was learnt later (ours on a tie).
fn newer<T>(ours: &mut Option<Stamped<T>>, theirs: Option<Stamped<T>>) {
    if let Some(t) = theirs {
        if ours.as_ref().is_none_or(|o| t.at > o.at) {
            *ours = Some(t);
        }
    }
}

fn newer_each<T>(ours: &mut BTreeMap<String, Stamped<T>>, theirs: BTreeMap<String, Stamped<T>>) {
    for (k, t) in theirs {
        match ours.get(&k) {
            Some(o) if o.at >= t.at => {}
            _ => {
                ours.insert(k, t);
            }
        }
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
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

    fn parse(bytes: &[u8], machine: &str) -> FactsCache {
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(bytes) else {
            return FactsCache::default();
        };
        if doc.get("format").and_then(Value::as_u64) != Some(FORMAT)
            || doc.get("machine").and_then(Value::as_str) != Some(machine)
        {
            return FactsCache::default();
        }
        FactsCache {
            instance: single(&doc, "instance"),
            egress: single(&doc, "egress"),
            dns: section(&doc, "dns"),
            routing: section(&doc, "routing"),
            learnt: section::<String>(&doc, "learnt")
                .into_iter()
                .filter(|(_, v)| v.value == REFUSED || v.value == FAILED)
                .collect(),
        }
    }

    fn to_json(&self, machine: &str) -> Vec<u8> {
        let mut doc = Map::new();
        doc.insert("format".into(), FORMAT.into());
        doc.insert("machine".into(), machine.into());
        let put = |doc: &mut Map<String, Value>, key: &str, v: serde_json::Result<Value>| {
            if let Ok(v) = v {
                if !v.is_null() {
                    doc.insert(key.into(), v);
                }
            }
        };
        put(&mut doc, "instance", serde_json::to_value(&self.instance));
        put(&mut doc, "egress", serde_json::to_value(&self.egress));
        put(&mut doc, "dns", serde_json::to_value(&self.dns));
        put(&mut doc, "routing", serde_json::to_value(&self.routing));
        put(&mut doc, "learnt", serde_json::to_value(&self.learnt));
        serde_json::to_vec(&Value::Object(doc)).unwrap_or_default()
    }

    /// Takes every entry of `other` that is newer than ours.
    fn absorb(&mut self, other: FactsCache) {
        newer(&mut self.instance, other.instance);
        newer(&mut self.egress, other.egress);
        newer_each(&mut self.dns, other.dns);
        newer_each(&mut self.routing, other.routing);
        newer_each(&mut self.learnt, other.learnt);
    }

    /// Drops entries far older than the newest one, and surplus DNS entries.
    fn prune(&mut self) {
        let newest = [
            self.instance.as_ref().map(|s| s.at),
            self.egress.as_ref().map(|s| s.at),
        ]
        .into_iter()
        .flatten()
        .chain(self.dns.values().map(|s| s.at))
        .chain(self.routing.values().map(|s| s.at))
        .chain(self.learnt.values().map(|s| s.at))
        .max()
        .unwrap_or(0);
        let floor = newest.saturating_sub(PRUNE_AFTER);
        if self.instance.as_ref().is_some_and(|s| s.at < floor) {
            self.instance = None;
        }
        if self.egress.as_ref().is_some_and(|s| s.at < floor) {
            self.egress = None;
        }
        self.dns.retain(|_, s| s.at >= floor);
        self.routing.retain(|_, s| s.at >= floor);
        self.learnt.retain(|_, s| s.at >= floor);
        if self.dns.len() > MAX_DNS {
            let mut ats: Vec<u64> = self.dns.values().map(|s| s.at).collect();
            ats.sort_unstable_by(|a, b| b.cmp(a));
            let cut = ats[MAX_DNS - 1];
            self.dns.retain(|_, s| s.at >= cut);
            while self.dns.len() > MAX_DNS {
                let oldest = self
                    .dns
                    .iter()
                    .min_by_key(|(_, s)| s.at)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.dns.remove(&k),
                    None => break,
                };
            }
        }
    }

    pub fn instance(&self, now: u64, ttls: &Ttls) -> Option<Instance> {
        self.instance
            .as_ref()
            .filter(|s| fresh(s.at, now, ttls.instance))
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
            .filter(|s| fresh(s.at, now, ttls.routing))
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

    /// Did the safety net see AWS refuse AMTC for this service and region lately?
    pub fn learnt_refused(&self, service: &str, region: &str, now: u64, ttls: &Ttls) -> bool {
        self.learnt
            .get(&learnt_key(service, region))
            .is_some_and(|s| s.value == REFUSED && fresh(s.at, now, ttls.learnt))
    }

    pub fn set_learnt_refused(&mut self, service: &str, region: &str, now: u64) {
        self.learnt.insert(
            learnt_key(service, region),
            Stamped {
                at: now,
                value: REFUSED.to_string(),
            },
        );
    }

    /// Did IMDS fail to answer lately (off EC2, disabled, hop limit)? Remembered
    /// for the egress TTL so an instance without IMDS is not asked on every call.
    pub fn instance_failed(&self, now: u64, ttls: &Ttls) -> bool {
        self.learnt
            .get(IMDS_FAILURE_KEY)
            .is_some_and(|s| s.value == FAILED && fresh(s.at, now, ttls.egress))
    }

    pub fn set_instance_failed(&mut self, now: u64) {
        self.learnt.insert(
            IMDS_FAILURE_KEY.to_string(),
            Stamped {
                at: now,
                value: FAILED.to_string(),
            },
        );
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
        self.learnt
            .get(&routing_failure_key(region, vpc, subnet))
            .is_some_and(|s| s.value == FAILED && fresh(s.at, now, ttls.routing))
    }

    pub fn set_routing_failed(&mut self, region: &str, vpc: &str, subnet: &str, now: u64) {
        self.learnt.insert(
            routing_failure_key(region, vpc, subnet),
            Stamped {
                at: now,
                value: FAILED.to_string(),
            },
        );
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
        let _guard =
            lock(&sibling(path, ".write.lock"), WRITE_LOCK_WAIT).unwrap_or(LockGuard::Unlocked);
        let mut merged = self.clone();
        merged.absorb(Self::load_as(path, machine));
        merged.prune();
        write_atomic(path, &merged.to_json(machine))
    }
}

/// An acquired lock, or `Unlocked` when there was no lock to take.
enum LockGuard {
    Held(File),
    Unlocked,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let LockGuard::Held(f) = self {
            let _ = f.unlock();
        }
    }
}

/// An exclusive flock on `lock_path` (created 0600 in a 0700 directory),
/// polled until `wait` ends. `Ok(Unlocked)`: the file could not be created or
/// locked at all (no shared cache to protect). `Err(WouldBlock)`: another holder
/// kept it for the whole wait.
fn lock(lock_path: &Path, wait: Duration) -> io::Result<LockGuard> {
    let opened = lock_path
        .parent()
        .map_or(Ok(()), |d| {
            DirBuilder::new().recursive(true).mode(0o700).create(d)
        })
        .and_then(|_| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(lock_path)
        });
    let Ok(file) = opened else {
        return Ok(LockGuard::Unlocked);
    };
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockGuard::Held(file)),
            Err(TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(io::Error::from(io::ErrorKind::WouldBlock));
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            // flock unsupported here (some network file systems).
            Err(TryLockError::Error(_)) => return Ok(LockGuard::Unlocked),
        }
    }
}

/// Stampede guard: runs `f` holding an exclusive flock on `<path>.lock` (0600),
/// so that of many concurrent cold c9aws processes one probes while the others
/// wait, at most `wait`, polling.
///
/// `f` must re-load the cache and re-check what is missing: a waiter that gets
/// the lock after the prober finds the facts already there.
///
/// Returns `None` only when another process held the lock for the whole wait:
/// that one is probing, so the caller should re-load the cache and go on with
/// what it has (a missing fact is `unknown`), not probe too. When no lock can
/// be taken at all (the cache directory cannot be created, or the file system
/// has no flock), `f` runs unguarded and its result is returned: there is no
/// shared cache to stampede on.
pub fn with_probe_lock<T>(path: &Path, wait: Duration, f: impl FnOnce() -> T) -> Option<T> {
    let guard = lock(&sibling(path, ".lock"), wait).ok()?;
    let out = f();
    drop(guard);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    const T0: u64 = 1_790_000_000;

    fn sample_instance() -> Instance {
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

    fn sample_routing() -> Routing {
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn full(at: u64) -> FactsCache {
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

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

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
            ("instance", t.instance, &|now| c.instance(now, &t).is_some()),
            ("egress", t.egress, &|now| c.egress(now, &t).is_some()),
            ("dns", t.dns, &|now| c.dns(sts, now, &t).is_some()),
            ("routing", t.routing, &|now| {
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
            (t.instance, t.egress, t.dns, t.routing, t.learnt),
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
    fn corrupt_foreign_or_old_files_are_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("facts.json");
        assert_eq!(FactsCache::load(&p), FactsCache::default(), "missing");
        for junk in [
            &b"{not json"[..],
            b"",
            b"[]",
            b"null",
            b"\xff\xfe\x00garbage",
            br#"{"format":"1"}"#,
        ] {
            std::fs::write(&p, junk).unwrap();
            assert_eq!(FactsCache::load(&p), FactsCache::default(), "{junk:?}");
        }
        // A directory where the file should be: unreadable, still empty.
        let dir_as_file = d.path().join("dir.json");
        std::fs::create_dir(&dir_as_file).unwrap();
        assert_eq!(FactsCache::load(&dir_as_file), FactsCache::default());

        let good = full(T0).to_json(machine_id());
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["machine"] = "0123456789abcdef/ip-10-9-9-9".into();
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(
            FactsCache::load(&p),
            FactsCache::default(),
            "foreign machine"
        );
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["format"] = (FORMAT + 1).into();
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(FactsCache::load(&p), FactsCache::default(), "other format");
        // A foreign file is replaced, not merged, on save.
        full(T0).save(&p).unwrap();
        assert_eq!(FactsCache::load(&p), full(T0));

        // One malformed entry is dropped alone.
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["dns"]["bad.example"] = serde_json::json!({"at": T0, "value": ["not-an-ip"]});
        doc["dns"]["worse.example"] = serde_json::json!("x");
        doc["egress"] = serde_json::json!({"at": "yesterday", "value": "203.0.113.10"});
        doc["learnt"]["s3 ap-northeast-1"] = serde_json::json!({"at": T0, "value": "fine"});
        doc["instance"]["value"]["vpc_cidrs"] = serde_json::json!(["10.0.0.0/16", "nonsense"]);
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        let c = FactsCache::load(&p);
        let t = Ttls::default();
        assert!(c.egress(T0, &t).is_none());
        assert!(c.dns("bad.example", T0, &t).is_none());
        assert!(c.dns("sts.ap-northeast-1.amazonaws.com", T0, &t).is_some());
        assert!(!c.learnt_refused("s3", "ap-northeast-1", T0, &t));
        assert!(c.learnt_refused("dynamodb", "ap-northeast-1", T0, &t));
        assert_eq!(c.instance(T0, &t).unwrap().vpc_cidrs.len(), 1);
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
    fn save_merges_concurrent_writers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c9aws/facts.json");
        let t = Ttls::default();
        let mut a = FactsCache::load(&p);
        let mut b = FactsCache::load(&p);
        a.set_dns("a.example", vec![ip("198.51.100.1")], T0);
        a.set_egress(ip("203.0.113.1"), T0 + 5);
        b.set_dns("b.example", vec![ip("198.51.100.2")], T0);
        b.set_egress(ip("203.0.113.2"), T0);
        b.set_learnt_refused("sts", "us-east-1", T0);
        a.save(&p).unwrap();
        b.save(&p).unwrap();
        let c = FactsCache::load(&p);
        assert!(c.dns("a.example", T0, &t).is_some());
        assert!(c.dns("b.example", T0, &t).is_some());
        assert!(c.learnt_refused("sts", "us-east-1", T0, &t));
        // The later-learnt egress wins, whoever wrote last.
        assert_eq!(c.egress(T0 + 5, &t), Some(ip("203.0.113.1")));
        // Only the file and the write lock are left behind.
        let mut names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["facts.json", "facts.json.write.lock"]);
    }

    #[test]
    fn prune_drops_ancient_entries_and_caps_dns() {
        let mut c = full(T0);
        c.set_dns(
            "old.example",
            vec![ip("198.51.100.9")],
            T0 - PRUNE_AFTER - 1,
        );
        for i in 0..(MAX_DNS + 50) {
            c.set_dns(&format!("h{i}.example"), vec![], T0 + i as u64);
        }
        c.prune();
        let t = Ttls {
            dns: u64::MAX,
            ..Ttls::default()
        };
        let now = T0 + 1000;
        assert!(c.dns("old.example", now, &t).is_none());
        assert_eq!(c.dns.len(), MAX_DNS);
        assert!(c
            .dns(&format!("h{}.example", MAX_DNS + 49), now, &t)
            .is_some());
        assert!(
            c.dns("h49.example", now, &t).is_none(),
            "the oldest go first"
        );
        assert!(c.dns("h50.example", now, &t).is_some());
        assert!(c.instance.is_some(), "recent enough");
    }

    #[test]
    fn probe_lock_times_out_when_held() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c9aws/facts.json");
        let held = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let (p2, h2, r2) = (p.clone(), held.clone(), release.clone());
        let holder = std::thread::spawn(move || {
            with_probe_lock(&p2, Duration::from_secs(1), || {
                h2.wait();
                r2.wait();
            })
        });
        held.wait();
        let started = Instant::now();
        let got = with_probe_lock(&p, Duration::from_millis(150), || ());
        let took = started.elapsed();
        release.wait();
        assert!(got.is_none());
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_millis(400),
            "{took:?}"
        );
        assert!(holder.join().unwrap().is_some());
        // Released: the next taker gets it at once.
        assert_eq!(with_probe_lock(&p, Duration::ZERO, || 3), Some(3));
    }

    #[test]
    fn thirty_two_cold_processes_probe_once() {
        let d = tempfile::tempdir().unwrap();
        let p = Arc::new(d.path().join("c9aws/facts.json"));
        let probes = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(32));
        let t = Ttls::default();
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let (p, probes, start) = (p.clone(), probes.clone(), start.clone());
                std::thread::spawn(move || {
                    // Each starts cold, as a fresh process would.
                    assert!(FactsCache::load(&p).egress(T0, &t).is_none());
                    start.wait();
                    with_probe_lock(&p, Duration::from_secs(10), || {
                        let mut c = FactsCache::load(&p);
                        if c.egress(T0, &t).is_none() {
                            probes.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(100));
                            c.set_egress(ip("203.0.113.10"), T0);
                            c.save(&p).unwrap();
                        }
                        c.egress(T0, &t)
                    })
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Some(Some(ip("203.0.113.10"))));
        }
        assert_eq!(probes.load(Ordering::SeqCst), 1);
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
        assert!(c.routing_failed("r", "vpc-1", "subnet-1", 1000 + t.routing - 1, &t));
        assert!(!c.routing_failed("r", "vpc-1", "subnet-1", 1000 + t.routing, &t));
        assert!(!c.routing_failed("r", "vpc-1", "subnet-2", 1000, &t));
        assert!(!c.learnt_refused("routing", "r", 1000, &t));
    }
}
