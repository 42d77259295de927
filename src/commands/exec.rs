//! `c9aws exec [--service NAME]... -- CMD ARGS...`: runs an SDK-based program
//! (terraform, cdk, sam, a script) with the fallback profile when Cloud9's
//! managed credentials would be refused for it, and unchanged otherwise.
//!
//! The decision is the one c9aws makes for an AWS CLI call to each named
//! service, in the same environment (credentials chain, region, endpoints,
//! network facts, policy). Without `--service`, only the one fact that refuses
//! every service counts: the instance reaches AWS through a NAT (no public IP,
//! or another egress IP).

use crate::adapters::network::Freshness;
use crate::adapters::process;
use crate::core::command_table::service_command;
use crate::core::credentials::Source;
use crate::core::plan::Plan;
use crate::core::process::ProcessPlan;
use crate::core::route::Verdict;
use crate::core::{subcommands, CliMajor};
use crate::error::Error;
use crate::session::Session;
use std::ffi::OsString;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An AWS service the program calls (botocore name such as `s3`, `sts`,
    /// `dynamodb`, or a CLI command name); repeatable. Without it, the program
    /// is switched only when the instance is behind a NAT.
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Variables that carry credentials chosen outside the profile: removed when
/// the program is switched to the fallback profile.
const KEY_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
];

/// What exec does to the child's environment.
#[derive(Debug, PartialEq, Eq)]
pub struct Switch {
    pub profile: String,
    pub region: Option<String>,
    pub why: String,
}

pub fn run(s: &Session, args: Args) -> Result<i32, Error> {
    let (prog, rest) = args.command.split_first().expect("clap requires CMD");
    let mut plan = ProcessPlan::new(prog).args(rest.iter().cloned());
    if let Some(sw) = decide(s, &args.services) {
        plan = plan
            .set("AWS_PROFILE", &sw.profile)
            .set("AWS_DEFAULT_PROFILE", &sw.profile);
        for k in KEY_VARS {
            plan = plan.remove(k);
        }
        if let Some(r) = &sw.region {
            plan = plan.set("AWS_REGION", r).set("AWS_DEFAULT_REGION", r);
        }
    }
    s.debug(|| format!("exec {plan}"));
    Err(process::exec_replace(&plan, None))
}

/// `Some` when the program must run with the fallback profile. Tells the user
/// (stderr) when a switch is needed but no fallback is configured.
fn decide(s: &Session, services: &[String]) -> Option<Switch> {
    let major = s
        .gathered()
        .version
        .as_ref()
        .map(|v| v.major)
        .unwrap_or(CliMajor::V2);
    let mut calls: Vec<(String, Vec<String>)> = Vec::new();
    if services.is_empty() {
        calls.push(("*".into(), vec!["sts".into(), "get-caller-identity".into()]));
    }
    for svc in services {
        let Some(command) = service_command(major, svc) else {
            eprintln!("c9aws exec: unknown service {svc:?}; it is not taken into account");
            continue;
        };
        // A stand-in operation; for iam, sts and cloud9 it is one AMTC refuses
        // (the first in the table: `sts assume-role`), as SDK tools use those.
        let op = subcommands::first(major, command);
        let mut a = vec![command.to_string()];
        a.extend(op.map(str::to_string));
        calls.push((svc.clone(), a));
    }
    let mut plans: Vec<(String, Plan)> = Vec::new();
    for (svc, a) in calls {
        plans.push((svc, s.plan_stand_in(&a, Freshness::StaleOk).plan));
    }
    let refusing = |svc: &str, p: &Plan| {
        if svc == "*" {
            p.credentials.source == Source::Amtc
                && p.routes.values().any(|r| r.verdict == Verdict::Nat)
        } else {
            p.decision.action.is_switch() || p.decision.needs_fallback
        }
    };
    let (_, p) = plans.iter().find(|(svc, p)| refusing(svc, p))?;
    let Some(profile) = s.settings().policy.fallback_profile.clone() else {
        eprintln!(
            "c9aws exec: Cloud9's managed credentials would be refused ({}); running unchanged. \
             Configure a fallback: `c9aws setup`, or `fallback_profile = NAME` in {}",
            why(p),
            s.config_path()
        );
        return None;
    };
    let sw = Switch {
        profile,
        region: region_to_keep(p),
        why: why(p),
    };
    if s.settings().notice.shows() {
        eprintln!("c9aws exec: profile {} — {}", sw.profile, sw.why);
    }
    Some(sw)
}

fn why(p: &Plan) -> String {
    p.routes
        .iter()
        .find(|(_, r)| r.verdict.refuses())
        .map(|(svc, r)| match r.verdict {
            // The operation was a stand-in: name the rule, not the action.
            Verdict::RefusedAction => {
                format!("{svc}: most {svc} actions are refused under Cloud9's managed credentials")
            }
            _ => format!(
                "{svc}: {}{}",
                r.verdict.as_str(),
                r.evidence
                    .first()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            ),
        })
        .unwrap_or_else(|| p.decision.reason.clone())
}

/// The region the switch keeps: the one the plan adds as `--region` (the
/// fallback profile would otherwise move the call), and only that.
fn region_to_keep(p: &Plan) -> Option<String> {
    let mut it = p.decision.action.inserted_args().iter();
    while let Some(a) = it.next() {
        if a == "--region" {
            return it.next().cloned();
        }
    }
    None
}
