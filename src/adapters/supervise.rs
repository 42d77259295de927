//! The safety net: run the CLI as a child (instead of exec) when the route was
//! `unknown` and AMTC was kept, so that an AMTC refusal can be seen, remembered
//! and, when the call can safely run twice, retried once with the fallback.
//!
//! Why this is careful: the child must behave as if started directly. stdin is
//! the child's own (inherited, live); stderr passes through c9aws, held back
//! until the child ends, so the refused attempt's error can be dropped when
//! the retry runs. stdout is inherited too, except when a retry is possible and
//! stdout is not a terminal: then c9aws relays it byte for byte as it comes,
//! and a refusal counts as retryable only if nothing reached stdout (a retry
//! must never print a second copy into a pipe or a file). Ctrl-C reaches the
//! child from the terminal (same process group); c9aws ignores SIGINT/SIGQUIT
//! meanwhile and forwards SIGTERM/SIGHUP. A child killed by a signal makes
//! c9aws die of the same signal.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::adapters::process;
use crate::core::process::ProcessPlan;

/// Signatures of an AMTC refusal in the CLI's error output.
pub const REFUSAL_SIGNATURES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidToken",
    "The security token included in the request is invalid",
    "ExpiredToken",
];

/// Stderr beyond this is streamed and the retry given up (bounded memory).
const HOLD_LIMIT: usize = 1 << 20;

/// Is stdin a character device (a terminal, /dev/null)? The first run cannot
/// have consumed anything a second run would miss.
pub fn stdin_replayable() -> bool {
    // SAFETY: fstat on fd 0 with a zeroed stat buffer owned here.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(0, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
    }
}

/// Whether fd 1 is a terminal.
pub fn stdout_is_terminal() -> bool {
    // SAFETY: isatty only reads the descriptor's state.
    unsafe { libc::isatty(1) == 1 }
}

pub enum Outcome {
    /// The child finished; pass on its status (code, or signal to die of).
    Done {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The child was refused for AMTC reasons and printed nothing on stdout;
    /// its stderr was not shown (it is here, for a caller that cannot retry).
    Refused { code: Option<i32>, stderr: Vec<u8> },
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Runs `plan` as a child and watches its stderr for an AMTC refusal. With
/// `relay_stdout`, its stdout comes through c9aws (see the module's doc).
pub fn run_watched(plan: &ProcessPlan, relay_stdout: bool) -> std::io::Result<Outcome> {
    let mut cmd = process::command(plan);
    cmd.stderr(Stdio::piped());
    if relay_stdout {
        cmd.stdout(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    // SAFETY: installing plain handlers / ignoring signals in this process only,
    // after the child was started with default dispositions.
    let saved = unsafe {
        [
            (libc::SIGINT, libc::signal(libc::SIGINT, libc::SIG_IGN)),
            (libc::SIGQUIT, libc::signal(libc::SIGQUIT, libc::SIG_IGN)),
            (
                libc::SIGTERM,
                libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t),
            ),
            (
                libc::SIGHUP,
                libc::signal(libc::SIGHUP, forward as *const () as libc::sighandler_t),
            ),
        ]
    };
    let mut pipes = Pipes {
        held: Vec::new(),
        streaming: false,
        printed: false,
    };
    pipes.serve(child.stderr.take(), child.stdout.take());
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    CHILD.store(0, Ordering::SeqCst);
    // SAFETY: restoring the dispositions saved above.
    unsafe {
        for (sig, old) in saved {
            libc::signal(sig, old);
        }
    }
    let Pipes {
        held,
        streaming,
        printed,
    } = pipes;
    let text = String::from_utf8_lossy(&held).into_owned();
    if !streaming && !printed && !status.success() && status.signal().is_none() && is_refusal(&text)
    {
        return Ok(Outcome::Refused {
            code: status.code(),
            stderr: held,
        });
    }
    let _ = std::io::stderr().write_all(&held);
    Ok(Outcome::Done {
        code: status.code(),
        signal: status.signal(),
    })
}

/// The child's stderr (held) and, when relayed, its stdout (copied through as
/// it comes), served by one poll(2) loop on this thread: no second thread, so
/// that the process c9aws may exec next (the retry) inherits the signal
/// dispositions of a direct start (a first thread makes a static glibc take
/// over an internal signal; adapters::child says more).
struct Pipes {
    held: Vec<u8>,
    /// stderr outgrew HOLD_LIMIT and is passed on as it comes.
    streaming: bool,
    /// Some byte reached c9aws's stdout.
    printed: bool,
}

impl Pipes {
    fn serve(
        &mut self,
        mut err: Option<std::process::ChildStderr>,
        mut out: Option<std::process::ChildStdout>,
    ) {
        let mut buf = [0u8; 65536];
        while err.is_some() || out.is_some() {
            let mut fds: Vec<libc::pollfd> = [
                err.as_ref().map(|e| e.as_raw_fd()),
                out.as_ref().map(|o| o.as_raw_fd()),
            ]
            .into_iter()
            .flatten()
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
            // SAFETY: `fds` is a live, correctly sized array of pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            for p in fds.iter().filter(|p| p.revents != 0) {
                if err.as_ref().is_some_and(|e| e.as_raw_fd() == p.fd) {
                    match read_some(err.as_mut(), &mut buf) {
                        Some(n) => self.take_stderr(&buf[..n]),
                        None => err = None,
                    }
                } else if out.as_ref().is_some_and(|o| o.as_raw_fd() == p.fd) {
                    match read_some(out.as_mut(), &mut buf) {
                        Some(n) => {
                            self.printed = true;
                            let mut stdout = std::io::stdout().lock();
                            if stdout
                                .write_all(&buf[..n])
                                .and_then(|()| stdout.flush())
                                .is_err()
                            {
                                // c9aws's stdout is gone: close the read end, so
                                // the child meets the EPIPE/SIGPIPE it would have.
                                out = None;
                            }
                        }
                        None => out = None,
                    }
                }
            }
        }
    }

    fn take_stderr(&mut self, bytes: &[u8]) {
        if self.streaming {
            let _ = std::io::stderr().write_all(bytes);
            return;
        }
        self.held.extend_from_slice(bytes);
        if self.held.len() > HOLD_LIMIT {
            let _ = std::io::stderr().write_all(&self.held);
            self.held.clear();
            self.streaming = true;
        }
    }
}

/// Some bytes from `r`, or `None` at its end (or on an error other than EINTR).
fn read_some(r: Option<&mut impl Read>, buf: &mut [u8]) -> Option<usize> {
    let r = r?;
    loop {
        match r.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

pub fn is_refusal(stderr: &str) -> bool {
    REFUSAL_SIGNATURES.iter().any(|s| stderr.contains(s))
}

/// An expired token, not a refused route: the keys were too old, which says
/// nothing about this service's route once Cloud9 writes fresh ones.
pub fn is_expiry(stderr: &str) -> bool {
    stderr.contains("ExpiredToken") || stderr.contains("The provided token has expired")
}

/// Ends this process the way the child ended.
pub fn finish(code: Option<i32>, signal: Option<i32>) -> i32 {
    if let Some(sig) = signal {
        // SAFETY: reset to the default action and raise: die of the same signal.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return 128 + sig;
    }
    code.unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_signatures() {
        let rows = [
            ("An error occurred (InvalidClientTokenId) when calling the AssumeRole operation: The security token included in the request is invalid", true),
            ("An error occurred (UnrecognizedClientException) when calling the ListTables operation", true),
            ("An error occurred (ExpiredToken) when calling the ListBuckets operation: The provided token has expired.", true),
            ("An error occurred (AccessDenied) when calling the ListBuckets operation", false),
            ("An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation", false),
        ];
        for (text, want) in rows {
            assert_eq!(is_refusal(text), want, "{text}");
            assert_eq!(is_expiry(text), text.contains("(ExpiredToken)"), "{text}");
        }
    }
}
