//! Wiring: gathers facts through the adapters, asks the core for a plan, and
//! carries it out (exec) or prints it (explain). Every failure of c9aws's own
//! falls back to running the CLI unchanged: c9aws must never be the reason a
//! call did not run.

use crate::adapters::aws_cli::{self, CliVersion, ACTIVE_VAR};
use crate::adapters::probe::{ProbeRequest, Probed};
use crate::adapters::settings::Settings;
use crate::adapters::{aws_files, environment, helper, network, settings, supervise};
use crate::cli::{self, Dispatch, Own, OwnCommand};
use crate::commands;
use crate::core::credentials::Source;
use crate::core::plan::{self, Facts, Plan};
use crate::core::profile::EnvMap;
use crate::core::route::NetFacts;
use crate::core::{endpoints, CliMajor};
use clap::Parser;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Where the work that needs an async runtime, HTTP and TLS runs. `c9aws`
/// keeps the default ([`Engine::helper`]: the `c9aws-probe` executable beside
/// it); `c9aws-probe` sets [`Engine::in_process`]. Only what an executable
/// names gets linked into it, so `c9aws` carries none of that machinery.
pub struct Engine {
    /// Whether this executable carries the machinery itself (`c9aws-probe`).
    pub in_process: bool,
    /// IMDS, egress and DNS under one deadline (cold cache only).
    pub probe: fn(&ProbeRequest) -> Probed,
    /// The instance role's credential_process JSON.
    pub credentials: fn(&EnvMap, Option<&str>) -> Result<String, String>,
}

impl Engine {
    pub fn helper() -> Engine {
        Engine {
            in_process: false,
            probe: helper::probe,
            credentials: helper::credentials,
        }
    }

    pub fn in_process() -> Engine {
        Engine {
            in_process: true,
            probe: crate::adapters::probe::probe,
            credentials: commands::credential_process::fetch,
        }
    }
}

static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();

/// Chooses the engine; first call wins, before [`run`].
pub fn set_engine(e: Engine) {
    let _ = ENGINE.set(e);
}

pub(crate) fn engine() -> &'static Engine {
    ENGINE.get_or_init(Engine::helper)
}

/// What `c9aws`'s C entry point keeps of std's process start-up (src/main.rs
/// says why it skips the rest):
/// - SIGPIPE ignored, so a write to a closed pipe (the helper's stdin, a
///   closed stdout under `explain`) is an error c9aws handles rather than a
///   silent death. Children get the default back: std's spawn and exec reset
///   SIGPIPE, as they did when std's own start-up had ignored it.
/// - Fds 0–2 that are closed get `/dev/null`, so nothing c9aws opens lands on
///   them and nothing it prints goes into one of its own files. Unlike std's,
///   these are close-on-exec: the `aws` that c9aws execs sees the fd closed,
///   exactly as it would without c9aws in front.
pub fn start_process() {
    // SAFETY: plain libc calls at start-up, before any other thread exists;
    // `fds` outlives the poll, and the path is a NUL-terminated literal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) <= 0 {
            return;
        }
        for p in fds {
            if p.revents & libc::POLLNVAL != 0 {
                // open returns the lowest free fd: this one.
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            }
        }
    }
}

pub fn run(argv: Vec<OsString>) -> i32 {
    let args = argv.get(1..).unwrap_or_default();
    let env = environment::snapshot();
    // Why first: a c9aws started by the CLI it exec'd (an `aws` shim calling
    // c9aws) must do nothing but pass through, or it could loop. Two
    // exceptions, neither an AWS CLI command nor able to loop: `credential-process`,
    // which the CLI c9aws ran starts itself for a fallback profile, and
    // `doctor`, which must be able to say that C9AWS_ACTIVE is set in the shell.
    let own_even_nested = args
        .first()
        .is_some_and(|a| a == "credential-process" || a == "doctor");
    if env.contains_key(ACTIVE_VAR) && !own_even_nested {
        return passthrough(&env, args);
    }
    match cli::dispatch(args) {
        Dispatch::Aws { skip } => run_aws(&env, &args[skip..]),
        Dispatch::Own => {
            let own = match Own::try_parse_from(&argv) {
                Ok(o) => o,
                Err(e) => {
                    let _ = e.print();
                    return if e.use_stderr() { 2 } else { 0 };
                }
            };
            match own.command {
                OwnCommand::Explain {
                    json,
                    refresh,
                    args,
                } => explain(&env, &args, json, refresh),
                OwnCommand::Init(a) => commands::init::run(&env, a),
                OwnCommand::Doctor(a) => commands::doctor::run(&env, a),
                OwnCommand::Setup(a) => commands::setup::run(&env, a),
                // The CLI reads its stdout: hand the whole command to the
                // helper rather than relay it.
                OwnCommand::CredentialProcess(_) if !engine().in_process => helper::exec(args),
                OwnCommand::CredentialProcess(a) => commands::credential_process::run(&env, a),
                OwnCommand::Exec(a) => commands::exec::run(&env, a),
                OwnCommand::Endpoints => answer_endpoint_queries(),
            }
        }
    }
}

pub(crate) fn locate(env: &EnvMap, s: &Settings) -> Result<PathBuf, aws_cli::LocateError> {
    aws_cli::locate(env, s.aws_path.as_deref())
}

/// c9aws's settings, with their problems told once on stderr.
pub(crate) fn load_settings(env: &EnvMap) -> Settings {
    let s = settings::load(env);
    for p in &s.problems {
        eprintln!("c9aws: {p}");
    }
    s
}

fn passthrough(env: &EnvMap, args: &[OsString]) -> i32 {
    // A nested c9aws reads no config: C9AWS_AWS or PATH decide.
    match aws_cli::locate(env, None) {
        Ok(aws) => {
            environment::debug(env, || format!("exec {} (passthrough)", aws.display()));
            let (code, msg) = aws_cli::exec(&aws, args);
            eprintln!("{msg}");
            code
        }
        Err(e) => {
            eprintln!("{}", e.message());
            e.code()
        }
    }
}

/// Everything the plan needs, gathered from the machine.
pub(crate) struct Gathered {
    pub(crate) aws: Option<PathBuf>,
    pub(crate) version: Option<CliVersion>,
    pub(crate) files: crate::core::profile::SharedFiles,
    pub(crate) aliases: crate::core::argv::Aliases,
    pub(crate) cloud9: crate::core::credentials::Cloud9Facts,
}

pub(crate) fn gather(env: &EnvMap, aws: Option<&Path>) -> Gathered {
    let version = aws.and_then(|a| aws_cli::version(a, env));
    let (aliases, alias_problem) = aws_files::aliases(env);
    if let Some(p) = alias_problem {
        environment::debug(env, || {
            format!("alias file unreadable for the CLI too: {p}")
        });
    }
    Gathered {
        aws: aws.map(Path::to_path_buf),
        version,
        files: aws_files::shared_files(env),
        aliases,
        cloud9: aws_files::cloud9_facts(env),
    }
}

pub(crate) fn make_plan(
    env: &EnvMap,
    g: &Gathered,
    args: &[String],
    s: &Settings,
    net: Option<&NetFacts>,
) -> Plan {
    let facts = Facts {
        args,
        major: g.version.as_ref().map(|v| v.major).unwrap_or(CliMajor::V1),
        major_known: g.version.is_some(),
        cli_version: g.version.as_ref().map(|v| v.version.as_str()),
        env,
        files: &g.files,
        aliases: &g.aliases,
        cloud9: &g.cloud9,
        imds_region: net
            .and_then(|n| n.instance.as_ref())
            .and_then(|i| i.region.as_deref()),
        net,
        policy: &s.policy,
    };
    plan::plan(&facts)
}

/// The plan, with network facts gathered when Cloud9's managed credentials are
/// in play and some service's verdict depends on them (off Cloud9 nothing is probed).
pub(crate) fn full_plan(
    env: &EnvMap,
    g: &Gathered,
    args: &[String],
    s: &Settings,
    refresh: bool,
) -> (Plan, Option<NetFacts>) {
    let first = make_plan(env, g, args, s, None);
    let wants_net = first.credentials.source == Source::Amtc
        && first.kind == "calls"
        && first.routes.values().any(|r| !r.verdict.refuses());
    if !wants_net {
        return (first, None);
    }
    let Some(aws) = g.aws.as_deref() else {
        return (first, None);
    };
    let net = network::gather(env, aws, &first, s, refresh);
    let plan = make_plan(env, g, args, s, Some(&net));
    (plan, Some(net))
}

fn run_aws(env: &EnvMap, args: &[OsString]) -> i32 {
    let s = load_settings(env);
    let aws = match locate(env, &s) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}", e.message());
            return e.code();
        }
    };
    let g = gather(env, Some(&aws));
    let (p, _) = full_plan(env, &g, &aws_cli::lossy(args), &s, false);
    environment::debug(env, || {
        format!(
            "credentials {:?} via {}; decision {}: {}",
            p.credentials.source, p.credentials.provider, p.decision.action, p.decision.reason
        )
    });
    if p.decision.needs_fallback {
        eprintln!(
            "c9aws: {}. Configure one: `fallback_profile = NAME` in {} (or C9AWS_FALLBACK_PROFILE=NAME)",
            p.decision.reason,
            settings::config_path(env)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "~/.config/c9aws/config".into())
        );
    }
    // The decision is carried out on the raw argv: a switch only ever inserts
    // its arguments (`--profile NAME`, and the region/output to keep) right
    // after the program name, so a user's own later options still win.
    let mut exec_args: Vec<OsString> = Vec::with_capacity(args.len() + 6);
    if p.decision.action == "switch" {
        notice(&s, &p);
        exec_args.extend(p.switch_args.iter().map(OsString::from));
    }
    exec_args.extend_from_slice(args);
    if p.decision.retry_on_refusal && supervise::stdin_replayable() {
        return run_with_safety_net(env, &aws, &g, &s, &p, args);
    }
    let (code, msg) = aws_cli::exec(&aws, &exec_args);
    eprintln!("{msg}");
    code
}

/// AMTC kept on an unknown route: run once; on an AMTC refusal, remember it and
/// run again with the fallback profile (exec), without showing the refusal.
fn run_with_safety_net(
    env: &EnvMap,
    aws: &Path,
    g: &Gathered,
    s: &Settings,
    p: &Plan,
    args: &[OsString],
) -> i32 {
    match supervise::run_watched(aws, args) {
        Ok(supervise::Outcome::Done { code, signal }) => supervise::finish(code, signal),
        Ok(supervise::Outcome::Refused) => {
            let unknown: Vec<String> = p
                .routes
                .iter()
                .filter(|(_, r)| r.verdict == crate::core::route::Verdict::Unknown)
                .map(|(svc, _)| svc.clone())
                .collect();
            network::remember_refusal(env, &unknown, p.region.as_deref());
            // Plan again as if unknown routes were refused: the switch keeps the
            // region and output, whether or not the refusal could be remembered.
            let mut forced = s.clone();
            forced.policy.on_unknown = crate::core::decide::OnUnknown::Fallback;
            let (again, _) = full_plan(env, g, &aws_cli::lossy(args), &forced, false);
            let mut exec_args: Vec<OsString> = Vec::new();
            if again.decision.action == "switch" {
                notice(s, &again);
                exec_args.extend(again.switch_args.iter().map(OsString::from));
            }
            exec_args.extend_from_slice(args);
            let (code, msg) = aws_cli::exec(aws, &exec_args);
            eprintln!("{msg}");
            code
        }
        Err(e) => {
            environment::debug(env, || {
                format!("could not supervise aws ({e}); exec instead")
            });
            let (code, msg) = aws_cli::exec(aws, args);
            eprintln!("{msg}");
            code
        }
    }
}

/// One short line on stderr when a call is switched (if stderr is a terminal,
/// unless configured otherwise).
fn notice(s: &Settings, p: &Plan) {
    if !s.notice.shows() {
        return;
    }
    let profile = p.decision.profile.as_deref().unwrap_or("?");
    let services: Vec<&str> = p
        .decision
        .because
        .iter()
        .map(|b| b.split(':').next().unwrap_or(""))
        .collect();
    let why = p
        .routes
        .iter()
        .find(|(_, r)| r.verdict.refuses())
        .and_then(|(_, r)| r.evidence.first().cloned())
        .unwrap_or_default();
    eprintln!(
        "c9aws: {} via profile {profile} — {why}",
        services.join(", ")
    );
}

fn explain(env: &EnvMap, args: &[OsString], json: bool, refresh: bool) -> i32 {
    let s = load_settings(env);
    let aws = locate(env, &s);
    if let Err(e) = &aws {
        eprintln!("{}", e.message());
    }
    let g = gather(env, aws.as_ref().ok().map(PathBuf::as_path));
    let (p, _net) = full_plan(env, &g, &aws_cli::lossy(args), &s, refresh);
    let mut out = std::io::stdout().lock();
    let written = if json {
        let mut v = serde_json::to_value(&p).expect("plan serializes");
        v["aws_path"] = serde_json::json!(g.aws.as_ref().map(|a| a.display().to_string()));
        writeln!(out, "{v}")
    } else {
        write!(out, "{}", human(&p, g.aws.as_deref()))
    };
    match written {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// The plan in words, for `c9aws explain`.
fn human(p: &Plan, aws: Option<&Path>) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        s.push_str(&format!("{k:<13}{v}\n"));
    };
    line("c9aws", p.c9aws_version.to_string());
    line(
        "aws",
        match (aws, &p.cli_version) {
            (Some(a), Some(v)) => format!("{} (aws-cli/{v}, v{} rules)", a.display(), p.cli_major),
            (Some(a), None) => format!("{} (version unknown, v1 rules assumed)", a.display()),
            (None, _) => "not found (v1 rules assumed)".into(),
        },
    );
    line("runs", shell_words(&p.exec));
    let what = match (&p.command, &p.operation) {
        (Some(c), Some(o)) => format!("{c} {o}"),
        (Some(c), None) => c.clone(),
        _ => "-".into(),
    };
    line("command", format!("{what} [{}]", p.kind));
    if !p.aliases.is_empty() {
        line("aliases", p.aliases.join(" → "));
    }
    if !p.services.is_empty() {
        line("services", p.services.join(", "));
    }
    line(
        "region",
        format!(
            "{} (from {})",
            p.region.as_deref().unwrap_or("none"),
            p.region_from
        ),
    );
    for (svc, ep) in &p.endpoints {
        let note = p.endpoint_notes.get(svc).cloned().unwrap_or_default();
        line(
            &format!("endpoint {svc}"),
            format!("{} ({note})", ep.as_deref().unwrap_or("none")),
        );
    }
    if !p.hosts.is_empty() {
        line("hosts", p.hosts.join(", "));
    }
    let c = &p.credentials;
    line(
        "credentials",
        format!(
            "{} via {}{}",
            serde_json::to_value(c.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            c.provider,
            c.profile
                .as_ref()
                .map(|p| format!(", profile {p}"))
                .unwrap_or_default()
        ),
    );
    for e in &c.evidence {
        line("", format!("- {e}"));
    }
    if let Some(pr) = &c.problem {
        line("", format!("! {pr}"));
    }
    for (svc, r) in &p.routes {
        line(&format!("route {svc}"), r.verdict.as_str().to_string());
        for e in &r.evidence {
            line("", format!("- {e}"));
        }
    }
    line(
        "decision",
        format!(
            "{}{}: {}",
            p.decision.action,
            p.decision
                .profile
                .as_ref()
                .map(|x| format!(" (profile {x})"))
                .unwrap_or_default(),
            p.decision.reason
        ),
    );
    for n in &p.notes {
        line("note", n.clone());
    }
    s
}

/// Words joined for a shell: quoted only where needed.
pub(crate) fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn answer_endpoint_queries() -> i32 {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(line) = line else { return 1 };
        if writeln!(out, "{}", endpoints::batch_answer(&line)).is_err() {
            return 1;
        }
    }
    if out.flush().is_err() {
        return 1;
    }
    0
}
