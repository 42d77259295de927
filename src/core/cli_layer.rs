//! What the CLI layer does to a call before any botocore client exists, and to
//! the request host after: the rules that botocore's own endpoint resolution
//! does not show, each from the CLI's own code or data.
//!
//! - CLI v1's `customizations/overridesslcommonname.py` sets `--endpoint-url`
//!   itself for `sqs` (the regions of its table, not those opened since 2022:
//!   there v1 calls `sqs.<region>` like v2), `emr`, `rds` / `docdb` / `neptune`
//!   (in us-east-1) and `health`, unless the user gave one, and moves `health`'s
//!   region to us-east-1 (cn-northwest-1 in China). Its table is generated into
//!   `data/cli-endpoints-v1.tsv` (tools/gen_data.py); v2 has no such layer.
//! - Operations whose model has an `endpoint.hostPrefix` (omics' `{AccountId}.`,
//!   iotsitewise's `api.`, servicediscovery's `data-` …) send to that prefix
//!   plus the endpoint's host: `data/host-prefixes-v{1,2}.tsv`.
//!
//! Pure.

use crate::core::argv::Invocation;
use crate::core::endpoints;
use crate::core::table::{self, Table};
use crate::core::CliMajor;

/// The text `explain` gives for an endpoint the CLI v1 layer set.
pub const SSL_COMMON_NAME_FROM: &str =
    "CLI v1's customization overridesslcommonname, which passes it as --endpoint-url";

/// An endpoint (and maybe a region) the CLI layer sets for a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub endpoint_url: &'static str,
    /// The region every client of the call gets instead (`health`).
    pub region: Option<&'static str>,
}

/// The CLI layer's endpoint for `command` in `region`, when the user gave no
/// `--endpoint-url` (the customization only fills an empty one). Endpoints
/// configured by `AWS_ENDPOINT_URL*` or the config file do not stop it: it
/// sets the command-line value, which wins over them.
pub fn rewrite(
    major: CliMajor,
    command: &str,
    operation: Option<&str>,
    region: Option<&str>,
    endpoint_flag: Option<&str>,
) -> Option<Rewrite> {
    // emr create-default-roles builds its emr client itself, without the
    // global --endpoint-url (customizations/emr/createdefaultroles.py).
    if endpoint_flag.is_some() || (command == "emr" && operation == Some("create-default-roles")) {
        return None;
    }
    let t: &Table = match major {
        CliMajor::V1 => &table::CLI_ENDPOINTS_V1,
        CliMajor::V2 => &table::CLI_ENDPOINTS_V2,
    };
    let line = t.record(&format!("{command}\t{}", region?))?;
    let mut f = table::after_fields(line, 2)?.split('\t');
    let endpoint_url = f.next()?;
    let region = f.next().filter(|r| *r != "-");
    Some(Rewrite {
        endpoint_url,
        region,
    })
}

/// The model's host prefix of `service`'s `operation` (CLI name), expanded from
/// the command line's options; `None` when the operation has none, or when a
/// label is missing or not a valid host label (the CLI then stops before
/// sending: parameter validation).
pub fn host_prefix(major: CliMajor, inv: &Invocation, service: &str) -> Option<String> {
    let t: &Table = match major {
        CliMajor::V1 => &table::HOST_PREFIXES_V1,
        CliMajor::V2 => &table::HOST_PREFIXES_V2,
    };
    let line = t.record(&format!("{service}\t{}", operation_key(inv)?))?;
    let mut f = table::after_fields(line, 2)?.split('\t');
    let template = f.next()?;
    let labels = f.next().unwrap_or("-");
    let mut out = template.to_string();
    if labels != "-" {
        for label in labels.split(',') {
            let (member, option) = label.split_once('=')?;
            let value = option_value(&inv.rest, option)?;
            if !valid_label(value) {
                return None;
            }
            out = out.replace(&format!("{{{member}}}"), value);
        }
    }
    Some(out)
}

/// The key of the operation a line calls first in the generated tables: its
/// CLI name, or `wait/<waiter>` for `aws svc wait <waiter>`.
fn operation_key(inv: &Invocation) -> Option<String> {
    let op = inv.operation.as_deref()?;
    if op == "wait" {
        return inv.rest.first().map(|w| format!("wait/{w}"));
    }
    Some(op.to_string())
}

/// The account endpoint an ARN argument gives (the rule sets' `{arn#accountId}`
/// branches; `data/arn-endpoints-v*.tsv` names the options, first given wins):
/// - DynamoDB: `{account}.ddb.{region}.{suffix}` when the ResourceArn is a
///   DynamoDB ARN of the call's region (aws partition, no FIPS,
///   `account_id_endpoint_mode` not `disabled`: `account_endpoints`);
/// - Kinesis: `{account}.{control|data}-kinesis[-fips].{region}.{suffix}` when
///   the StreamARN, ConsumerARN or ResourceARN is a Kinesis stream ARN of the
///   call's partition (any region in it).
///
/// `host` is the regional host the call would have otherwise; no configured
/// endpoint (the caller checks).
pub fn arn_account_host(
    major: CliMajor,
    inv: &Invocation,
    service: &str,
    region: &str,
    host: &str,
    fips: bool,
    account_endpoints: bool,
) -> Option<String> {
    let t: &Table = match major {
        CliMajor::V1 => &table::ARN_ENDPOINTS_V1,
        CliMajor::V2 => &table::ARN_ENDPOINTS_V2,
    };
    let line = t.record(&format!("{service}\t{}", operation_key(inv)?))?;
    let mut fields = table::after_fields(line, 2)?.split('\t');
    let options = fields.next()?;
    let operation_type = fields.next().unwrap_or_default();
    let arn = options
        .split(',')
        .find_map(|o| option_value(&inv.rest, o))?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, arn_service, arn_region, account, resource] = parts.as_slice() else {
        return None;
    };
    if !valid_label(account) || account.contains('.') {
        return None;
    }
    match (service, *arn_service) {
        ("dynamodb", "dynamodb") => {
            if *partition != "aws" || *arn_region != region || fips || !account_endpoints {
                return None;
            }
            let rest = host.strip_prefix("dynamodb.")?;
            Some(format!("{account}.ddb.{rest}"))
        }
        ("kinesis", "kinesis") => {
            let kind = resource.split([':', '/']).next();
            if kind != Some("stream")
                || !valid_label(arn_region)
                || operation_type.is_empty()
                || endpoints::partition_id(major, region) != Some(*partition)
            {
                return None;
            }
            // kinesis[-fips].{region}.{suffix}; us-gov's FIPS client host has no -fips
            let rest = host
                .strip_prefix("kinesis-fips.")
                .or_else(|| host.strip_prefix("kinesis."))?;
            let fips = if fips { "-fips" } else { "" };
            Some(format!("{account}.{operation_type}-kinesis{fips}.{rest}"))
        }
        _ => None,
    }
}

/// The host of an S3 access point ARN (`arn:aws:s3:region:account:accesspoint/name`)
/// or multi-region access point (`arn:aws:s3::account:accesspoint/alias.mrap`),
/// as the S3 rule set builds it; `None` for anything else (outposts, object
/// lambda, …).
pub fn s3_arn_host(arn: &str, fips: bool, dualstack: bool) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, "s3", region, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource
        .strip_prefix("accesspoint/")
        .or_else(|| resource.strip_prefix("accesspoint:"))?;
    let name = name.split(['/', ':']).next()?;
    let suffix = if *partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    if region.is_empty() {
        return Some(format!("{name}.accesspoint.s3-global.{suffix}"));
    }
    let fips = if fips { "-fips" } else { "" };
    let dual = if dualstack { ".dualstack" } else { "" };
    Some(format!(
        "{name}-{account}.s3-accesspoint{fips}{dual}.{region}.{suffix}"
    ))
}

/// Commands whose output is a token or URL signed for a host named on the
/// command line: their "request" goes to that host (rds/auth.py, dsql).
const SIGNED_FOR_HOST: &[(&str, &str, &str)] = &[
    ("rds", "generate-db-auth-token", "--hostname"),
    ("dsql", "generate-db-connect-auth-token", "--hostname"),
    ("dsql", "generate-db-connect-admin-auth-token", "--hostname"),
];

/// The host a token of [`SIGNED_FOR_HOST`] is signed for.
pub fn signed_for_host(inv: &Invocation) -> Option<&str> {
    let (command, op) = (inv.command.as_deref()?, inv.operation.as_deref()?);
    let (_, _, option) = SIGNED_FOR_HOST
        .iter()
        .find(|(c, o, _)| *c == command && *o == op)?;
    let v = option_value(&inv.rest, option)?;
    // --hostname may carry a port (host:port) in dsql's examples.
    Some(v.split(':').next().unwrap_or(v))
}

/// The value of `--option v` or `--option=v` among an operation's arguments.
pub fn option_value<'a>(rest: &'a [String], option: &str) -> Option<&'a str> {
    let mut it = rest.iter();
    while let Some(tok) = it.next() {
        if tok == option {
            return it.next().map(String::as_str);
        }
        if let Some(v) = tok.strip_prefix(option).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

/// botocore's HOST_PREFIX_RE: `^[A-Za-z0-9\.\-]+$`.
fn valid_label(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::argv::{self, Aliases};
    use crate::core::plan::Table as Commands;

    fn inv(major: CliMajor, line: &str) -> Invocation {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        argv::parse(&args, major, &Commands(major), &Aliases::default())
    }

    #[test]
    fn v1_rewrites_endpoints_before_any_client() {
        use CliMajor::*;
        // (major, command, region, --endpoint-url, endpoint, region moved to)
        type Row<'a> = (
            CliMajor,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let rows: &[Row] = &[
            (
                V1,
                "sqs",
                Some("us-west-2"),
                None,
                Some("https://us-west-2.queue.amazonaws.com"),
                None,
            ),
            (
                V1,
                "sqs",
                Some("us-east-1"),
                None,
                Some("https://queue.amazonaws.com"),
                None,
            ),
            (
                V1,
                "sqs",
                Some("cn-north-1"),
                None,
                Some("https://cn-north-1.queue.amazonaws.com.cn"),
                None,
            ),
            (
                V1,
                "emr",
                Some("ap-northeast-1"),
                None,
                Some("https://ap-northeast-1.elasticmapreduce.amazonaws.com"),
                None,
            ),
            // us-east-1 is not in emr's table: the rule set answers.
            (V1, "emr", Some("us-east-1"), None, None, None),
            (
                V1,
                "rds",
                Some("us-east-1"),
                None,
                Some("https://rds.amazonaws.com"),
                None,
            ),
            (
                V1,
                "neptune",
                Some("us-east-1"),
                None,
                Some("https://rds.amazonaws.com"),
                None,
            ),
            (V1, "rds", Some("eu-west-1"), None, None, None),
            (
                V1,
                "health",
                Some("eu-west-1"),
                None,
                Some("https://health.us-east-1.amazonaws.com"),
                Some("us-east-1"),
            ),
            (
                V1,
                "health",
                Some("cn-north-1"),
                None,
                Some("https://health.cn-northwest-1.amazonaws.com.cn"),
                Some("cn-northwest-1"),
            ),
            // the user's --endpoint-url wins; no region, no rewrite; v2 has no such layer
            (V1, "sqs", Some("us-west-2"), Some("https://x"), None, None),
            (V1, "sqs", None, None, None, None),
            // a region newer than the table (awscli 1.45): the rule set's sqs.<region>
            (V1, "sqs", Some("ap-southeast-4"), None, None, None),
            (V2, "sqs", Some("us-west-2"), None, None, None),
            (V2, "health", Some("eu-west-1"), None, None, None),
        ];
        for (major, command, region, flag, url, moved) in rows {
            let got = rewrite(*major, command, Some("list-x"), *region, *flag);
            assert_eq!(
                got.as_ref().map(|r| r.endpoint_url),
                *url,
                "{major:?} {command} {region:?}"
            );
            assert_eq!(
                got.and_then(|r| r.region),
                *moved,
                "{major:?} {command} {region:?}"
            );
        }
    }

    #[test]
    fn host_prefixes_come_from_the_model_and_the_command_line() {
        use CliMajor::*;
        // (major, service, command line, prefix)
        let rows: &[(CliMajor, &str, &str, Option<&str>)] = &[
            (
                V1,
                "s3control",
                "s3control list-jobs --account-id 123456789012",
                Some("123456789012."),
            ),
            (
                V2,
                "s3control",
                "s3control list-jobs --account-id=123456789012",
                Some("123456789012."),
            ),
            (
                V1,
                "servicediscovery",
                "servicediscovery discover-instances --namespace-name n --service-name s",
                Some("data-"),
            ),
            (V1, "iotsitewise", "iotsitewise list-assets", Some("api.")),
            // a missing or invalid label: the CLI stops before sending
            (V1, "s3control", "s3control list-jobs", None),
            (
                V1,
                "s3control",
                "s3control list-jobs --account-id a/b",
                None,
            ),
            // no prefix on this operation
            (V1, "sqs", "sqs list-queues", None),
        ];
        for (major, service, line, want) in rows {
            assert_eq!(
                host_prefix(*major, &inv(*major, line), service).as_deref(),
                *want,
                "{line}"
            );
        }
    }

    #[test]
    fn arn_and_token_hosts() {
        let ap = "arn:aws:s3:us-west-2:123456789012:accesspoint/ap1";
        assert_eq!(
            s3_arn_host(ap, false, false).as_deref(),
            Some("ap1-123456789012.s3-accesspoint.us-west-2.amazonaws.com")
        );
        assert_eq!(
            s3_arn_host(ap, true, true).as_deref(),
            Some("ap1-123456789012.s3-accesspoint-fips.dualstack.us-west-2.amazonaws.com")
        );
        assert_eq!(
            s3_arn_host("arn:aws:s3::123456789012:accesspoint/m1.mrap", false, false).as_deref(),
            Some("m1.mrap.accesspoint.s3-global.amazonaws.com")
        );
        assert_eq!(s3_arn_host("bucket", false, false), None);
        let i = inv(
            CliMajor::V1,
            "rds generate-db-auth-token --hostname db.example.com --port 5432 --username u",
        );
        assert_eq!(signed_for_host(&i), Some("db.example.com"));
        let ddb_backup = "dynamodb describe-backup --backup-arn arn:aws:dynamodb:us-west-2:123456789012:table/t/backup/b";
        let stream = "arn:aws:kinesis:us-west-2:123456789012:stream/s";
        let consumer = "arn:aws:kinesis:us-west-2:123456789012:stream/s/consumer/c:1";
        let describe_consumer =
            format!("kinesis describe-stream-consumer --consumer-arn {consumer}");
        let both = format!("kinesis describe-stream-consumer --consumer-arn {consumer} --stream-arn arn:aws:kinesis:us-west-2:210987654321:stream/s --consumer-name c");
        let put = format!("kinesis put-record --stream-arn {stream} --data x --partition-key k");
        let describe = format!("kinesis describe-stream --stream-arn {stream}");
        let cn = "kinesis describe-stream --stream-arn arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s";
        let by_name = "kinesis describe-stream --stream-name s";
        let gov = "kinesis describe-stream --stream-arn arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/s";
        // (line, region, regional host, fips, account endpoints, want)
        type Row<'a> = (&'a str, &'a str, &'a str, bool, bool, Option<&'a str>);
        let rows: &[Row] = &[
            (
                ddb_backup,
                "us-west-2",
                "dynamodb.us-west-2.amazonaws.com",
                false,
                true,
                Some("123456789012.ddb.us-west-2.amazonaws.com"),
            ),
            // another region's ARN, FIPS, or account endpoints disabled: the regional host
            (
                ddb_backup,
                "eu-west-1",
                "dynamodb.eu-west-1.amazonaws.com",
                false,
                true,
                None,
            ),
            (
                ddb_backup,
                "us-west-2",
                "dynamodb-fips.us-west-2.amazonaws.com",
                true,
                true,
                None,
            ),
            (
                ddb_backup,
                "us-west-2",
                "dynamodb.us-west-2.amazonaws.com",
                false,
                false,
                None,
            ),
            // Kinesis: control and data operations, any region of the ARN's partition
            (
                &describe,
                "us-west-2",
                "kinesis.us-west-2.amazonaws.com",
                false,
                true,
                Some("123456789012.control-kinesis.us-west-2.amazonaws.com"),
            ),
            (
                &put,
                "eu-west-1",
                "kinesis.eu-west-1.amazonaws.com",
                false,
                false,
                Some("123456789012.data-kinesis.eu-west-1.amazonaws.com"),
            ),
            (
                &describe,
                "us-west-2",
                "kinesis-fips.us-west-2.api.aws",
                true,
                true,
                Some("123456789012.control-kinesis-fips.us-west-2.api.aws"),
            ),
            // us-gov's FIPS client host is kinesis.{region}; the ARN branch adds -fips
            (
                gov,
                "us-gov-west-1",
                "kinesis.us-gov-west-1.amazonaws.com",
                true,
                true,
                Some("123456789012.control-kinesis-fips.us-gov-west-1.amazonaws.com"),
            ),
            // an ARN of another partition than the call's: the regional host
            (
                &describe,
                "us-gov-west-1",
                "kinesis.us-gov-west-1.amazonaws.com",
                true,
                true,
                None,
            ),
            (
                &describe_consumer,
                "us-west-2",
                "kinesis.us-west-2.amazonaws.com",
                false,
                true,
                Some("123456789012.control-kinesis.us-west-2.amazonaws.com"),
            ),
            // the stream ARN comes first in the rule set
            (
                &both,
                "us-west-2",
                "kinesis.us-west-2.amazonaws.com",
                false,
                true,
                Some("210987654321.control-kinesis.us-west-2.amazonaws.com"),
            ),
            (
                cn,
                "cn-north-1",
                "kinesis.cn-north-1.amazonaws.com.cn",
                false,
                true,
                Some("123456789012.control-kinesis.cn-north-1.amazonaws.com.cn"),
            ),
            (
                cn,
                "us-west-2",
                "kinesis.us-west-2.amazonaws.com",
                false,
                true,
                None,
            ),
            (
                by_name,
                "us-west-2",
                "kinesis.us-west-2.amazonaws.com",
                false,
                true,
                None,
            ),
        ];
        for (line, region, host, fips, account, want) in rows {
            for major in [CliMajor::V1, CliMajor::V2] {
                let service = line.split(' ').next().unwrap_or_default();
                let got = arn_account_host(
                    major,
                    &inv(major, line),
                    service,
                    region,
                    host,
                    *fips,
                    *account,
                );
                assert_eq!(got.as_deref(), *want, "{major:?} {line} {region} {host}");
            }
        }
    }
}
