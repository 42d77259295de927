//! c9aws's own configuration: `$C9AWS_CONFIG`, else `<config dir>/c9aws/config`
//! (`~/.config/c9aws/config` on Linux), INI read with rust-ini, then the
//! environment overrides (`C9AWS_FALLBACK_PROFILE`, `C9AWS_ON_UNKNOWN`,
//! `C9AWS_CHECKIP_URL`, `C9AWS_NOTICE`, `C9AWS_AMTC_LIFE`, `C9AWS_ROUTE_TABLES_READ`,
//! `C9AWS_LONG_CALLS`),
//! which win over the file.
//!
//! A malformed file is reported with its name and line, and c9aws carries on
//! with no fallback at all (so the call runs unswitched, as plain `aws` would).

use crate::core::decide::{OnUnknown, Policy, ServiceRoute};
use crate::core::long_call::LongCalls;
use crate::core::EnvMap;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A line on stderr when it is a terminal.
    Auto,
    Always,
    Never,
}

impl Notice {
    /// Is the one-line notice of a switch to be written now?
    pub fn shows(self) -> bool {
        match self {
            Notice::Never => false,
            Notice::Always => true,
            // SAFETY: isatty on fd 2 only reads.
            Notice::Auto => unsafe { libc::isatty(2) == 1 },
        }
    }
}

/// Seconds each kind of entry stays fresh in the facts cache. The first four
/// are configurable (`imds_ttl`, `egress_ttl`, `dns_ttl`, `route_tables_ttl`;
/// 0 turns a kind off); `learnt`, how long a refusal the safety net saw is
/// remembered, is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// The instance's facts (IMDS).
    pub imds: u64,
    /// The egress IP; also how long a failed IMDS is remembered.
    pub egress: u64,
    pub dns: u64,
    /// A subnet's routing, or the failure to read it.
    pub route_tables: u64,
    pub learnt: u64,
}

impl Ttls {
    /// Every TTL times `k` (saturating): the hard limits of `stale_limit`.
    /// `learnt` is not scaled: a refusal is not a fact that goes stale.
    pub fn scaled(self, k: u64) -> Ttls {
        Ttls {
            imds: self.imds.saturating_mul(k),
            egress: self.egress.saturating_mul(k),
            dns: self.dns.saturating_mul(k),
            route_tables: self.route_tables.saturating_mul(k),
            learnt: self.learnt,
        }
    }
}

/// The default `stale_limit`: facts serve, while refreshed in the background,
/// up to 3 times their TTL (route tables: 30 minutes).
pub const DEFAULT_STALE_LIMIT: u64 = 3;

impl Default for Ttls {
    fn default() -> Ttls {
        Ttls {
            imds: 3600,
            egress: 600,
            dns: 300,
            route_tables: 600,
            learnt: 600,
        }
    }
}

use crate::adapters::probe::DEFAULT_CHECKIP_URL;

/// How the subnet's route table is read (`route_tables_read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTablesRead {
    /// Signed EC2 calls from c9aws-probe (tens of ms), the CLI whenever they
    /// cannot stand for it (src/adapters/ec2_direct.rs).
    Direct,
    /// Always the real CLI (two interpreter start-ups, ~1.1-1.6 s).
    Cli,
}

fn parse_route_tables_read(v: &str) -> Option<RouteTablesRead> {
    match v.trim() {
        "direct" => Some(RouteTablesRead::Direct),
        "cli" => Some(RouteTablesRead::Cli),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub path: Option<PathBuf>,
    /// `aws_path`: the AWS CLI to run, when not found on PATH.
    pub aws_path: Option<String>,
    pub policy: Policy,
    pub checkip_url: String,
    pub notice: Notice,
    pub ttls: Ttls,
    /// `stale_limit`: how many times its TTL a fact may serve a call while a
    /// detached refresher probes it again; past that, the call probes in the
    /// foreground. 0 or 1: never used past the TTL.
    pub stale_limit: u64,
    /// `route_tables_read`: direct (default) or cli.
    pub route_tables_read: RouteTablesRead,
    /// Problems to tell the user about (file and line).
    pub problems: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            path: None,
            aws_path: None,
            policy: Policy::default(),
            checkip_url: DEFAULT_CHECKIP_URL.into(),
            notice: Notice::Auto,
            ttls: Ttls::default(),
            stale_limit: DEFAULT_STALE_LIMIT,
            route_tables_read: RouteTablesRead::Direct,
            problems: Vec::new(),
        }
    }
}

pub fn config_path(env: &EnvMap) -> Option<PathBuf> {
    if let Some(p) = env.get("C9AWS_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(x) = env.get("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("c9aws/config"));
    }
    if let Some(h) = env.get("HOME") {
        return Some(PathBuf::from(h).join(".config/c9aws/config"));
    }
    dirs::config_dir().map(|d| d.join("c9aws/config"))
}

/// The 1-based line of `key` in `text`, for messages about a bad value.
fn line_of(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut in_section = section.is_none();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            in_section = Some(h.trim()) == section;
            continue;
        }
        if in_section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    return i + 1;
                }
            }
        }
    }
    0
}

fn parse_on_unknown(v: &str) -> Option<OnUnknown> {
    match v.trim() {
        "amtc" => Some(OnUnknown::Amtc),
        "fallback" => Some(OnUnknown::Fallback),
        _ => None,
    }
}

fn parse_notice(v: &str) -> Option<Notice> {
    match v.trim() {
        "auto" => Some(Notice::Auto),
        "always" => Some(Notice::Always),
        "never" => Some(Notice::Never),
        _ => None,
    }
}

fn parse_long_calls(v: &str) -> Option<LongCalls> {
    match v.trim() {
        "refresh" => Some(LongCalls::Refresh),
        "off" => Some(LongCalls::Off),
        _ => None,
    }
}

fn parse_route(v: &str) -> Option<ServiceRoute> {
    match v.trim() {
        "auto" => Some(ServiceRoute::Auto),
        "amtc" => Some(ServiceRoute::Amtc),
        "fallback" => Some(ServiceRoute::Fallback),
        _ => None,
    }
}

pub fn load(env: &EnvMap) -> Settings {
    let mut s = Settings {
        path: config_path(env),
        ..Default::default()
    };
    if let Some(path) = s.path.clone() {
        match std::fs::read_to_string(&path) {
            Ok(text) => read_file(&mut s, &path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => s.problems.push(format!(
                "{}: cannot read: {e}; no fallback used",
                path.display()
            )),
        }
    }
    apply_env(&mut s, env);
    s
}

fn read_file(s: &mut Settings, name: &str, text: &str) {
    let conf = match ini::Ini::load_from_str(text) {
        Ok(c) => c,
        Err(e) => {
            s.problems.push(format!(
                "{name}: line {}: {}; no fallback used for this call",
                e.line, e.msg
            ));
            return;
        }
    };
    let mut problems: Vec<String> = Vec::new();
    let bad = |problems: &mut Vec<String>,
               section: Option<&str>,
               key: &str,
               value: &str,
               allowed: &str| {
        problems.push(format!(
            "{name}: line {}: {key} = {value:?} is not one of {allowed}; ignored",
            line_of(text, section, key)
        ));
    };
    let general = conf.general_section();
    let mut policy = Policy::default();
    let mut notice = Notice::Auto;
    let mut ttls = Ttls::default();
    let mut stale_limit = DEFAULT_STALE_LIMIT;
    let mut checkip = DEFAULT_CHECKIP_URL.to_string();
    let mut aws_path = None;
    let mut route_tables_read = RouteTablesRead::Direct;
    for (k, v) in general.iter() {
        match k {
            "fallback_profile" => {
                policy.fallback_profile = Some(v.trim().to_string()).filter(|p| !p.is_empty())
            }
            "on_unknown" => match parse_on_unknown(v) {
                Some(o) => policy.on_unknown = o,
                None => bad(&mut problems, None, k, v, "amtc, fallback"),
            },
            "notice" => match parse_notice(v) {
                Some(n) => notice = n,
                None => bad(&mut problems, None, k, v, "auto, always, never"),
            },
            "checkip_url" => checkip = v.trim().to_string(),
            "route_tables_read" => match parse_route_tables_read(v) {
                Some(r) => route_tables_read = r,
                None => bad(&mut problems, None, k, v, "direct, cli"),
            },
            "aws_path" => aws_path = Some(v.trim().to_string()).filter(|p| !p.is_empty()),
            "amtc_life" => match v.trim().parse::<u64>() {
                Ok(n) => policy.amtc_life = n,
                Err(_) => bad(&mut problems, None, k, v, "a number of seconds"),
            },
            "long_calls" => match parse_long_calls(v) {
                Some(l) => policy.long_calls = l,
                None => bad(&mut problems, None, k, v, "refresh, off"),
            },
            "stale_limit" => match v.trim().parse::<u64>() {
                Ok(n) => stale_limit = n,
                Err(_) => bad(&mut problems, None, k, v, "a whole number (times each TTL)"),
            },
            "imds_ttl" | "egress_ttl" | "dns_ttl" | "route_tables_ttl" => {
                match v.trim().parse::<u64>() {
                    Ok(n) => match k {
                        "imds_ttl" => ttls.imds = n,
                        "egress_ttl" => ttls.egress = n,
                        "dns_ttl" => ttls.dns = n,
                        _ => ttls.route_tables = n,
                    },
                    Err(_) => bad(&mut problems, None, k, v, "a number of seconds"),
                }
            }
            _ => problems.push(format!(
                "{name}: line {}: unknown setting {k:?}; ignored",
                line_of(text, None, k)
            )),
        }
    }
    let mut routes = BTreeMap::new();
    for (section, props) in conf.iter() {
        let Some(section) = section else { continue };
        let Some(service) = section.strip_prefix("service ").map(str::trim) else {
            problems.push(format!("{name}: unknown section [{section}]; ignored"));
            continue;
        };
        if let Some(v) = props.get("route") {
            match parse_route(v) {
                Some(r) => {
                    routes.insert(service.to_string(), r);
                }
                None => problems.push(format!(
                    "{name}: line {}: route = {v:?} is not one of auto, amtc, fallback; ignored",
                    line_of(text, Some(section), "route")
                )),
            }
        }
    }
    policy.service_routes = routes;
    s.problems.extend(problems);
    s.policy = policy;
    s.notice = notice;
    s.ttls = ttls;
    s.stale_limit = stale_limit;
    s.checkip_url = checkip;
    s.aws_path = aws_path;
    s.route_tables_read = route_tables_read;
}

fn apply_env(s: &mut Settings, env: &EnvMap) {
    if let Some(v) = env.get("C9AWS_FALLBACK_PROFILE") {
        s.policy.fallback_profile = Some(v.trim().to_string()).filter(|p| !p.is_empty());
    }
    if let Some(v) = env.get("C9AWS_ON_UNKNOWN") {
        match parse_on_unknown(v) {
            Some(o) => s.policy.on_unknown = o,
            None => s.problems.push(format!(
                "C9AWS_ON_UNKNOWN={v:?} is not one of amtc, fallback; ignored"
            )),
        }
    }
    if let Some(v) = env.get("C9AWS_AMTC_LIFE") {
        match v.trim().parse::<u64>() {
            Ok(n) => s.policy.amtc_life = n,
            Err(_) => s.problems.push(format!(
                "C9AWS_AMTC_LIFE={v:?} is not a number of seconds; ignored"
            )),
        }
    }
    if let Some(v) = env.get("C9AWS_LONG_CALLS") {
        match parse_long_calls(v) {
            Some(l) => s.policy.long_calls = l,
            None => s.problems.push(format!(
                "C9AWS_LONG_CALLS={v:?} is not one of refresh, off; ignored"
            )),
        }
    }
    if let Some(v) = env.get("C9AWS_CHECKIP_URL").filter(|v| !v.is_empty()) {
        s.checkip_url = v.clone();
    }
    if let Some(v) = env.get("C9AWS_ROUTE_TABLES_READ") {
        match parse_route_tables_read(v) {
            Some(r) => s.route_tables_read = r,
            None => s.problems.push(format!(
                "C9AWS_ROUTE_TABLES_READ={v:?} is not one of direct, cli; ignored"
            )),
        }
    }
    if let Some(v) = env.get("C9AWS_NOTICE") {
        match parse_notice(v) {
            Some(n) => s.notice = n,
            None => s.problems.push(format!(
                "C9AWS_NOTICE={v:?} is not one of auto, always, never; ignored"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str, env: &[(&str, &str)]) -> Settings {
        let mut s = Settings::default();
        read_file(&mut s, "cfg", text);
        let env: EnvMap = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        apply_env(&mut s, &env);
        s
    }

    #[test]
    fn file_then_environment() {
        let text = "fallback_profile = c9-fallback\non_unknown = fallback\nnotice = never\ndns_ttl = 60\n\n[service s3]\nroute = amtc\n[service sts]\nroute = fallback\n";
        let s = with(text, &[]);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.policy.fallback_profile.as_deref(), Some("c9-fallback"));
        assert_eq!(s.policy.on_unknown, OnUnknown::Fallback);
        assert_eq!(s.notice, Notice::Never);
        assert_eq!(s.ttls.dns, 60);
        assert_eq!(s.policy.amtc_life, 900, "the default: Cloud9's 15 minutes");
        assert_eq!(s.policy.service_routes.get("s3"), Some(&ServiceRoute::Amtc));
        assert_eq!(
            s.policy.service_routes.get("sts"),
            Some(&ServiceRoute::Fallback)
        );
        let s = with(
            text,
            &[
                ("C9AWS_FALLBACK_PROFILE", "other"),
                ("C9AWS_ON_UNKNOWN", "amtc"),
                ("C9AWS_NOTICE", "always"),
                ("C9AWS_CHECKIP_URL", "http://x/"),
            ],
        );
        assert_eq!(s.policy.fallback_profile.as_deref(), Some("other"));
        assert_eq!(with("amtc_life = 1200\n", &[]).policy.amtc_life, 1200);
        assert_eq!(with("amtc_life = 0\n", &[]).policy.amtc_life, 0);
        assert_eq!(
            with("amtc_life = 1200\n", &[("C9AWS_AMTC_LIFE", "60")])
                .policy
                .amtc_life,
            60
        );
        assert_eq!(with("", &[]).policy.long_calls, LongCalls::Refresh);
        assert_eq!(
            with("long_calls = off\n", &[]).policy.long_calls,
            LongCalls::Off
        );
        assert_eq!(
            with("long_calls = off\n", &[("C9AWS_LONG_CALLS", "refresh")])
                .policy
                .long_calls,
            LongCalls::Refresh
        );
        let bad = with("long_calls = sometimes\n", &[]);
        assert_eq!(bad.policy.long_calls, LongCalls::Refresh);
        assert!(
            bad.problems[0].contains("refresh, off"),
            "{:?}",
            bad.problems
        );
        let bad = with("amtc_life = soon\n", &[]);
        assert_eq!(bad.policy.amtc_life, 900);
        assert!(bad.problems[0].contains("line 1"), "{:?}", bad.problems);
        assert_eq!(s.policy.on_unknown, OnUnknown::Amtc);
        assert_eq!(s.notice, Notice::Always);
        assert_eq!(s.checkip_url, "http://x/");
    }

    #[test]
    fn bad_values_name_the_line() {
        let s = with("fallback_profile = fb\n\non_unknown = maybe\n", &[]);
        assert_eq!(s.policy.fallback_profile.as_deref(), Some("fb"));
        assert!(s.problems[0].contains("line 3"), "{:?}", s.problems);
        let s = with("[service s3\nroute = x\n", &[]);
        assert!(s.problems[0].contains("cfg: line"), "{:?}", s.problems);
        assert_eq!(
            s.policy.fallback_profile, None,
            "a malformed file means no switch"
        );
        let s = with("[service s3]\nroute = sideways\n", &[]);
        assert!(s.problems[0].contains("line 2"), "{:?}", s.problems);
    }

    #[test]
    fn route_tables_read_from_file_and_env() {
        assert_eq!(with("", &[]).route_tables_read, RouteTablesRead::Direct);
        assert_eq!(
            with("route_tables_read = cli\n", &[]).route_tables_read,
            RouteTablesRead::Cli
        );
        assert_eq!(
            with(
                "route_tables_read = cli\n",
                &[("C9AWS_ROUTE_TABLES_READ", "direct")]
            )
            .route_tables_read,
            RouteTablesRead::Direct
        );
        let bad = with(
            "route_tables_read = sdk\n",
            &[("C9AWS_ROUTE_TABLES_READ", "x")],
        );
        assert_eq!(bad.route_tables_read, RouteTablesRead::Direct);
        assert_eq!(bad.problems.len(), 2, "{:?}", bad.problems);
    }

    #[test]
    fn stale_limit_is_a_multiple_of_each_ttl() {
        assert_eq!(with("", &[]).stale_limit, 3);
        assert_eq!(with("stale_limit = 6\n", &[]).stale_limit, 6);
        assert_eq!(with("stale_limit = 0\n", &[]).stale_limit, 0);
        let bad = with("stale_limit = 1h\n", &[]);
        assert_eq!(bad.stale_limit, 3);
        assert!(
            bad.problems[0].contains("line 1: stale_limit"),
            "{:?}",
            bad.problems
        );
        let hard = Ttls::default().scaled(3);
        assert_eq!((hard.imds, hard.dns, hard.route_tables), (10800, 900, 1800));
        assert_eq!(
            hard.learnt,
            Ttls::default().learnt,
            "refusals are not stretched"
        );
        assert_eq!(Ttls::default().scaled(u64::MAX).dns, u64::MAX);
    }
}
