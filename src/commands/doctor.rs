//! `c9aws doctor [--json]`: checks everything c9aws depends on, fresh (no
//! cached network facts), and says for each failing check what to do.
//! Exit 0 when nothing fails (warnings allowed), 1 otherwise.

use crate::adapters::facts_cache::{FactsCache, RefreshStatus};
use crate::adapters::network::Freshness;
use crate::adapters::{aws_cli, environment, path_shim, route_tables, settings};
use crate::core::credentials::Source;
use crate::core::decide::Policy;
use crate::core::long_call::LongCalls;
use crate::core::plan::Plan;
use crate::core::profile::{self, ProfileOrigin};
use crate::core::route::{NetFacts, Verdict};
use crate::core::EnvMap;
use crate::error::Error;
use crate::session::{Gathered, Session};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object with every check instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<String>,
    /// What to do, when the check is not ok.
    pub fix: Option<String>,
}

fn check(name: &'static str, status: Status, summary: impl Into<String>) -> Check {
    Check {
        name,
        status,
        summary: summary.into(),
        evidence: Vec::new(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, f: impl Into<String>) -> Check {
        self.fix = Some(f.into());
        self
    }
    fn evidence(mut self, e: impl IntoIterator<Item = String>) -> Check {
        self.evidence.extend(e);
        self
    }
}

// Services whose endpoints a Cloud9 user typically calls, probed for
// interface and gateway endpoints (a command line for each): the calls whose
// facts the warm-up probes too.
use crate::commands::warm::CALLS as PROBED;

/// Bound on the fallback profile's signing check (the CLI's own start is slow).
const SIGN_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(s: &Session, args: Args) -> Result<i32, Error> {
    let checks = checks(s);
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let v = serde_json::json!({
            "c9aws_version": env!("CARGO_PKG_VERSION"),
            "healthy": !failed,
            "checks": checks,
        });
        writeln!(out, "{v}")
    } else {
        write!(out, "{}", human(&checks, failed))
    };
    written.map_err(|_| Error::Stdout)?;
    Ok(i32::from(failed))
}

fn human(checks: &[Check], failed: bool) -> String {
    let mut s = String::new();
    for c in checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Info => "info",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        s.push_str(&format!("{tag}  {:<13} {}\n", c.name, c.summary));
        for e in &c.evidence {
            s.push_str(&format!("                    - {e}\n"));
        }
    }
    let fixes: Vec<&Check> = checks.iter().filter(|c| c.fix.is_some()).collect();
    if !fixes.is_empty() {
        s.push_str("\nTo do:\n");
        for c in fixes {
            s.push_str(&format!(
                "  {}: {}\n",
                c.name,
                c.fix.as_deref().unwrap_or("")
            ));
        }
    }
    s.push_str(if failed {
        "\nc9aws doctor: something needs fixing (see above).\n"
    } else {
        "\nc9aws doctor: healthy.\n"
    });
    s
}

fn checks(session: &Session) -> Vec<Check> {
    let mut out = Vec::new();
    let env = &session.env;
    let s = session.settings();
    // Read before this run probes (a probe that learns everything forgets it).
    let last_refresh = FactsCache::path(env).and_then(|p| RefreshStatus::load(&p));
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "?".into());
    // Its helper, which the cold probes and credential-process need.
    let helper = crate::adapters::helper::path()
        .ok()
        .filter(|h| crate::adapters::aws_cli::is_executable(h));
    out.push(match (&helper, session.engine.in_process) {
        (Some(h), false) => check(
            "c9aws",
            Status::Ok,
            format!(
                "c9aws {} at {exe}, its helper at {}",
                env!("CARGO_PKG_VERSION"),
                h.display()
            ),
        ),
        (_, true) => check(
            "c9aws",
            Status::Ok,
            format!("c9aws {} at {exe}", env!("CARGO_PKG_VERSION")),
        ),
        (None, false) => check(
            "c9aws",
            Status::Fail,
            format!(
                "c9aws {} at {exe}, but its helper {} is missing or not executable: no network \
                 facts (every route unknown) and no credential-process",
                env!("CARGO_PKG_VERSION"),
                crate::adapters::helper::HELPER
            ),
        )
        .fix("put c9aws-probe in the same directory as c9aws (`cargo install --path .` installs both)"),
    });

    // How c9aws was linked (build.rs): static saves the dynamic loader's work
    // on every call; dynamic means the build lacked the static archives.
    let linked = env!("C9AWS_LINKED");
    out.push(if linked.starts_with("dynamically") {
        check(
            "link",
            Status::Info,
            format!("c9aws is linked {linked}: every call starts ~0.3 ms slower than with a static c9aws"),
        )
        .fix(
            "install the C library's static archives (Amazon Linux: `sudo yum install -y \
             glibc-static`; Debian/Ubuntu: libc6-dev) and reinstall: `cargo install --path . --force`",
        )
    } else {
        check("link", Status::Ok, format!("c9aws is linked {linked}"))
    });

    // The AWS CLI, and no recursion.
    let aws = match session.aws() {
        Ok(a) => Some(a),
        Err(e) => {
            out.push(
                check("aws-cli", Status::Fail, format!("c9aws: {e}"))
                    .fix("install the AWS CLI, or set aws_path in c9aws's config / C9AWS_AWS"),
            );
            None
        }
    };
    let g = session.gathered();
    if let Some(a) = &aws {
        match &g.version {
            Some(v) => out.push(check(
                "aws-cli",
                Status::Ok,
                format!(
                    "{} (aws-cli/{}, {:?} rules)",
                    a.display(),
                    v.version,
                    v.major
                ),
            )),
            None => out.push(
                check(
                    "aws-cli",
                    Status::Warn,
                    format!(
                        "{}: `aws --version` gave no version; v1 rules assumed",
                        a.display()
                    ),
                )
                .fix(format!("check that `{} --version` works", a.display())),
            ),
        }
    }
    if env.contains_key(aws_cli::ACTIVE_VAR) {
        out.push(
            check(
                "recursion",
                Status::Fail,
                "C9AWS_ACTIVE is set: this c9aws was started by the CLI c9aws ran, so it only passes through",
            )
            .fix("unset C9AWS_ACTIVE in your shell; never export it yourself"),
        );
    } else {
        out.push(check(
            "recursion",
            Status::Ok,
            "the aws c9aws runs is not c9aws itself (checked by inode), C9AWS_ACTIVE unset",
        ));
    }

    // Config health.
    out.push(config_check(env, s));
    out.push(path_check(env));

    // Cloud9 and its managed credentials.
    let args = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let planned = session.plan(&args(PROBED[0]), Freshness::Refresh);
    let (sts, net) = (planned.plan, planned.net);
    let amtc = sts.credentials.source == Source::Amtc;
    out.push(amtc_check(&sts, &g.files.credentials.age_secs, &s.policy));
    if !amtc {
        out.push(check(
            "network",
            Status::Info,
            "not probed: c9aws changes nothing unless Cloud9's managed credentials are in play",
        ));
    } else {
        let net = net.unwrap_or_default();
        out.extend(network_checks(env, &net, &sts));
        let mut plans = vec![sts];
        for p in &PROBED[1..] {
            plans.push(session.plan(&args(p), Freshness::Foreground).plan);
        }
        out.push(endpoint_check(&plans));
    }

    // The fallback profile.
    out.extend(fallback_checks(env, s, g, aws, amtc));
    // Leave the cache warm for the usual calls (what the probes above did
    // not cover, e.g. a fallback configured only now); nothing when warm.
    if amtc {
        crate::commands::warm::warm_now(session);
    }
    out.push(cache_check(env));
    if let Some(c) = refresh_check(last_refresh, s) {
        out.push(c);
    }
    out
}

/// The last detached refresh, when it failed: said here, never on a call.
fn refresh_check(last: Option<RefreshStatus>, s: &settings::Settings) -> Option<Check> {
    let last = last.filter(|l| !l.failed.is_empty())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ago = now.saturating_sub(last.at);
    Some(
        check(
            "refresh",
            Status::Warn,
            format!(
                "the last background refresh of the cached facts failed ({ago} s ago); calls use the old facts up to stale_limit ({}) times their TTL, then probe in the foreground",
                s.stale_limit
            ),
        )
        .evidence(last.failed)
        .fix("see the network checks above (this doctor run probed again in the foreground)"),
    )
}

/// Which `aws` a non-interactive `sh -c 'command -v aws'` finds: what
/// kubectl's exec plugin, make, eksctl and cron started from here run. A shell
/// function never reaches them; the PATH directory does.
fn path_check(env: &EnvMap) -> Check {
    let me = std::env::current_exe().ok();
    let ours = |p: &Path| {
        me.as_deref()
            .and_then(aws_cli::identity)
            .is_some_and(|id| aws_cli::identity(p) == Some(id))
    };
    let dir = path_shim::dir(env);
    let installed = match (&dir, &me) {
        (Some(d), Some(m)) => path_shim::state(d, m),
        _ => path_shim::State::Absent,
    };
    let dir_text = dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "~/.local/share/c9aws/bin".into());
    let mut evidence = vec![format!("{dir_text}/aws: {installed:?}")];
    let found = match path_shim::noninteractive_aws() {
        Ok(f) => f,
        Err(e) => {
            return check("path", Status::Info, format!("could not tell: {e}"));
        }
    };
    match found {
        Some(p) if ours(&p) => check(
            "path",
            Status::Ok,
            format!(
                "programs that run `aws` through PATH (kubectl, make, cron started from here) run c9aws: sh finds {}",
                p.display()
            ),
        )
        .evidence(evidence),
        other => {
            let what = other
                .as_ref()
                .map(|p| format!("sh finds {}", p.display()))
                .unwrap_or_else(|| "sh finds no aws".into());
            evidence.push(what.clone());
            let fix = match installed {
                path_shim::State::Ours => format!(
                    "{dir_text} is not first on PATH here: open a new shell with `eval \"$(c9aws init bash)\"` in ~/.bashrc (zsh, fish: the same with their init), or put {dir_text} first on PATH (crontab: PATH={dir_text}:/usr/bin:/bin)"
                ),
                path_shim::State::Foreign => format!(
                    "{dir_text}/aws is not c9aws's symlink: move it away, then `c9aws setup --path-shim`"
                ),
                _ => "`c9aws setup --path-shim`, then open a new shell (c9aws init puts its directory first on PATH)".to_string(),
            };
            check(
                "path",
                Status::Warn,
                format!(
                    "programs that run `aws` through PATH (kubectl's exec plugin, make, cron) bypass c9aws: {what}"
                ),
            )
            .evidence(evidence)
            .fix(fix)
        }
    }
}

fn config_check(env: &EnvMap, s: &settings::Settings) -> Check {
    let path = settings::config_path(env)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.config/c9aws/config".into());
    if s.problems.is_empty() {
        let exists = Path::new(&path).exists();
        check(
            "config",
            Status::Ok,
            if exists {
                format!("{path} reads cleanly")
            } else {
                format!("{path} does not exist (defaults apply)")
            },
        )
    } else {
        check("config", Status::Fail, format!("{path} has problems"))
            .evidence(s.problems.clone())
            .fix(format!("correct the lines named above in {path}"))
    }
}

fn amtc_check(sts: &Plan, age: &Option<u64>, policy: &Policy) -> Check {
    let c = &sts.credentials;
    let mut ev = c.evidence.clone();
    if c.source != Source::Amtc {
        let what = serde_json::to_value(c.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return check(
            "cloud9",
            Status::Info,
            format!(
                "Cloud9's managed credentials are not in play (credentials: {what} via {}); c9aws passes every call through",
                c.provider
            ),
        )
        .evidence(ev);
    }
    ev.push(match (policy.long_calls, policy.amtc_life) {
        (LongCalls::Refresh, 1..) => "long calls (s3 cp/mv/sync, waiters, cloudformation deploy, logs tail…) read AMTC through `c9aws __amtc-credentials`, which re-reads Cloud9's file as tokens rotate (long_calls = refresh)".to_string(),
        _ => "long calls read AMTC once, as the CLI does on its own, and stop with ExpiredToken when a token ends mid-call (long_calls = off or amtc_life = 0)".to_string(),
    });
    // Cloud9 rewrites the file about every 5 minutes while the IDE is open;
    // past amtc_life the plan already calls the keys expired.
    let expired = sts.routes.values().any(|r| r.verdict == Verdict::Expired);
    let stale = expired || age.is_some_and(|a| a > 15 * 60);
    let ch = check(
        "cloud9",
        if stale { Status::Warn } else { Status::Ok },
        "Cloud9's managed temporary credentials (AMTC) are in play",
    )
    .evidence(ev);
    if stale {
        ch.fix(if expired {
            "the credentials file is older than amtc_life: its keys have expired and every call runs with the fallback (verdict `expired`) until Cloud9 rewrites it; open the Cloud9 IDE tab (Cloud9 refreshes it only while connected)"
        } else {
            "the credentials file has not been refreshed for a while: open the Cloud9 IDE tab (Cloud9 refreshes it only while connected)"
        })
    } else {
        ch
    }
}

fn network_checks(env: &EnvMap, net: &NetFacts, sts: &Plan) -> Vec<Check> {
    let mut out = Vec::new();
    match &net.instance {
        None if crate::adapters::imds::disabled(env) => out.push(
            check("imds", Status::Fail, "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true)")
                .fix("unset AWS_EC2_METADATA_DISABLED: c9aws needs the instance's public IP and subnet"),
        ),
        None => out.push(
            check("imds", Status::Fail, "the instance metadata service did not answer")
                .fix("check AWS_EC2_METADATA_DISABLED and the instance's metadata options (IMDSv2, hop limit); `C9AWS_DEBUG=1 c9aws doctor` shows the error"),
        ),
        Some(i) => {
            let mut ev = Vec::new();
            ev.extend(i.instance_id.as_ref().map(|x| format!("instance {x}")));
            ev.extend(i.region.as_ref().map(|x| format!("region {x}")));
            ev.extend(i.subnet_id.as_ref().map(|x| format!("subnet {x}")));
            ev.extend(i.vpc_id.as_ref().map(|x| format!("VPC {x}")));
            ev.extend(i.local_ipv4.map(|x| format!("private IPv4 {x}")));
            ev.push(match i.public_ipv4 {
                Some(p) => format!("public IPv4 {p}"),
                None => "no public IPv4".into(),
            });
            out.push(check("imds", Status::Ok, "instance metadata (IMDSv2) answers").evidence(ev));
        }
    }
    let public = net.instance.as_ref().and_then(|i| i.public_ipv4);
    let nat = sts.routes.values().any(|r| r.verdict == Verdict::Nat);
    let egress = match (net.egress_ip, public) {
        (_, _) if nat => check(
            "egress",
            Status::Warn,
            "behind a NAT: AWS sees another address than the instance's public IP, so it refuses Cloud9's credentials for every call",
        )
        .evidence(sts.routes.values().flat_map(|r| r.evidence.clone()))
        .fix("c9aws runs these calls with the fallback profile; to keep AMTC, move the environment to a public subnet (docs/network-remedies.md)"),
        (Some(e), Some(p)) => check(
            "egress",
            Status::Ok,
            format!("traffic leaves with the public IP ({e} = {p}): AMTC works on public endpoints"),
        ),
        (None, _) => check("egress", Status::Warn, "the egress IP could not be learnt (checkip did not answer)")
            .fix("allow HTTPS to checkip.amazonaws.com, or set checkip_url in c9aws's config; until then routes are `unknown` and the safety net decides"),
        (Some(e), None) => check("egress", Status::Warn, format!("egress IP {e}, but the public IP is unknown")),
    };
    out.push(egress);
    out
}

fn endpoint_check(plans: &[Plan]) -> Check {
    let mut affected = Vec::new();
    let mut unknown = Vec::new();
    for p in plans {
        for (svc, r) in &p.routes {
            match r.verdict {
                Verdict::InterfaceEndpoint | Verdict::GatewayEndpoint => affected.push(format!(
                    "{svc}: {} ({})",
                    r.verdict.as_str(),
                    r.evidence.join("; ")
                )),
                Verdict::Unknown => unknown.push(svc.clone()),
                _ => {}
            }
        }
    }
    affected.dedup();
    unknown.dedup();
    let probed: Vec<&str> = plans
        .iter()
        .flat_map(|p| p.services.iter().map(String::as_str))
        .collect();
    if affected.is_empty() && !unknown.is_empty() {
        check(
            "endpoints",
            Status::Warn,
            format!("the route of {} service(s) is unknown: {}", unknown.len(), unknown.join(", ")),
        )
        .fix("see the imds and egress checks; until the facts are known, AMTC is kept and the safety net retries refused calls")
    } else if affected.is_empty() {
        check(
            "endpoints",
            Status::Ok,
            format!(
                "no VPC endpoint takes these services off the public route: {}",
                probed.join(", ")
            ),
        )
    } else {
        check(
            "endpoints",
            Status::Info,
            format!("{} service(s) reach AWS through a VPC endpoint, where AMTC is refused; c9aws switches their calls", affected.len()),
        )
        .evidence(affected)
    }
}

fn fallback_checks(
    env: &EnvMap,
    s: &settings::Settings,
    g: &Gathered,
    aws: Option<&Path>,
    amtc: bool,
) -> Vec<Check> {
    let Some(name) = s.policy.fallback_profile.clone() else {
        let st = if amtc { Status::Fail } else { Status::Info };
        return vec![check("fallback", st, "no fallback profile is configured")
            .fix("run `c9aws setup` (or set fallback_profile = NAME in c9aws's config, or C9AWS_FALLBACK_PROFILE)")];
    };
    let p = profile::resolve(&g.files, name.clone(), ProfileOrigin::Flag);
    if !p.exists {
        return vec![check(
            "fallback",
            Status::Fail,
            format!(
                "fallback profile {name:?} is configured but is in neither {} nor {}",
                g.files.config.path, g.files.credentials.path
            ),
        )
        .fix(format!(
            "create it: `c9aws setup --profile-name {name}` or `aws configure --profile {name}`"
        ))];
    }
    let mut out = vec![check(
        "fallback",
        Status::Ok,
        format!("fallback profile {name:?} exists"),
    )];
    let Some(aws) = aws else { return out };
    out.push(sign_check(env, aws, &name));
    out
}

/// `aws sts get-caller-identity --profile NAME` with the real CLI, bounded.
fn sign_check(env: &EnvMap, aws: &Path, name: &str) -> Check {
    // An explicit --profile beats keys in the environment, in the CLI too.
    let args: Vec<String> = [
        "sts",
        "get-caller-identity",
        "--output",
        "json",
        "--profile",
        name,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    environment::debug(env, || {
        format!(
            "doctor: {} sts get-caller-identity --profile {name}",
            aws.display()
        )
    });
    let started = Instant::now();
    let out = match route_tables::run_bounded(aws, &args, SIGN_TIMEOUT) {
        Ok(o) => o,
        Err(e) => {
            return check(
                "fallback-sign",
                Status::Fail,
                format!("`aws sts get-caller-identity --profile {name}`: {e}"),
            )
            .fix("check the network path to STS and the profile's settings")
        }
    };
    let secs = started.elapsed().as_secs_f32();
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let Some(arn) = v["Arn"].as_str() else {
            return check(
                "fallback-sign",
                Status::Warn,
                format!(
                    "`aws sts get-caller-identity --profile {name}` succeeded but printed no Arn"
                ),
            );
        };
        return check(
            "fallback-sign",
            Status::Ok,
            format!("profile {name:?} signs calls: sts get-caller-identity → {arn} ({secs:.1} s)"),
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    check(
        "fallback-sign",
        Status::Fail,
        format!("profile {name:?} cannot sign a call (exit {})", out.status.code().unwrap_or(-1)),
    )
    .evidence([redact(last)])
    .fix(format!("fix the profile's credentials (`aws sts get-caller-identity --profile {name}` shows the error), or choose another with `c9aws setup`"))
}

/// The CLI's error line, cut short; it never carries a secret, but a long
/// line is no use in a report.
fn redact(line: &str) -> String {
    line.chars().take(300).collect()
}

fn cache_check(env: &EnvMap) -> Check {
    let Some(dir) = environment::cache_dir(env) else {
        return check("cache", Status::Warn, "no cache directory (HOME unset)")
            .fix("set HOME; without a cache c9aws probes the network on every AMTC call");
    };
    if !dir.exists() {
        return check(
            "cache",
            Status::Ok,
            format!("{} not created yet", dir.display()),
        );
    }
    let mut problems = Vec::new();
    match std::fs::metadata(&dir) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => problems.push(format!(
            "{} is mode {:o}, not 0700",
            dir.display(),
            m.permissions().mode() & 0o777
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("{}: {e}", dir.display())),
    }
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            if let Ok(m) = e.metadata() {
                if m.is_file() && m.permissions().mode() & 0o077 != 0 {
                    problems.push(format!(
                        "{} is mode {:o}, not 0600",
                        e.path().display(),
                        m.permissions().mode() & 0o777
                    ));
                }
            }
        }
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => problems.push(format!("{} is not writable: {e}", dir.display())),
    }
    if problems.is_empty() {
        check(
            "cache",
            Status::Ok,
            format!("{} is writable and private", dir.display()),
        )
    } else {
        check(
            "cache",
            Status::Warn,
            format!("{} needs attention", dir.display()),
        )
        .evidence(problems)
        .fix(format!(
            "`rm -rf {}` (c9aws rebuilds it, private)",
            dir.display()
        ))
    }
}
