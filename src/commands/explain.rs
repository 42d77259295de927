//! `c9aws explain [--json] [--refresh] AWS-ARGS…`: the plan for a command line
//! and the process that would carry it out, printed instead of run. What it
//! prints under `runs` is the very value `run` execs.

use crate::adapters::network::Freshness;
use crate::commands::run::lossy;
use crate::core::plan::Plan;
use crate::core::process::{EnvChange, ProcessPlan};
use crate::error::Error;
use crate::session::Session;
use std::ffi::OsString;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Probe the network again instead of using cached facts.
    #[arg(long)]
    pub refresh: bool,
    /// The AWS CLI arguments, e.g. `s3 ls s3://bucket`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "AWS-ARGS"
    )]
    pub args: Vec<OsString>,
}

pub fn run(s: &Session, a: Args) -> Result<i32, Error> {
    if let Err(e) = s.aws() {
        eprintln!("c9aws: {e}");
    }
    let p = s
        .plan(
            &lossy(&a.args),
            if a.refresh {
                Freshness::Refresh
            } else {
                Freshness::StaleOk
            },
        )
        .plan;
    let process = s.process(&p, &a.args);
    let aws = s.aws().ok();
    let text = if a.json {
        let mut v = serde_json::to_value(&p).expect("plan serializes");
        v["aws_path"] = serde_json::json!(aws.map(|a| a.display().to_string()));
        // The command line as typed at a prompt (`aws` first), and the process
        // itself: program, arguments and environment changes.
        v["exec"] = serde_json::json!(std::iter::once("aws".to_string())
            .chain(process.words().into_iter().skip(1))
            .collect::<Vec<_>>());
        v["process"] = process_json(&process);
        format!("{v}\n")
    } else {
        human(&p, aws, &process)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| Error::Stdout)?;
    Ok(0)
}

fn process_json(p: &ProcessPlan) -> serde_json::Value {
    let env: serde_json::Map<String, serde_json::Value> = p
        .env
        .iter()
        .map(|c| match c {
            EnvChange::Set(n, v) => (n.clone(), v.to_string_lossy().into()),
            EnvChange::Remove(n) => (n.clone(), serde_json::Value::Null),
        })
        .collect();
    serde_json::json!({
        "program": p.program.to_string_lossy(),
        "args": p.words().into_iter().skip(1).collect::<Vec<_>>(),
        "env": env,
    })
}

/// The plan in words.
fn human(p: &Plan, aws: Option<&std::path::Path>, process: &ProcessPlan) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        s.push_str(&format!("{k:<12} {v}\n"));
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
    line("runs", process.to_string());
    let what = match (&p.command, &p.operation) {
        (Some(c), Some(o)) => format!("{c} {o}"),
        (Some(c), None) => c.clone(),
        _ => "-".into(),
    };
    line("command", format!("{what} [{}]", p.kind.as_str()));
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
            c.source.as_str(),
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
            p.decision.action.as_str(),
            p.decision
                .action
                .profile()
                .map(|x| format!(" (profile {x})"))
                .unwrap_or_default(),
            p.decision.reason
        ),
    );
    if let Some(lc) = &p.long_call {
        // What the AWS_SHARED_CREDENTIALS_FILE of `runs` is for.
        line(
            "long call",
            format!(
                "{}: the call may outlive a Cloud9 token, so the CLI gets AMTC through a \
                 credential process that re-reads {} (c9aws __amtc-credentials, [{}], \
                 refreshed {} s before the token's {} s life ends)",
                lc.why,
                lc.credentials_file,
                lc.profile,
                crate::core::long_call::margin(lc.life),
                lc.life
            ),
        );
    }
    if let Some(why) = &p.stdin {
        // Whether the safety net may run the call twice with a piped stdin.
        line("stdin", format!("may be read ({why}): a refused attempt is retried only when stdin is a terminal or /dev/null"));
    }
    for n in &p.notes {
        line("note", n.clone());
    }
    s
}
