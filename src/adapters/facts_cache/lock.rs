//! The cache's two locks, both exclusive flocks on files beside it (0600 in a
//! 0700 directory): `<path>.lock`, held by the one process that probes while
//! other cold ones wait ([`with_probe_lock`]), and `<path>.write.lock`, held
//! for the moment a save reads, merges and replaces the file ([`write_lock`]).
//!
//! Owns the waiting (polled, bounded) and what happens when no lock can be
//! had at all: the work runs unguarded, since then there is no shared cache
//! to protect. It must not read or write the cache itself.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `save` waits for another writer before writing anyway.
const WRITE_LOCK_WAIT: Duration = Duration::from_secs(1);

/// An acquired lock, or `Unlocked` when there was no lock to take.
pub(super) enum LockGuard {
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

/// `path` with `suffix` appended to its file name.
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
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

/// `<path>.write.lock`, waited for at most 1 s; after that (or when it cannot
/// be taken at all) `Unlocked`: the save goes ahead, never torn (the write is
/// atomic), at worst losing a concurrent writer's fact, which is probed again.
pub(super) fn write_lock(path: &Path) -> LockGuard {
    lock(&sibling(path, ".write.lock"), WRITE_LOCK_WAIT).unwrap_or(LockGuard::Unlocked)
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
    use super::super::fixtures::*;
    use super::super::FactsCache;
    use super::*;
    use crate::adapters::settings::Ttls;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

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
}
