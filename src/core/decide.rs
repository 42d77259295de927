//! Switch or pass through: the one decision c9aws makes.
//!
//! Switch only when AMTC is in play and some target service's verdict is a
//! refusal (or `unknown` under `on_unknown = fallback`, or a per-service
//! `route = fallback`). Never switch local-only or unpredictable command lines,
//! an explicit `--profile`, environment keys, or unsigned calls. Pure.

use crate::core::credentials::{CredentialReport, Source};
use crate::core::route::{RouteVerdict, Verdict};
use crate::core::target::Kind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnUnknown {
    /// Keep AMTC; the safety net retries with the fallback on an AMTC refusal.
    #[default]
    Amtc,
    Fallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceRoute {
    Auto,
    Amtc,
    Fallback,
}

/// How long Cloud9's managed credentials live after Cloud9 writes them, in
/// seconds (`amtc_life` in c9aws's config).
pub const DEFAULT_AMTC_LIFE: u64 = 900;

#[derive(Debug, Clone)]
pub struct Policy {
    pub fallback_profile: Option<String>,
    pub on_unknown: OnUnknown,
    pub service_routes: BTreeMap<String, ServiceRoute>,
    /// AMTC older than this (the credentials file's age) are expired; 0: never.
    pub amtc_life: u64,
    /// `long_calls`: whether long-looking calls read AMTC through a
    /// re-reading credential process (core::long_call).
    pub long_calls: crate::core::long_call::LongCalls,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            fallback_profile: None,
            on_unknown: OnUnknown::default(),
            service_routes: BTreeMap::new(),
            amtc_life: DEFAULT_AMTC_LIFE,
            long_calls: Default::default(),
        }
    }
}

/// What c9aws does with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the CLI with the argv exactly as given.
    Passthrough,
    /// Run it with the fallback profile: `args` (`--profile NAME`, and the
    /// region and output the call would otherwise lose) go right after the
    /// program name, so the user's own later options still win.
    Switch { profile: String, args: Vec<String> },
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Passthrough => "passthrough",
            Action::Switch { .. } => "switch",
        }
    }

    pub fn is_switch(&self) -> bool {
        matches!(self, Action::Switch { .. })
    }

    /// The profile a switched call runs with.
    pub fn profile(&self) -> Option<&str> {
        match self {
            Action::Switch { profile, .. } => Some(profile),
            Action::Passthrough => None,
        }
    }

    /// The arguments inserted after the program name (none when passed through).
    pub fn inserted_args(&self) -> &[String] {
        match self {
            Action::Switch { args, .. } => args,
            Action::Passthrough => &[],
        }
    }
}

/// Why one service made the call switch (or would, given a fallback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `route = fallback` for the service in c9aws's config.
    Configured,
    /// Its route's verdict refuses AMTC.
    Refused(Verdict),
    /// Its route is unknown and `on_unknown = fallback`.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub service: String,
    pub why: Why,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.service;
        match &self.why {
            Why::Configured => write!(f, "{s}: route = fallback in c9aws's config"),
            Why::Refused(v) => write!(f, "{s}: {}", v.as_str()),
            Why::Unknown => write!(f, "{s}: unknown, on_unknown = fallback"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: String,
    /// The services that made the decision (for the notice).
    pub because: Vec<Cause>,
    /// AMTC kept on an `unknown` verdict: a refusal may be retried once.
    pub retry_on_refusal: bool,
    /// A refusal is expected but no fallback profile is configured.
    pub needs_fallback: bool,
}

/// `explain --json` keeps its shape: `action` a word, `profile` beside it,
/// `because` in words.
impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            action: &'static str,
            profile: Option<&'a str>,
            reason: &'a str,
            because: Vec<String>,
            retry_on_refusal: bool,
            needs_fallback: bool,
        }
        View {
            action: self.action.as_str(),
            profile: self.action.profile(),
            reason: &self.reason,
            because: self.because.iter().map(Cause::to_string).collect(),
            retry_on_refusal: self.retry_on_refusal,
            needs_fallback: self.needs_fallback,
        }
        .serialize(ser)
    }
}

impl Decision {
    pub fn pass(reason: impl Into<String>) -> Decision {
        Decision {
            action: Action::Passthrough,
            reason: reason.into(),
            because: Vec::new(),
            retry_on_refusal: false,
            needs_fallback: false,
        }
    }
}

pub fn decide(
    kind: Kind,
    creds: &CredentialReport,
    routes: &BTreeMap<String, RouteVerdict>,
    policy: &Policy,
) -> Decision {
    match kind {
        Kind::Local => return Decision::pass("local-only: never switched"),
        Kind::Unpredictable => {
            return Decision::pass("the target cannot be predicted: passed through unchanged")
        }
        Kind::Fails => {
            return Decision::pass(
                "the CLI stops before sending anything: passed through unchanged",
            )
        }
        Kind::Calls => {}
    }
    if creds.explicit_profile {
        return Decision::pass("explicit --profile: left exactly as given");
    }
    match creds.source {
        Source::Amtc => {}
        Source::Unsigned => {
            return Decision::pass("unsigned call (--no-sign-request): nothing to switch")
        }
        Source::Env => {
            return Decision::pass("credentials from the environment: left exactly as given")
        }
        Source::Profile | Source::None => {
            return Decision::pass("not Cloud9's managed credentials: nothing to switch")
        }
    }
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    let mut forced = Vec::new();
    for (svc, r) in routes {
        let cause = |why| Cause {
            service: svc.clone(),
            why,
        };
        match policy
            .service_routes
            .get(svc)
            .copied()
            .unwrap_or(ServiceRoute::Auto)
        {
            ServiceRoute::Amtc => continue,
            ServiceRoute::Fallback => forced.push(cause(Why::Configured)),
            ServiceRoute::Auto => {
                if r.verdict.refuses() {
                    refused.push(cause(Why::Refused(r.verdict)));
                } else if r.verdict == Verdict::Unknown {
                    unknown.push(svc.clone());
                }
            }
        }
    }
    let mut because = forced;
    because.extend(refused);
    if because.is_empty() && !unknown.is_empty() && policy.on_unknown == OnUnknown::Fallback {
        because.extend(unknown.iter().map(|s| Cause {
            service: s.clone(),
            why: Why::Unknown,
        }));
    }
    if because.is_empty() {
        let mut d = Decision::pass(if unknown.is_empty() {
            "AWS accepts Cloud9's managed credentials on every route of this call: kept".to_string()
        } else {
            format!(
                "route of {} unknown: Cloud9's managed credentials kept (on_unknown = amtc)",
                unknown.join(", ")
            )
        });
        d.retry_on_refusal = !unknown.is_empty() && policy.fallback_profile.is_some();
        return d;
    }
    let listed = because
        .iter()
        .map(Cause::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    match &policy.fallback_profile {
        Some(p) => Decision {
            action: Action::Switch {
                profile: p.clone(),
                args: Vec::new(),
            },
            reason: format!("AWS would refuse Cloud9's managed credentials ({listed})"),
            because,
            retry_on_refusal: false,
            needs_fallback: false,
        },
        None => {
            let mut d = Decision::pass(format!(
                "AWS would refuse Cloud9's managed credentials ({listed}), but no fallback profile is configured"
            ));
            d.because = because;
            d.needs_fallback = true;
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(source: Source, explicit: bool) -> CredentialReport {
        CredentialReport {
            source,
            profile: Some("default".into()),
            provider: "x",
            explicit_profile: explicit,
            evidence: vec![],
            problem: None,
        }
    }

    fn routes(v: &[(&str, Verdict)]) -> BTreeMap<String, RouteVerdict> {
        v.iter()
            .map(|(s, v)| {
                (
                    s.to_string(),
                    RouteVerdict {
                        verdict: *v,
                        evidence: vec![],
                    },
                )
            })
            .collect()
    }

    #[test]
    fn every_verdict_source_and_policy() {
        let verdicts = [
            Verdict::Public,
            Verdict::Nat,
            Verdict::InterfaceEndpoint,
            Verdict::GatewayEndpoint,
            Verdict::RefusedAction,
            Verdict::LearntRefusal,
            Verdict::SignedForElsewhere,
            Verdict::Expired,
            Verdict::Unknown,
        ];
        let sources = [
            (Source::Amtc, false),
            (Source::Amtc, true),
            (Source::Profile, false),
            (Source::Profile, true),
            (Source::Env, false),
            (Source::Unsigned, false),
            (Source::None, false),
        ];
        for v in verdicts {
            for (src, explicit) in sources {
                for on_unknown in [OnUnknown::Amtc, OnUnknown::Fallback] {
                    for fallback in [None, Some("fb".to_string())] {
                        let policy = Policy {
                            fallback_profile: fallback.clone(),
                            on_unknown,
                            ..Default::default()
                        };
                        let d = decide(
                            Kind::Calls,
                            &creds(src, explicit),
                            &routes(&[("s3", v)]),
                            &policy,
                        );
                        let wants_switch = src == Source::Amtc
                            && !explicit
                            && (v.refuses()
                                || (v == Verdict::Unknown && on_unknown == OnUnknown::Fallback));
                        let switched = wants_switch && fallback.is_some();
                        assert_eq!(
                            d.action.is_switch(),
                            switched,
                            "{v:?} {src:?} {explicit} {on_unknown:?} {fallback:?}"
                        );
                        assert_eq!(d.action.profile().is_some(), switched);
                        assert_eq!(d.needs_fallback, wants_switch && fallback.is_none());
                        assert_eq!(
                            d.retry_on_refusal,
                            src == Source::Amtc
                                && !explicit
                                && v == Verdict::Unknown
                                && on_unknown == OnUnknown::Amtc
                                && fallback.is_some()
                        );
                        for kind in [Kind::Local, Kind::Unpredictable] {
                            let d =
                                decide(kind, &creds(src, explicit), &routes(&[("s3", v)]), &policy);
                            assert_eq!(d.action, Action::Passthrough);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn any_refusing_service_switches_the_whole_call() {
        let policy = Policy {
            fallback_profile: Some("fb".into()),
            ..Default::default()
        };
        let r = routes(&[
            ("cloudformation", Verdict::Public),
            ("s3", Verdict::GatewayEndpoint),
        ]);
        let d = decide(Kind::Calls, &creds(Source::Amtc, false), &r, &policy);
        assert!(d.action.is_switch());
        assert_eq!(
            d.because,
            vec![Cause {
                service: "s3".into(),
                why: Why::Refused(Verdict::GatewayEndpoint)
            }]
        );
        assert_eq!(d.because[0].to_string(), "s3: gateway-endpoint");
    }

    #[test]
    fn per_service_routes_override_verdicts() {
        let mut policy = Policy {
            fallback_profile: Some("fb".into()),
            ..Default::default()
        };
        policy
            .service_routes
            .insert("s3".into(), ServiceRoute::Amtc);
        let r = routes(&[("s3", Verdict::Nat)]);
        assert_eq!(
            decide(Kind::Calls, &creds(Source::Amtc, false), &r, &policy).action,
            Action::Passthrough
        );
        policy
            .service_routes
            .insert("s3".into(), ServiceRoute::Fallback);
        let r = routes(&[("s3", Verdict::Public)]);
        assert!(
            decide(Kind::Calls, &creds(Source::Amtc, false), &r, &policy)
                .action
                .is_switch()
        );
    }
}
