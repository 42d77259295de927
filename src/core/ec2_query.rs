//! The route-table read without the CLI: EC2 Query-API requests for
//! `DescribeRouteTables` / `DescribeVpcEndpoints` (the same filter as the CLI
//! read, `vpc-id`), their XML answers turned into the JSON the CLI prints (so
//! [`crate::core::route_tables`] reads both the same way), EC2's error shape,
//! and when the direct read can reproduce the CLI's credential chain for a
//! fallback profile ([`direct_eligible`]).
//!
//! Pure: strings and parsed files in, values out. `adapters::ec2_direct`
//! (c9aws-probe only) resolves credentials, signs and sends; the request and
//! answer that cross from c9aws to c9aws-probe are defined here, so c9aws can
//! name them without linking any of that machinery.

use crate::core::endpoints::{request_endpoint, EndpointParams};
use crate::core::overrides::{configured_url, variants};
use crate::core::profile::{Profile, SharedFiles};
use crate::core::{CliMajor, EnvMap};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The EC2 API version the CLIs' botocore models use.
pub const API_VERSION: &str = "2016-11-15";
/// Most pages followed per operation (EC2 answers these without `MaxResults`
/// in one page; `NextToken` is followed anyway, as the CLI does).
pub const MAX_PAGES: usize = 20;

/// The two operations of the read, with their CLI name and their answer's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    DescribeRouteTables,
    DescribeVpcEndpoints,
}

impl Operation {
    pub fn action(self) -> &'static str {
        match self {
            Operation::DescribeRouteTables => "DescribeRouteTables",
            Operation::DescribeVpcEndpoints => "DescribeVpcEndpoints",
        }
    }
    /// The answer's list, as the CLI names it in its JSON.
    fn list_key(self) -> &'static str {
        match self {
            Operation::DescribeRouteTables => "RouteTables",
            Operation::DescribeVpcEndpoints => "VpcEndpoints",
        }
    }
}

/// What c9aws asks c9aws-probe (`__route-tables`, JSON on stdin).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectRequest {
    pub profile: String,
    pub region: String,
    pub vpc_id: String,
    /// The installed CLI's major version (1 or 2): its endpoint rules.
    pub cli_major: u8,
    pub deadline_ms: u64,
}

/// c9aws-probe's answer (JSON on stdout).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum DirectAnswer {
    /// Both answers, as the CLI's `--output json` would print them.
    Read {
        route_tables: String,
        endpoints: String,
        elapsed_ms: u64,
    },
    /// EC2 said no for good (as the CLI's answer would be): `line` is the
    /// CLI's wording of the error.
    Refused {
        operation: String,
        status: u16,
        line: String,
    },
    /// The direct read cannot stand for the CLI here (or failed in a way the
    /// CLI may not): read with the CLI instead.
    UseCli { why: String },
}

/// The form-encoded body of one request: the CLI read's `--filters
/// Name=vpc-id,Values=<vpc>`, and the page token after the first page.
pub fn request_body(op: Operation, vpc_id: &str, next_token: Option<&str>) -> String {
    let mut b = format!(
        "Action={}&Version={API_VERSION}&Filter.1.Name=vpc-id&Filter.1.Value.1={}",
        op.action(),
        encode(vpc_id)
    );
    if let Some(t) = next_token {
        b.push_str("&NextToken=");
        b.push_str(&encode(t));
    }
    b
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- a small XML reader (EC2's answers: elements and text, no mixed content) ----

#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn unescape(raw: &str) -> Result<String, String> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| "an unterminated entity".to_string())?;
        let ent = &rest[i + 1..i + end];
        let ch = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .ok_or_else(|| format!("an unknown entity &{ent};"))?
            }
        };
        out.push(ch);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The document's root element.
fn parse_xml(text: &str) -> Result<Node, String> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    for tok in Tokenizer::from(text) {
        match tok.map_err(|e| e.to_string())? {
            Token::ElementStart { local, .. } => stack.push(Node {
                name: local.as_str().to_string(),
                ..Default::default()
            }),
            Token::ElementEnd { end, .. } => {
                if matches!(end, ElementEnd::Open) {
                    continue;
                }
                let node = stack.pop().ok_or("an end tag without a start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Token::Text { text } => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&unescape(text.as_str())?);
                }
            }
            Token::Cdata { text, .. } => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(text.as_str());
                }
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no element".into())
}

// ---- XML answer to the CLI's JSON ----

/// EC2's `…Set` lists and the names the CLI's JSON gives them (botocore's
/// shapes); any other `xSet` becomes `Xs`.
const LIST_NAMES: &[(&str, &str)] = &[
    ("associationSet", "Associations"),
    ("dnsEntrySet", "DnsEntries"),
    ("groupSet", "Groups"),
    ("networkInterfaceIdSet", "NetworkInterfaceIds"),
    ("propagatingVgwSet", "PropagatingVgws"),
    ("routeSet", "Routes"),
    ("routeTableIdSet", "RouteTableIds"),
    ("routeTableSet", "RouteTables"),
    ("subnetIdSet", "SubnetIds"),
    ("tagSet", "Tags"),
    ("vpcEndpointSet", "VpcEndpoints"),
];

/// Members the CLI prints as JSON booleans.
const BOOLEANS: &[&str] = &["main", "privateDnsEnabled", "requesterManaged"];

fn capitalized(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn json_key(name: &str) -> String {
    if let Some((_, k)) = LIST_NAMES.iter().find(|(x, _)| *x == name) {
        return k.to_string();
    }
    match name.strip_suffix("Set") {
        Some(stem) if !stem.is_empty() => capitalized(stem) + "s",
        _ => capitalized(name),
    }
}

fn is_list(n: &Node) -> bool {
    n.name.ends_with("Set")
        || (!n.children.is_empty() && n.children.iter().all(|c| c.name == "item"))
}

fn to_json(n: &Node) -> Value {
    if is_list(n) {
        return Value::Array(n.children.iter().map(item_json).collect());
    }
    if n.children.is_empty() {
        let t = n.text.trim();
        if BOOLEANS.contains(&n.name.as_str()) {
            return Value::Bool(t == "true");
        }
        return Value::String(t.to_string());
    }
    let mut m = Map::new();
    for c in &n.children {
        m.insert(json_key(&c.name), to_json(c));
    }
    Value::Object(m)
}

fn item_json(n: &Node) -> Value {
    if n.children.is_empty() {
        Value::String(n.text.trim().to_string())
    } else {
        let mut m = Map::new();
        for c in &n.children {
            m.insert(json_key(&c.name), to_json(c));
        }
        Value::Object(m)
    }
}

/// One page of a successful answer: its items (the CLI's list) and the next
/// page's token.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    pub next_token: Option<String>,
}

/// Reads a 2xx answer of `op`.
pub fn parse_page(op: Operation, xml: &str) -> Result<Page, String> {
    let root = parse_xml(xml)?;
    let want = format!("{}Response", op.action());
    if root.name != want {
        return Err(format!("expected <{want}>, got <{}>", root.name));
    }
    let list = match op {
        Operation::DescribeRouteTables => "routeTableSet",
        Operation::DescribeVpcEndpoints => "vpcEndpointSet",
    };
    let items = match root.child(list) {
        Some(set) => set.children.iter().map(item_json).collect(),
        None => Vec::new(),
    };
    let next_token = root
        .child("nextToken")
        .map(|n| n.text.trim().to_string())
        .filter(|t| !t.is_empty());
    Ok(Page { items, next_token })
}

/// All pages' items as the CLI prints them: `{"RouteTables": [...]}`.
pub fn cli_json(op: Operation, items: Vec<Value>) -> String {
    let mut m = Map::new();
    m.insert(op.list_key().to_string(), Value::Array(items));
    Value::Object(m).to_string()
}

/// An error answer's code and message (EC2's `<Response><Errors><Error>`, or
/// the plain `<Error>` / `<ErrorResponse>` shapes).
pub fn parse_error(xml: &str) -> Option<(String, String)> {
    let root = parse_xml(xml).ok()?;
    let err = match root.name.as_str() {
        "Error" => &root,
        _ => root
            .child("Errors")
            .and_then(|e| e.child("Error"))
            .or_else(|| root.child("Error"))?,
    };
    let text = |k: &str| err.child(k).map(|n| n.text.trim().to_string());
    Some((text("Code")?, text("Message").unwrap_or_default()))
}

/// What an HTTP answer means for the read.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// 2xx: read the page.
    Page,
    /// A refusal the CLI would get too (permissions, credentials AWS does
    /// not accept): final; `line` worded as the CLI words it.
    Refused { line: String },
    /// Anything else (5xx, throttling, a signature or clock problem that
    /// may be ours, an answer that is not EC2's): the CLI is asked instead.
    UseCli { why: String },
}

/// Error codes that are the same answer whoever signs the request.
const FINAL_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AccessDenied",
    "OptInRequired",
    "Blocked",
];

pub fn verdict(op: Operation, status: u16, body: &str) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Page;
    }
    let err = parse_error(body);
    match err {
        Some((code, msg))
            if (400..500).contains(&status) && FINAL_CODES.contains(&code.as_str()) =>
        {
            Verdict::Refused {
                line: format!(
                    "An error occurred ({code}) when calling the {} operation: {msg}",
                    op.action()
                ),
            }
        }
        Some((code, msg)) => Verdict::UseCli {
            why: format!("ec2:{} answered HTTP {status} {code}: {msg}", op.action()),
        },
        None => Verdict::UseCli {
            why: format!(
                "ec2:{} answered HTTP {status} without an EC2 error",
                op.action()
            ),
        },
    }
}

// ---- when the direct read stands for the CLI ----

/// Profile settings whose credentials only the CLI resolves as the switched
/// call will (or that change how it signs or connects).
const CLI_ONLY_KEYS: &[&str] = &[
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "mfa_serial",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "sso_region",
    "login_session",
];

/// Proxy variables the CLI honours (urllib's `getproxies`, any case).
const PROXY_VARS: &[&str] = &["https_proxy", "http_proxy", "all_proxy"];

/// Why the direct read cannot reproduce the CLI's credentials and connection
/// for `profile` (`None`: it can). Static keys in one file, or a
/// `credential_process` that is plain words (the CLI splits it like a shell,
/// aws-config runs it with `sh -c`: the same only without quoting or shell
/// syntax), no proxy.
pub fn direct_eligible(profile: &Profile, env: &EnvMap) -> Option<String> {
    if !profile.exists {
        return Some(format!("profile {} is in neither file", profile.name));
    }
    for var in PROXY_VARS {
        for v in [var.to_string(), var.to_ascii_uppercase()] {
            if env.get(&v).is_some_and(|x| !x.is_empty()) {
                return Some(format!("{v} is set (the CLI goes through the proxy)"));
            }
        }
    }
    for k in CLI_ONLY_KEYS {
        if profile.get(k).is_some() {
            return Some(format!("profile {} uses {k}", profile.name));
        }
    }
    let key = "aws_access_key_id";
    if profile.credentials.contains_key(key) && profile.config.contains_key(key) {
        return Some(format!(
            "profile {} has keys in both the credentials and the config file",
            profile.name
        ));
    }
    let any_key = profile.get(key).is_some() || profile.get("aws_secret_access_key").is_some();
    if any_key && profile.get("credential_process").is_some() {
        // botocore: credentials-file keys, then credential_process, then
        // config-file keys; aws-config: credential_process first.
        return Some(format!(
            "profile {} has both keys and credential_process",
            profile.name
        ));
    }
    let has_keys = profile.get(key).is_some() && profile.get("aws_secret_access_key").is_some();
    if has_keys {
        return None;
    }
    match profile.get("credential_process") {
        Some(cmd) if plain_words(cmd) => None,
        Some(_) => Some(format!(
            "profile {}'s credential_process uses quoting or shell syntax",
            profile.name
        )),
        None => Some(format!(
            "profile {} has neither keys nor credential_process",
            profile.name
        )),
    }
}

fn plain_words(cmd: &str) -> bool {
    !cmd.trim().is_empty()
        && cmd.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    ' ' | '\t' | '/' | '-' | '_' | '.' | ',' | ':' | '=' | '+' | '@' | '%'
                )
        })
}

/// EC2's endpoint URL for the fallback profile as the CLI computes it:
/// configured endpoint URLs first, else the rule set with FIPS/dual-stack.
pub fn endpoint_url(
    major: CliMajor,
    region: &str,
    env: &EnvMap,
    profile: &Profile,
    files: &SharedFiles,
) -> Result<String, String> {
    if let Some((url, _from)) = configured_url(major, "ec2", None, env, profile, files)? {
        return Ok(url);
    }
    let v = variants(env, profile, "ec2");
    request_endpoint(&EndpointParams {
        major,
        service: "ec2",
        region: Some(region),
        fips: v.fips,
        dualstack: v.dualstack,
        sts_regional: None,
        s3_us_east_1_regional: None,
    })
    .map_err(|e| format!("no EC2 endpoint for {region}: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::{resolve, ProfileOrigin};
    use crate::core::route_tables::routing_from;

    const TABLES_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>5e4c2f0e-0000-4000-8000-000000000001</requestId>
    <routeTableSet>
        <item>
            <routeTableId>rtb-0main000000000001</routeTableId>
            <vpcId>vpc-0abc</vpcId>
            <ownerId>123456789012</ownerId>
            <routeSet>
                <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item>
            </routeSet>
            <associationSet>
                <item><routeTableAssociationId>rtbassoc-0a</routeTableAssociationId><routeTableId>rtb-0main000000000001</routeTableId><main>true</main><associationState><state>associated</state></associationState></item>
            </associationSet>
            <propagatingVgwSet/>
            <tagSet/>
        </item>
        <item>
            <routeTableId>rtb-0priv00000000002</routeTableId>
            <vpcId>vpc-0abc</vpcId>
            <routeSet>
                <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state></item>
                <item><destinationPrefixListId>pl-61a54008</destinationPrefixListId><gatewayId>vpce-0s3</gatewayId><state>active</state></item>
                <item><destinationPrefixListId>pl-78a54011</destinationPrefixListId><gatewayId>vpce-0ddb</gatewayId><state>blackhole</state></item>
            </routeSet>
            <associationSet>
                <item><routeTableAssociationId>rtbassoc-0b</routeTableAssociationId><routeTableId>rtb-0priv00000000002</routeTableId><subnetId>subnet-0priv</subnetId><main>false</main><associationState><state>associated</state></associationState></item>
            </associationSet>
            <tagSet><item><key>Name</key><value>a &amp; b</value></item></tagSet>
        </item>
    </routeTableSet>
</DescribeRouteTablesResponse>"#;

    const ENDPOINTS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>5e4c2f0e-0000-4000-8000-000000000002</requestId>
    <vpcEndpointSet>
        <item>
            <vpcEndpointId>vpce-0s3</vpcEndpointId>
            <vpcEndpointType>Gateway</vpcEndpointType>
            <vpcId>vpc-0abc</vpcId>
            <serviceName>com.amazonaws.ap-northeast-1.s3</serviceName>
            <state>available</state>
            <routeTableIdSet><item>rtb-0priv00000000002</item></routeTableIdSet>
            <subnetIdSet/>
            <privateDnsEnabled>false</privateDnsEnabled>
        </item>
        <item>
            <vpcEndpointId>vpce-0sts</vpcEndpointId>
            <vpcEndpointType>Interface</vpcEndpointType>
            <serviceName>com.amazonaws.ap-northeast-1.sts</serviceName>
            <state>Available</state>
            <routeTableIdSet/>
            <privateDnsEnabled>true</privateDnsEnabled>
        </item>
    </vpcEndpointSet>
</DescribeVpcEndpointsResponse>"#;

    fn all(op: Operation, xml: &str) -> String {
        cli_json(op, parse_page(op, xml).unwrap().items)
    }

    #[test]
    fn bodies_carry_the_cli_reads_filter() {
        let table = [
            (
                Operation::DescribeRouteTables,
                "vpc-0abc",
                None,
                "Action=DescribeRouteTables&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0abc",
            ),
            (
                Operation::DescribeVpcEndpoints,
                "vpc-0abc",
                Some("tok/+="),
                "Action=DescribeVpcEndpoints&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0abc&NextToken=tok%2F%2B%3D",
            ),
            (
                Operation::DescribeRouteTables,
                "a b&c",
                None,
                "Action=DescribeRouteTables&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=a%20b%26c",
            ),
        ];
        for (op, vpc, tok, want) in table {
            assert_eq!(request_body(op, vpc, tok), want);
        }
    }

    #[test]
    fn xml_answers_become_the_clis_json() {
        let t: Value =
            serde_json::from_str(&all(Operation::DescribeRouteTables, TABLES_XML)).unwrap();
        let tables = t["RouteTables"].as_array().unwrap();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0]["RouteTableId"], "rtb-0main000000000001");
        assert_eq!(tables[0]["Associations"][0]["Main"], true);
        assert_eq!(
            tables[0]["Associations"][0]["AssociationState"]["State"],
            "associated"
        );
        assert_eq!(tables[0]["PropagatingVgws"], serde_json::json!([]));
        assert_eq!(tables[0]["Tags"], serde_json::json!([]));
        assert_eq!(
            tables[1]["Routes"][1]["DestinationPrefixListId"],
            "pl-61a54008"
        );
        assert_eq!(tables[1]["Routes"][1]["GatewayId"], "vpce-0s3");
        assert_eq!(tables[1]["Associations"][0]["SubnetId"], "subnet-0priv");
        assert_eq!(tables[1]["Associations"][0]["Main"], false);
        assert_eq!(tables[1]["Tags"][0]["Value"], "a & b");
        let e: Value =
            serde_json::from_str(&all(Operation::DescribeVpcEndpoints, ENDPOINTS_XML)).unwrap();
        let eps = e["VpcEndpoints"].as_array().unwrap();
        assert_eq!(
            eps[0]["RouteTableIds"],
            serde_json::json!(["rtb-0priv00000000002"])
        );
        assert_eq!(eps[0]["SubnetIds"], serde_json::json!([]));
        assert_eq!(eps[0]["PrivateDnsEnabled"], false);
        assert_eq!(eps[1]["PrivateDnsEnabled"], true);
        assert_eq!(eps[1]["VpcEndpointType"], "Interface");
    }

    #[test]
    fn the_routing_is_the_same_as_from_the_cli() {
        let of_subnet = |subnet: &str| {
            routing_from(
                &all(Operation::DescribeRouteTables, TABLES_XML),
                &all(Operation::DescribeVpcEndpoints, ENDPOINTS_XML),
                "vpc-0abc",
                subnet,
            )
            .unwrap()
        };
        let r = of_subnet("subnet-0priv");
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0priv00000000002"));
        // The blackholed DynamoDB route is left out, as from the CLI's JSON.
        assert_eq!(
            r.prefix_list_routes,
            vec![("pl-61a54008".to_string(), "vpce-0s3".to_string())]
        );
        assert_eq!(r.endpoints.len(), 2);
        let other = of_subnet("subnet-0other");
        assert_eq!(
            other.route_table_id.as_deref(),
            Some("rtb-0main000000000001")
        );
    }

    #[test]
    fn pages_and_empty_answers() {
        let xml = r#"<DescribeRouteTablesResponse><requestId>x</requestId><routeTableSet/><nextToken>abc</nextToken></DescribeRouteTablesResponse>"#;
        let p = parse_page(Operation::DescribeRouteTables, xml).unwrap();
        assert!(p.items.is_empty());
        assert_eq!(p.next_token.as_deref(), Some("abc"));
        let xml = r#"<DescribeVpcEndpointsResponse><requestId>x</requestId></DescribeVpcEndpointsResponse>"#;
        let p = parse_page(Operation::DescribeVpcEndpoints, xml).unwrap();
        assert_eq!(
            p,
            Page {
                items: vec![],
                next_token: None
            }
        );
        assert_eq!(
            cli_json(Operation::DescribeVpcEndpoints, vec![]),
            r#"{"VpcEndpoints":[]}"#
        );
        for bad in [
            "",
            "<DescribeVpcEndpointsResponse>",
            "<Other/>",
            "<DescribeRouteTablesResponse><a>&bogus;</a></DescribeRouteTablesResponse>",
        ] {
            assert!(
                parse_page(Operation::DescribeRouteTables, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn verdicts_by_status_and_code() {
        let ec2_err = |code: &str| {
            format!(
                "<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>m &lt;1&gt;</Message></Error></Errors><RequestID>r</RequestID></Response>"
            )
        };
        let op = Operation::DescribeRouteTables;
        let refused = |l: &str| Verdict::Refused {
            line: l.to_string(),
        };
        let table: Vec<(u16, String, Verdict)> = vec![
            (200, "<x/>".into(), Verdict::Page),
            (
                403,
                ec2_err("UnauthorizedOperation"),
                refused("An error occurred (UnauthorizedOperation) when calling the DescribeRouteTables operation: m <1>"),
            ),
            (
                401,
                ec2_err("AuthFailure"),
                refused("An error occurred (AuthFailure) when calling the DescribeRouteTables operation: m <1>"),
            ),
            (
                403,
                "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>no</Message></Error></ErrorResponse>".into(),
                refused("An error occurred (InvalidClientTokenId) when calling the DescribeRouteTables operation: no"),
            ),
        ];
        for (status, body, want) in table {
            assert_eq!(verdict(op, status, &body), want, "{status} {body}");
        }
        for (status, body) in [
            (503, ec2_err("Unavailable")),
            (400, ec2_err("RequestLimitExceeded")),
            (403, ec2_err("SignatureDoesNotMatch")),
            (400, ec2_err("RequestExpired")),
            (500, ec2_err("InternalError")),
            (502, "lab front: moto unreachable".into()),
            (403, "<html>proxy says no</html>".into()),
        ] {
            assert!(
                matches!(verdict(op, status, &body), Verdict::UseCli { .. }),
                "{status} {body}"
            );
        }
    }

    fn profile(config: &str, creds: &str, name: &str) -> Profile {
        let files = files(config, creds);
        resolve(&files, name.into(), ProfileOrigin::Flag)
    }

    use crate::core::profile::test_files as files;

    #[test]
    fn eligibility_follows_the_credential_chain() {
        let keys = "aws_access_key_id = AKIA\naws_secret_access_key = s\n";
        let none = EnvMap::new();
        let yes: &[(&str, &str)] = &[
            (&format!("[profile fb]\n{keys}region = r\n"), ""),
            ("", &format!("[fb]\n{keys}aws_session_token = t\n")),
            (
                "[profile fb]\ncredential_process = /home/u/.local/bin/c9aws credential-process\n",
                "",
            ),
            (
                "[profile fb]\ncredential_process = /opt/x --role=a,b\nca_bundle = /x.pem\n",
                "",
            ),
        ];
        for (c, k) in yes {
            assert_eq!(
                direct_eligible(&profile(c, k, "fb"), &none),
                None,
                "{c} {k}"
            );
        }
        let no: &[(&str, &str, &str)] = &[
            ("", "", "neither file"),
            ("[profile fb]\nregion = r\n", "", "neither keys"),
            (
                &format!("[profile fb]\n{keys}"),
                &format!("[fb]\n{keys}"),
                "both",
            ),
            (
                "[profile fb]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\n",
                "",
                "role_arn",
            ),
            (
                "[profile fb]\nrole_arn = a\ncredential_source = Ec2InstanceMetadata\n",
                "",
                "role_arn",
            ),
            (
                "[profile fb]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n",
                "",
                "sso_",
            ),
            (
                "[profile fb]\nsso_start_url = https://x\n",
                "",
                "sso_start_url",
            ),
            (
                "[profile fb]\nweb_identity_token_file = /t\nrole_arn = a\n",
                "",
                "role_arn",
            ),
            (
                &format!("[profile fb]\n{keys}mfa_serial = arn\n"),
                "",
                "mfa_serial",
            ),
            (
                "[profile fb]\ncredential_process = \"/a b/c9aws\" credential-process\n",
                "",
                "quoting",
            ),
            ("[profile fb]\ncredential_process = x $(y)\n", "", "quoting"),
            ("[profile fb]\ncredential_process = x; y\n", "", "quoting"),
            ("[profile fb]\nlogin_session = arn\n", "", "login_session"),
            (
                "[profile fb]\ncredential_process = /bin/x\n",
                &format!("[fb]\n{keys}"),
                "both keys and",
            ),
            (
                &format!("[profile fb]\n{keys}credential_process = /bin/x\n"),
                "",
                "both keys and",
            ),
        ];
        for (c, k, why) in no {
            let got = direct_eligible(&profile(c, k, "fb"), &none).unwrap_or_default();
            assert!(got.contains(why), "{c} {k}: {got}");
        }
        let p = profile(&format!("[profile fb]\n{keys}"), "", "fb");
        for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "all_proxy"] {
            let env: EnvMap = [(var.to_string(), "http://proxy:3128".to_string())].into();
            assert!(direct_eligible(&p, &env).unwrap().contains(var));
        }
        let env: EnvMap = [("HTTPS_PROXY".to_string(), String::new())].into();
        assert_eq!(direct_eligible(&p, &env), None);
    }

    #[test]
    fn endpoint_as_the_cli_computes_it() {
        let c = "[profile fb]\naws_access_key_id = A\naws_secret_access_key = s\n[profile fips]\nuse_fips_endpoint = true\n[profile url]\nendpoint_url = http://127.0.0.1:9/\n";
        let f = files(c, "");
        let p = |n: &str| resolve(&f, n.into(), ProfileOrigin::Flag);
        let none = EnvMap::new();
        for major in [CliMajor::V1, CliMajor::V2] {
            assert_eq!(
                endpoint_url(major, "ap-northeast-1", &none, &p("fb"), &f).unwrap(),
                "https://ec2.ap-northeast-1.amazonaws.com"
            );
            assert_eq!(
                endpoint_url(major, "us-east-1", &none, &p("fips"), &f).unwrap(),
                "https://ec2-fips.us-east-1.amazonaws.com"
            );
        }
        assert_eq!(
            endpoint_url(CliMajor::V2, "us-east-1", &none, &p("url"), &f).unwrap(),
            "http://127.0.0.1:9/"
        );
        let env: EnvMap = [(
            "AWS_ENDPOINT_URL_EC2".to_string(),
            "https://ec2.example".to_string(),
        )]
        .into();
        assert_eq!(
            endpoint_url(CliMajor::V2, "us-east-1", &env, &p("fb"), &f).unwrap(),
            "https://ec2.example"
        );
    }

    #[test]
    fn wire_types_round_trip() {
        let a = DirectAnswer::Refused {
            operation: "DescribeRouteTables".into(),
            status: 403,
            line: "x".into(),
        };
        let s = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<DirectAnswer>(&s).unwrap(), a);
    }
}
