//! The region the CLI will use, by its major version.
//!
//! v1: `--region` > `AWS_DEFAULT_REGION` > profile `region`.
//! v2: `--region` > `AWS_REGION` > `AWS_DEFAULT_REGION` > profile `region` > IMDS.
//! Pure: the facts come in (IMDS's region as an `Option`, `None` until probed).

use crate::core::profile::Profile;
use crate::core::CliMajor;
use crate::core::EnvMap;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionChoice {
    pub region: Option<String>,
    /// Where it came from, in words (`--region`, `AWS_REGION`, `profile default`…).
    pub from: String,
}

pub fn choose(
    flag: Option<&str>,
    env: &EnvMap,
    profile: &Profile,
    major: CliMajor,
    imds_region: Option<&str>,
) -> RegionChoice {
    let found = |region: &str, from: String| RegionChoice {
        region: Some(region.to_string()),
        from,
    };
    // An empty --region is passed on as it is (botocore then fails to build
    // an endpoint); it does not fall through to the environment or profile.
    if let Some(r) = flag {
        return found(r, "--region".into());
    }
    let vars: &[&str] = match major {
        CliMajor::V1 => &["AWS_DEFAULT_REGION"],
        CliMajor::V2 => &["AWS_REGION", "AWS_DEFAULT_REGION"],
    };
    for var in vars {
        if let Some(r) = env.get(*var).filter(|r| !r.is_empty()) {
            return found(r, (*var).to_string());
        }
    }
    if let Some(r) = profile.get("region").filter(|r| !r.is_empty()) {
        let file = if profile.credentials.contains_key("region") {
            "credentials file"
        } else {
            "config file"
        };
        return found(r, format!("region of profile {:?} ({file})", profile.name));
    }
    match major {
        CliMajor::V1 => RegionChoice {
            region: None,
            from: "none: CLI v1 reads no IMDS region".into(),
        },
        CliMajor::V2 => match imds_region {
            Some(r) => found(r, "instance metadata (IMDS)".into()),
            None if imds_disabled(env) => RegionChoice {
                region: None,
                from: "none: AWS_EC2_METADATA_DISABLED=true, so CLI v2 asks IMDS for none".into(),
            },
            None => RegionChoice {
                region: None,
                from: "unknown: CLI v2 would ask IMDS, not probed".into(),
            },
        },
    }
}

/// `AWS_EC2_METADATA_DISABLED=true` (any case), as botocore reads it.
pub fn imds_disabled(env: &EnvMap) -> bool {
    env.get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::ProfileOrigin;

    #[test]
    fn precedence_table() {
        let mut p = Profile {
            name: "default".into(),
            origin: ProfileOrigin::Default,
            config: Default::default(),
            credentials: Default::default(),
            exists: true,
        };
        p.credentials
            .insert("region".into(), "ap-northeast-1".into());
        let env = |pairs: &[(&str, &str)]| -> EnvMap {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let both = env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-2"),
        ]);
        let rows: &[(Option<&str>, &EnvMap, CliMajor, Option<&str>)] = &[
            (Some("us-east-2"), &both, CliMajor::V1, Some("us-east-2")),
            (None, &both, CliMajor::V1, Some("eu-west-2")),
            (None, &both, CliMajor::V2, Some("eu-west-1")),
            (
                None,
                &env(&[("AWS_REGION", "eu-west-1")]),
                CliMajor::V1,
                Some("ap-northeast-1"),
            ),
            (None, &EnvMap::new(), CliMajor::V2, Some("ap-northeast-1")),
        ];
        for (flag, e, major, want) in rows {
            assert_eq!(choose(*flag, e, &p, *major, None).region.as_deref(), *want);
        }
        p.credentials.clear();
        assert_eq!(
            choose(None, &EnvMap::new(), &p, CliMajor::V1, Some("x")).region,
            None
        );
        assert_eq!(
            choose(None, &EnvMap::new(), &p, CliMajor::V2, Some("x"))
                .region
                .as_deref(),
            Some("x")
        );
    }
}
