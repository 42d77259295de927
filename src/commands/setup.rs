//! `c9aws setup`: creates the fallback profile c9aws switches to, and records
//! it in c9aws's config. Interactive on a terminal, or fully by flags.
//!
//! `~/.aws/config` (or `AWS_CONFIG_FILE`) is edited textually: only c9aws's
//! own section changes (src/core/config_edit.rs), a backup is kept, the write
//! is atomic and keeps the file's mode. `~/.aws/credentials` belongs to Cloud9
//! and is never written: access keys go into the profile's config section.

use crate::adapters::private_file::{write_atomic, write_atomic_mode};
use crate::adapters::{aws_cli, aws_files, environment, path_shim, settings};
use crate::core::config_edit;
use crate::core::profile::{self, ProfileOrigin};
use crate::core::shlex;
use crate::core::EnvMap;
use crate::error::Error;
use crate::session::Session;
use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("kind").args(["use_profile", "instance_role", "sso", "access_keys"])))]
pub struct Args {
    /// Use this existing profile as the fallback (only c9aws's config changes).
    #[arg(long, value_name = "PROFILE")]
    pub use_profile: Option<String>,
    /// A profile that takes this instance's IAM role through
    /// `credential_process = c9aws credential-process`.
    #[arg(long)]
    pub instance_role: bool,
    /// An IAM Identity Center (SSO) profile: runs `aws configure sso`.
    #[arg(long)]
    pub sso: bool,
    /// A profile with IAM user access keys (long-lived), read from the terminal
    /// without echo, or from stdin (two lines: key id, secret) — never from argv.
    #[arg(long)]
    pub access_keys: bool,
    /// The name of the profile to create.
    #[arg(long, value_name = "NAME", default_value = "c9-fallback")]
    pub profile_name: String,
    /// Write this region into the profile (c9aws keeps each call's own region anyway).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Replace a section of that name that c9aws did not write.
    #[arg(long)]
    pub force: bool,
    /// Put c9aws in front of `aws` for every program, not only this shell:
    /// `~/.local/share/c9aws/bin/aws` → c9aws, which `c9aws init` puts first
    /// on PATH (kubectl's exec plugin, make, eksctl, IDE tasks). Nothing else
    /// is set up.
    #[arg(long, conflicts_with_all = ["kind", "remove_path_shim"])]
    pub path_shim: bool,
    /// Remove what --path-shim made (the symlink and its directories), nothing else.
    #[arg(long, conflicts_with = "kind")]
    pub remove_path_shim: bool,
}

enum Kind {
    Existing(String),
    InstanceRole,
    Sso,
    AccessKeys,
}

fn tty(fd: i32) -> bool {
    // SAFETY: isatty only reads the descriptor's state.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn run(s: &Session, args: Args) -> Result<i32, Error> {
    if args.path_shim || args.remove_path_shim {
        return path_shim(&s.env, args.path_shim);
    }
    setup(s, &args)?;
    warm_after_setup(s);
    Ok(0)
}

/// With the fallback recorded, the facts the usual calls need (the route
/// table read with the new fallback among them) are probed now, so the first
/// call after setup is warm. On Cloud9 only; never fails setup.
fn warm_after_setup(s: &Session) {
    if crate::commands::warm::disabled(s) {
        return;
    }
    // A new session: the settings as setup has just written them.
    let fresh = Session::new(s.env.clone(), s.engine);
    if crate::commands::warm::needs(&fresh).is_none() {
        return;
    }
    eprintln!("Warming c9aws's facts cache for the usual calls …");
    match crate::commands::warm::warm_now(&fresh) {
        Some(f) if !f.is_empty() => {
            eprintln!("Warning: some facts could not be learnt (calls probe them again):");
            for l in f {
                eprintln!("  {l}");
            }
        }
        _ => eprintln!("Facts cache warm."),
    }
}

/// `--path-shim` (install) or `--remove-path-shim`.
fn path_shim(env: &EnvMap, install: bool) -> Result<i32, Error> {
    let dir = path_shim::dir(env).ok_or_else(|| {
        Error::Refused(
            "neither HOME nor XDG_DATA_HOME is set: no place for the PATH directory".into(),
        )
    })?;
    let mut out = std::io::stdout().lock();
    let text = if install {
        let me = std::env::current_exe()
            .map_err(|e| Error::io("cannot tell where this c9aws binary is", e))?;
        let link = path_shim::install(&dir, &me)
            .map_err(|e| Error::io(format!("cannot make {}", dir.display()), e))?;
        format!(
            "c9aws: {} -> {}\n\
             Programs whose PATH starts with {d} now run `aws` through c9aws (kubectl's exec \
             plugin, make, eksctl, IDE tasks). `c9aws init` puts it first on PATH: open a new \
             shell (with `eval \"$(c9aws init bash)\"` in ~/.bashrc), or for cron set \
             PATH={d}:/usr/local/bin:/usr/bin:/bin in the crontab.\n\
             Undo: c9aws setup --remove-path-shim\n",
            link.display(),
            me.display(),
            d = dir.display()
        )
    } else {
        let gone = path_shim::remove(&dir)
            .map_err(|e| Error::io(format!("cannot remove {}", dir.display()), e))?;
        if gone.is_empty() {
            format!(
                "c9aws: nothing to remove ({} is not there)\n",
                dir.display()
            )
        } else {
            let list: Vec<String> = gone.iter().map(|p| p.display().to_string()).collect();
            format!(
                "c9aws: removed {}\n\
                 Shells started before keep {} on PATH (now empty: harmless).\n",
                list.join(", "),
                dir.display()
            )
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|_| Error::Stdout)?;
    Ok(0)
}

fn setup(s: &Session, args: &Args) -> Result<(), Error> {
    let env = &s.env;
    let interactive = tty(0);
    let kind = if let Some(p) = &args.use_profile {
        Kind::Existing(p.clone())
    } else if args.instance_role {
        Kind::InstanceRole
    } else if args.sso {
        Kind::Sso
    } else if args.access_keys {
        Kind::AccessKeys
    } else if interactive {
        ask_kind(env)?
    } else {
        return Err(Error::Refused(
            "choose a fallback: --instance-role, --use-profile NAME, --sso or --access-keys \
                    (stdin is not a terminal, so there is nobody to ask)"
                .into(),
        ));
    };
    let name = match &kind {
        Kind::Existing(p) => p.clone(),
        _ => args.profile_name.clone(),
    };
    if name == "default" {
        return Err(Error::Refused(
            "the fallback cannot be `default`: on Cloud9 that profile is the managed credentials"
                .into(),
        ));
    }
    let existing_name = matches!(kind, Kind::Existing(_));
    if let Some(why) = unusable_name(&name, existing_name) {
        return Err(Error::Refused(format!(
            "{name:?} is not a usable profile name: {why}"
        )));
    }
    if let Some(r) = &args.region {
        if r.is_empty()
            || !r
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Error::Refused(format!(
                "{r:?} is not a region name (like eu-west-1)"
            )));
        }
    }
    if args.region.is_some() && matches!(kind, Kind::Existing(_) | Kind::Sso) {
        return Err(Error::Refused(
            "--region is written only with --instance-role or --access-keys (an existing profile \
             is not edited; `aws configure sso` asks for its own region)"
                .into(),
        ));
    }
    let files = aws_files::shared_files(env);
    match kind {
        Kind::Existing(p) => {
            let prof = profile::resolve(&files, p.clone(), ProfileOrigin::Flag);
            if !prof.exists {
                return Err(Error::Refused(format!(
                    "profile {p:?} is in neither {} nor {}",
                    files.config.path, files.credentials.path
                )));
            }
            if prof.config.is_empty() && files.credentials.cloud9_header {
                eprintln!(
                    "Warning: profile {p} is only in {}, which Cloud9 rewrites (it may drop the \
                     profile); a profile in {} is safe.",
                    files.credentials.path, files.config.path
                );
            }
        }
        Kind::InstanceRole => {
            let exe = std::env::current_exe()
                .map_err(|e| Error::io("cannot tell where this c9aws binary is", e))?;
            let exe = exe
                .to_str()
                .ok_or_else(|| Error::Refused("the path of this c9aws binary is not UTF-8".into()))?
                .to_string();
            let mut body = vec![format!(
                "credential_process = {} credential-process",
                shlex::quote(&exe)
            )];
            body.extend(args.region.iter().map(|r| format!("region = {r}")));
            write_profile(env, &files.config.path, &name, &body, args.force, false)?;
            // Only whether IMDS hands out role credentials; they are never shown.
            match (s.engine.credentials)(env, None) {
                Ok(_) => eprintln!("IMDS hands out this instance's role credentials."),
                Err(e) => eprintln!("Warning: {e}"),
            }
            eprintln!(
                "The instance role needs, for c9aws's route checks: ec2:DescribeRouteTables, \
                 ec2:DescribeVpcEndpoints; and whatever your own refused \
                 calls need (e.g. iam:*, sts:*, or the services behind your VPC endpoints). \
                 Cloud9's default role (AWSCloud9SSMAccessRole) has none of these: attach a policy \
                 to the instance profile's role. `c9aws doctor` checks that the profile signs."
            );
        }
        Kind::Sso => {
            if !interactive {
                return Err(Error::Refused("--sso needs a terminal: `aws configure sso` asks questions and opens a browser sign-in".into()));
            }
            sso_name_free(&files.config.path, &name, args.force)?;
            let aws = aws_cli::locate(env, None)?;
            eprintln!("Running `aws configure sso --profile {name}` …");
            let st = std::process::Command::new(&aws)
                .args(["configure", "sso", "--profile", &name])
                .env(aws_cli::ACTIVE_VAR, "1")
                .status()
                .map_err(|e| Error::io(format!("cannot run {}", aws.display()), e))?;
            if !st.success() {
                return Err(Error::Refused(format!(
                    "`aws configure sso` did not finish (exit {}); nothing recorded",
                    st.code().unwrap_or(-1)
                )));
            }
        }
        Kind::AccessKeys => {
            eprintln!(
                "Warning: IAM user access keys are long-lived; prefer the instance role or SSO. \
                 They go into {} (mode 0600), never into ~/.aws/credentials, which Cloud9 rewrites.",
                files.config.path
            );
            let id = read_secret("AWS Access Key ID (not echoed): ")?;
            let secret = read_secret("AWS Secret Access Key (not echoed): ")?;
            if !id.chars().all(|c| c.is_ascii_alphanumeric()) || id.len() < 16 {
                return Err(Error::Refused(
                    "that does not look like an access key id (AKIA…)".into(),
                ));
            }
            if secret.is_empty() || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::Refused(
                    "no usable secret access key given (empty, or with spaces)".into(),
                ));
            }
            let mut body = vec![
                format!("aws_access_key_id = {id}"),
                format!("aws_secret_access_key = {secret}"),
            ];
            body.extend(args.region.iter().map(|r| format!("region = {r}")));
            write_profile(env, &files.config.path, &name, &body, args.force, true)?;
        }
    }
    write_c9aws_config(env, &name)
}

fn ask_kind(env: &EnvMap) -> Result<Kind, Error> {
    eprint!(
        "Which fallback should c9aws use when Cloud9's managed credentials would be refused?\n\
         \x20 1) this instance's IAM role (credential_process = c9aws credential-process)\n\
         \x20 2) an existing profile\n\
         \x20 3) an IAM Identity Center (SSO) profile (runs `aws configure sso`)\n\
         \x20 4) IAM user access keys (long-lived)\n\
         Choice [1]: "
    );
    match read_line()?.trim() {
        "" | "1" => Ok(Kind::InstanceRole),
        "2" => {
            let files = aws_files::shared_files(env);
            let mut names: Vec<String> = Vec::new();
            for (f, prefix) in [(&files.config, "profile "), (&files.credentials, "")] {
                for s in f.ini().map(|i| i.sections.as_slice()).unwrap_or_default() {
                    let n = s
                        .name
                        .strip_prefix(prefix)
                        .unwrap_or(&s.name)
                        .trim()
                        .to_string();
                    if n != "default"
                        && (prefix.is_empty() || s.name.starts_with(prefix))
                        && !names.contains(&n)
                    {
                        names.push(n);
                    }
                }
            }
            if !names.is_empty() {
                eprintln!("Profiles: {}", names.join(", "));
            }
            eprint!("Profile name: ");
            Ok(Kind::Existing(read_line()?.trim().to_string()))
        }
        "3" => Ok(Kind::Sso),
        "4" => Ok(Kind::AccessKeys),
        other => Err(Error::Refused(format!("{other:?} is not one of 1–4"))),
    }
}

fn read_line() -> Result<String, Error> {
    let mut s = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut s)
        .map_err(|e| Error::io("cannot read the answer", e))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Why `name` cannot be c9aws's fallback, if it cannot. A profile c9aws
/// creates gets a plain name (it goes into a `[profile NAME]` header); an
/// existing one only has to survive c9aws's own config file (rust-ini).
fn unusable_name(name: &str, existing: bool) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if existing {
        (name.trim() != name
            || name
                .chars()
                .any(|c| c.is_control() || "#;\"'\\".contains(c)))
        .then_some("c9aws's config cannot hold it (spaces at the ends, control characters, # ; quotes or \\)")
    } else {
        (!name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c)))
        .then_some("use letters, digits and - _ . @ +")
    }
}

/// `aws configure sso` edits the config file itself: it must not take over a
/// profile of the user's (or c9aws's) by accident.
fn sso_name_free(path: &str, name: &str, force: bool) -> Result<(), Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("cannot read {path}"), e)),
    };
    match config_edit::existing(&text, name) {
        Ok(config_edit::Existing::Absent) => Ok(()),
        Ok(_) if force => Ok(()),
        Ok(config_edit::Existing::Ours) => Err(Error::Refused(format!(
            "{path}: profile {name} exists (written by c9aws setup); `aws configure sso` would mix \
             its settings in: choose another --profile-name, or --force"
        ))),
        Ok(config_edit::Existing::Foreign { line }) => Err(Error::Refused(format!(
            "{path}: line {line} already defines profile {name}; choose another --profile-name, \
             or --force to let `aws configure sso` update it"
        ))),
        Err(e) => Err(Error::Refused(format!("{path}: {e}"))),
    }
}

/// The terminal's attributes from before echo was turned off, for the SIGINT handler.
static SAVED_TERMIOS: std::sync::OnceLock<libc::termios> = std::sync::OnceLock::new();

extern "C" fn restore_and_exit(_: libc::c_int) {
    // Why: Ctrl-C at a hidden prompt must not leave the terminal without echo.
    // tcsetattr and _exit are async-signal-safe; the OnceLock is set before
    // the handler is installed.
    if let Some(t) = SAVED_TERMIOS.get() {
        // SAFETY: restores attributes read by tcgetattr on fd 0.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
    }
    // SAFETY: _exit ends the process without running anything else.
    unsafe { libc::_exit(130) };
}

/// One line from the terminal without echo, or from stdin when it is not a
/// terminal. Never from argv, never shown.
fn read_secret(prompt: &str) -> Result<String, Error> {
    if !tty(0) {
        return read_line().map(|s| s.trim().to_string());
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    // SAFETY: termios calls on fd 0 with a zeroed struct filled by tcgetattr;
    // the handler only restores what was read here.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) == 0 {
            let old = *SAVED_TERMIOS.get_or_init(|| t);
            let handler = restore_and_exit as extern "C" fn(libc::c_int);
            let prev = libc::signal(libc::SIGINT, handler as libc::sighandler_t);
            t.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Some((old, prev))
        } else {
            None
        }
    };
    let line = read_line();
    if let Some((old, prev)) = saved {
        // SAFETY: restores the attributes and the SIGINT disposition from above.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &old);
            libc::signal(libc::SIGINT, prev);
        }
        eprintln!();
    }
    line.map(|s| s.trim().to_string())
}

/// Sets c9aws's section in the AWS config file, with a backup of the file as
/// it was; says what happened. `secret`: the section holds keys, so the file
/// is made 0600 whatever its mode was.
fn write_profile(
    env: &EnvMap,
    path: &str,
    name: &str,
    body: &[String],
    force: bool,
    secret: bool,
) -> Result<(), Error> {
    let path = follow_symlink(PathBuf::from(path))?;
    let old = match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let old_text = match &old {
        Some(b) => String::from_utf8(b.clone()).map_err(|_| {
            Error::Refused(format!(
                "{} is not UTF-8 text; not editing it",
                path.display()
            ))
        })?,
        None => String::new(),
    };
    let new_text = config_edit::set_profile(&old_text, name, body, force).map_err(|e| {
        let hint = match e {
            config_edit::EditError::Foreign { .. } => {
                "; choose another --profile-name, or --force to replace it"
            }
            _ => "",
        };
        Error::Refused(format!("{}: {e}{hint}", path.display()))
    })?;
    let mode = match std::fs::metadata(&path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => 0o600,
    };
    let new_mode = if secret { mode & 0o7700 } else { mode };
    if old.is_some() && new_text == old_text && new_mode == mode {
        eprintln!(
            "{}: profile {name} is already set up; nothing changed",
            path.display()
        );
        return Ok(());
    }
    if let Some(b) = &old {
        let backup = backup_path(&path);
        write_atomic(&backup, b)
            .map_err(|e| Error::io(format!("cannot write the backup {}", backup.display()), e))?;
        eprintln!(
            "{}: backup of the previous file at {}",
            path.display(),
            backup.display()
        );
    }
    environment::debug(env, || {
        format!("setup: writing profile {name} into {}", path.display())
    });
    write_atomic_mode(&path, new_text.as_bytes(), new_mode)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    if new_mode != mode {
        eprintln!(
            "{}: mode {mode:o} → {new_mode:o}, as it now holds access keys",
            path.display()
        );
    }
    eprintln!("{}: profile {name} written", path.display());
    Ok(())
}

/// Why: a file that is a symlink (dotfiles) is edited where it points;
/// renaming over the link would replace it with a plain file.
fn follow_symlink(path: PathBuf) -> Result<PathBuf, Error> {
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::canonicalize(&path)
            .map_err(|e| Error::io(format!("cannot follow the symlink {}", path.display()), e))
    } else {
        Ok(path)
    }
}

fn backup_path(path: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let mut p = path.with_file_name(format!("{name}.c9aws-backup-{secs}"));
    let mut n = 1;
    while p.exists() {
        p = path.with_file_name(format!("{name}.c9aws-backup-{secs}-{n}"));
        n += 1;
    }
    p
}

fn write_c9aws_config(env: &EnvMap, name: &str) -> Result<(), Error> {
    let path = settings::config_path(env)
        .ok_or_else(|| Error::Refused("no place for c9aws's config (HOME unset)".into()))?;
    let path = follow_symlink(path)?;
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let new = config_edit::set_top_key(&old, "fallback_profile", name);
    if new != old {
        write_atomic(&path, new.as_bytes())
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        eprintln!("{}: fallback_profile = {name}", path.display());
    } else {
        eprintln!("{}: fallback_profile is already {name}", path.display());
    }
    if let Some(v) = env
        .get("C9AWS_FALLBACK_PROFILE")
        .filter(|v| v.as_str() != name)
    {
        eprintln!(
            "Note: C9AWS_FALLBACK_PROFILE={v} is set in this shell and wins over the config file."
        );
    }
    eprintln!("Done. `c9aws doctor` checks that the fallback signs calls.");
    Ok(())
}
