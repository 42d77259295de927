//! Starting the detached refresher: `c9aws __refresh` (this same executable)
//! with the call's [`Needs`] as arguments, in a session of its own, as a
//! grandchild that nobody waits for, so the call goes on (and execs the CLI)
//! at warm speed while the stale facts are probed again.
//!
//! Detached as a daemon is: the child that `Command` forks forks once more and
//! `_exit`s at once (the caller reaps it in `spawn`'s wait, so no zombie is
//! left for the CLI it execs to inherit); the grandchild, reparented to init,
//! calls `setsid` (no controlling terminal, not in the caller's process group:
//! a Ctrl-C or a `kill` of the shell's job does not reach it), gets /dev/null
//! for stdin, stdout and stderr, and every other fd is closed on its exec (it
//! holds no pipe of the caller: `x=$(aws …)` and `aws … | head` do not wait
//! for it). No thread is started: `Command` forks from this thread, and the
//! code between the forks and the exec is async-signal-safe.
//!
//! Owns the throttle too: no refresher while another one (or a foreground
//! probe) holds the probe lock, nor for [`RETRY_AFTER_FAILURE`] after one that
//! failed. It must not probe anything itself.

use crate::adapters::environment::debug;
use crate::adapters::facts_cache::{with_probe_lock, RefreshStatus};
use crate::adapters::network::Needs;
use crate::core::EnvMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The hidden word of the refresher.
pub const WORD: &str = "__refresh";

/// How long a failed refresh is not tried again (the stale facts keep serving).
pub const RETRY_AFTER_FAILURE: u64 = 60;

/// The refresher's arguments for `needs` (after [`WORD`]).
pub fn args(needs: &Needs) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(r) = &needs.region {
        a.extend(["--region".to_string(), r.clone()]);
    }
    for h in &needs.hosts {
        a.extend(["--host".to_string(), h.clone()]);
    }
    for s in &needs.services {
        a.extend(["--service".to_string(), s.clone()]);
    }
    if let Some(c) = &needs.ca_bundle {
        a.extend(["--ca-bundle".to_string(), c.clone()]);
    }
    a
}

/// Starts a detached refresher for `needs`, unless one is running or the last
/// one failed less than [`RETRY_AFTER_FAILURE`] seconds ago. Never fails the
/// call: a refresher that cannot start is a debug line.
pub fn start(env: &EnvMap, cache: &Path, needs: &Needs, now: u64) {
    if let Some(st) = RefreshStatus::load(cache) {
        if !st.failed.is_empty() && now.saturating_sub(st.at) < RETRY_AFTER_FAILURE {
            debug(env, || {
                "facts past their TTL; the last refresh failed, not retried yet".into()
            });
            return;
        }
    }
    if with_probe_lock(cache, Duration::ZERO, || ()).is_none() {
        debug(env, || {
            "facts past their TTL; another c9aws is probing them".into()
        });
        return;
    }
    match detach(WORD, &args(needs)) {
        Ok(took) => debug(env, || {
            format!(
                "facts past their TTL: used, and a refresher started ({} us)",
                took.as_micros()
            )
        }),
        Err(e) => debug(env, || format!("cannot start the refresher: {e}")),
    }
}

/// The niceness of a detached refresher or warm-up: the caller's work (and
/// the user's) comes first.
pub const NICE: libc::c_int = 10;

/// How long a detached process waits before it starts its work, so that the
/// call that started it (which goes on to exec the CLI) is not competing with
/// it for the CPU during its own start.
pub const START_DELAY: Duration = Duration::from_millis(10);

/// Starts `c9aws WORD ARGS…` (this same executable) detached: double fork,
/// `setsid`, /dev/null for fds 0–2, every other fd close-on-exec, at
/// [`NICE`]. Returns how long starting it took the caller.
pub fn detach(word: &str, args: &[String]) -> std::io::Result<Duration> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(word)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: runs in the forked child of a single-threaded process, before
    // exec; fork, _exit, setsid, setpriority and fcntl are async-signal-safe,
    // and nothing here allocates or takes a lock.
    unsafe {
        cmd.pre_exec(|| {
            match libc::fork() {
                -1 => return Err(std::io::Error::last_os_error()),
                0 => {}
                // The intermediate child: gone at once, reaped by the caller.
                _ => libc::_exit(0),
            }
            libc::setsid();
            libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
            close_on_exec_from(3);
            Ok(())
        });
    }
    let started = std::time::Instant::now();
    let mut child = cmd.spawn()?;
    // The intermediate child exits right after its fork.
    let _ = child.wait();
    Ok(started.elapsed())
}

/// Marks every fd from `first` up close-on-exec (std's own pipe to report an
/// exec failure is already so, and keeps working until the exec).
fn close_on_exec_from(first: libc::c_int) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain syscalls on fds; no memory is touched.
    unsafe {
        if libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) == 0
        {
            return;
        }
        // Before Linux 5.11: each fd up to the limit.
        let max = match libc::sysconf(libc::_SC_OPEN_MAX) {
            n if n > 0 => n.min(65536) as libc::c_int,
            _ => 1024,
        };
        for fd in first..max {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_cross_as_arguments() {
        let n = Needs {
            region: Some("ap-northeast-1".into()),
            hosts: vec!["s3.ap-northeast-1.amazonaws.com".into(), "127.0.0.1".into()],
            services: vec!["s3".into()],
            ca_bundle: Some("/etc/my ca.pem".into()),
        };
        assert_eq!(
            args(&n),
            [
                "--region",
                "ap-northeast-1",
                "--host",
                "s3.ap-northeast-1.amazonaws.com",
                "--host",
                "127.0.0.1",
                "--service",
                "s3",
                "--ca-bundle",
                "/etc/my ca.pem"
            ]
        );
        assert!(args(&Needs::default()).is_empty());
    }
}
