//! The one stand-in for the AWS CLI, installed as every world's `bin/aws`.
//!
//! It records how it was started in `$FAKE_AWS_LOG.*` (the world sets
//! `FAKE_AWS_LOG`; [`World`]'s readers below), then does what its knobs say.
//! The knobs are environment variables, set for a whole world with
//! [`World::with_env`] or for one command with `Command::env`:
//!
//! | knob | effect |
//! |---|---|
//! | [`VERSION`] | the version `--version` reports (default `1.45.11`, a v1); `none`: prints nothing |
//! | [`OUT`] | printed on stdout, as is |
//! | [`EXIT`] | exit code (default 0) |
//! | [`SIGNAL`] | dies of this signal (`TERM`, `INT`, `KILL`) after its output |
//! | [`STDIN`] | non-empty: reads stdin to the end into `log.stdin` |
//! | [`ENV`] | non-empty: the `AWS_*` and `C9AWS_*` variables, sorted, into `log.env` |
//! | [`REFUSE`] | an error code: a call without a leading `--profile` is refused as AMTC's credentials are (`An error occurred (CODE) …` on stderr, exit 254, stdout untouched as the CLI leaves it); a call with one runs as the other knobs say |
//! | [`PROGRESS`] | with [`REFUSE`]: `progress on stdout` before the refusal (a first attempt that printed) |
//!
//! Records (`log.NAME` in the world's directory): `version` (a line per
//! `--version`), and for every other call `argv` (each argument's exact bytes,
//! NUL-terminated: arguments may hold newlines), `calls` (a line per call,
//! the arguments joined by spaces), `self` (the path it was started as),
//! `active` (`C9AWS_ACTIVE`, or `unset`), `fds` (fds 0-2: `o` open, `c`
//! closed), `sig` (its ignored and blocked signal masks), `tty` (`tty` when
//! stdin and stdout are terminals, else `notty`).

use crate::world::World;
use std::fs;
use std::path::PathBuf;

pub const SCRIPT: &str = r#"#!/bin/sh
# A stand-in for the AWS CLI (tests/it/fake_aws.rs): records how it was
# started, then behaves as its FAKE_AWS_* knobs say.
log="$FAKE_AWS_LOG"
if [ "$1" = "--version" ]; then
  echo x >> "$log.version"
  [ "$FAKE_AWS_VERSION" = none ] ||
    echo "aws-cli/${FAKE_AWS_VERSION:-1.45.11} Python/3.11.7 Linux/6 botocore/1.43.11"
  exit 0
fi
fds=""
for fd in 0 1 2; do if [ -e "/proc/$$/fd/$fd" ]; then fds="${fds}o"; else fds="${fds}c"; fi; done
printf '%s' "$fds" > "$log.fds"
: > "$log.argv"
for a in "$@"; do printf '%s\0' "$a" >> "$log.argv"; done
printf '%s' "${C9AWS_ACTIVE-unset}" > "$log.active"
# Read with builtins only: a forked helper would catch the shell mid-fork,
# when it briefly blocks signals.
while read -r k v; do
  case "$k" in SigIgn:|SigBlk:) echo "$k $v";; esac
done < "/proc/$$/status" > "$log.sig"
if [ -t 0 ] && [ -t 1 ]; then echo tty > "$log.tty"; else echo notty > "$log.tty"; fi
printf '%s\n' "$*" >> "$log.calls"
printf '%s' "$0" > "$log.self"
if [ -n "$FAKE_AWS_ENV" ]; then env | grep -E '^(AWS|C9AWS)_' | sort > "$log.env"; fi
if [ -n "$FAKE_AWS_STDIN" ]; then cat > "$log.stdin"; fi
refused=""
if [ -n "$FAKE_AWS_REFUSE" ] && [ "$1" != "--profile" ]; then
  refused=1
  if [ -n "$FAKE_AWS_PROGRESS" ]; then echo "progress on stdout"; fi
elif [ -n "$FAKE_AWS_OUT" ]; then
  printf '%s' "$FAKE_AWS_OUT"
fi
if [ -n "$FAKE_AWS_SIGNAL" ]; then kill -"$FAKE_AWS_SIGNAL" $$; sleep 5; fi
if [ -n "$refused" ]; then
  case "$FAKE_AWS_REFUSE" in
    InvalidClientTokenId) why="The security token included in the request is invalid";;
    *) why="You are not authorized to perform this operation.";;
  esac
  echo "An error occurred ($FAKE_AWS_REFUSE) when calling the DescribeVpcs operation: $why" >&2
  exit 254
fi
exit "${FAKE_AWS_EXIT:-0}"
"#;

/// Where it logs (the world sets it).
pub const LOG: &str = "FAKE_AWS_LOG";
pub const VERSION: &str = "FAKE_AWS_VERSION";
pub const OUT: &str = "FAKE_AWS_OUT";
pub const EXIT: &str = "FAKE_AWS_EXIT";
pub const SIGNAL: &str = "FAKE_AWS_SIGNAL";
pub const STDIN: &str = "FAKE_AWS_STDIN";
pub const ENV: &str = "FAKE_AWS_ENV";
pub const REFUSE: &str = "FAKE_AWS_REFUSE";
pub const PROGRESS: &str = "FAKE_AWS_PROGRESS";

/// What `sts get-caller-identity` answers for the fallback profile `fb`.
pub const CALLER_IDENTITY: &str =
    r#"{"UserId":"AIDA","Account":"123456789012","Arn":"arn:aws:iam::123456789012:user/fb"}"#;

/// What the fake recorded in this world.
impl World {
    /// `log.NAME`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.root().join(format!("log.{name}"))
    }
    /// The text of `log.NAME` ("" if it was never written).
    pub fn logged(&self, name: &str) -> String {
        fs::read_to_string(self.log(name)).unwrap_or_default()
    }
    /// The arguments of the last call, byte for byte.
    pub fn argv(&self) -> Vec<Vec<u8>> {
        let raw = fs::read(self.log("argv")).unwrap();
        raw.split(|b| *b == 0)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default()
    }
    /// [`World::argv`] as text.
    pub fn argv_strings(&self) -> Vec<String> {
        self.argv()
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }
    /// Every call but `--version`, one line each.
    pub fn calls(&self) -> Vec<String> {
        self.logged("calls").lines().map(str::to_string).collect()
    }
}
