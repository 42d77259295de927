//! The subnet's routing from the EC2 API's answers: the JSON of
//! `aws ec2 describe-route-tables` and `aws ec2 describe-vpc-endpoints`
//! (`--output json`), read tolerantly (a field missing or of another type is
//! no field).
//!
//! Owns which table is in force for the subnet (its explicit association,
//! else the VPC's main table), which prefix lists that table sends to a
//! `vpce-`, and which of the VPC's endpoints still carry traffic. Pure: it
//! must not run the CLI, read files, the environment or the clock (the
//! adapter `adapters::route_tables` does the running).

use crate::core::route::{Routing, VpcEndpoint};
use serde_json::Value;
use std::fmt;

/// Why the two answers make no routing.
#[derive(Debug)]
pub enum RoutingError {
    /// `describe-route-tables` printed something that is not JSON.
    RouteTables(serde_json::Error),
    /// `describe-vpc-endpoints` printed something that is not JSON.
    Endpoints(serde_json::Error),
    /// No table applies: an error, not an empty (= "public") routing.
    NoTable { vpc_id: String, subnet_id: String },
}

impl fmt::Display for RoutingError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RoutingError::RouteTables(e) => {
                write!(f, "unreadable describe-route-tables output: {e}")
            }
            RoutingError::Endpoints(e) => write!(f, "unreadable describe-vpc-endpoints output: {e}"),
            RoutingError::NoTable { vpc_id, subnet_id } => write!(
                f,
                "no route table of {vpc_id} applies to {subnet_id} (neither an explicit association nor a main table)"
            ),
        }
    }
}

impl std::error::Error for RoutingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RoutingError::RouteTables(e) | RoutingError::Endpoints(e) => Some(e),
            RoutingError::NoTable { .. } => None,
        }
    }
}

/// Builds the routing from the two JSON documents (`--output json`).
pub fn routing_from(
    route_tables_json: &str,
    endpoints_json: &str,
    vpc_id: &str,
    subnet_id: &str,
) -> Result<Routing, RoutingError> {
    let tables: Value =
        serde_json::from_str(route_tables_json).map_err(RoutingError::RouteTables)?;
    let eps: Value = serde_json::from_str(endpoints_json).map_err(RoutingError::Endpoints)?;
    let table = pick_table(&tables, subnet_id).ok_or_else(|| RoutingError::NoTable {
        vpc_id: vpc_id.to_string(),
        subnet_id: subnet_id.to_string(),
    })?;
    Ok(Routing {
        route_table_id: Some(str_of(table, "RouteTableId")).filter(|s| !s.is_empty()),
        prefix_list_routes: prefix_list_routes(table),
        endpoints: endpoints(&eps),
    })
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// An association that is (still) in force: no state given, or `associated`/`associating`.
fn association_live(a: &Value) -> bool {
    match a.pointer("/AssociationState/State").and_then(Value::as_str) {
        None => true,
        Some(s) => matches!(s, "associated" | "associating"),
    }
}

/// The subnet's explicitly associated table, else the VPC's main table.
fn pick_table<'a>(tables: &'a Value, subnet_id: &str) -> Option<&'a Value> {
    let all = array(tables, "RouteTables");
    let has = |t: &Value, pred: &dyn Fn(&Value) -> bool| {
        array(t, "Associations")
            .iter()
            .any(|a| association_live(a) && pred(a))
    };
    all.iter()
        .find(|t| {
            has(t, &|a| {
                a.get("SubnetId").and_then(Value::as_str) == Some(subnet_id)
            })
        })
        .or_else(|| {
            all.iter()
                .find(|t| has(t, &|a| a.get("Main").and_then(Value::as_bool) == Some(true)))
        })
}

/// Routes of the table that send a prefix list to a gateway endpoint, except
/// blackholed ones (their endpoint is gone).
fn prefix_list_routes(table: &Value) -> Vec<(String, String)> {
    array(table, "Routes")
        .iter()
        .filter(|r| r.get("State").and_then(Value::as_str) != Some("blackhole"))
        .filter_map(|r| {
            let pl = r.get("DestinationPrefixListId")?.as_str()?;
            let gw = r.get("GatewayId")?.as_str()?;
            gw.starts_with("vpce-")
                .then(|| (pl.to_string(), gw.to_string()))
        })
        .collect()
}

/// The VPC's endpoints, except those that no longer carry traffic.
fn endpoints(eps: &Value) -> Vec<VpcEndpoint> {
    array(eps, "VpcEndpoints")
        .iter()
        .filter(|e| {
            let state = e.get("State").and_then(Value::as_str).unwrap_or_default();
            !matches!(
                state.to_ascii_lowercase().as_str(),
                "deleting" | "deleted" | "rejected" | "failed" | "expired"
            )
        })
        .filter_map(|e| {
            let id = str_of(e, "VpcEndpointId");
            (!id.is_empty()).then(|| VpcEndpoint {
                id,
                kind: str_of(e, "VpcEndpointType"),
                service_name: str_of(e, "ServiceName"),
                route_table_ids: array(e, "RouteTableIds")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                private_dns: e
                    .get("PrivateDnsEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// Real-shaped answers, shared with the adapter's tests (through a fake CLI).
#[cfg(test)]
pub(crate) mod fixtures {
    /// A subnet with its own table (explicit association) holding S3 and
    /// DynamoDB gateway routes; the main table has none. Shaped like real
    /// `aws ec2 describe-route-tables --output json` output.
    pub(crate) const TABLES_EXPLICIT: &str = r#"{
    "RouteTables": [
        {
            "Associations": [
                {
                    "Main": true,
                    "RouteTableAssociationId": "rtbassoc-0aaa1111bbbb2222c",
                    "RouteTableId": "rtb-0main000000000001",
                    "AssociationState": { "State": "associated" }
                }
            ],
            "PropagatingVgws": [],
            "RouteTableId": "rtb-0main000000000001",
            "Routes": [
                { "DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active" },
                { "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123456789abcdef0", "Origin": "CreateRoute", "State": "active" }
            ],
            "Tags": [],
            "VpcId": "vpc-0abc",
            "OwnerId": "123456789012"
        },
        {
            "Associations": [
                {
                    "Main": false,
                    "RouteTableAssociationId": "rtbassoc-0ddd3333eeee4444f",
                    "RouteTableId": "rtb-0priv00000000002",
                    "SubnetId": "subnet-0priv",
                    "AssociationState": { "State": "associated" }
                },
                {
                    "Main": false,
                    "RouteTableAssociationId": "rtbassoc-0old",
                    "RouteTableId": "rtb-0priv00000000002",
                    "SubnetId": "subnet-0gone",
                    "AssociationState": { "State": "disassociated" }
                }
            ],
            "PropagatingVgws": [],
            "RouteTableId": "rtb-0priv00000000002",
            "Routes": [
                { "DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active" },
                { "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0123456789abcdef0", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-61a54008", "GatewayId": "vpce-0s3gw0000000001", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-78a54011", "GatewayId": "vpce-0ddbgw000000001", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-0customer", "TransitGatewayId": "tgw-0123", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-00dead", "GatewayId": "vpce-0deleted", "Origin": "CreateRoute", "State": "blackhole" }
            ],
            "Tags": [ { "Key": "Name", "Value": "private" } ],
            "VpcId": "vpc-0abc",
            "OwnerId": "123456789012"
        }
    ]
}"#;

    pub(crate) const ENDPOINTS: &str = r#"{
    "VpcEndpoints": [
        {
            "VpcEndpointId": "vpce-0s3gw0000000001",
            "VpcEndpointType": "Gateway",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.s3",
            "State": "available",
            "PolicyDocument": "{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
            "RouteTableIds": [ "rtb-0priv00000000002" ],
            "SubnetIds": [],
            "Groups": [],
            "PrivateDnsEnabled": false,
            "RequesterManaged": false,
            "NetworkInterfaceIds": [],
            "DnsEntries": [],
            "CreationTimestamp": "2026-10-01T09:00:00+00:00",
            "OwnerId": "123456789012"
        },
        {
            "VpcEndpointId": "vpce-0ddbgw000000001",
            "VpcEndpointType": "Gateway",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.dynamodb",
            "State": "available",
            "RouteTableIds": [ "rtb-0priv00000000002" ],
            "PrivateDnsEnabled": false
        },
        {
            "VpcEndpointId": "vpce-0sts0000000000001",
            "VpcEndpointType": "Interface",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.sts",
            "State": "available",
            "RouteTableIds": [],
            "SubnetIds": [ "subnet-0priv", "subnet-0pub" ],
            "Groups": [ { "GroupId": "sg-0123", "GroupName": "default" } ],
            "IpAddressType": "ipv4",
            "DnsOptions": { "DnsRecordIpType": "ipv4" },
            "PrivateDnsEnabled": true,
            "NetworkInterfaceIds": [ "eni-0aaa", "eni-0bbb" ],
            "DnsEntries": [
                { "DnsName": "vpce-0sts0000000000001-abcd1234.sts.ap-northeast-1.vpce.amazonaws.com", "HostedZoneId": "Z2E726K9Y6RL4W" },
                { "DnsName": "sts.ap-northeast-1.amazonaws.com", "HostedZoneId": "Z0123" }
            ]
        },
        {
            "VpcEndpointId": "vpce-0gone",
            "VpcEndpointType": "Interface",
            "ServiceName": "com.amazonaws.ap-northeast-1.ssm",
            "State": "deleted",
            "PrivateDnsEnabled": true
        }
    ]
}"#;

    /// No explicit association for the subnet: the main table is in force.
    pub(crate) const TABLES_MAIN_ONLY: &str = r#"{
    "RouteTables": [
        {
            "Associations": [
                { "Main": false, "RouteTableId": "rtb-0other", "SubnetId": "subnet-0other",
                  "AssociationState": { "State": "associated" } }
            ],
            "RouteTableId": "rtb-0other",
            "Routes": [
                { "DestinationPrefixListId": "pl-61a54008", "GatewayId": "vpce-0s3gw0000000001", "State": "active" }
            ],
            "VpcId": "vpc-0abc"
        },
        {
            "Associations": [ { "Main": true, "RouteTableId": "rtb-0main" } ],
            "RouteTableId": "rtb-0main",
            "Routes": [
                { "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123", "State": "active" }
            ],
            "VpcId": "vpc-0abc"
        }
    ]
}"#;
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn explicit_association_with_gateway_endpoints() {
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0priv").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0priv00000000002"));
        assert_eq!(
            r.prefix_list_routes,
            vec![
                (
                    "pl-61a54008".to_string(),
                    "vpce-0s3gw0000000001".to_string()
                ),
                (
                    "pl-78a54011".to_string(),
                    "vpce-0ddbgw000000001".to_string()
                ),
            ]
        );
        assert_eq!(r.endpoints.len(), 3, "the deleted endpoint is dropped");
        let s3 = &r.endpoints[0];
        assert_eq!(
            s3,
            &VpcEndpoint {
                id: "vpce-0s3gw0000000001".into(),
                kind: "Gateway".into(),
                service_name: "com.amazonaws.ap-northeast-1.s3".into(),
                route_table_ids: vec!["rtb-0priv00000000002".into()],
                private_dns: false,
            }
        );
        assert_eq!(
            r.endpoints[1].service_name,
            "com.amazonaws.ap-northeast-1.dynamodb"
        );
        assert_eq!(r.endpoints[1].kind, "Gateway");
        let sts = &r.endpoints[2];
        assert_eq!(sts.kind, "Interface");
        assert!(sts.private_dns);
        assert!(sts.route_table_ids.is_empty());
    }

    #[test]
    fn main_table_when_no_explicit_association() {
        // A subnet without its own table, in the VPC of TABLES_EXPLICIT.
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0pub").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main000000000001"));
        assert!(r.prefix_list_routes.is_empty());
        // A disassociated subnet falls back to the main table too.
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0gone").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main000000000001"));
        let r = routing_from(
            TABLES_MAIN_ONLY,
            r#"{"VpcEndpoints":[]}"#,
            "vpc-0abc",
            "subnet-0x",
        )
        .unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main"));
        assert!(r.prefix_list_routes.is_empty());
        assert!(r.endpoints.is_empty());
    }

    #[test]
    fn tolerant_of_missing_fields_and_odd_types() {
        let tables = r#"{"RouteTables":[
            {"RouteTableId":"rtb-1","Associations":[{"SubnetId":"subnet-1"}],
             "Routes":[{"DestinationPrefixListId":"pl-1","GatewayId":"vpce-1"},
                       {"DestinationPrefixListId":7,"GatewayId":"vpce-2"},
                       {"GatewayId":"vpce-3"}, "nonsense", null]},
            {"Associations":"not a list"}, 42]}"#;
        let eps = r#"{"VpcEndpoints":[{"VpcEndpointId":"vpce-1"},{"ServiceName":"no id"},
                      {"VpcEndpointId":"vpce-2","RouteTableIds":["rtb-1",5],"PrivateDnsEnabled":"yes"}]}"#;
        let r = routing_from(tables, eps, "vpc-1", "subnet-1").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-1"));
        assert_eq!(r.prefix_list_routes, vec![("pl-1".into(), "vpce-1".into())]);
        assert_eq!(r.endpoints.len(), 2);
        assert_eq!(r.endpoints[0].kind, "");
        assert_eq!(r.endpoints[1].route_table_ids, vec!["rtb-1".to_string()]);
        assert!(!r.endpoints[1].private_dns);
        // No table applies at all: an error, not an empty (= "public") routing.
        assert!(routing_from("{}", "{}", "vpc-1", "subnet-1")
            .unwrap_err()
            .to_string()
            .contains("no route table"));
        assert!(routing_from("[]", "null", "vpc-1", "subnet-1").is_err());
        assert!(routing_from("not json", "{}", "vpc-1", "subnet-1")
            .unwrap_err()
            .to_string()
            .contains("describe-route-tables"));
        assert!(routing_from(TABLES_MAIN_ONLY, "{", "vpc-1", "subnet-1")
            .unwrap_err()
            .to_string()
            .contains("describe-vpc-endpoints"));
    }

    #[test]
    fn core_verdict_sees_the_gateway_endpoint() {
        use crate::core::route::{verdict, Instance, NetFacts, ServiceCall, Verdict};
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0priv").unwrap();
        let hosts = vec!["s3.ap-northeast-1.amazonaws.com".to_string()];
        let mut facts = NetFacts {
            instance: Some(Instance {
                public_ipv4: Some("203.0.113.10".parse().unwrap()),
                ..Instance::default()
            }),
            egress_ip: Some("203.0.113.10".parse().unwrap()),
            routing: Some(r),
            ..NetFacts::default()
        };
        facts
            .dns
            .insert(hosts[0].clone(), Some(vec!["52.219.0.1".parse().unwrap()]));
        let call = ServiceCall {
            service: "s3",
            api_operation: None,
            params: &[],
            primary: true,
            hosts: &hosts,
            region: Some("ap-northeast-1"),
        };
        assert_eq!(verdict(&call, &facts).verdict, Verdict::GatewayEndpoint);
    }
}
