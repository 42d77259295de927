//! The one hermetic world every integration test runs in (in the manner of
//! fd's `TestEnv` and just's `Test`): a temporary directory holding
//!
//! - `home/`: `HOME`, with the XDG base directories pointed below it (created
//!   by whatever writes there, as on a fresh account);
//! - `bin/aws`: the one fake CLI ([`crate::fake_aws`]), logging to `log.*`;
//! - `work/`: the current directory of every command (empty);
//!
//! and ONE function, [`World::command`], that starts a program in it with
//! `env_clear()` and exactly the variables the world sets: `HOME`, the XDG
//! directories, `PATH` (the world's `bin/`, any directories a test adds, then
//! [`SYSTEM_PATH`]), the fake CLI's log, IMDS (disabled unless a fake or an
//! address is given) and checkip (a closed loopback port unless a fake is
//! given), then whatever the test added with [`World::with_env`]. Nothing
//! leaves the machine.

use crate::fake_imds::Server;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

/// The system directories on PATH, after the world's own: `sh`, `env`,
/// `sort`, `strace`, `script`, `timeout`, the shells. The tests count on
/// finding no `aws` there (a machine with `/usr/bin/aws` fails the
/// "only c9aws on PATH" test).
pub const SYSTEM_PATH: &str = "/usr/bin:/bin";

/// A loopback port nothing listens on (discard): connections are refused.
pub const CLOSED_PORT: &str = "http://127.0.0.1:9/";

/// Cloud9's credentials file as Cloud9 writes it (AMTC in play), with the
/// given keys, which are test values that must never be printed.
fn cloud9_credentials(key_id: &str, secret: &str, token: &str) -> String {
    format!(
        "# Do not modify this file, if this file is modified it will not be updated. If the file is deleted, it will be recreated on Sat Nov 28 2026 16:00:00 GMT+0000 (Coordinated Universal Time).\n\
         # 6d0d5f2b1c7e4a4f9b8e3d2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f #\n\n\
         [default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\naws_session_token = {token}\nregion = ap-northeast-1\n"
    )
}

/// An instance role's credentials as IMDS hands them out.
pub fn role_json(key_id: &str, secret: &str, token: &str, expiration: &str) -> String {
    format!(
        r#"{{"Code":"Success","LastUpdated":"2026-11-28T19:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{key_id}","SecretAccessKey":"{secret}","Token":"{token}","Expiration":"{expiration}"}}"#
    )
}

/// Where c9aws learns the instance's facts.
enum Imds {
    /// `AWS_EC2_METADATA_DISABLED=true`: nothing is asked.
    Disabled,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` at an address (closed, say).
    At(String),
    /// A fake IMDS on loopback, stopped with the world.
    Fake(Server),
}

pub struct World {
    dir: tempfile::TempDir,
    path: Vec<PathBuf>,
    imds: Imds,
    checkip: Option<Server>,
    env: Vec<(OsString, OsString)>,
}

impl World {
    /// An empty HOME, the fake CLI as `bin/aws`, IMDS disabled, checkip closed.
    pub fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
            path: Vec::new(),
            imds: Imds::Disabled,
            checkip: None,
            env: Vec::new(),
        };
        for d in ["home", "bin", "work"] {
            fs::create_dir_all(w.root().join(d)).unwrap();
        }
        write_exe(&w.bin().join("aws"), crate::fake_aws::SCRIPT);
        w
    }

    // --- the builder: what every command of this world gets ---

    /// A variable set for every command (after the world's own, so it can
    /// replace them).
    pub fn with_env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> World {
        self.env.push((k.as_ref().into(), v.as_ref().into()));
        self
    }
    /// A directory on PATH after `bin/`, before the system's.
    pub fn with_path_dir(mut self, dir: impl Into<PathBuf>) -> World {
        self.path.push(dir.into());
        self
    }
    /// IMDS is this fake (kept running as long as the world).
    pub fn with_imds(mut self, srv: Server) -> World {
        self.imds = Imds::Fake(srv);
        self
    }
    /// IMDS is asked at this address (a closed port, say).
    pub fn with_imds_at(mut self, url: &str) -> World {
        self.imds = Imds::At(url.to_string());
        self
    }
    /// checkip is this fake.
    pub fn with_checkip(mut self, srv: Server) -> World {
        self.checkip = Some(srv);
        self
    }

    // --- places ---

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }
    /// The fake IMDS given to [`World::with_imds`].
    pub fn imds(&self) -> &Server {
        match &self.imds {
            Imds::Fake(s) => s,
            _ => panic!("this world has no fake IMDS"),
        }
    }

    // --- files (at any time: tests change them between calls) ---

    /// Writes `text` to `rel` under HOME (parents created), mode 0644.
    pub fn home_file(&self, rel: &str, text: impl AsRef<[u8]>) -> &World {
        let p = self.home().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        self
    }
    /// `~/.aws/credentials`.
    pub fn credentials(&self, text: impl AsRef<[u8]>) -> &World {
        self.home_file(".aws/credentials", text)
    }
    /// Cloud9 with its managed credentials (AMTC): the credentials file as
    /// Cloud9 writes it, with these keys, and `~/.c9`.
    pub fn cloud9_with(&self, key_id: &str, secret: &str, token: &str) -> &World {
        fs::create_dir_all(self.home().join(".c9")).unwrap();
        self.credentials(cloud9_credentials(key_id, secret, token))
    }
    /// [`World::cloud9_with`] the usual test keys (`c9awsTEST…`).
    pub fn cloud9(&self) -> &World {
        self.cloud9_with(
            "ASIAC9AWSTESTKEYID00",
            "c9awsTESTsecretKEYdoNOTprint0000000000000",
            "c9awsTESTsessionTOKENdoNOTprint",
        )
    }
    /// `~/.aws/config`.
    pub fn aws_config(&self, text: impl AsRef<[u8]>) -> &World {
        self.home_file(".aws/config", text)
    }
    /// c9aws's own config (`$XDG_CONFIG_HOME/c9aws/config`).
    pub fn c9aws_config(&self, text: &str) -> &World {
        self.home_file(".config/c9aws/config", text)
    }

    // --- commands ---

    /// PATH made of `dirs`, then the system's.
    pub fn path_of(&self, dirs: &[&Path]) -> String {
        let mut parts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        parts.push(SYSTEM_PATH.to_string());
        parts.join(":")
    }

    /// `program` in this world: a clean environment with exactly the world's
    /// variables, `work/` as the current directory, stdin from /dev/null.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let home = self.home();
        let bin = self.bin();
        let mut dirs: Vec<&Path> = vec![&bin];
        dirs.extend(self.path.iter().map(PathBuf::as_path));
        let mut c = Command::new(program);
        c.env_clear()
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("PATH", self.path_of(&dirs))
            .env(crate::fake_aws::LOG, self.root().join("log"))
            .env(
                "C9AWS_CHECKIP_URL",
                self.checkip
                    .as_ref()
                    .map_or(CLOSED_PORT.into(), Server::url),
            );
        match &self.imds {
            Imds::Disabled => c.env("AWS_EC2_METADATA_DISABLED", "true"),
            Imds::At(url) => c.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url),
            Imds::Fake(s) => c.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url()),
        };
        // No background warm-up from `init` or `setup` (tests/it/warm.rs
        // removes it): every world stays deterministic.
        c.env("C9AWS_NO_WARM", "1");
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.root().join("work"))
            .stdin(Stdio::null());
        c
    }

    /// `c9aws ARGS` in this world.
    pub fn c9aws<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command(C9AWS);
        c.args(args);
        c
    }

    /// `c9aws ARGS` run to its end.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.c9aws(args).output().unwrap()
    }

    /// `c9aws doctor --json` with these variables added: exit code and report.
    pub fn doctor(&self, env: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
        let o = self
            .c9aws(["doctor", "--json"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (o.status.code(), stdout_json(&o))
    }
}

/// Fails the test unless `tool` is in [`SYSTEM_PATH`], where the world's
/// commands find it (a missing prerequisite fails loudly instead of skipping).
pub fn need(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .env_clear()
        .env("PATH", SYSTEM_PATH)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{tool} is not installed in {SYSTEM_PATH} (.ci/run installs it)"
    );
}

/// A Cloud9 environment in a public subnet (IMDS and checkip agree on
/// 203.0.113.11) whose fallback `c9-fallback` signs with `fallback_key`;
/// `AWS_ENDPOINT_URL` points at a closed port so nothing leaves the machine.
pub fn public_cloud9(fallback_key: &str) -> World {
    use crate::fake_imds::{cloud9_values, imds, serve};
    let w = World::new()
        .with_imds(imds(&cloud9_values(Some("203.0.113.11"))))
        .with_checkip(serve(std::sync::Arc::new(
            |_: &str, _: &str, _: &std::collections::BTreeMap<String, String>| {
                Some((200, "203.0.113.11\n".into()))
            },
        )))
        .with_env("C9AWS_FALLBACK_PROFILE", "c9-fallback")
        .with_env("AWS_ENDPOINT_URL", "https://127.0.0.1:9");
    w.cloud9().aws_config(format!(
        "[profile c9-fallback]\naws_access_key_id = {fallback_key}\naws_secret_access_key = x\nregion = ap-northeast-1\n"
    ));
    w
}

/// Puts the built `c9aws` at `dst`: a hard link where the file system allows
/// (no file is open for writing, so a concurrent test's fork cannot make the
/// exec fail with "Text file busy"), else a copy.
pub fn place_c9aws(dst: &Path) {
    if fs::hard_link(C9AWS, dst).is_err() {
        fs::copy(C9AWS, dst).unwrap();
    }
}

/// Writes `text` to `p`, mode 0755.
pub fn write_exe(p: &Path, text: &str) {
    fs::write(p, text).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails the calling test unless stderr contains `want`; shows stderr.
#[track_caller]
pub fn assert_stderr_has(o: &Output, want: &str) {
    let e = stderr(o);
    assert!(e.contains(want), "no {want:?} on stderr: {e}");
}

/// stdout as JSON; a failure shows what was printed instead.
pub fn stdout_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// The check called `name` in the output of `c9aws doctor --json`.
pub fn doctor_check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .expect("doctor --json has a checks array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {v}"))
}

/// Runs `c` to its end, feeding it `stdin` and reading its output as it
/// comes; a child still running after `limit` is killed and fails the test
/// (a hung command must fail, not hang the suite).
pub fn output_within(c: &mut Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s).unwrap();
    }
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            // Not `{c:?}`: that would show the environment, secrets included.
            let args: Vec<_> = c.get_args().collect();
            panic!(
                "{:?} {args:?} still running after {limit:?}; stderr: {err}",
                c.get_program()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
