//! The one bounded child runner of the crate: a [`Command`] in, its exit
//! status and both outputs out, or a [`ChildError`] saying why not, by a
//! deadline whatever the child does.
//!
//! Owns how a child is run: stdin null or fed the caller's bytes (on a thread
//! of its own, then closed), stdout and stderr piped and drained on threads
//! (so a large answer cannot fill a pipe and stall the child; each is cut at
//! [`OUTPUT_LIMIT`]), its own process group (so that at the deadline the whole
//! tree, a wrapper script and its children, is killed, not just the direct
//! child), and a spawn retried while the executable is briefly busy
//! (ETXTBSY). It must not interpret what the child printed or how it exited:
//! that, and the words a user reads about it, are the caller's.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// More output than this on one pipe is cut.
pub const OUTPUT_LIMIT: u64 = 64 << 20;

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
    /// Its output was lost (a drain thread ended without handing it over).
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

/// A started child whose outputs are being drained. Dropped before
/// [`Running::finish`] returned, it is killed with its process group.
pub struct Running {
    child: Child,
    reaped: bool,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
}

fn drain(r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.take(OUTPUT_LIMIT).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
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
        let mut child = loop {
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
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ChildError::Spawn(io::Error::other("no pipes to the child")));
        };
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            let input = input.to_vec();
            // A child that exits before reading makes this write fail (EPIPE):
            // its exit tells why. A child that never reads blocks it until
            // the child is killed.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        Ok(Running {
            child,
            reaped: false,
            stdout: drain(out),
            stderr: drain(err),
        })
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

    /// Waits until `deadline` for both outputs to end and the child to exit;
    /// past it, kills the child's process group.
    pub fn finish(mut self, deadline: Deadline) -> Result<Finished, ChildError> {
        // The outputs first: they end when the child exits (unless it left a
        // process holding them, which the group kill then ends too).
        let take = |rx: &Receiver<Vec<u8>>| {
            rx.recv_timeout(deadline.left()).map_err(|e| match e {
                RecvTimeoutError::Timeout => ChildError::Timeout(deadline.timeout),
                RecvTimeoutError::Disconnected => ChildError::LostOutput,
            })
        };
        let outputs = take(&self.stdout).and_then(|o| Ok((o, take(&self.stderr)?)));
        let (stdout, stderr) = match outputs {
            Ok(o) => o,
            Err(e) => {
                self.kill();
                return Err(e);
            }
        };
        // Closed pipes come a moment before the exit status can be collected.
        let mut pause = Duration::from_micros(100);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    self.reaped = true;
                    break s;
                }
                Ok(None) => {
                    let left = deadline.left();
                    if left.is_zero() {
                        self.kill();
                        return Err(ChildError::Timeout(deadline.timeout));
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => {
                    self.kill();
                    return Err(ChildError::Wait(e));
                }
            }
        };
        Ok(Finished {
            status,
            stdout,
            stderr,
        })
    }
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
