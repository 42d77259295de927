//! The instance role's credentials from IMDS, in the AWS CLI's
//! `credential_process` JSON format (what `c9aws credential-process` prints).
//!
//! The credentials come from aws-config's IMDS credentials provider, with the
//! IMDS endpoint c9aws's probes use (`AWS_EC2_METADATA_SERVICE_ENDPOINT[_MODE]`)
//! and `AWS_EC2_METADATA_DISABLED` honoured. The JSON carries the secret by
//! design and is only ever returned to be printed on stdout; error messages and
//! debug lines never carry it. Runs in `c9aws-probe` only (tokio, HTTP).

use crate::adapters::environment::debug;
use crate::adapters::imds;
use crate::core::EnvMap;
use crate::error::Error;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whole-command bound: the CLI waits for us, so never longer than this.
const DEADLINE: Duration = Duration::from_secs(5);

/// The credential_process JSON (secrets included: for stdout only).
pub fn fetch(env: &EnvMap, role: Option<&str>) -> Result<String, Error> {
    if imds::disabled(env) {
        return Err(Error::Credentials(
            "IMDS is disabled (AWS_EC2_METADATA_DISABLED=true); no instance role credentials"
                .into(),
        ));
    }
    let ep = imds::endpoint(env);
    debug(env, || format!("credential-process: IMDS endpoint {ep}"));
    let client = imds::builder(&ep)
        .map_err(|e| Error::Credentials(e.to_string()))?
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2))
        .max_attempts(2)
        .operation_timeout(DEADLINE)
        .build();
    let mut b = ImdsCredentialsProvider::builder().imds_client(client);
    if let Some(r) = role {
        b = b.profile(r);
    }
    let provider = b.build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Credentials(format!("cannot start the async runtime: {e}")))?;
    let got =
        rt.block_on(async { tokio::time::timeout(DEADLINE, provider.provide_credentials()).await });
    rt.shutdown_background();
    let creds = match got {
        Err(_) => {
            return Err(Error::Credentials(format!(
                "IMDS at {ep} did not answer within {} s; is this an EC2 instance with an instance role?",
                DEADLINE.as_secs()
            )))
        }
        // The provider's errors name the IMDS path and status, never a secret.
        Ok(Err(e)) => return Err(Error::Credentials(no_role_message(&ep, &imds::error_chain(&e)))),
        Ok(Ok(c)) => c,
    };
    debug(env, || {
        format!(
            "credential-process: got a key for the instance role (expires {})",
            creds
                .expiry()
                .map(rfc3339)
                .unwrap_or_else(|| "never".into())
        )
    });
    let mut v = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id(),
        "SecretAccessKey": creds.secret_access_key(),
    });
    if let Some(t) = creds.session_token() {
        v["SessionToken"] = t.into();
    }
    if let Some(x) = creds.expiry() {
        v["Expiration"] = rfc3339(x).into();
    }
    Ok(v.to_string())
}

/// One line on why there are no credentials: no role attached (IMDS lists
/// none), IMDS out of reach (not EC2, or blocked), or whatever else IMDS said.
fn no_role_message(ep: &str, detail: &str) -> String {
    if detail.contains("received 404") {
        format!(
            "no instance role credentials: no IAM role is attached to this instance (IMDS at {ep} \
             lists none). Attach an instance profile (EC2 console: Actions → Security → Modify IAM \
             role), or choose another fallback with `c9aws setup`"
        )
    } else if detail.contains("could not communicate with IMDS")
        || detail.contains("dispatch failure")
        || detail.contains("timeout")
        || detail.contains("timed out")
    {
        format!(
            "no instance role credentials: cannot reach IMDS at {ep} ({detail}); is this an EC2 \
             instance? Off EC2, choose another fallback with `c9aws setup`"
        )
    } else {
        format!("no instance role credentials from IMDS at {ep}: {detail}")
    }
}

/// `2026-11-28T20:16:12Z` for a time after the epoch (UTC, whole seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::core::long_call::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::imds::fake;

    const ROLE_JSON: &str = r#"{"Code":"Success","LastUpdated":"2026-11-28T19:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAC9AWSROLETEST001","SecretAccessKey":"roleSecretDoNotPrint0000000000000000000","Token":"roleTokenDoNotPrint","Expiration":"2099-01-01T00:00:00Z"}"#;

    fn env_for(url: &str) -> EnvMap {
        [(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_string(),
            url.to_string(),
        )]
        .into_iter()
        .collect()
    }

    #[test]
    fn prints_the_role_credentials_in_credential_process_format() {
        let srv = fake::imds(&[
            ("iam/security-credentials/", "AWSCloud9SSMAccessRole"),
            ("iam/security-credentials/AWSCloud9SSMAccessRole", ROLE_JSON),
        ]);
        let json = fetch(&env_for(&srv.url()), None).expect("credentials");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAC9AWSROLETEST001");
        assert_eq!(
            v["SecretAccessKey"],
            "roleSecretDoNotPrint0000000000000000000"
        );
        assert_eq!(v["SessionToken"], "roleTokenDoNotPrint");
        // Far in the future: an expired key would be extended by the provider.
        assert_eq!(v["Expiration"], "2099-01-01T00:00:00Z");
    }

    #[test]
    fn no_role_attached_is_a_clear_error_without_secrets() {
        let srv = fake::imds(&[("instance-id", "i-0123")]);
        let err = fetch(&env_for(&srv.url()), None).unwrap_err().to_string();
        assert!(err.contains("no IAM role is attached"), "{err}");
        assert!(err.contains("Attach an instance profile"), "{err}");
    }

    #[test]
    fn silent_or_disabled_imds_fails_within_the_deadline() {
        let srv = fake::silent();
        let t = std::time::Instant::now();
        let err = fetch(&env_for(&srv.url()), None).unwrap_err().to_string();
        assert!(
            t.elapsed() < DEADLINE + Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
        assert!(err.contains(&srv.url()), "{err}");
        let mut env = env_for(&srv.url());
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        assert!(fetch(&env, None)
            .unwrap_err()
            .to_string()
            .contains("disabled"));
    }

    #[test]
    fn rfc3339_table() {
        for (secs, want) in [
            (0u64, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_896_972, "2026-11-28T20:16:12Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(secs)), want);
        }
    }
}
