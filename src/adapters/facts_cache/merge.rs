//! How two views of the cache become one when a process saves: entry by entry,
//! the one learnt later wins (ours on a tie), so a concurrent writer's facts
//! are kept; then entries far older than the newest are dropped and the DNS
//! section is capped.
//!
//! Owns the merge and pruning rules only: it must not read the clock (ages are
//! measured against the newest entry), touch files, or judge freshness (a TTL
//! is a reader's question, answered in `mod.rs`).

use super::schema::Stamped;
use super::FactsCache;
use std::collections::BTreeMap;

/// Entries this much older than the newest one are dropped on save.
pub(super) const PRUNE_AFTER: u64 = 7 * 24 * 3600;
/// At most this many DNS entries are kept (the newest).
pub(super) const MAX_DNS: usize = 512;

/// Keeps whichever of the two entries was learnt later (ours on a tie).
fn newer<T>(ours: &mut Option<Stamped<T>>, theirs: Option<Stamped<T>>) {
    if let Some(t) = theirs {
        if ours.as_ref().is_none_or(|o| t.at > o.at) {
            *ours = Some(t);
        }
    }
}

fn newer_each<K: Ord, T>(ours: &mut BTreeMap<K, Stamped<T>>, theirs: BTreeMap<K, Stamped<T>>) {
    for (k, t) in theirs {
        match ours.get(&k) {
            Some(o) if o.at >= t.at => {}
            _ => {
                ours.insert(k, t);
            }
        }
    }
}

impl FactsCache {
    /// Takes every entry of `other` that is newer than ours.
    pub(super) fn absorb(&mut self, other: FactsCache) {
        newer(&mut self.instance, other.instance);
        newer(&mut self.egress, other.egress);
        newer_each(&mut self.dns, other.dns);
        newer_each(&mut self.routing, other.routing);
        newer_each(&mut self.learnt, other.learnt);
    }

    /// Drops entries far older than the newest one, and surplus DNS entries.
    pub(super) fn prune(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::adapters::settings::Ttls;

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
}
