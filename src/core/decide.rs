//! Switch or pass through: the one decision c9aws makes.
//!
//! Switch only when AMTC is in play and some target service's verdict is a
//! refusal (or `unknown` under `on_unknown = fallback`, or a per-service
//! `route = fallback`). Never switch local-only or unpredictable command lines,
//! an explicit `--profile`, environment keys, or unsigned calls. Pure.

use crate::core::credentials::{CredentialReport, Source};
use crate::core::route::{RouteVerdict, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

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

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub fallback_profile: Option<String>,
    pub on_unknown: OnUnknown,
    pub service_routes: BTreeMap<String, ServiceRoute>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// `passthrough` or `switch`.
    pub action: &'static str,
    /// The profile the call runs with when switched.
    pub profile: Option<String>,
    pub reason: String,
    /// The services that made the decision (for the notice).
    pub because: Vec<String>,
    /// AMTC kept on an `unknown` verdict: a refusal may be retried once.
    pub retry_on_refusal: bool,
    /// A refusal is expected but no fallback profile is configured.
    pub needs_fallback: bool,
}

impl Decision {
    pub fn pass(reason: impl Into<String>) -> Decision {
        Decision {
            action: "passthrough",
            profile: None,
            reason: reason.into(),
            because: Vec::new(),
            retry_on_refusal: false,
            needs_fallback: false,
        }
    }
}

/// `kind` is the plan's kind: `calls`, `local` or `unpredictable`.
pub fn decide(
    kind: &str,
    creds: &CredentialReport,
    routes: &BTreeMap<String, RouteVerdict>,
    policy: &Policy,
) -> Decision {
    match kind {
        "local" => return Decision::pass("local-only: never switched"),
        "unpredictable" => {
            return Decision::pass("the target cannot be predicted: passed through unchanged")
        }
        _ => {}
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
        Source::Profile if creds.explicit_profile => {
            return Decision::pass("explicit --profile: left exactly as given")
        }
        Source::Profile | Source::None => {
            return Decision::pass("not Cloud9's managed credentials: nothing to switch")
        }
    }
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    let mut forced = Vec::new();
    for (svc, r) in routes {
        match policy
            .service_routes
            .get(svc)
            .copied()
            .unwrap_or(ServiceRoute::Auto)
        {
            ServiceRoute::Amtc => continue,
            ServiceRoute::Fallback => forced.push(svc.clone()),
            ServiceRoute::Auto => {
                if r.verdict.refuses() {
                    refused.push(format!("{svc}: {}", r.verdict.as_str()));
                } else if r.verdict == Verdict::Unknown {
                    unknown.push(svc.clone());
                }
            }
        }
    }
    let mut because: Vec<String> = forced
        .iter()
        .map(|s| format!("{s}: route = fallback in c9aws's config"))
        .collect();
    because.extend(refused.iter().cloned());
    if because.is_empty() && !unknown.is_empty() && policy.on_unknown == OnUnknown::Fallback {
        because.extend(
            unknown
                .iter()
                .map(|s| format!("{s}: unknown, on_unknown = fallback")),
        );
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
    match &policy.fallback_profile {
        Some(p) => Decision {
            action: "switch",
            profile: Some(p.clone()),
            reason: format!(
                "AWS would refuse Cloud9's managed credentials ({})",
                because.join("; ")
            ),
            because,
            retry_on_refusal: false,
            needs_fallback: false,
        },
        None => {
            let mut d = Decision::pass(format!(
                "AWS would refuse Cloud9's managed credentials ({}), but no fallback profile is configured",
                because.join("; ")
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
                            service_routes: BTreeMap::new(),
                        };
                        let d = decide(
                            "calls",
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
                            d.action == "switch",
                            switched,
                            "{v:?} {src:?} {explicit} {on_unknown:?} {fallback:?}"
                        );
                        assert_eq!(d.profile.is_some(), switched);
                        assert_eq!(d.needs_fallback, wants_switch && fallback.is_none());
                        assert_eq!(
                            d.retry_on_refusal,
                            src == Source::Amtc
                                && !explicit
                                && v == Verdict::Unknown
                                && on_unknown == OnUnknown::Amtc
                                && fallback.is_some()
                        );
                        for kind in ["local", "unpredictable"] {
                            let d =
                                decide(kind, &creds(src, explicit), &routes(&[("s3", v)]), &policy);
                            assert_eq!(d.action, "passthrough");
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
        let d = decide("calls", &creds(Source::Amtc, false), &r, &policy);
        assert_eq!(d.action, "switch");
        assert_eq!(d.because, vec!["s3: gateway-endpoint".to_string()]);
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
            decide("calls", &creds(Source::Amtc, false), &r, &policy).action,
            "passthrough"
        );
        policy
            .service_routes
            .insert("s3".into(), ServiceRoute::Fallback);
        let r = routes(&[("s3", Verdict::Public)]);
        assert_eq!(
            decide("calls", &creds(Source::Amtc, false), &r, &policy).action,
            "switch"
        );
    }
}
