//! Wiring: gathers facts through the adapters, asks the core for a plan, and
//! carries it out (exec) or prints it (explain). Every failure of c9aws's own
//! falls back to running the CLI unchanged: c9aws must never be the reason a
//! call did not run.

use crate::adapters::aws_cli::{self, CliVersion, ACTIVE_VAR};
use crate::adapters::{aws_files, environment, settings};
use crate::cli::{self, Dispatch, Own, OwnCommand};
use crate::core::decide::Policy;
use crate::core::plan::{self, Facts, Plan};
use crate::core::profile::EnvMap;
use crate::core::{endpoints, CliMajor};
use clap::Parser;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub fn run(argv: Vec<OsString>) -> i32 {
    let args = argv.get(1..).unwrap_or_default();
    let env = environment::snapshot();
    // Why first: a c9aws started by the CLI it exec'd (an `aws` shim calling
    // c9aws) must do nothing but pass through, or it could loop.
    if env.contains_key(ACTIVE_VAR) {
        return passthrough(&env, args);
    }
    match cli::dispatch(args) {
        Dispatch::Aws { skip } => run_aws(&env, &args[skip..]),
        Dispatch::Reserved(word) => {
            eprintln!(
                "c9aws: `{word}` is reserved for c9aws and not available in version {}; `c9aws -- {word} …` runs `aws {word} …`",
                env!("CARGO_PKG_VERSION")
            );
            2
        }
        Dispatch::Own => {
            let own = match Own::try_parse_from(&argv) {
                Ok(o) => o,
                Err(e) => {
                    let _ = e.print();
                    return if e.use_stderr() { 2 } else { 0 };
                }
            };
            match own.command {
                OwnCommand::Explain { json, args } => explain(&env, &args, json),
                OwnCommand::Endpoints => answer_endpoint_queries(),
            }
        }
    }
}

fn locate(env: &EnvMap) -> Result<PathBuf, aws_cli::LocateError> {
    // c9aws's config is read only when C9AWS_AWS does not already answer.
    if env.get("C9AWS_AWS").is_some_and(|v| !v.is_empty()) {
        return aws_cli::locate(env, None);
    }
    let s = settings::load(env);
    if let Some(p) = &s.problem {
        eprintln!("c9aws: {p}");
    }
    aws_cli::locate(env, s.aws_path.as_deref())
}

fn passthrough(env: &EnvMap, args: &[OsString]) -> i32 {
    match locate(env) {
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
struct Gathered {
    aws: Option<PathBuf>,
    version: Option<CliVersion>,
    files: crate::core::profile::SharedFiles,
    aliases: crate::core::argv::Aliases,
    cloud9: crate::core::credentials::Cloud9Facts,
}

fn gather(env: &EnvMap, aws: Option<&Path>) -> Gathered {
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

fn make_plan(env: &EnvMap, g: &Gathered, args: &[String]) -> Plan {
    let facts = Facts {
        args,
        major: g.version.as_ref().map(|v| v.major).unwrap_or(CliMajor::V1),
        major_known: g.version.is_some(),
        cli_version: g.version.as_ref().map(|v| v.version.as_str()),
        env,
        files: &g.files,
        aliases: &g.aliases,
        cloud9: &g.cloud9,
        imds_region: None,
        net: None,
        policy: &Policy::default(),
    };
    plan::plan(&facts)
}

fn run_aws(env: &EnvMap, args: &[OsString]) -> i32 {
    let aws = match locate(env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}", e.message());
            return e.code();
        }
    };
    let g = gather(env, Some(&aws));
    let p = make_plan(env, &g, &aws_cli::lossy(args));
    environment::debug(env, || {
        format!(
            "credentials {:?} via {}; decision {}: {}",
            p.credentials.source, p.credentials.provider, p.decision.action, p.decision.reason
        )
    });
    // The decision is carried out on the raw argv: a switch only ever inserts
    // `--profile NAME` right after the program name.
    let mut exec_args: Vec<OsString> = Vec::with_capacity(args.len() + 2);
    if let (Some(profile), "switch") = (&p.decision.profile, p.decision.action) {
        exec_args.push("--profile".into());
        exec_args.push(profile.into());
    }
    exec_args.extend_from_slice(args);
    let (code, msg) = aws_cli::exec(&aws, &exec_args);
    eprintln!("{msg}");
    code
}

fn explain(env: &EnvMap, args: &[OsString], json: bool) -> i32 {
    let aws = locate(env);
    if let Err(e) = &aws {
        eprintln!("{}", e.message());
    }
    let g = gather(env, aws.as_ref().ok().map(PathBuf::as_path));
    let p = make_plan(env, &g, &aws_cli::lossy(args));
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
fn shell_words(words: &[String]) -> String {
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
