//! The files of a long call (core::long_call): the generated credentials file
//! the CLI is pointed at, written once into c9aws's cache directory (0600,
//! directory 0700, named by a hash of its text, so it never changes once
//! written), and Cloud9's credentials file as `__amtc-credentials` reads it.
//! Never writes any file of the AWS CLI's; never logs a value read from
//! Cloud9's file.

use crate::adapters::environment::{cache_dir, debug};
use crate::adapters::private_file::write_atomic;
use crate::core::long_call::{file_name, LongCall};
use crate::core::EnvMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The generated file for `lc`, written if it is not there yet with this
/// text; `None` (and a debug line) when it cannot be: the call then runs as
/// any other, reading AMTC once.
pub fn ensure(env: &EnvMap, lc: &LongCall) -> Option<PathBuf> {
    let helper = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            debug(env, || format!("long call: c9aws's own path unknown ({e})"));
            return None;
        }
    };
    let text = lc.file_text(&helper.to_string_lossy());
    let path = cache_dir(env)?.join(file_name(&text));
    if std::fs::read(&path).is_ok_and(|b| b == text.as_bytes()) {
        debug(env, || format!("long call: {}", path.display()));
        return Some(path);
    }
    match write_atomic(&path, text.as_bytes()) {
        Ok(()) => {
            debug(env, || format!("long call: wrote {}", path.display()));
            Some(path)
        }
        Err(e) => {
            debug(env, || {
                format!(
                    "long call: cannot write {} ({e}); AMTC read once",
                    path.display()
                )
            });
            None
        }
    }
}

/// Cloud9's credentials file: its text and when it was last written
/// (seconds since the epoch), and the time now.
pub fn read_cloud9(path: &Path) -> std::io::Result<(String, u64, u64)> {
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    // Why stat first: Cloud9 replaces the file while we read; the time of the
    // older file can only make the reported expiry earlier, never later.
    let mtime = secs(std::fs::metadata(path)?.modified()?);
    let text = std::fs::read_to_string(path)?;
    Ok((text, mtime, secs(SystemTime::now())))
}
