//! Endpoint settings a user can change: the configured endpoint URLs
//! (`--endpoint-url`, `AWS_ENDPOINT_URL_<ID>`, `AWS_ENDPOINT_URL`, `[services]`,
//! profile `endpoint_url`, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`) and the variant
//! switches (FIPS, dual-stack, STS and S3 us-east-1 regional modes, S3 path style).
//!
//! Owns the precedence, written once, in botocore's order. Pure. The ids used in
//! variable and section names come from botocore itself (`data/endpoint-ids-*.tsv`,
//! made by `tools/gen_endpoint_ids.py`).

use crate::core::configparse::nested;
use crate::core::profile::{services_section, Profile, SharedFiles};
use crate::core::table;
use crate::core::CliMajor;
use crate::core::EnvMap;

/// The id botocore derives from a service name for configured endpoints
/// (`s3` → `s3`, `elbv2` → `elastic_load_balancing_v2`).
pub fn endpoint_id(major: CliMajor, service: &str) -> String {
    let ids = match major {
        CliMajor::V1 => &table::ENDPOINT_IDS_V1,
        CliMajor::V2 => &table::ENDPOINT_IDS_V2,
    };
    ids.record(service)
        .and_then(|line| table::after_fields(line, 1))
        .map(str::to_string)
        .unwrap_or_else(|| service.replace('-', "_"))
}

fn truthy(v: Option<&str>) -> Option<bool> {
    v.map(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A key of the profile's nested `s3 =` block.
fn s3_setting(profile: &Profile, key: &str) -> Option<String> {
    let block = profile.get("s3")?;
    nested(block)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variants {
    pub fips: bool,
    pub dualstack: bool,
    /// v1 `sts_regional_endpoints`: Some(true) regional, Some(false) legacy, None default.
    pub sts_regional: Option<bool>,
    /// v1 `s3.us_east_1_regional_endpoint`.
    pub s3_us_east_1_regional: Option<bool>,
    /// `s3.addressing_style = path`.
    pub s3_path_style: bool,
    /// `AWS_DISABLE_HOST_PREFIX_INJECTION` / `disable_host_prefix_injection`:
    /// operations send to the endpoint's host without their model's prefix.
    pub no_host_prefix: bool,
    /// `s3.addressing_style = virtual`: virtual hosts even on a configured endpoint.
    pub s3_virtual_style: bool,
    /// `s3.signature_version = s3v4` (CLI v1's presign then signs SigV4).
    pub s3_sigv4: bool,
    /// `account_id_endpoint_mode` is not `disabled` (DynamoDB account endpoints).
    pub account_endpoints: bool,
}

pub fn variants(env: &EnvMap, profile: &Profile, service: &str) -> Variants {
    let env_or_profile = |var: &str, key: &str| {
        truthy(env.get(var).map(String::as_str)).or_else(|| truthy(profile.get(key)))
    };
    let mut dualstack = env_or_profile("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint");
    if service == "s3" {
        if let Some(v) = truthy(s3_setting(profile, "use_dualstack_endpoint").as_deref()) {
            dualstack = Some(dualstack.unwrap_or(false) || v);
        }
    }
    let mode = |var: &str, value: Option<String>| -> Option<bool> {
        env.get(var)
            .cloned()
            .or(value)
            .map(|v| v.trim().eq_ignore_ascii_case("regional"))
    };
    Variants {
        fips: env_or_profile("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint").unwrap_or(false),
        dualstack: dualstack.unwrap_or(false),
        sts_regional: mode(
            "AWS_STS_REGIONAL_ENDPOINTS",
            profile.get("sts_regional_endpoints").map(str::to_string),
        ),
        s3_us_east_1_regional: mode(
            "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
            s3_setting(profile, "us_east_1_regional_endpoint"),
        ),
        s3_path_style: s3_setting(profile, "addressing_style").as_deref() == Some("path"),
        no_host_prefix: env_or_profile(
            "AWS_DISABLE_HOST_PREFIX_INJECTION",
            "disable_host_prefix_injection",
        )
        .unwrap_or(false),
        s3_virtual_style: s3_setting(profile, "addressing_style").as_deref() == Some("virtual"),
        s3_sigv4: s3_setting(profile, "signature_version").as_deref() == Some("s3v4"),
        account_endpoints: env
            .get("AWS_ACCOUNT_ID_ENDPOINT_MODE")
            .map(String::as_str)
            .or_else(|| profile.get("account_id_endpoint_mode"))
            .map(str::trim)
            != Some("disabled"),
    }
}

/// A configured endpoint URL for `service` and where it came from, or `None`
/// when the endpoint comes from the rule set. `flag` is `--endpoint-url`, which
/// the CLI passes only to the command's own (primary) client.
pub fn configured_url(
    major: CliMajor,
    service: &str,
    flag: Option<&str>,
    env: &EnvMap,
    profile: &Profile,
    files: &SharedFiles,
) -> Result<Option<(String, String)>, String> {
    if let Some(url) = flag {
        return Ok(Some((url.to_string(), "--endpoint-url".into())));
    }
    let ignore = truthy(
        env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .map(String::as_str),
    )
    .or_else(|| truthy(profile.get("ignore_configured_endpoint_urls")))
    .unwrap_or(false);
    if ignore {
        return Ok(None);
    }
    let id = endpoint_id(major, service);
    let var = format!("AWS_ENDPOINT_URL_{}", id.to_uppercase());
    if let Some(url) = env.get(&var).filter(|v| !v.is_empty()) {
        return Ok(Some((url.clone(), var)));
    }
    if let Some(url) = env.get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()) {
        return Ok(Some((url.clone(), "AWS_ENDPOINT_URL".into())));
    }
    if let Some(section) = profile.get("services") {
        let Some(entries) = services_section(files, section) else {
            return Err(format!(
                "the profile uses services section {section:?}, which does not exist: the CLI will fail"
            ));
        };
        let key = id.to_lowercase();
        if let Some(url) = entries
            .get(&key)
            .and_then(|block| nested(block))
            .and_then(|kv| {
                kv.into_iter()
                    .find(|(k, _)| k == "endpoint_url")
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_empty())
        {
            return Ok(Some((
                url,
                format!("[services {section}] {key}.endpoint_url"),
            )));
        }
    }
    if let Some(url) = profile.get("endpoint_url").filter(|v| !v.is_empty()) {
        return Ok(Some((
            url.to_string(),
            format!("endpoint_url of profile {:?}", profile.name),
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::configparse::parse;
    use crate::core::profile::{resolve, ProfileOrigin, SharedFile};

    fn setup(config: &str) -> (SharedFiles, Profile) {
        let files = SharedFiles {
            config: SharedFile {
                path: "config".into(),
                parsed: Some(parse(config)),
                ..Default::default()
            },
            credentials: SharedFile::default(),
        };
        let p = resolve(&files, "default".into(), ProfileOrigin::Default);
        (files, p)
    }

    #[test]
    fn precedence_table() {
        let config = "[default]\nservices = local\nendpoint_url = https://profile\n[services local]\ndynamodb =\n  endpoint_url = http://localhost:8000\n";
        let (files, p) = setup(config);
        let env = |pairs: &[(&str, &str)]| -> EnvMap {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let rows: &[(&str, Option<&str>, EnvMap, Option<&str>)] = &[
            (
                "dynamodb",
                Some("https://flag"),
                env(&[("AWS_ENDPOINT_URL", "https://g")]),
                Some("https://flag"),
            ),
            (
                "dynamodb",
                None,
                env(&[
                    ("AWS_ENDPOINT_URL_DYNAMODB", "https://svc"),
                    ("AWS_ENDPOINT_URL", "https://g"),
                ]),
                Some("https://svc"),
            ),
            (
                "dynamodb",
                None,
                env(&[("AWS_ENDPOINT_URL", "https://g")]),
                Some("https://g"),
            ),
            ("dynamodb", None, env(&[]), Some("http://localhost:8000")),
            ("s3", None, env(&[]), Some("https://profile")),
            (
                "dynamodb",
                None,
                env(&[
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
                    ("AWS_ENDPOINT_URL", "https://g"),
                ]),
                None,
            ),
            (
                "dynamodb",
                Some("https://flag"),
                env(&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]),
                Some("https://flag"),
            ),
            (
                "elbv2",
                None,
                env(&[("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "https://lb")]),
                Some("https://lb"),
            ),
        ];
        for (svc, flag, e, want) in rows {
            let got = configured_url(CliMajor::V1, svc, *flag, e, &p, &files).unwrap();
            assert_eq!(
                got.as_ref().map(|(u, _)| u.as_str()),
                *want,
                "{svc} {flag:?} {e:?}"
            );
        }
    }

    #[test]
    fn missing_services_section_is_the_clis_error() {
        let (files, p) = setup("[default]\nservices = nope\n");
        assert!(configured_url(CliMajor::V1, "s3", None, &EnvMap::new(), &p, &files).is_err());
    }

    #[test]
    fn variant_switches() {
        let (_, p) = setup("[default]\nuse_fips_endpoint = true\ns3 =\n  addressing_style = path\n  us_east_1_regional_endpoint = regional\n");
        let v = variants(&EnvMap::new(), &p, "s3");
        assert!(v.fips && v.s3_path_style && !v.dualstack);
        assert_eq!(v.s3_us_east_1_regional, Some(true));
        let mut env = EnvMap::new();
        env.insert("AWS_USE_FIPS_ENDPOINT".into(), "false".into());
        env.insert("AWS_STS_REGIONAL_ENDPOINTS".into(), "legacy".into());
        let v = variants(&env, &p, "sts");
        assert!(!v.fips);
        assert_eq!(v.sts_regional, Some(false));
    }
}
