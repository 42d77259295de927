//! The outcome of the last detached refresh, `<path>.refresh` beside the
//! cache (`facts.json.refresh`): when it ended and what it failed to learn.
//! Written by the refresher (`c9aws __refresh`), whose stderr goes nowhere,
//! so that `doctor` can say what a normal call never says; removed by a
//! foreground probe that learnt everything. It must not decide anything: the
//! callers read it (a failed refresh is not retried for a while) and `doctor`
//! reports it.

use super::lock::sibling;
use crate::adapters::private_file::write_atomic;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshStatus {
    /// Unix time (s) the refresh ended.
    pub at: u64,
    /// What it could not learn, in words; empty: it learnt everything.
    pub failed: Vec<String>,
}

fn status_path(cache: &Path) -> std::path::PathBuf {
    sibling(cache, ".refresh")
}

impl RefreshStatus {
    /// The last refresh's outcome beside the cache at `cache`, if any (an
    /// unreadable or malformed file is none).
    pub fn load(cache: &Path) -> Option<RefreshStatus> {
        let bytes = std::fs::read(status_path(cache)).ok()?;
        if bytes.len() > 64 << 10 {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }

    /// Written atomically, 0600.
    pub fn save(&self, cache: &Path) -> io::Result<()> {
        let text = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomic(&status_path(cache), &text)
    }

    /// Forgets it (a foreground probe learnt everything since).
    pub fn clear(cache: &Path) {
        let _ = std::fs::remove_file(status_path(cache));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_loaded_and_cleared() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c9aws/facts.json");
        assert_eq!(RefreshStatus::load(&p), None);
        let s = RefreshStatus {
            at: 1_790_000_000,
            failed: vec!["DNS s3.amazonaws.com: timed out after 1500 ms".into()],
        };
        s.save(&p).unwrap();
        assert_eq!(RefreshStatus::load(&p), Some(s));
        assert!(d.path().join("c9aws/facts.json.refresh").exists());
        RefreshStatus::clear(&p);
        assert_eq!(RefreshStatus::load(&p), None);
        std::fs::write(d.path().join("c9aws/facts.json.refresh"), b"{").unwrap();
        assert_eq!(RefreshStatus::load(&p), None, "malformed is none");
    }
}
