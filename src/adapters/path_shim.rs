//! The PATH directory that puts c9aws in front of `aws` for every program of
//! the user, not only an interactive shell: `~/.local/share/c9aws/bin`
//! (`$XDG_DATA_HOME/c9aws/bin`), 0700, holding one symlink `aws` → c9aws.
//! kubectl's exec plugin, make, eksctl, IDE tasks and cron find `aws` through
//! PATH; `c9aws init` puts this directory first on it. c9aws skips itself by
//! inode when it locates the real aws (adapters::aws_cli), so the symlink
//! never loops.

use crate::adapters::aws_cli::identity;
use crate::adapters::child;
use crate::core::EnvMap;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The directory: `$XDG_DATA_HOME/c9aws/bin`, else `$HOME/.local/share/c9aws/bin`.
pub fn dir(env: &EnvMap) -> Option<PathBuf> {
    let data = match env.get("XDG_DATA_HOME").filter(|x| x.starts_with('/')) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(env.get("HOME").filter(|h| !h.is_empty())?).join(".local/share"),
    };
    Some(data.join("c9aws/bin"))
}

/// What is at `<dir>/aws`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Absent,
    /// A symlink to this c9aws (same inode).
    Ours,
    /// A symlink to something else (an older c9aws that moved, say).
    OtherLink(PathBuf),
    /// Not a symlink: the user's own file, never touched.
    Foreign,
}

pub fn state(dir: &Path, me: &Path) -> State {
    let link = dir.join("aws");
    match fs::symlink_metadata(&link) {
        Err(_) => State::Absent,
        Ok(m) if !m.file_type().is_symlink() => State::Foreign,
        Ok(_) => {
            if identity(&link).is_some() && identity(&link) == identity(me) {
                State::Ours
            } else {
                State::OtherLink(fs::read_link(&link).unwrap_or_default())
            }
        }
    }
}

/// Creates the directory (0700) and `<dir>/aws` → `target`, atomically (a new
/// symlink renamed over the old one). A `<dir>/aws` that is not a symlink is
/// left alone and reported.
pub fn install(dir: &Path, target: &Path) -> io::Result<PathBuf> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let link = dir.join("aws");
    if let Ok(m) = fs::symlink_metadata(&link) {
        if !m.file_type().is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not c9aws's symlink; not replaced",
                    link.display()
                ),
            ));
        }
    }
    let tmp = dir.join(format!(".aws.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, &link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(link)
}

/// Removes what [`install`] made: the symlink, the directory and `c9aws/`
/// above it when they are left empty. Returns what was removed. A `<dir>/aws`
/// that is not a symlink is left alone and reported.
pub fn remove(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut gone = Vec::new();
    let link = dir.join("aws");
    match fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::remove_file(&link)?;
            gone.push(link);
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is not c9aws's symlink; not removed", link.display()),
            ))
        }
        Err(_) => {}
    }
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        if fs::remove_dir(d).is_ok() {
            gone.push(d.to_path_buf());
        }
    }
    Ok(gone)
}

/// The `aws` a non-interactive `sh -c 'command -v aws'` finds with this
/// process's environment (what kubectl, make and cron started from here would
/// run), or why it could not be told. `C9AWS_ACTIVE` and `C9AWS_VIA` are not
/// passed on: they are never the user's.
pub fn noninteractive_aws() -> Result<Option<PathBuf>, String> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "command -v aws"])
        .env_remove("C9AWS_ACTIVE")
        .env_remove("C9AWS_VIA")
        .stdin(Stdio::null());
    let done = child::run(&mut cmd, None, Duration::from_secs(3))
        .map_err(|e| format!("sh -c 'command -v aws' could not run: {e}"))?;
    let out = String::from_utf8_lossy(&done.stdout).trim().to_string();
    Ok((done.status.success() && out.starts_with('/')).then(|| PathBuf::from(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_atomic_private_and_removal_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let me = d.path().join("c9aws");
        fs::write(&me, "#!/bin/sh\n").unwrap();
        let other = d.path().join("old-c9aws");
        fs::write(&other, "#!/bin/sh\n").unwrap();
        let dir = d.path().join("share/c9aws/bin");
        assert_eq!(state(&dir, &me), State::Absent);
        install(&dir, &other).unwrap();
        assert!(matches!(state(&dir, &me), State::OtherLink(_)));
        install(&dir, &me).unwrap();
        assert_eq!(state(&dir, &me), State::Ours);
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
        let gone = remove(&dir).unwrap();
        assert_eq!(gone.len(), 3, "{gone:?}");
        assert!(!d.path().join("share/c9aws").exists());
        assert!(d.path().join("share").exists(), "only what c9aws made goes");
        assert!(remove(&dir).unwrap().is_empty(), "removing twice is fine");
        // A file of the user's is never replaced nor removed.
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("aws"), "mine").unwrap();
        assert_eq!(state(&dir, &me), State::Foreign);
        assert!(install(&dir, &me).is_err());
        assert!(remove(&dir).is_err());
        assert_eq!(fs::read_to_string(dir.join("aws")).unwrap(), "mine");
    }

    #[test]
    fn the_directory() {
        let env = |v: &[(&str, &str)]| -> EnvMap {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            dir(&env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/share/c9aws/bin"))
        );
        assert_eq!(
            dir(&env(&[("HOME", "/h"), ("XDG_DATA_HOME", "/x")])),
            Some(PathBuf::from("/x/c9aws/bin"))
        );
        assert_eq!(dir(&env(&[])), None);
    }
}
