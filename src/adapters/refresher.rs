//! Starting the detached refresher: `c9aws __refresh` (this same executable)
//! with the call's [`Needs`] as arguments, in a session of its own, as a
//! grandchild that nobody waits for, so the call goes on (and execs the CLI)
//! at warm speed while the stale facts are probed again.
//!
//! Detached as a daemon is: the child this process forks forks once more and
//! `_exit`s at once (the caller reaps it, so no zombie is left for the CLI it
//! execs to inherit; the caller does not wait for the grandchild's exec, which
//! kept it ~0.3 ms longer when `std::process::Command` did the forking); the
//! grandchild, reparented to init,
//! calls `setsid` (no controlling terminal, not in the caller's process group:
//! a Ctrl-C or a `kill` of the shell's job does not reach it), gets /dev/null
//! for stdin, stdout and stderr, and every other fd is closed on its exec (it
//! holds no pipe of the caller: `x=$(aws …)` and `aws … | head` do not wait
//! for it). No thread is started: the forks are made from this thread, and the
//! code between the forks and the exec is async-signal-safe.
//!
//! Owns the throttle too: no refresher while another one (or a foreground
//! probe) holds the probe lock, nor for [`RETRY_AFTER_FAILURE`] after one that
//! failed. It must not probe anything itself.

use crate::adapters::environment::debug;
use crate::adapters::facts_cache::{with_probe_lock, RefreshStatus};
use crate::adapters::network::Needs;
use crate::core::EnvMap;
use std::path::Path;
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
/// [`NICE`]. Returns how long starting it took the caller: one fork and the
/// wait for the intermediate child, which forks and `_exit`s at once. The
/// grandchild's own start (setsid, the exec) is off the caller's path, so an
/// exec that fails is not seen here (the grandchild `_exit`s 127; the stale
/// facts keep serving and the call after the hard limit probes in front).
pub fn detach(word: &str, args: &[String]) -> std::io::Result<Duration> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstring = |b: &[u8]| {
        CString::new(b).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a NUL byte in an argument",
            )
        })
    };
    // Everything the children use is made before the fork: after it they only
    // make async-signal-safe calls.
    let exe = cstring(std::env::current_exe()?.as_os_str().as_bytes())?;
    let mut argv = vec![exe.clone(), cstring(word.as_bytes())?];
    for a in args {
        argv.push(cstring(a.as_bytes())?);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let dev_null = cstring(b"/dev/null")?;
    let started = std::time::Instant::now();
    // SAFETY: c9aws is single-threaded here (no thread is started before a
    // call execs the CLI); between fork and exec the children call only
    // fork, setsid, setpriority, open, dup2, close, fcntl/close_range, execv
    // and _exit, all async-signal-safe, on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            // The intermediate child: forks the refresher and is gone at once,
            // so the refresher is reparented to init, not left to the CLI
            // this process execs as a zombie child.
            match libc::fork() {
                0 => {}
                -1 => libc::_exit(1),
                _ => libc::_exit(0),
            }
            libc::setsid();
            libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
            let fd = libc::open(dev_null.as_ptr(), libc::O_RDWR);
            if fd >= 0 {
                for target in 0..3 {
                    libc::dup2(fd, target);
                }
                if fd > 2 {
                    libc::close(fd);
                }
            }
            close_on_exec_from(3);
            libc::execv(exe.as_ptr(), argv_ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status: libc::c_int = 0;
    // SAFETY: waits for the child forked above, which exits at once.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    if reaped == -1 {
        return Err(std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(std::io::Error::other("could not fork the refresher"));
    }
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
