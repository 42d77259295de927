//! The AWS shared config as botocore sees it: which profile is selected, and the
//! profile's settings with the credentials file merged over the config file.
//!
//! Owns: profile-name precedence (`--profile`, then `AWS_DEFAULT_PROFILE` /
//! `AWS_PROFILE` in the installed CLI's order), `[profile x]` vs `[default]`,
//! `[services x]` sections, and the merge. Pure: parsed files and environment
//! values in, a [`Profile`] out.

use crate::core::configparse::{IniFile, ParseError};
use crate::core::{CliMajor, EnvMap};
use std::collections::BTreeMap;

/// One of the two shared files, as read by the adapter.
#[derive(Debug, Clone, Default)]
pub struct SharedFile {
    pub path: String,
    /// `None`: the file does not exist (not an error for the CLI).
    pub parsed: Option<Result<IniFile, ParseError>>,
    /// The credentials file begins with Cloud9's "Do not modify this file" header.
    pub cloud9_header: bool,
    /// Seconds since the file was last written, when known.
    pub age_secs: Option<u64>,
}

impl SharedFile {
    pub fn ini(&self) -> Option<&IniFile> {
        self.parsed.as_ref().and_then(|r| r.as_ref().ok())
    }
    pub fn error(&self) -> Option<&ParseError> {
        self.parsed.as_ref().and_then(|r| r.as_ref().err())
    }
}

#[derive(Debug, Clone, Default)]
pub struct SharedFiles {
    pub config: SharedFile,
    pub credentials: SharedFile,
}

/// How the profile name was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileOrigin {
    Flag,
    Env(&'static str),
    Default,
}

/// The selected profile with its merged settings.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub origin: ProfileOrigin,
    /// Settings from the config file's section for this profile.
    pub config: BTreeMap<String, String>,
    /// Settings from the credentials file's section for this profile.
    pub credentials: BTreeMap<String, String>,
    /// Does the profile exist in either file? (`default` may be absent.)
    pub exists: bool,
}

impl Profile {
    /// A setting as botocore reads it: credentials file over config file.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.credentials
            .get(key)
            .or_else(|| self.config.get(key))
            .map(String::as_str)
    }
}

/// Profile-name environment variables in the order the installed CLI reads them.
pub fn profile_env_order(major: CliMajor) -> [&'static str; 2] {
    match major {
        CliMajor::V1 => ["AWS_DEFAULT_PROFILE", "AWS_PROFILE"],
        CliMajor::V2 => ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"],
    }
}

/// Which profile the CLI will use. An empty variable still counts (botocore
/// then looks for a profile named "").
pub fn select(flag: Option<&str>, env: &EnvMap, major: CliMajor) -> (String, ProfileOrigin) {
    if let Some(p) = flag {
        return (p.to_string(), ProfileOrigin::Flag);
    }
    for var in profile_env_order(major) {
        if let Some(v) = env.get(var) {
            return (v.clone(), ProfileOrigin::Env(var));
        }
    }
    ("default".to_string(), ProfileOrigin::Default)
}

/// The config file's section for a profile, following botocore's
/// `build_profile_map`: `[default]` or `[profile NAME]` (shlex-split into exactly
/// two words); a later section of the same name replaces an earlier one.
fn config_section(ini: &IniFile, name: &str) -> Option<BTreeMap<String, String>> {
    let mut found = None;
    for s in &ini.sections {
        let hit = if s.name.starts_with("profile") {
            matches!(crate::core::shlex::split(&s.name).as_deref(), Ok([_, n]) if n == name)
        } else {
            s.name == "default" && name == "default"
        };
        if hit {
            found = Some(s.entries.iter().cloned().collect());
        }
    }
    found
}

/// A `[services NAME]` section of the config file.
pub fn services_section(files: &SharedFiles, name: &str) -> Option<BTreeMap<String, String>> {
    let ini = files.config.ini()?;
    let mut found = None;
    for s in &ini.sections {
        if s.name.starts_with("services")
            && matches!(crate::core::shlex::split(&s.name).as_deref(), Ok([_, n]) if n == name)
        {
            found = Some(s.entries.iter().cloned().collect());
        }
    }
    found
}

pub fn resolve(files: &SharedFiles, name: String, origin: ProfileOrigin) -> Profile {
    let config = files
        .config
        .ini()
        .and_then(|ini| config_section(ini, &name));
    let credentials = files.credentials.ini().and_then(|ini| {
        ini.section(&name)
            .map(|s| s.entries.iter().cloned().collect::<BTreeMap<_, _>>())
    });
    Profile {
        exists: config.is_some() || credentials.is_some(),
        config: config.unwrap_or_default(),
        credentials: credentials.unwrap_or_default(),
        name,
        origin,
    }
}

/// The two files as parsed from these texts (paths `c` and `k`), for tests.
#[cfg(test)]
pub(crate) fn test_files(config: &str, creds: &str) -> SharedFiles {
    use crate::core::configparse::parse;
    SharedFiles {
        config: SharedFile {
            path: "c".into(),
            parsed: Some(parse(config)),
            ..Default::default()
        },
        credentials: SharedFile {
            path: "k".into(),
            parsed: Some(parse(creds)),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::profile::test_files as files;

    #[test]
    fn selection_order_by_major() {
        let mut env = EnvMap::new();
        env.insert("AWS_PROFILE".into(), "a".into());
        env.insert("AWS_DEFAULT_PROFILE".into(), "b".into());
        assert_eq!(select(None, &env, CliMajor::V1).0, "b");
        assert_eq!(select(None, &env, CliMajor::V2).0, "a");
        assert_eq!(select(Some("c"), &env, CliMajor::V2).0, "c");
        assert_eq!(select(None, &EnvMap::new(), CliMajor::V1).0, "default");
    }

    #[test]
    fn credentials_file_merges_over_config() {
        let f = files(
            "[default]\nregion = us-west-2\noutput = json\n[profile \"x y\"]\nregion = r\n[profile z]\nregion = first\n",
            "[default]\nregion = ap-northeast-1\naws_access_key_id = AKIA\n",
        );
        let p = resolve(&f, "default".into(), ProfileOrigin::Default);
        assert_eq!(p.get("region"), Some("ap-northeast-1"));
        assert_eq!(p.get("output"), Some("json"));
        let p = resolve(&f, "x y".into(), ProfileOrigin::Default);
        assert!(p.exists);
        assert_eq!(p.get("region"), Some("r"));
        assert!(!resolve(&f, "nope".into(), ProfileOrigin::Default).exists);
    }
}
