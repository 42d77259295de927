//! Calls that may outlive a Cloud9 token, and how AMTC are handed to them.
//!
//! The CLI reads static keys from the credentials file once (aws/aws-cli#4562),
//! and Cloud9's tokens live ~15 minutes: an `s3 sync` of a lot of data, a
//! `wait`, a `cloudformation deploy` or a `logs tail --follow` that runs longer
//! dies with `ExpiredToken` midway although Cloud9 wrote fresh keys meanwhile.
//! For the command lines of [`long_reason`]'s table only, when AMTC are kept,
//! the CLI gets `AWS_SHARED_CREDENTIALS_FILE` pointing at a generated file that
//! holds no secret, only `credential_process = c9aws __amtc-credentials …`
//! (plus the non-secret settings of the profile's section, such as the
//! `region` Cloud9 writes there): the CLI then reads the keys through that
//! process, which re-reads Cloud9's file, and runs it again before the token
//! ends.
//!
//! Why the reported `Expiration` is not the token's: botocore refreshes
//! process credentials that expire within its advisory window (15 minutes,
//! `_DEFAULT_ADVISORY_REFRESH_TIMEOUT` in both majors' credentials.py), which
//! is all of a token's life, so the real expiry would start the process before
//! every request. [`expiration`] reports `mtime + life − margin + 15 min`:
//! the advisory refresh then begins `margin` before the token really ends, by
//! when Cloud9 (rewriting every `life / 3`) has written a fresh one.
//!
//! Pure: the table, the file's text and name, the arithmetic and the JSON.
//! Writing the file and reading Cloud9's are the adapters'.

use crate::core::configparse::IniFile;
use crate::core::shlex;
use serde::Serialize;

/// botocore's advisory refresh window for refreshable credentials, seconds
/// (`_DEFAULT_ADVISORY_REFRESH_TIMEOUT`, CLI v1 botocore 1.43 and v2 2.36).
pub const ADVISORY_REFRESH: u64 = 15 * 60;
/// botocore's mandatory refresh window (`_DEFAULT_MANDATORY_REFRESH_TIMEOUT`):
/// a failed refresh inside it is raised to the user.
pub const MANDATORY_REFRESH: u64 = 10 * 60;
/// The hidden word the generated `credential_process` runs.
pub const HELPER_WORD: &str = "__amtc-credentials";
/// The variable the CLI is given for a long call.
pub const CREDENTIALS_FILE_VAR: &str = "AWS_SHARED_CREDENTIALS_FILE";

/// `long_calls` in c9aws's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LongCalls {
    /// Long-looking calls read AMTC through a re-reading credential process.
    #[default]
    Refresh,
    /// Every call reads AMTC once, as the CLI does on its own.
    Off,
}

/// Why a command line may run longer than a token lives, or `None`.
///
/// The table (the same for both majors; `rest` is what follows the operation):
///
/// | command line | why |
/// |---|---|
/// | `s3 cp`, `s3 mv`, `s3 sync` | a transfer lasts as long as the data takes |
/// | `s3 rm --recursive` | deletes a whole prefix, page after page |
/// | `<any> wait <waiter>` | a waiter polls until the resource is ready (up to hours) |
/// | `cloudformation deploy` | waits for the change set to finish |
/// | `cloudformation package` | uploads the template's artifacts to S3 |
/// | `logs tail` | with `--follow`, runs until stopped |
/// | `deploy push` | uploads an application revision to S3 |
/// | `ecs deploy` | waits for the CodeDeploy deployment |
pub fn long_reason(command: &str, operation: &str, rest: &[String]) -> Option<&'static str> {
    Some(match (command, operation) {
        ("s3", "cp" | "mv" | "sync") => "an S3 transfer lasts as long as the data takes",
        ("s3", "rm") if rest.iter().any(|a| a == "--recursive") => {
            "a recursive S3 delete goes through a whole prefix"
        }
        (_, "wait") => "a waiter polls until the resource is ready",
        ("cloudformation", "deploy") => "it waits for the stack's change set to finish",
        ("cloudformation", "package") => "it uploads the template's artifacts to S3",
        ("logs", "tail") => "with --follow it runs until stopped",
        ("deploy", "push") => "it uploads an application revision to S3",
        ("ecs", "deploy") => "it waits for the CodeDeploy deployment",
        _ => return None,
    })
}

/// The plan's part for a long call that keeps AMTC (`explain --json`: `long_call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LongCall {
    /// Why the call may outlive a token (from [`long_reason`]).
    pub why: String,
    /// Cloud9's credentials file, which the process re-reads.
    pub credentials_file: String,
    /// The profile (section) the CLI signs with.
    pub profile: String,
    /// `amtc_life`: the token's life after Cloud9 writes it, seconds.
    pub life: u64,
    /// The non-secret settings of that section (Cloud9 writes `region` there),
    /// copied so the CLI still sees them: the generated file replaces the
    /// credentials file for this call.
    pub settings: Vec<(String, String)>,
}

/// Keys of a credentials-file section that are secrets or credential
/// sources: never copied into the generated file.
const NOT_COPIED: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "aws_account_id",
];

/// The section's settings that the generated file keeps.
pub fn copied_settings(section: &[(String, String)]) -> Vec<(String, String)> {
    section
        .iter()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .cloned()
        .collect()
}

impl LongCall {
    /// The generated credentials file for `helper` (c9aws's absolute path).
    /// Stable for a given call shape, so it is written once and reused.
    pub fn file_text(&self, helper: &str) -> String {
        let words = [
            shlex::quote(helper).into_owned(),
            HELPER_WORD.to_string(),
            "--life".to_string(),
            self.life.to_string(),
            shlex::quote(&self.credentials_file).into_owned(),
            shlex::quote(&self.profile).into_owned(),
        ];
        // Why quoted: botocore splits the value with shlex (posix) and runs
        // it without a shell; a path with a space must stay one word.
        let line = words.join(" ");
        let mut s = String::from(
            "# Written by c9aws for a call that may outlive a Cloud9 token: the CLI runs the\n\
             # process below for AMTC and again before they end; it re-reads Cloud9's file.\n\
             # No secrets here. Safe to delete.\n",
        );
        s.push_str(&format!(
            "[{}]\ncredential_process = {line}\n",
            self.profile
        ));
        for (k, v) in &self.settings {
            // configparser's continuation lines: a nested value (`s3 =\n  a = b`)
            // or a multi-line one reads back as it was.
            s.push_str(&format!("{k} = {}\n", v.replace('\n', "\n    ")));
        }
        s
    }
}

/// The generated file's name: a hash of its text (FNV-1a, 64 bits), so a
/// different helper path, life, profile or setting gets another file and a
/// file once written never changes.
pub fn file_name(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("long-call-{h:016x}.credentials")
}

/// How long before the token really ends botocore starts refreshing: a
/// third of its life (Cloud9 rewrites the file every third of it, so a fresh
/// token is there by then), at most 5 minutes so that the reported expiry is
/// never before the real one (`margin < ADVISORY_REFRESH − MANDATORY_REFRESH`
/// keeps botocore's mandatory window after the token's end).
pub fn margin(life: u64) -> u64 {
    (life / 3).min(ADVISORY_REFRESH - MANDATORY_REFRESH)
}

/// The `Expiration` reported for a file written at `mtime`: botocore's
/// advisory refresh begins at `mtime + life − margin`.
pub fn expiration(mtime: u64, life: u64) -> u64 {
    mtime + life - margin(life) + ADVISORY_REFRESH
}

/// The credential_process JSON for `profile` of Cloud9's file, or why none
/// can be given (a message that names no secret). `mtime` and `now` are
/// seconds since the epoch.
pub fn credentials_json(
    ini: &IniFile,
    path: &str,
    profile: &str,
    mtime: u64,
    now: u64,
    life: u64,
) -> Result<String, String> {
    let age = now.saturating_sub(mtime);
    if life > 0 && age >= life {
        return Err(format!(
            "Cloud9's credentials in {path} were last written {} ago, past their life \
             (amtc_life = {life} s): the IDE is closed or no longer refreshes them; \
             c9aws hands out no other keys (run the call with a fallback profile)",
            human_secs(age)
        ));
    }
    let section = ini
        .section(profile)
        .ok_or_else(|| format!("no [{profile}] in {path}"))?;
    let get = |k: &str| {
        section
            .get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("[{profile}] in {path} has no {k}"))
    };
    let key = get("aws_access_key_id")?;
    let secret = get("aws_secret_access_key")?;
    let token = get("aws_session_token").or_else(|e| get("aws_security_token").map_err(|_| e))?;
    let exp = if life > 0 {
        expiration(mtime, life)
    } else {
        now + ADVISORY_REFRESH + 60
    };
    Ok(serde_json::json!({
        "Version": 1,
        "AccessKeyId": key,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": rfc3339(exp),
    })
    .to_string())
}

fn human_secs(s: u64) -> String {
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min", s / 60)
    }
}

/// `2026-11-28T20:16:12Z` for seconds since the epoch (UTC).
pub fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::configparse::parse;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn classification_table() {
        let rows: &[(&str, bool)] = &[
            ("s3 cp big.bin s3://b/k", true),
            ("s3 mv s3://b/a s3://b/c", true),
            ("s3 sync . s3://b/", true),
            ("s3 rm s3://b/k", false),
            ("s3 rm s3://b/p --recursive", true),
            ("s3 ls s3://b/", false),
            ("s3 presign s3://b/k", false),
            ("ec2 wait instance-running --instance-ids i-1", true),
            (
                "cloudformation wait stack-create-complete --stack-name s",
                true,
            ),
            ("ecs wait services-stable --services x", true),
            (
                "cloudformation deploy --template-file t.yaml --stack-name s",
                true,
            ),
            (
                "cloudformation package --template-file t.yaml --s3-bucket b",
                true,
            ),
            ("cloudformation describe-stacks", false),
            ("logs tail /g --follow", true),
            ("logs tail /g", true),
            ("logs describe-log-groups", false),
            (
                "deploy push --application-name a --s3-location s3://b/k",
                true,
            ),
            ("ecs deploy --service s --task-definition t.json", true),
            ("sts get-caller-identity", false),
            ("s3api put-object --bucket b --key k --body f", false),
        ];
        for (line, want) in rows {
            let w = words(line);
            let got = long_reason(&w[0], &w[1], &w[2..]);
            assert_eq!(got.is_some(), *want, "{line}");
        }
    }

    #[test]
    fn expiration_arithmetic() {
        // (life, margin, reported expiry − mtime, advisory refresh starts at mtime + …)
        let rows = [
            (900u64, 300u64, 900 - 300 + 900, 600u64),
            (6, 2, 6 - 2 + 900, 4),
            (60, 20, 60 - 20 + 900, 40),
            (3600, 300, 3600 - 300 + 900, 3300),
            (1, 0, 901, 1),
        ];
        for (life, m, exp, refresh_at) in rows {
            assert_eq!(margin(life), m, "life {life}");
            assert_eq!(expiration(1000, life), 1000 + exp, "life {life}");
            let advisory_from = expiration(1000, life) - ADVISORY_REFRESH;
            assert_eq!(advisory_from, 1000 + refresh_at);
            // Refreshing starts before the token ends, and botocore never sees
            // the reported expiry pass while the token is alive.
            assert!(advisory_from <= 1000 + life);
            assert!(expiration(1000, life) > 1000 + life);
            // The mandatory window (a failed refresh is raised) begins no earlier
            // than the token's real end.
            assert!(expiration(1000, life) - MANDATORY_REFRESH >= 1000 + life);
        }
    }

    const CLOUD9: &str = "# Do not modify this file, if this file is modified it will not be updated.\n\
                          # 0123 #\n\n[default]\naws_access_key_id = ASIAKEY\n\
                          aws_secret_access_key = SECRET\naws_session_token = TOKEN\nregion = eu-west-1\n";

    #[test]
    fn json_from_cloud9s_file() {
        let ini = parse(CLOUD9).unwrap();
        let t0 = 1_800_000_000; // 2027-01-15T08:00:00Z
        let out =
            credentials_json(&ini, "/h/.aws/credentials", "default", t0, t0 + 10, 900).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAKEY");
        assert_eq!(v["SecretAccessKey"], "SECRET");
        assert_eq!(v["SessionToken"], "TOKEN");
        assert_eq!(v["Expiration"], rfc3339(t0 + 1500));
        assert_eq!(rfc3339(t0 + 1500), "2027-01-15T08:25:00Z");
        // Past its life: an error that names the file, no secret.
        let e = credentials_json(&ini, "/h/.aws/credentials", "default", t0, t0 + 900, 900)
            .unwrap_err();
        assert!(e.contains("past their life") && e.contains("15 min"), "{e}");
        assert!(!e.contains("SECRET") && !e.contains("TOKEN") && !e.contains("ASIAKEY"));
        // Missing section or key.
        let e = credentials_json(&ini, "p", "other", t0, t0, 900).unwrap_err();
        assert_eq!(e, "no [other] in p");
        let ini =
            parse("[default]\naws_access_key_id = ASIAKEY\naws_secret_access_key = S\n").unwrap();
        let e = credentials_json(&ini, "p", "default", t0, t0, 900).unwrap_err();
        assert_eq!(e, "[default] in p has no aws_session_token");
    }

    #[test]
    fn generated_file_has_no_secret_and_a_stable_name() {
        let ini = parse(CLOUD9).unwrap();
        let lc = LongCall {
            why: "x".into(),
            credentials_file: "/home/my user/.aws/credentials".into(),
            profile: "default".into(),
            life: 900,
            settings: copied_settings(&ini.section("default").unwrap().entries),
        };
        let text = lc.file_text("/opt/c9aws/bin/c9aws");
        assert!(text.contains(
            "[default]\ncredential_process = /opt/c9aws/bin/c9aws __amtc-credentials --life 900 \
             '/home/my user/.aws/credentials' default\nregion = eu-west-1\n"
        ));
        for secret in ["ASIAKEY", "SECRET", "TOKEN", "aws_access_key_id"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // botocore reads it back: the same section, the command one value.
        let back = parse(&text).unwrap();
        let sec = back.section("default").unwrap();
        assert!(sec
            .get("credential_process")
            .unwrap()
            .contains("'/home/my user"));
        assert_eq!(sec.get("region"), Some("eu-west-1"));
        assert_eq!(
            file_name(&text),
            file_name(&lc.file_text("/opt/c9aws/bin/c9aws"))
        );
        assert_ne!(file_name(&text), file_name(&lc.file_text("/usr/bin/c9aws")));
        assert!(file_name(&text).starts_with("long-call-") && file_name(&text).len() == 38);
        // A nested value survives the copy.
        let nested = parse("[default]\ns3 =\n    max_concurrent_requests = 1\n").unwrap();
        let lc = LongCall {
            settings: copied_settings(&nested.section("default").unwrap().entries),
            ..lc
        };
        let back = parse(&lc.file_text("/c9aws")).unwrap();
        assert_eq!(
            crate::core::configparse::nested(back.section("default").unwrap().get("s3").unwrap()),
            Some(vec![("max_concurrent_requests".into(), "1".into())])
        );
    }
}
