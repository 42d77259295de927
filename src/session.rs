//! One c9aws process's view of its world, below the commands: the environment
//! snapshot, c9aws's settings, the located AWS CLI, the files the CLI reads
//! (config, credentials, aliases, Cloud9's facts) and the engine that runs the
//! probes. Each is read once, when first asked for, so a command pays only for
//! what it uses (a nested passthrough reads no settings; `init` reads nothing).
//!
//! [`Session::plan`] is the one way to a plan: the core's plan for the
//! argv, with network facts gathered when Cloud9's managed credentials are in
//! play and some route depends on them. Owns no output beyond telling the
//! settings' problems once.

use crate::adapters::aws_cli::{self, CliVersion};
use crate::adapters::engine::Engine;
use crate::adapters::network::{self, Freshness};
use crate::adapters::settings::{self, Settings};
use crate::adapters::{aws_files, environment, long_call_file};
use crate::core::argv::Aliases;
use crate::core::credentials::{Cloud9Facts, Source};
use crate::core::decide::Policy;
use crate::core::plan::{self, Facts, Plan};
use crate::core::process::ProcessPlan;
use crate::core::profile::SharedFiles;
use crate::core::route::NetFacts;
use crate::core::target::Kind;
use crate::core::CliMajor;
use crate::core::EnvMap;
use crate::error::LocateError;
use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the CLI will read, gathered from the machine.
pub struct Gathered {
    pub version: Option<CliVersion>,
    pub files: SharedFiles,
    pub aliases: Aliases,
    pub cloud9: Cloud9Facts,
}

pub struct Session {
    pub env: EnvMap,
    pub engine: Engine,
    settings: OnceCell<Settings>,
    aws: OnceCell<Result<PathBuf, LocateError>>,
    gathered: OnceCell<Gathered>,
}

/// A plan and the network facts it was made with (none when not needed).
pub struct Planned {
    pub plan: Plan,
    pub net: Option<NetFacts>,
}

impl Session {
    pub fn new(env: EnvMap, engine: Engine) -> Session {
        Session {
            env,
            engine,
            settings: OnceCell::new(),
            aws: OnceCell::new(),
            gathered: OnceCell::new(),
        }
    }

    /// c9aws's settings; their problems are told once, on stderr.
    pub fn settings(&self) -> &Settings {
        self.settings.get_or_init(|| {
            let s = settings::load(&self.env);
            for p in &s.problems {
                eprintln!("c9aws: {p}");
            }
            s
        })
    }

    /// Where c9aws's config is (or would be).
    pub fn config_path(&self) -> String {
        settings::config_path(&self.env)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/c9aws/config".into())
    }

    /// The AWS CLI to run: `C9AWS_AWS`, `aws_path` in the settings, or PATH.
    pub fn aws(&self) -> Result<&Path, &LocateError> {
        self.aws
            .get_or_init(|| aws_cli::locate(&self.env, self.settings().aws_path.as_deref()))
            .as_deref()
    }

    /// The AWS CLI for a nested call: no settings read (`C9AWS_AWS` or PATH).
    pub fn aws_unconfigured(&self) -> Result<PathBuf, LocateError> {
        aws_cli::locate(&self.env, None)
    }

    pub fn gathered(&self) -> &Gathered {
        self.gathered.get_or_init(|| {
            let version = self.aws().ok().and_then(|a| aws_cli::version(a, &self.env));
            let (aliases, alias_problem) = aws_files::aliases(&self.env);
            if let Some(p) = alias_problem {
                environment::debug(&self.env, || {
                    format!("alias file unreadable for the CLI too: {p}")
                });
            }
            Gathered {
                version,
                files: aws_files::shared_files(&self.env),
                aliases,
                cloud9: aws_files::cloud9_facts(&self.env),
            }
        })
    }

    pub fn debug(&self, msg: impl FnOnce() -> String) {
        environment::debug(&self.env, msg)
    }

    /// The plan for `args` under the settings' policy.
    pub fn plan(&self, args: &[String], freshness: Freshness) -> Planned {
        self.plan_with(args, &self.settings().policy, freshness)
    }

    /// The plan under another policy (the safety net's forced fallback).
    /// Network facts are gathered only when Cloud9's managed credentials are
    /// in play and some service's verdict depends on them.
    pub fn plan_with(&self, args: &[String], policy: &Policy, freshness: Freshness) -> Planned {
        self.plan_full(args, policy, freshness, false)
    }

    /// The plan of a stand-in argv for a service's calls (`c9aws exec
    /// --service`): a line no CLI parses, so its operation's arguments are not
    /// checked (`Facts::stand_in`).
    pub fn plan_stand_in(&self, args: &[String], freshness: Freshness) -> Planned {
        self.plan_full(args, &self.settings().policy, freshness, true)
    }

    fn plan_full(
        &self,
        args: &[String],
        policy: &Policy,
        freshness: Freshness,
        stand_in: bool,
    ) -> Planned {
        let unreadable = aws_files::unreadable_param_files(args, &self.env);
        let first = self.plan_once(args, policy, None, &unreadable, stand_in);
        let wants_net = wants_net(&first);
        let aws = match self.aws() {
            Ok(a) if wants_net => a,
            _ => {
                return Planned {
                    plan: first,
                    net: None,
                }
            }
        };
        let net = network::gather(
            &self.engine,
            &self.env,
            aws,
            &first,
            self.settings(),
            freshness,
        );
        Planned {
            plan: self.plan_once(args, policy, Some(&net), &unreadable, stand_in),
            net: Some(net),
        }
    }

    /// The network facts `args` would need (none when Cloud9's managed
    /// credentials are not in play or no route depends on them): what the
    /// warm-up probes for its calls, without probing.
    pub fn needs(&self, args: &[String]) -> Option<network::Needs> {
        let unreadable = aws_files::unreadable_param_files(args, &self.env);
        let first = self.plan_once(args, &self.settings().policy, None, &unreadable, false);
        wants_net(&first).then(|| network::Needs::of(&first))
    }

    /// One plan; `unreadable` is the argv's `file://` parameters the CLI
    /// could not read (stat'ed once per call by the caller).
    fn plan_once(
        &self,
        args: &[String],
        policy: &Policy,
        net: Option<&NetFacts>,
        unreadable: &[String],
        stand_in: bool,
    ) -> Plan {
        let g = self.gathered();
        plan::plan(&Facts {
            args,
            stand_in,
            unreadable_param_files: unreadable,
            major: g.version.as_ref().map(|v| v.major).unwrap_or(CliMajor::V1),
            major_known: g.version.is_some(),
            cli_version: g.version.as_ref().map(|v| v.version.as_str()),
            env: &self.env,
            files: &g.files,
            aliases: &g.aliases,
            cloud9: &g.cloud9,
            imds_region: net
                .and_then(|n| n.instance.as_ref())
                .and_then(|i| i.region.as_deref()),
            net,
            policy,
        })
    }

    /// The process that carries out `plan` for the raw argv: the located CLI,
    /// or plain `aws` when none was found (explain still shows the plan).
    pub fn process(&self, plan: &Plan, raw_args: &[OsString]) -> ProcessPlan {
        let program = self.aws().unwrap_or(Path::new("aws"));
        let long_call_file = plan
            .long_call
            .as_ref()
            .and_then(|lc| long_call_file::ensure(&self.env, lc));
        plan.process(program, raw_args, long_call_file.as_deref())
    }
}

/// Does this plan (made without network facts) depend on them?
fn wants_net(first: &Plan) -> bool {
    first.credentials.source == Source::Amtc
        && first.kind == Kind::Calls
        && first.routes.values().any(|r| !r.verdict.refuses())
}
