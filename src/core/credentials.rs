//! Which credentials the CLI will sign with, and whether they are Cloud9's
//! AWS managed temporary credentials (AMTC).
//!
//! Owns: botocore's provider chain order (environment, assume-role, web identity,
//! SSO, shared credentials file, credential_process, config-file keys, container,
//! instance role) and the AMTC test with its evidence. Pure: a selected
//! [`Profile`], the environment map and Cloud9 facts in, a [`CredentialReport`] out.
//! It never looks at secret values beyond "present or not" and never copies them.

use crate::core::profile::{Profile, ProfileOrigin, SharedFiles};
use crate::core::EnvMap;
use serde::Serialize;

/// The `credentials.source` values of the `explain --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Cloud9's managed temporary credentials.
    Amtc,
    /// Credentials configured through a profile (keys, role, SSO, process).
    Profile,
    /// Credentials configured through environment variables.
    Env,
    /// `--no-sign-request`: nothing is signed.
    Unsigned,
    /// Nothing configured: the CLI falls back to the instance role, or fails.
    None,
}

impl Source {
    /// The word `explain` uses (the same as in its JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Amtc => "amtc",
            Source::Profile => "profile",
            Source::Env => "env",
            Source::Unsigned => "unsigned",
            Source::None => "none",
        }
    }
}

/// Facts about Cloud9 that are not in the AWS files.
#[derive(Debug, Clone, Default)]
pub struct Cloud9Facts {
    /// `~/.c9` exists.
    pub c9_dir: bool,
    /// `~/environment` exists.
    pub environment_dir: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialReport {
    pub source: Source,
    /// The selected profile (null for env keys and unsigned calls).
    pub profile: Option<String>,
    /// botocore's provider that will answer, e.g. `shared-credentials-file`.
    pub provider: &'static str,
    /// True when the user named the profile with `--profile`.
    pub explicit_profile: bool,
    pub evidence: Vec<String>,
    /// The CLI will fail to load credentials (and say why itself).
    pub problem: Option<String>,
}

fn non_empty<'a>(env: &'a EnvMap, k: &str) -> Option<&'a str> {
    env.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

/// Cloud9's header line, as written on the first line of `~/.aws/credentials`.
pub fn has_cloud9_header(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .lines()
        .next()
        .is_some_and(|l| l.trim_start().starts_with("# Do not modify this file"))
}

pub fn report(
    profile: &Profile,
    files: &SharedFiles,
    env: &EnvMap,
    cloud9: &Cloud9Facts,
    unsigned: bool,
) -> CredentialReport {
    let explicit = profile.origin == ProfileOrigin::Flag;
    let mut r = CredentialReport {
        source: Source::None,
        profile: Some(profile.name.clone()),
        provider: "none",
        explicit_profile: explicit,
        evidence: Vec::new(),
        problem: None,
    };
    if unsigned {
        r.source = Source::Unsigned;
        r.provider = "unsigned";
        r.profile = None;
        r.evidence
            .push("--no-sign-request: the CLI loads no credentials".into());
        return r;
    }
    match &profile.origin {
        ProfileOrigin::Flag => r
            .evidence
            .push(format!("profile {:?} named by --profile", profile.name)),
        ProfileOrigin::Env(var) => r
            .evidence
            .push(format!("profile {:?} named by {var}", profile.name)),
        ProfileOrigin::Default => r
            .evidence
            .push("profile \"default\": no --profile, AWS_PROFILE or AWS_DEFAULT_PROFILE".into()),
    }
    for (what, f) in [
        ("config", &files.config),
        ("credentials", &files.credentials),
    ] {
        if let Some(e) = f.error() {
            r.problem = Some(format!(
                "the CLI cannot parse {} ({what} file): {e}",
                f.path
            ));
        }
    }
    if r.problem.is_some() {
        return r;
    }
    if !profile.exists && profile.name != "default" {
        r.problem = Some(format!(
            "profile {:?} is in neither {} nor {}: the CLI will stop with ProfileNotFound",
            profile.name, files.config.path, files.credentials.path
        ));
        return r;
    }

    // 1. Environment keys, unless --profile was given.
    if !explicit {
        if let Some(_key) = non_empty(env, "AWS_ACCESS_KEY_ID") {
            r.source = Source::Env;
            r.provider = "environment";
            r.profile = None;
            r.evidence
                .push("AWS_ACCESS_KEY_ID is set in the environment".into());
            if non_empty(env, "AWS_SECRET_ACCESS_KEY").is_none() {
                r.problem = Some("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY".into());
            }
            return r;
        }
    }
    // 2. Assume role from the profile.
    if profile.get("role_arn").is_some() && profile.get("web_identity_token_file").is_none() {
        return via_profile(
            r,
            "assume-role",
            "role_arn in the profile: the CLI assumes that role",
        );
    }
    // 3. Web identity, from the profile or the environment.
    if profile.get("role_arn").is_some() && profile.get("web_identity_token_file").is_some() {
        return via_profile(r, "web-identity", "web_identity_token_file in the profile");
    }
    if non_empty(env, "AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
        && non_empty(env, "AWS_ROLE_ARN").is_some()
    {
        r.source = Source::Env;
        r.provider = "web-identity";
        r.evidence
            .push("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set".into());
        return r;
    }
    // 4. SSO.
    if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
        return via_profile(
            r,
            "sso",
            "the profile is an IAM Identity Center (SSO) profile",
        );
    }
    // 5. The shared credentials file: where Cloud9 writes AMTC.
    if profile.credentials.contains_key("aws_access_key_id") {
        r.provider = "shared-credentials-file";
        r.evidence.push(format!(
            "keys from [{}] of the shared credentials file {}",
            profile.name, files.credentials.path
        ));
        if !profile.credentials.contains_key("aws_secret_access_key") {
            r.problem = Some(format!(
                "[{}] in {} has aws_access_key_id without aws_secret_access_key",
                profile.name, files.credentials.path
            ));
        }
        let header = files.credentials.cloud9_header;
        if header {
            r.evidence
                .push("that file begins with Cloud9's \"Do not modify this file\" header".into());
            if let Some(age) = files.credentials.age_secs {
                r.evidence
                    .push(format!("Cloud9 last wrote it {} ago", human_age(age)));
            }
        }
        for var in ["C9_PID", "C9_USER", "C9_PROJECT"] {
            if let Some(v) = non_empty(env, var) {
                r.evidence
                    .push(format!("{var}={v} (a Cloud9 IDE terminal)"));
            }
        }
        if cloud9.c9_dir {
            r.evidence
                .push("~/.c9 exists (Cloud9's IDE runtime)".into());
        }
        if cloud9.environment_dir {
            r.evidence.push("~/environment exists".into());
        }
        if header && profile.name == "default" {
            r.source = Source::Amtc;
        } else {
            r.source = Source::Profile;
            if !header {
                r.evidence.push(
                    "no Cloud9 header: these keys are not Cloud9's managed credentials".into(),
                );
            } else {
                r.evidence
                    .push("Cloud9 writes only [default]: this profile is not Cloud9's".into());
            }
        }
        return r;
    }
    // 7. credential_process, 8. config-file keys.
    if profile.get("credential_process").is_some() {
        return via_profile(r, "credential-process", "credential_process in the profile");
    }
    if profile.config.contains_key("aws_access_key_id") {
        return via_profile(
            r,
            "config-file",
            "keys in the config file's profile section",
        );
    }
    // 10. Container, 11. instance role.
    if non_empty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || non_empty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        r.source = Source::Env;
        r.provider = "container";
        r.evidence
            .push("AWS_CONTAINER_CREDENTIALS_* is set: container credentials".into());
        return r;
    }
    r.provider = "instance-metadata";
    r.evidence
        .push("no keys configured: the CLI will try the instance role (IMDS), if any".into());
    r
}

fn via_profile(mut r: CredentialReport, provider: &'static str, why: &str) -> CredentialReport {
    r.source = Source::Profile;
    r.provider = provider;
    r.evidence.push(why.to_string());
    r
}

pub(crate) fn human_age(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86400),
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)]
mod tests {
    use super::*;
    use crate::core::configparse::parse;
    use crate::core::profile::{resolve, select, SharedFile};
    use crate::core::CliMajor;

    const CLOUD9: &str = "# Do not modify this file, if this file is modified it will not be updated. If the file is deleted, it will be recreated on Fri Nov 27 2026.\n# 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef #\n\n[default]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = s\naws_session_token = t\nregion = ap-northeast-1\n";

    fn files(config: &str, creds: &str) -> SharedFiles {
        SharedFiles {
            config: SharedFile {
                path: "~/.aws/config".into(),
                parsed: Some(parse(config)),
                ..Default::default()
            },
            credentials: SharedFile {
                path: "~/.aws/credentials".into(),
                parsed: Some(parse(creds)),
                cloud9_header: has_cloud9_header(creds),
                age_secs: Some(120),
            },
        }
    }

    fn run(
        flag: Option<&str>,
        env: &[(&str, &str)],
        config: &str,
        creds: &str,
        unsigned: bool,
    ) -> CredentialReport {
        let env: EnvMap = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let f = files(config, creds);
        let (name, origin) = select(flag, &env, CliMajor::V1);
        let p = resolve(&f, name, origin);
        report(&p, &f, &env, &Cloud9Facts::default(), unsigned)
    }

    #[test]
    fn source_table() {
        let fb = "[profile fb]\naws_access_key_id = AKIA\naws_secret_access_key = x\n[profile role]\nrole_arn = arn\nsource_profile = default\n[profile sso]\nsso_session = s\n[profile proc]\ncredential_process = c9aws credential-process\n";
        let rows: &[(Option<&str>, &[(&str, &str)], &str, bool, Source, &str)] = &[
            (
                None,
                &[],
                CLOUD9,
                false,
                Source::Amtc,
                "shared-credentials-file",
            ),
            (None, &[], CLOUD9, true, Source::Unsigned, "unsigned"),
            (
                None,
                &[
                    ("AWS_ACCESS_KEY_ID", "AKIA"),
                    ("AWS_SECRET_ACCESS_KEY", "x"),
                ],
                CLOUD9,
                false,
                Source::Env,
                "environment",
            ),
            (
                None,
                &[("AWS_ACCESS_KEY_ID", "")],
                CLOUD9,
                false,
                Source::Amtc,
                "shared-credentials-file",
            ),
            (
                Some("fb"),
                &[
                    ("AWS_ACCESS_KEY_ID", "AKIA"),
                    ("AWS_SECRET_ACCESS_KEY", "x"),
                ],
                CLOUD9,
                false,
                Source::Profile,
                "config-file",
            ),
            (
                None,
                &[("AWS_PROFILE", "fb")],
                CLOUD9,
                false,
                Source::Profile,
                "config-file",
            ),
            (
                None,
                &[("AWS_PROFILE", "role")],
                CLOUD9,
                false,
                Source::Profile,
                "assume-role",
            ),
            (
                None,
                &[("AWS_PROFILE", "sso")],
                CLOUD9,
                false,
                Source::Profile,
                "sso",
            ),
            (
                None,
                &[("AWS_PROFILE", "proc")],
                CLOUD9,
                false,
                Source::Profile,
                "credential-process",
            ),
            (
                None,
                &[("AWS_PROFILE", "default")],
                CLOUD9,
                false,
                Source::Amtc,
                "shared-credentials-file",
            ),
            (
                None,
                &[],
                "[default]\naws_access_key_id = A\naws_secret_access_key = B\n",
                false,
                Source::Profile,
                "shared-credentials-file",
            ),
            (None, &[], "", false, Source::None, "instance-metadata"),
            (
                None,
                &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2")],
                "",
                false,
                Source::Env,
                "container",
            ),
        ];
        for (flag, env, creds, unsigned, source, provider) in rows {
            let r = run(*flag, env, fb, creds, *unsigned);
            assert_eq!(
                (r.source, r.provider),
                (*source, *provider),
                "{flag:?} {env:?} {creds:?}"
            );
        }
    }

    #[test]
    fn amtc_evidence_is_reported() {
        let r = run(None, &[], "", CLOUD9, false);
        assert_eq!(r.source, Source::Amtc);
        assert!(r
            .evidence
            .iter()
            .any(|e| e.contains("Do not modify this file")));
        assert!(r.evidence.iter().any(|e| e.contains("2 min ago")));
        // No evidence line may carry a secret.
        assert!(!r.evidence.iter().any(|e| e.contains("ASIAEXAMPLE")));
    }

    #[test]
    fn problems_the_cli_will_hit() {
        assert!(run(None, &[("AWS_PROFILE", "ghost")], "", CLOUD9, false)
            .problem
            .is_some());
        assert!(run(None, &[("AWS_ACCESS_KEY_ID", "A")], "", CLOUD9, false)
            .problem
            .is_some());
        assert!(run(None, &[], "[broken", CLOUD9, false).problem.is_some());
    }
}
