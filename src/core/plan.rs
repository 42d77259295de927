//! The plan for one command line: what the CLI will call, where, with which
//! credentials, and what c9aws will do about it. This is what `explain` prints and
//! what `run` carries out.
//!
//! Pure: [`Facts`] in, [`Plan`] out. No environment, file, network or clock here.

use crate::core::argv::{self, Aliases, CommandTable, Invocation};
use crate::core::cli_layer;
use crate::core::command_table::api_operation;
use crate::core::command_table::{lookup_command, CommandKind};
use crate::core::credentials::{self, Cloud9Facts, CredentialReport, Source};
use crate::core::decide::{self, Action, Decision, Policy};
use crate::core::endpoints::{self, EndpointError, EndpointParams};
use crate::core::long_call::{self, LongCall, LongCalls};
use crate::core::overrides;
use crate::core::process::{ProcessPlan, ACTIVE_VAR, VIA_VAR};
use crate::core::profile::{self, SharedFiles};
use crate::core::region;
use crate::core::route::{self, NetFacts, RouteVerdict, ServiceCall, Verdict};
use crate::core::stdin_use::{self, AutoPromptSetting};
use crate::core::target::{self, Kind, Target};
use crate::core::CliMajor;
use crate::core::EnvMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

/// Everything the plan depends on, gathered by the adapters.
pub struct Facts<'a> {
    /// The CLI's argv without the program name (lossily decoded; exec uses the raw bytes).
    pub args: &'a [String],
    /// `args` stands for a service's calls (`c9aws exec --service`), it is no
    /// line the CLI will parse: its operation's arguments are not checked.
    pub stand_in: bool,
    /// `file://` / `fileb://` values of `args` whose file cannot be read.
    pub unreadable_param_files: &'a [String],
    pub major: CliMajor,
    /// Whether `major` was measured (`aws --version`) or assumed.
    pub major_known: bool,
    pub cli_version: Option<&'a str>,
    pub env: &'a EnvMap,
    pub files: &'a SharedFiles,
    pub aliases: &'a Aliases,
    pub cloud9: &'a Cloud9Facts,
    pub imds_region: Option<&'a str>,
    /// Network facts, when gathered (only for AMTC calls).
    pub net: Option<&'a NetFacts>,
    pub policy: &'a Policy,
}

pub(crate) struct Table(pub(crate) CliMajor);
impl CommandTable for Table {
    fn is_command(&self, name: &str) -> bool {
        // `help` is added to the command table by the CLI's parser itself.
        name == "help" || lookup_command(self.0, name).is_some()
    }
    fn accepts_operation(&self, command: &str, op: &str) -> bool {
        crate::core::subcommands::accepts(self.0, command, op).unwrap_or(true)
    }
    fn requires_operation(&self, command: &str) -> bool {
        crate::core::subcommands::required(self.0, command)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub c9aws_version: &'static str,
    pub command: Option<String>,
    pub operation: Option<String>,
    pub kind: Kind,
    pub services: Vec<String>,
    pub region: Option<String>,
    pub region_from: String,
    pub cli_version: Option<String>,
    pub cli_major: u8,
    /// Client-level endpoint per service (`client.meta.endpoint_url`); null when
    /// the CLI could not build the client (e.g. no region).
    pub endpoints: BTreeMap<String, Option<String>>,
    /// How each endpoint was chosen, or why there is none.
    pub endpoint_notes: BTreeMap<String, String>,
    /// Host names the call will contact.
    pub hosts: Vec<String>,
    /// The same, per service.
    pub service_hosts: BTreeMap<String, Vec<String>>,
    pub buckets: Vec<String>,
    pub aliases: Vec<String>,
    pub credentials: CredentialReport,
    pub routes: BTreeMap<String, RouteVerdict>,
    pub decision: Decision,
    /// The CA bundle the CLI trusts (`--ca-bundle`, `AWS_CA_BUNDLE`, profile `ca_bundle`).
    pub ca_bundle: Option<String>,
    /// Why the CLI may read its stdin on this command line (then a refused
    /// attempt is retried only when stdin is a terminal or /dev/null).
    pub stdin: Option<String>,
    /// A call that may outlive a token and keeps AMTC: the CLI reads them
    /// through a re-reading credential process (core::long_call).
    pub long_call: Option<LongCall>,
    /// What could not be predicted and why.
    pub notes: Vec<String>,
}

/// The host of an `http(s)://host[:port]/…` URL.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn endpoint_error_text(e: &EndpointError) -> String {
    match e {
        EndpointError::UnknownService(s) => format!("service {s:?} is not in the endpoint data"),
        EndpointError::NoRegion => "no region: the CLI stops with NoRegionError".into(),
        EndpointError::UnknownPartition(r) => format!("region {r:?} is in no known partition"),
        EndpointError::Unsupported(why) | EndpointError::NoVariant(why) => why.clone(),
    }
}

pub fn plan(f: &Facts) -> Plan {
    let inv = argv::parse(f.args, f.major, &Table(f.major), f.aliases);
    let target = target::target(&inv, f.major);
    let (name, origin) = profile::select(inv.profile(), f.env, f.major);
    let prof = profile::resolve(f.files, name, origin);
    let creds = credentials::report(&prof, f.files, f.env, f.cloud9, inv.no_sign_request());
    let region = region::choose(inv.region(), f.env, &prof, f.major, f.imds_region);
    // v2 reads cli_auto_prompt from the profile the environment selects, before
    // --profile applies (core::stdin_use).
    let prof_for_prompt = match (f.major, inv.profile()) {
        (CliMajor::V2, Some(_)) => {
            let (n, o) = profile::select(None, f.env, f.major);
            profile::resolve(f.files, n, o)
        }
        _ => prof.clone(),
    };

    let mut p = Plan {
        c9aws_version: env!("CARGO_PKG_VERSION"),
        command: inv.command.clone(),
        operation: inv.operation.clone(),
        kind: target.kind(),
        services: Vec::new(),
        region: region.region.clone(),
        region_from: region.from.clone(),
        cli_version: f.cli_version.map(str::to_string),
        cli_major: match f.major {
            CliMajor::V1 => 1,
            CliMajor::V2 => 2,
        },
        endpoints: BTreeMap::new(),
        endpoint_notes: BTreeMap::new(),
        hosts: Vec::new(),
        service_hosts: BTreeMap::new(),
        buckets: Vec::new(),
        aliases: inv.aliases.iter().map(|a| a.name.clone()).collect(),
        credentials: creds,
        routes: BTreeMap::new(),
        decision: Decision::pass(""),
        ca_bundle: inv
            .globals
            .get("--ca-bundle")
            .map(str::to_string)
            .or_else(|| {
                f.env
                    .get("AWS_CA_BUNDLE")
                    .filter(|v| !v.is_empty())
                    .cloned()
            })
            .or_else(|| prof.get("ca_bundle").map(str::to_string)),
        stdin: stdin_use::stdin_use(
            f.args,
            &inv,
            f.major,
            auto_prompt_setting(f, &prof_for_prompt),
        )
        .map(|u| u.to_string()),
        long_call: None,
        notes: Vec::new(),
    };
    if !f.major_known {
        p.notes
            .push("the CLI's major version could not be measured; CLI v1 rules assumed".into());
    }
    match &target {
        Target::Local(why) => {
            p.decision = decide::decide(p.kind, &p.credentials, &p.routes, f.policy);
            p.decision.reason = format!("local-only: {why}; never switched");
            return p;
        }
        Target::Unpredictable(why) => {
            p.decision = decide::decide(p.kind, &p.credentials, &p.routes, f.policy);
            p.decision.reason = format!("{why}; passed through unchanged");
            return p;
        }
        Target::Calls { services, buckets } => {
            p.services = services.clone();
            p.buckets = buckets.clone();
        }
    }
    // What the CLI layer sets before any client exists (v1: sqs, emr, rds,
    // docdb, neptune, health): an --endpoint-url of its own, health's region.
    let layer = inv.command.as_deref().and_then(|c| {
        cli_layer::rewrite(
            f.major,
            c,
            inv.operation.as_deref(),
            p.region.as_deref(),
            inv.endpoint_url(),
        )
    });
    if let Some(moved) = layer.as_ref().and_then(|l| l.region) {
        if p.region.as_deref() != Some(moved) {
            p.region_from = format!(
                "{}: it moves `{}` there; {} from {} otherwise",
                cli_layer::SSL_COMMON_NAME_FROM,
                inv.command.as_deref().unwrap_or_default(),
                p.region.as_deref().unwrap_or("-"),
                p.region_from
            );
            p.region = Some(moved.to_string());
        }
    }
    let stop = missing_profile(&prof)
        .or_else(|| {
            (!f.stand_in)
                .then(|| operation_args_stop(&inv, f, p.stdin.as_deref()))
                .flatten()
        })
        .or_else(|| unreadable_param_file(&inv, f))
        .or_else(|| fill_endpoints(&mut p, &inv, f, &prof, layer.as_ref()));
    if let Some(why) = stop {
        // Nothing reaches AWS: no services, nothing to probe, nothing to switch.
        p.kind = Kind::Fails;
        p.services.clear();
        p.endpoints.clear();
        p.endpoint_notes.clear();
        p.hosts.clear();
        p.service_hosts.clear();
        p.decision = decide::decide(p.kind, &p.credentials, &p.routes, f.policy);
        p.decision.reason =
            format!("the CLI stops before sending anything: {why}; passed through unchanged");
        return p;
    }
    if p.credentials.source == Source::Amtc {
        fill_routes(&mut p, &inv, f);
    }
    p.decision = decide::decide(p.kind, &p.credentials, &p.routes, f.policy);
    if p.decision.action.is_switch() {
        prepare_switch(&mut p, &inv, f, &prof);
    }
    long_call(&mut p, &inv, f, &prof);
    p
}

/// A long-looking call that keeps AMTC from the shared credentials file gets
/// them through a re-reading credential process (core::long_call); every
/// other call is left as it is.
fn long_call(p: &mut Plan, inv: &Invocation, f: &Facts, prof: &profile::Profile) {
    let (Some(command), Some(op)) = (inv.command.as_deref(), inv.operation.as_deref()) else {
        return;
    };
    let Some(why) = long_call::long_reason(command, op, &inv.rest) else {
        return;
    };
    let c = &p.credentials;
    let keeps_amtc = p.kind == Kind::Calls
        && c.source == Source::Amtc
        && !c.explicit_profile
        && c.provider == "shared-credentials-file"
        && c.problem.is_none()
        && !p.decision.action.is_switch()
        && !p.routes.values().any(|r| r.verdict == Verdict::Expired);
    if !keeps_amtc {
        return;
    }
    if f.policy.long_calls == LongCalls::Off || f.policy.amtc_life == 0 {
        p.notes.push(format!(
            "this call may outlive a Cloud9 token ({why}); the CLI reads them once ({})",
            if f.policy.long_calls == LongCalls::Off {
                "long_calls = off"
            } else {
                "amtc_life = 0: their life is unknown"
            }
        ));
        return;
    }
    let section: Vec<(String, String)> = prof
        .credentials
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    p.long_call = Some(LongCall {
        why: why.to_string(),
        credentials_file: f.files.credentials.path.clone(),
        profile: prof.name.clone(),
        life: f.policy.amtc_life,
        settings: long_call::copied_settings(&section),
    });
}

fn auto_prompt_setting<'a>(
    f: &'a Facts,
    env_profile: &'a profile::Profile,
) -> AutoPromptSetting<'a> {
    AutoPromptSetting {
        env: f.env.get("AWS_CLI_AUTO_PROMPT").map(String::as_str),
        profile: env_profile.get("cli_auto_prompt"),
    }
}

impl Plan {
    /// The process that carries out the decision for `raw_args` (the argv as
    /// the user gave it, bytes untouched): the CLI at `program`, with the
    /// switch's arguments, if any, right after the program name, and the two
    /// variables that let a c9aws started by that CLI pass straight through.
    /// A long call also gets `AWS_SHARED_CREDENTIALS_FILE` = `long_call_file`,
    /// the generated file of [`LongCall::file_text`] (written by the
    /// session; `None` when it could not be, and then nothing changes).
    pub fn process(
        &self,
        program: &Path,
        raw_args: &[OsString],
        long_call_file: Option<&Path>,
    ) -> ProcessPlan {
        let p = cli_process(program, self.decision.action.inserted_args(), raw_args);
        match (&self.long_call, long_call_file) {
            (Some(_), Some(file)) => p.set(long_call::CREDENTIALS_FILE_VAR, file.as_os_str()),
            _ => p,
        }
    }
}

/// `program` with `inserted` then `raw_args`, marked as run by c9aws.
pub fn cli_process(program: &Path, inserted: &[String], raw_args: &[OsString]) -> ProcessPlan {
    ProcessPlan::new(program)
        .args(inserted.iter().map(OsString::from))
        .args(raw_args.iter().cloned())
        .set(ACTIVE_VAR, "1")
        .set(VIA_VAR, program.as_os_str())
}

/// The arguments put right after the program name for a switched call: the
/// fallback profile, plus the region and output format the original call would
/// have had, unless the user's argv sets them itself.
fn prepare_switch(p: &mut Plan, inv: &Invocation, f: &Facts, original: &profile::Profile) {
    let Some(fb) = p.decision.action.profile().map(str::to_string) else {
        return;
    };
    let fb_prof = profile::resolve(f.files, fb.clone(), profile::ProfileOrigin::Flag);
    if !fb_prof.exists {
        let mut d = Decision::pass(format!(
            "the fallback profile {fb:?} is in neither {} nor {}: passed through unswitched",
            f.files.config.path, f.files.credentials.path
        ));
        d.because = p.decision.because.clone();
        d.needs_fallback = true;
        p.decision = d;
        return;
    }
    // A switch must never move a call: the region and output format the plain
    // call would have are pinned, explicitly, whenever the user's argv did not
    // give them. Predicting what the fallback profile would resolve instead
    // failed with CLI v2 (a fallback without a region: v2 does not take the
    // environment's profile or IMDS region the way c9aws predicted, and went
    // to global endpoints or stopped with NoRegion).
    let mut args = vec!["--profile".to_string(), fb.clone()];
    if inv.region().is_none() {
        if let Some(r) = &p.region {
            args.extend(["--region".to_string(), r.clone()]);
        }
    }
    if inv.globals.get("--output").is_none() {
        // --output, then AWS_DEFAULT_OUTPUT, then the profile's, then json.
        let output = f
            .env
            .get("AWS_DEFAULT_OUTPUT")
            .filter(|v| !v.is_empty())
            .map(String::as_str)
            .or_else(|| original.get("output"))
            .unwrap_or("json");
        args.extend(["--output".to_string(), output.to_string()]);
    }
    p.decision.action = Action::Switch { profile: fb, args };
}

fn fill_routes(p: &mut Plan, inv: &Invocation, f: &Facts) {
    let empty = NetFacts::default();
    let net = f.net.unwrap_or(&empty);
    let creds_file = &f.files.credentials;
    let expired = route::expired(creds_file.age_secs, f.policy.amtc_life, &creds_file.path);
    for (i, service) in p.services.clone().iter().enumerate() {
        let hosts = p.service_hosts.get(service).cloned().unwrap_or_default();
        let api = if i == 0 {
            inv.operation
                .as_deref()
                .and_then(|op| api_operation(service, op))
        } else {
            None
        };
        let call = ServiceCall {
            service,
            api_operation: api,
            params: &inv.rest,
            primary: i == 0,
            hosts: &hosts,
            region: p.region.as_deref(),
        };
        // Expired keys fail everywhere; a command signing for another machine
        // fails whatever the route; then the route itself.
        let by_command = match (i, inv.command.as_deref(), inv.operation.as_deref()) {
            (0, Some(c), Some(o)) => route::command_verdict(f.major, c, o, &inv.rest),
            _ => None,
        };
        let mut v = expired
            .clone()
            .or(by_command)
            .unwrap_or_else(|| route::verdict(&call, net));
        if f.net.is_none() && v.verdict == Verdict::Unknown {
            v.evidence = vec!["network facts were not gathered".into()];
        }
        p.routes.insert(service.clone(), v);
    }
}

/// A profile named by `--profile` or the environment that is in neither file:
/// botocore raises ProfileNotFound before any client exists (`default` too,
/// when it is named).
fn missing_profile(prof: &profile::Profile) -> Option<String> {
    (!prof.exists && prof.origin != profile::ProfileOrigin::Default).then(|| {
        format!(
            "the profile {:?} is in neither shared file (ProfileNotFound)",
            prof.name
        )
    })
}

/// The operation's own parser stops the CLI: a required option missing, an
/// unknown option (core::op_args, which gives no verdict when unsure). Not
/// after an alias (its words join the line), nor when v2's auto-prompt may run
/// (it prompts for what is missing instead of stopping), nor with CLI plugins
/// (`[plugins]` of the config file: they may add options), nor for another
/// CLI version than the table's.
fn operation_args_stop(inv: &Invocation, f: &Facts, stdin: Option<&str>) -> Option<String> {
    let prompts = stdin == Some(&stdin_use::StdinUse::AutoPrompt.to_string());
    let plugins = match &f.files.config.parsed {
        Some(Ok(ini)) => ini.section("plugins").is_some(),
        Some(Err(_)) => true,
        None => false,
    };
    if !inv.aliases.is_empty() || plugins || (f.major == CliMajor::V2 && prompts) {
        return None;
    }
    crate::core::op_args::stops(
        f.major,
        f.cli_version,
        inv.command.as_deref()?,
        inv.operation.as_deref()?,
        &inv.rest,
    )
}

/// A parameter file the CLI will fail to read: any option of a service
/// command whose value is an unreadable `file://` / `fileb://` (v1 leaves the
/// values of a few URL options alone: awscli/paramfile.py PARAMFILE_DISABLED,
/// `data/paramfile-disabled-v1.tsv`). Customizations are left out: some of
/// their options do not read files.
fn unreadable_param_file(inv: &Invocation, f: &Facts) -> Option<String> {
    if f.unreadable_param_files.is_empty() {
        return None;
    }
    let command = inv.command.as_deref()?;
    let op = inv.operation.as_deref()?;
    if lookup_command(f.major, command)?.kind != CommandKind::Service {
        return None;
    }
    let disabled = match f.major {
        CliMajor::V1 => &crate::core::table::PARAMFILE_DISABLED_V1,
        CliMajor::V2 => &crate::core::table::PARAMFILE_DISABLED_V2,
    };
    let mut option = "";
    for tok in &inv.rest {
        let (opt, value) = match tok.strip_prefix("--") {
            Some(_) => match tok.split_once('=') {
                Some((o, v)) => (o, v),
                None => {
                    option = tok;
                    continue;
                }
            },
            None => (option, tok.as_str()),
        };
        if f.unreadable_param_files.iter().any(|u| u == value)
            && disabled
                .record(&format!("{command}\t{op}\t{opt}"))
                .is_none()
        {
            return Some(format!(
                "the parameter file {value} of {opt} cannot be read (Unable to load paramfile)"
            ));
        }
    }
    None
}

/// Fills each service's endpoint and hosts; returns why the CLI stops before
/// sending, when the command's own client cannot be built (no region, a
/// variant the region lacks).
fn fill_endpoints(
    p: &mut Plan,
    inv: &Invocation,
    f: &Facts,
    prof: &profile::Profile,
    layer: Option<&cli_layer::Rewrite>,
) -> Option<String> {
    let mut stop = None;
    let region = p.region.clone();
    let own_service = inv
        .command
        .as_deref()
        .and_then(|c| lookup_command(f.major, c))
        .and_then(|c| c.service);
    for (i, service) in p.services.clone().iter().enumerate() {
        // --endpoint-url, or the one the CLI layer put there, reaches the
        // command's own client only (not eks get-token's sts, not
        // cloudformation package's s3).
        let own = i == 0 && own_service == Some(service.as_str());
        let layer_url = layer.filter(|_| own).map(|l| l.endpoint_url);
        // v2's rds/dsql token commands call create_client('rds', region,
        // endpoint_url, verify_ssl) positionally, and v2's signature is
        // (service, region_name, use_ssl, verify, …): --endpoint-url only
        // decides the scheme (http:// without it, https:// with it) and is
        // never the endpoint (customizations/rds.py, dsql.py).
        let v2_token = f.major == CliMajor::V2 && own && cli_layer::signed_for_host(inv).is_some();
        let flag = if own && !v2_token {
            inv.endpoint_url().or(layer_url)
        } else {
            None
        };
        let variants = overrides::variants(f.env, prof, service);
        let params = EndpointParams {
            major: f.major,
            service,
            region: region.as_deref(),
            fips: variants.fips,
            dualstack: variants.dualstack,
            sts_regional: variants.sts_regional,
            s3_us_east_1_regional: variants.s3_us_east_1_regional,
        };
        let configured =
            match overrides::configured_url(f.major, service, flag, f.env, prof, f.files) {
                Ok(c) => c,
                Err(e) => {
                    p.endpoints.insert(service.clone(), None);
                    p.endpoint_notes.insert(service.clone(), e);
                    continue;
                }
            };
        let client = match &configured {
            Some((url, from)) => {
                let from = match layer_url {
                    Some(_) => cli_layer::SSL_COMMON_NAME_FROM,
                    None => from.as_str(),
                };
                p.endpoint_notes
                    .insert(service.clone(), format!("configured by {from}"));
                Ok(url.clone())
            }
            None => endpoints::client_endpoint(&params),
        };
        match client {
            Ok(url) => {
                if configured.is_none() {
                    p.endpoint_notes.insert(
                        service.clone(),
                        format!(
                            "from the endpoint rule set ({})",
                            endpoints::data_version(f.major)
                        ),
                    );
                }
                let mut hosts: Vec<String> = Vec::new();
                if service == "s3" && !p.buckets.is_empty() {
                    let path_only = s3_path_only(inv);
                    let presign_v1 = presign_v1_global(f.major, inv, &params, &variants);
                    // `s3 cp/mv/sync s3://a s3://b --source-region r`: the
                    // source bucket is read through a client of region r.
                    let source_region = (inv.command.as_deref() == Some("s3"))
                        .then(|| cli_layer::option_value(&inv.rest, "--source-region"))
                        .flatten()
                        .filter(|_| inv.rest.iter().filter(|t| t.starts_with("s3://")).count() > 1);
                    for (n, b) in p.buckets.iter().enumerate() {
                        let h = if let Some(h) =
                            cli_layer::s3_arn_host(b, variants.fips, variants.dualstack)
                        {
                            Some(h)
                        } else if let Some((url, _)) = &configured {
                            // A configured endpoint goes path style unless
                            // addressing_style = virtual (botocore args.py).
                            custom_bucket_host(url, b, path_only || !variants.s3_virtual_style)
                        } else {
                            let mut params = params.clone();
                            if presign_v1 {
                                params.region = Some("us-east-1");
                            }
                            if let Some(r) = source_region.filter(|_| n == 0) {
                                params.region = Some(r);
                            }
                            endpoints::s3_bucket_endpoint(
                                &params,
                                b,
                                variants.s3_path_style || path_only,
                            )
                            .ok()
                            .and_then(|u| url_host(&u).map(str::to_string))
                        };
                        if let Some(h) = h {
                            hosts.push(h);
                        }
                    }
                } else if let Some(h) = cli_layer::signed_for_host(inv).filter(|_| i == 0) {
                    // A token signed for the database host named on the line.
                    hosts.push(h.to_string());
                } else {
                    // The host a request goes to comes from the rule set, which
                    // differs from client.meta.endpoint_url for ~10 % of services.
                    let request = match &configured {
                        Some((u, _)) => u.clone(),
                        None => {
                            endpoints::request_endpoint(&params).unwrap_or_else(|_| url.clone())
                        }
                    };
                    // The operation's host prefix (the model's endpoint.hostPrefix).
                    let prefix = (i == 0 && !variants.no_host_prefix)
                        .then(|| cli_layer::host_prefix(f.major, inv, service))
                        .flatten()
                        .unwrap_or_default();
                    if let Some(h) = url_host(&request) {
                        let account = (i == 0 && configured.is_none())
                            .then(|| {
                                cli_layer::arn_account_host(
                                    f.major,
                                    inv,
                                    service,
                                    region.as_deref().unwrap_or_default(),
                                    h,
                                    variants.fips,
                                    variants.account_endpoints,
                                )
                            })
                            .flatten();
                        hosts.push(account.unwrap_or_else(|| format!("{prefix}{h}")));
                    }
                }
                // Host names as the request carries them: lower case
                // (`--region Region` gives `…s3-control.region.amazonaws.com`).
                for h in hosts.iter_mut() {
                    h.make_ascii_lowercase();
                }
                for h in &hosts {
                    if !p.hosts.contains(h) {
                        p.hosts.push(h.clone());
                    }
                }
                p.service_hosts.insert(service.clone(), hosts);
                // v2's token commands (above): without --endpoint-url the
                // client is on http://. The token is the same.
                let url = if v2_token && configured.is_none() && inv.endpoint_url().is_none() {
                    url.replacen("https://", "http://", 1)
                } else {
                    url
                };
                p.endpoints.insert(service.clone(), Some(url));
            }
            Err(e) => {
                // CLI v2 asks IMDS for a region before it gives up: until
                // c9aws has asked too, no region is not yet a stop.
                let awaits_imds = e == EndpointError::NoRegion
                    && f.major == CliMajor::V2
                    && f.imds_region.is_none()
                    && f.net.is_none()
                    && !region::imds_disabled(f.env);
                if i == 0 && e.stops_the_cli() && !awaits_imds {
                    stop = Some(endpoint_error_text(&e));
                }
                p.endpoints.insert(service.clone(), None);
                p.endpoint_notes
                    .insert(service.clone(), endpoint_error_text(&e));
            }
        }
    }
    stop
}

/// `s3api get-bucket-location` always goes path style: the bucket's region is
/// not known yet (botocore handlers.py, `customize_endpoint_resolver_builtins`).
fn s3_path_only(inv: &Invocation) -> bool {
    inv.command.as_deref() == Some("s3api")
        && inv.operation.as_deref() == Some("get-bucket-location")
}

/// CLI v1's `s3 presign` signs with SigV2 query authentication unless the
/// profile's `s3.signature_version` is `s3v4`; botocore sends such virtual-host
/// requests in the aws partition to the global endpoint (us-east-1, legacy):
/// the traced CLI gives `bucket.s3.amazonaws.com` from any aws region, and
/// `bucket.s3-fips.us-east-1…` with FIPS; dual-stack and path style stay
/// regional.
fn presign_v1_global(
    major: CliMajor,
    inv: &Invocation,
    params: &EndpointParams,
    variants: &overrides::Variants,
) -> bool {
    let aws_partition = params
        .region
        .is_none_or(|r| endpoints::partition_id(major, r) == Some("aws"));
    major == CliMajor::V1
        && inv.command.as_deref() == Some("s3")
        && inv.operation.as_deref() == Some("presign")
        && !variants.dualstack
        && !variants.s3_path_style
        && !variants.s3_sigv4
        && aws_partition
}

/// Host for a bucket request to a configured endpoint: botocore's rule set goes
/// virtual-hosted on a custom endpoint too, unless path style is set, the bucket
/// is not DNS-compatible, or the endpoint is an IP address.
fn custom_bucket_host(url: &str, bucket: &str, path_style: bool) -> Option<String> {
    let host = url_host(url)?;
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if path_style || is_ip || !endpoints::virtual_hostable(bucket) {
        Some(host.to_string())
    } else {
        Some(format!("{bucket}.{host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::configparse::parse;
    use crate::core::credentials::Cloud9Facts;
    use crate::core::decide::OnUnknown;
    use crate::core::profile::SharedFile;

    const CLOUD9_KEYS: &str =
        "[default]\naws_access_key_id = ASIAX\naws_secret_access_key = s\naws_session_token = t\n";

    fn files(config: &str) -> SharedFiles {
        SharedFiles {
            config: SharedFile {
                path: "config".into(),
                parsed: Some(parse(config)),
                ..Default::default()
            },
            credentials: SharedFile {
                path: "credentials".into(),
                parsed: Some(parse(CLOUD9_KEYS)),
                cloud9_header: true,
                ..Default::default()
            },
        }
    }

    #[test]
    fn operation_arguments_stop_only_when_sure() {
        let cfg = "[default]\nregion = us-east-1\n";
        let version = crate::core::op_args::data_version;
        let plan_v = |major, config, env: &[(&str, &str)], argv: &[&str]| {
            plan_for_version(major, version(major), config, env, None, None, argv)
        };
        let kind = |major, config, env: &[(&str, &str)], argv: &[&str]| {
            plan_v(major, config, env, argv).kind
        };
        for major in [CliMajor::V1, CliMajor::V2] {
            assert_eq!(kind(major, cfg, &[], &["kms", "re-encrypt"]), Kind::Fails);
            let p = plan_v(major, cfg, &[], &["sts", "get-caller-identity", "x"]);
            assert_eq!(p.kind, Kind::Fails);
            assert!(p.services.is_empty() && p.hosts.is_empty());
            assert!(p.decision.reason.contains("Unknown options: x"), "{p:?}");
            assert_eq!(
                kind(major, cfg, &[], &["sts", "get-caller-identity"]),
                Kind::Calls
            );
            // Another CLI version than the table's: no verdict.
            let p = plan_for(major, cfg, &[], None, None, &["kms", "re-encrypt"]);
            assert_eq!(p.kind, Kind::Calls);
            // CLI plugins may add options: no verdict.
            let plugins = "[default]\nregion = us-east-1\n[plugins]\nx = y\n";
            assert_eq!(
                kind(major, plugins, &[], &["kms", "re-encrypt"]),
                Kind::Calls
            );
        }
        // v2's auto-prompt asks for what is missing instead of stopping.
        let prompt = [("AWS_CLI_AUTO_PROMPT", "on-partial")];
        assert_eq!(
            kind(CliMajor::V2, cfg, &prompt, &["kms", "re-encrypt"]),
            Kind::Calls
        );
        assert_eq!(
            kind(CliMajor::V1, cfg, &prompt, &["kms", "re-encrypt"]),
            Kind::Fails
        );
    }

    /// The plan for `argv` with a fallback `fb`, no environment and no Cloud9 directories.
    fn plan_for(
        major: CliMajor,
        config: &str,
        env: &[(&str, &str)],
        imds_region: Option<&str>,
        net: Option<&NetFacts>,
        argv: &[&str],
    ) -> Plan {
        plan_for_version(major, None, config, env, imds_region, net, argv)
    }

    /// [`plan_for`] with the CLI version `aws --version` reported.
    fn plan_for_version(
        major: CliMajor,
        cli_version: Option<&str>,
        config: &str,
        env: &[(&str, &str)],
        imds_region: Option<&str>,
        net: Option<&NetFacts>,
        argv: &[&str],
    ) -> Plan {
        let files = files(config);
        let args: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let policy = Policy {
            fallback_profile: Some("fb".into()),
            ..Default::default()
        };
        plan(&Facts {
            unreadable_param_files: &[],
            stand_in: false,
            args: &args,
            major,
            major_known: true,
            cli_version,
            env: &env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            files: &files,
            aliases: &Aliases::default(),
            cloud9: &Cloud9Facts::default(),
            imds_region,
            net,
            policy: &policy,
        })
    }

    /// The arguments a switched call gets (`iam create-user` is refused under AMTC).
    fn switched(
        major: CliMajor,
        config: &str,
        env: &[(&str, &str)],
        imds_region: Option<&str>,
        argv: &[&str],
    ) -> Vec<String> {
        let files = files(config);
        let env: EnvMap = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let policy = Policy {
            fallback_profile: Some("fb".into()),
            on_unknown: OnUnknown::Amtc,
            ..Default::default()
        };
        let cloud9 = Cloud9Facts {
            c9_dir: true,
            environment_dir: true,
        };
        let p = plan(&Facts {
            unreadable_param_files: &[],
            stand_in: false,
            args: &args,
            major,
            major_known: true,
            cli_version: None,
            env: &env,
            files: &files,
            aliases: &Aliases::default(),
            cloud9: &cloud9,
            imds_region,
            net: None,
            policy: &policy,
        });
        assert!(p.decision.action.is_switch(), "{argv:?}: {p:?}");
        p.decision.action.inserted_args().to_vec()
    }

    /// A switch never moves a call: the region and output the plain call
    /// would have are pinned whenever the argv does not give them, whatever
    /// the fallback profile would resolve (CLI v2 did not resolve the
    /// environment's region for a fallback without one).
    #[test]
    fn a_switch_pins_the_plain_calls_region_and_output() {
        let fb_bare = "[profile fb]\ncredential_process = c9aws credential-process\n";
        let fb_other = "[profile fb]\nregion = eu-west-1\noutput = yaml\ncredential_process = x\n";
        let call: &[&str] = &["iam", "create-user", "--user-name", "bob"];
        // (major, config, env, IMDS region, argv, inserted arguments)
        type Row<'a> = (
            CliMajor,
            String,
            Vec<(&'a str, &'a str)>,
            Option<&'a str>,
            &'a [&'a str],
            &'a [&'a str],
        );
        let rows: Vec<Row> = vec![
            // Default profile's region, fallback without one: both majors.
            (
                CliMajor::V1,
                format!("[default]\nregion = ap-northeast-1\n{fb_bare}"),
                vec![],
                None,
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "ap-northeast-1",
                    "--output",
                    "json",
                ],
            ),
            (
                CliMajor::V2,
                format!("[default]\nregion = ap-northeast-1\n{fb_bare}"),
                vec![],
                None,
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "ap-northeast-1",
                    "--output",
                    "json",
                ],
            ),
            // No region in the default profile: v2 takes IMDS's, v1 none.
            (
                CliMajor::V2,
                fb_bare.to_string(),
                vec![],
                Some("ap-northeast-1"),
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "ap-northeast-1",
                    "--output",
                    "json",
                ],
            ),
            (
                CliMajor::V1,
                fb_bare.to_string(),
                vec![],
                Some("ap-northeast-1"),
                call,
                &["--profile", "fb", "--output", "json"],
            ),
            // A fallback with its own region and output does not move the call either.
            (
                CliMajor::V2,
                format!("[default]\nregion = us-east-2\noutput = text\n{fb_other}"),
                vec![],
                None,
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "us-east-2",
                    "--output",
                    "text",
                ],
            ),
            // The environment's region and output are the plain call's.
            (
                CliMajor::V1,
                fb_other.to_string(),
                vec![
                    ("AWS_DEFAULT_REGION", "sa-east-1"),
                    ("AWS_DEFAULT_OUTPUT", "table"),
                ],
                None,
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "sa-east-1",
                    "--output",
                    "table",
                ],
            ),
            (
                CliMajor::V2,
                fb_other.to_string(),
                vec![("AWS_REGION", "sa-east-1")],
                None,
                call,
                &[
                    "--profile",
                    "fb",
                    "--region",
                    "sa-east-1",
                    "--output",
                    "json",
                ],
            ),
            // The user's own --region / --output stay theirs: nothing inserted.
            (
                CliMajor::V2,
                fb_other.to_string(),
                vec![],
                Some("ap-northeast-1"),
                &[
                    "--region",
                    "us-west-2",
                    "--output",
                    "text",
                    "iam",
                    "create-user",
                    "--user-name",
                    "b",
                ],
                &["--profile", "fb"],
            ),
        ];
        for (major, config, env, imds, argv, want) in rows {
            assert_eq!(
                switched(major, &config, &env, imds, argv),
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{major:?} {config:?} {env:?} {imds:?} {argv:?}"
            );
        }
    }

    /// No region anywhere: CLI v1 stops (NoRegionError) and so the call is
    /// left alone; CLI v2 first asks IMDS, so until c9aws has asked too the
    /// call still calls, and stops only when IMDS gave no region either.
    #[test]
    fn no_region_stops_v1_at_once_and_v2_only_after_imds() {
        let asked = NetFacts::default();
        let off: &[(&str, &str)] = &[("AWS_EC2_METADATA_DISABLED", "true")];
        // (major, environment, IMDS region, network facts gathered, kind, region)
        type Row<'a> = (
            CliMajor,
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
            bool,
            Kind,
            Option<&'a str>,
        );
        let rows: &[Row] = &[
            (CliMajor::V1, &[], None, false, Kind::Fails, None),
            (
                CliMajor::V1,
                &[],
                Some("eu-west-1"),
                true,
                Kind::Fails,
                None,
            ),
            (CliMajor::V2, &[], None, false, Kind::Calls, None),
            (CliMajor::V2, &[], None, true, Kind::Fails, None),
            // IMDS off: v2 has nowhere to ask either
            (CliMajor::V2, off, None, false, Kind::Fails, None),
            (
                CliMajor::V2,
                &[],
                Some("eu-west-1"),
                true,
                Kind::Calls,
                Some("eu-west-1"),
            ),
        ];
        for (major, env, imds, gathered, kind, region) in rows {
            let net = gathered.then_some(&asked);
            let argv = ["ec2", "describe-vpcs"];
            let p = plan_for(*major, "[default]\n", env, *imds, net, &argv);
            let row = format!("{major:?} {imds:?} {gathered}");
            assert_eq!(p.kind, *kind, "{row}: {p:?}");
            assert_eq!(p.region.as_deref(), *region, "{row}");
            if *kind == Kind::Calls {
                assert_eq!(p.services, ["ec2"], "{row}");
            }
        }
    }

    /// `rds generate-db-auth-token`: v2 passes --endpoint-url where
    /// create_client takes use_ssl, so it only picks the scheme; v1 uses it.
    #[test]
    fn v2_token_commands_ignore_endpoint_url() {
        let token = [
            "--region",
            "us-west-2",
            "rds",
            "generate-db-auth-token",
            "--hostname",
            "db.example.com",
            "--port",
            "5432",
            "--username",
            "u",
        ];
        let flagged = [&["--endpoint-url", "https://x.example.com"][..], &token].concat();
        let rows: &[(CliMajor, &[&str], &str)] = &[
            (CliMajor::V2, &token, "http://rds.us-west-2.amazonaws.com"),
            (
                CliMajor::V2,
                &flagged,
                "https://rds.us-west-2.amazonaws.com",
            ),
            (CliMajor::V1, &token, "https://rds.us-west-2.amazonaws.com"),
            (CliMajor::V1, &flagged, "https://x.example.com"),
        ];
        for (major, argv, want) in rows {
            let p = plan_for(*major, "[default]\n", &[], None, None, argv);
            assert_eq!(
                p.endpoints["rds"].as_deref(),
                Some(*want),
                "{major:?} {argv:?}"
            );
            assert_eq!(p.hosts, ["db.example.com"], "{major:?} {argv:?}");
        }
    }

    /// Expired keys switch every call; a command signing for another
    /// machine switches whatever the route; a fresh file and an ordinary
    /// command keep AMTC (the route is unknown without network facts).
    #[test]
    fn expired_and_signed_for_elsewhere_switch() {
        let config = "[default]\nregion = ap-northeast-1\n[profile fb]\nregion = ap-northeast-1\n";
        let policy = Policy {
            fallback_profile: Some("fb".into()),
            ..Default::default()
        };
        let cloud9 = Cloud9Facts::default();
        let env = EnvMap::new();
        // (major, the credentials file's age, argv, the primary service's verdict)
        type Row<'a> = (CliMajor, Option<u64>, &'a [&'a str], Option<Verdict>);
        let rows: &[Row] = &[
            (
                CliMajor::V2,
                Some(60),
                &["eks", "get-token", "--cluster-name", "c"],
                Some(Verdict::SignedForElsewhere),
            ),
            (
                CliMajor::V1,
                Some(60),
                &["s3", "presign", "s3://b/k"],
                Some(Verdict::SignedForElsewhere),
            ),
            (CliMajor::V2, Some(60), &["ec2", "describe-instances"], None),
            (
                CliMajor::V2,
                Some(3600),
                &["ec2", "describe-instances"],
                Some(Verdict::Expired),
            ),
            (
                CliMajor::V1,
                Some(3600),
                &["s3", "presign", "s3://b/k"],
                Some(Verdict::Expired),
            ),
            (CliMajor::V1, None, &["ec2", "describe-instances"], None),
        ];
        for (major, age, argv, want) in rows {
            let mut files = files(config);
            files.credentials.age_secs = *age;
            let args: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
            let p = plan(&Facts {
                unreadable_param_files: &[],
                stand_in: false,
                args: &args,
                major: *major,
                major_known: true,
                cli_version: None,
                env: &env,
                files: &files,
                aliases: &Aliases::default(),
                cloud9: &cloud9,
                imds_region: None,
                net: None,
                policy: &policy,
            });
            let primary = &p.routes[&p.services[0]];
            match want {
                Some(v) => {
                    assert_eq!(primary.verdict, *v, "{argv:?}: {p:?}");
                    assert!(p.decision.action.is_switch(), "{argv:?}: {p:?}");
                }
                None => {
                    assert_eq!(primary.verdict, Verdict::Unknown, "{argv:?}");
                    assert!(!p.decision.action.is_switch(), "{argv:?}");
                }
            }
        }
    }

    #[test]
    fn hosts_from_urls() {
        let rows = [
            (
                "https://s3.eu-west-1.amazonaws.com",
                Some("s3.eu-west-1.amazonaws.com"),
            ),
            ("http://localhost:4566/", Some("localhost")),
            ("https://u:p@host.example:8443/path?q", Some("host.example")),
            ("http://[::1]:80", Some("::1")),
            ("https://", None),
        ];
        for (url, want) in rows {
            assert_eq!(url_host(url), want, "{url}");
        }
    }
}
