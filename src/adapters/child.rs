//! The one bounded child runner of the crate: a [`Command`] in, its exit
//! status and both outputs out, or a [`ChildError`] saying why not, by a
//! deadline whatever the child does.
//!
//! Owns how a child is run: stdin null or fed the caller's bytes (then
//! closed), stdout and stderr piped and drained while it runs (so a large
//! answer cannot fill a pipe and stall the child; each is cut at
//! [`OUTPUT_LIMIT`]), its own process group (so that at the deadline the whole
//! tree, a wrapper script and its children, is killed, not just the direct
//! child), and a spawn retried while the executable is briefly busy
//! (ETXTBSY). It must not interpret what the child printed or how it exited:
//! that, and the words a user reads about it, are the caller's.
//!
//! Why one poll(2) loop on the calling thread and no drain threads: c9aws
//! execs the CLI afterwards, and the CLI must start with the signal
//! dispositions c9aws was given. A first thread in the static c9aws makes
//! glibc install its own handler for an internal signal, which replaces an
//! inherited "ignored" and is reset to the default by the exec (tests/cli.rs
//! `signal_dispositions_are_those_of_a_direct_start`).

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// More output than this on one pipe is cut.
pub const OUTPUT_LIMIT: usize = 64 << 20;

/// What a child left behind: it exited (with any status) before the deadline.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a child left nothing to read.
#[derive(Debug)]
pub enum ChildError {
    /// It could not be started.
    Spawn(io::Error),
    /// It (or a process it left holding its pipes) ran past the deadline, and
    /// its process group was killed; the timeout it was given.
    Timeout(Duration),
    /// Its exit status could not be collected.
    Wait(io::Error),
    /// Its output could not be read.
    LostOutput,
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ChildError::Spawn(e) => write!(f, "cannot start it: {e}"),
            ChildError::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            ChildError::Wait(e) => write!(f, "cannot wait for it: {e}"),
            ChildError::LostOutput => f.write_str("lost its output"),
        }
    }
}

impl std::error::Error for ChildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChildError::Spawn(e) | ChildError::Wait(e) => Some(e),
            ChildError::Timeout(_) | ChildError::LostOutput => None,
        }
    }
}

/// When a child must have finished by, and the timeout that set it (for the
/// error). One deadline may bound several children running at once.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    fn expired(&self) -> ChildError {
        ChildError::Timeout(self.timeout)
    }
}

/// Starts `cmd`, waits for it until `timeout` and returns what it left.
pub fn run(
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Finished, ChildError> {
    let deadline = Deadline::after(timeout);
    Running::spawn(cmd, input)?.finish(deadline)
}

/// A started child. Its pipes are served by [`Running::finish`]; until then a
/// child that writes more than a pipe holds waits. Dropped before `finish`
/// returned, it is killed with its process group.
pub struct Running {
    child: Child,
    reaped: bool,
    stdin: Option<(ChildStdin, Vec<u8>)>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

/// Our end of a pipe no longer blocks: the loop waits in poll(2) alone.
fn nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a pipe end this process owns; only its status flags
    // change (the child's end is another open file description).
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Running {
    /// Starts `cmd` in a process group of its own, stdin fed with `input`
    /// (then closed) or null, stdout and stderr piped. Whatever `cmd` said
    /// about its stdio is replaced.
    pub fn spawn(cmd: &mut Command, input: Option<&[u8]>) -> Result<Running, ChildError> {
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        let mut attempt = 0;
        let child = loop {
            match cmd.spawn() {
                // A script just written by another thread of this process may
                // still be open for writing in a concurrently forked child.
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 10 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other.map_err(ChildError::Spawn)?,
            }
        };
        let mut r = Running {
            child,
            reaped: false,
            stdin: None,
            stdout: None,
            stderr: None,
        };
        // On an error `r` is dropped: the child is killed and reaped.
        let stdin = match (r.child.stdin.take(), input) {
            (Some(pipe), Some(input)) => Some((pipe, input.to_vec())),
            _ => None,
        };
        let (Some(stdout), Some(stderr)) = (r.child.stdout.take(), r.child.stderr.take()) else {
            return Err(ChildError::Spawn(io::Error::other("no pipes to the child")));
        };
        let all_nonblocking = nonblocking(&stdout)
            .and(nonblocking(&stderr))
            .and(stdin.as_ref().map_or(Ok(()), |(p, _)| nonblocking(p)));
        all_nonblocking.map_err(ChildError::Spawn)?;
        r.stdin = stdin;
        r.stdout = Some(stdout);
        r.stderr = Some(stderr);
        Ok(r)
    }

    fn kill(&mut self) {
        if !self.reaped {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: signals the process group this child leads (it was
                // spawned with process_group(0) and has not been reaped, so the
                // id cannot have been reused).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = self.child.wait();
            self.reaped = true;
        }
    }

    /// Feeds stdin and drains both outputs until they end, then waits for
    /// the child to exit, all by `deadline`; past it, kills the child's
    /// process group.
    pub fn finish(mut self, deadline: Deadline) -> Result<Finished, ChildError> {
        let served = self.serve_pipes(deadline).and_then(|out| {
            let status = self.wait(deadline)?;
            Ok(Finished {
                status,
                stdout: out.0,
                stderr: out.1,
            })
        });
        if served.is_err() {
            self.kill();
        }
        served
    }

    /// The outputs end when the child exits, unless it left a process holding
    /// them (which the group kill at the deadline then ends too).
    fn serve_pipes(&mut self, deadline: Deadline) -> Result<(Vec<u8>, Vec<u8>), ChildError> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut chunk = vec![0u8; 64 * 1024];
        let mut written = 0;
        loop {
            let fd_out = self.stdout.as_ref().map(AsRawFd::as_raw_fd);
            let fd_err = self.stderr.as_ref().map(AsRawFd::as_raw_fd);
            let fd_in = self.stdin.as_ref().map(|(p, _)| p.as_raw_fd());
            let watched = [
                (fd_out, libc::POLLIN),
                (fd_err, libc::POLLIN),
                (fd_in, libc::POLLOUT),
            ];
            let mut fds: Vec<libc::pollfd> = watched
                .into_iter()
                .filter_map(|(fd, events)| {
                    Some(libc::pollfd {
                        fd: fd?,
                        events,
                        revents: 0,
                    })
                })
                .collect();
            if fds.is_empty() {
                return Ok((out, err));
            }
            let left = deadline.left();
            if left.is_zero() {
                return Err(deadline.expired());
            }
            let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ChildError::LostOutput);
            }
            let ready = |fd: Option<RawFd>| {
                fd.is_some_and(|fd| fds.iter().any(|p| p.fd == fd && p.revents != 0))
            };
            if ready(fd_out) {
                drain(&mut self.stdout, &mut out, &mut chunk)?;
            }
            if ready(fd_err) {
                drain(&mut self.stderr, &mut err, &mut chunk)?;
            }
            if ready(fd_in) {
                feed(&mut self.stdin, &mut written);
            }
        }
    }

    /// Closed pipes come a moment before the exit status can be collected.
    fn wait(&mut self, deadline: Deadline) -> Result<ExitStatus, ChildError> {
        let mut pause = Duration::from_micros(100);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    self.reaped = true;
                    return Ok(s);
                }
                Ok(None) => {
                    let left = deadline.left();
                    if left.is_zero() {
                        return Err(deadline.expired());
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(ChildError::Wait(e)),
            }
        }
    }
}

/// Reads what `pipe` has into `buf`; at its end, or at [`OUTPUT_LIMIT`]
/// (the rest is cut: the child then writes into a closed pipe), closes it.
fn drain<R: Read>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> Result<(), ChildError> {
    let Some(p) = pipe else { return Ok(()) };
    loop {
        match p.read(chunk) {
            Ok(0) => break,
            Ok(n) => {
                let keep = n.min(OUTPUT_LIMIT - buf.len());
                buf.extend_from_slice(&chunk[..keep]);
                if buf.len() == OUTPUT_LIMIT {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(ChildError::LostOutput),
        }
    }
    *pipe = None;
    Ok(())
}

/// Writes what the pipe takes of the input; closes it when all is written,
/// or when the child closed its end (it exits before reading: its exit says
/// why).
fn feed(stdin: &mut Option<(ChildStdin, Vec<u8>)>, written: &mut usize) {
    let Some((pipe, input)) = stdin else { return };
    while *written < input.len() {
        match pipe.write(&input[*written..]) {
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    *stdin = None;
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn input_in_both_outputs_and_the_status_out() {
        let f = run(
            &mut sh("cat; echo err >&2; exit 3"),
            Some(b"the request"),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(f.status.code(), Some(3));
        assert_eq!(f.stdout, b"the request");
        assert_eq!(f.stderr, b"err\n");
        // No input: stdin is null, not the caller's terminal.
        let f = run(
            &mut sh("[ -t 0 ] && echo tty; cat"),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout, b"");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let e = run(
            &mut Command::new("/nonexistent/c9aws-test"),
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ChildError::Spawn(io) if io.kind() == io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("cannot start it: "), "{e}");
    }

    #[test]
    fn the_whole_group_is_killed_at_the_deadline() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("survived");
        // Not `exec sleep`: the sleep is a grandchild, killed with the group.
        let script = format!("sleep 1; touch '{}'", marker.display());
        let timeout = Duration::from_millis(200);
        let started = Instant::now();
        let e = run(&mut sh(&script), Some(b"unread"), timeout).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(e, ChildError::Timeout(t) if t == timeout), "{e:?}");
        assert_eq!(e.to_string(), "no answer within 200 ms");
        assert!(
            took >= timeout && took < timeout + Duration::from_millis(300),
            "{took:?}"
        );
        std::thread::sleep(Duration::from_millis(1200));
        assert!(!marker.exists());
    }

    #[test]
    fn a_child_that_closes_its_outputs_is_still_bounded() {
        let timeout = Duration::from_millis(200);
        let e = run(&mut sh("exec >&- 2>&-; sleep 5"), None, timeout).unwrap_err();
        assert!(matches!(e, ChildError::Timeout(_)), "{e:?}");
    }

    #[test]
    fn input_beyond_a_pipe_buffer_goes_in_whole() {
        let input: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let f = run(&mut sh("cat"), Some(&input), Duration::from_secs(10)).unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout, input);
        // A child that does not read it: the write ends with the child.
        let f = run(&mut sh("exit 0"), Some(&input), Duration::from_secs(10)).unwrap();
        assert!(f.status.success());
    }

    #[test]
    fn output_beyond_a_pipe_buffer_is_read_whole() {
        // Drained while the child writes: it never blocks on a full pipe.
        let f = run(
            &mut sh("head -c 1000000 /dev/zero"),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(f.stdout.len(), 1_000_000);
    }
}
