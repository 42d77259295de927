//! The file's layout: the serde mirrors of the core's facts ([`InstanceRec`],
//! [`RoutingRec`], [`EndpointRec`]), the [`Stamped`] wrapper every entry
//! carries, the learnt verdicts' string keys and values, and the whole
//! document to and from JSON bytes.
//!
//! Owns the format (`FORMAT`, the keys, `"refused"`/`"failed"`) and nothing
//! else: it must not touch files, locks or the clock, nor decide freshness or
//! which of two entries wins. Reading is tolerant: a document of another
//! format or machine, or not JSON at all, is an empty cache; a malformed entry
//! is dropped alone.

use super::{FactsCache, Learnt, LearntKey};
use crate::core::route::{Instance, Net4, Routing, VpcEndpoint};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Bumped whenever the layout changes; other versions are ignored.
pub const FORMAT: u64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Stamped<T> {
    /// Unix time (s) the value was learnt.
    pub(super) at: u64,
    pub(super) value: T,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct InstanceRec {
    instance_id: Option<String>,
    region: Option<String>,
    mac: Option<String>,
    public_ipv4: Option<Ipv4Addr>,
    local_ipv4: Option<Ipv4Addr>,
    vpc_id: Option<String>,
    subnet_id: Option<String>,
    /// `a.b.c.d/len`; unparsable ones are dropped on reading.
    vpc_cidrs: Vec<String>,
}

impl From<&Instance> for InstanceRec {
    fn from(i: &Instance) -> Self {
        InstanceRec {
            instance_id: i.instance_id.clone(),
            region: i.region.clone(),
            mac: i.mac.clone(),
            public_ipv4: i.public_ipv4,
            local_ipv4: i.local_ipv4,
            vpc_id: i.vpc_id.clone(),
            subnet_id: i.subnet_id.clone(),
            vpc_cidrs: i.vpc_cidrs.iter().map(Net4::to_string).collect(),
        }
    }
}

impl From<&InstanceRec> for Instance {
    fn from(r: &InstanceRec) -> Self {
        Instance {
            instance_id: r.instance_id.clone(),
            region: r.region.clone(),
            mac: r.mac.clone(),
            public_ipv4: r.public_ipv4,
            local_ipv4: r.local_ipv4,
            vpc_id: r.vpc_id.clone(),
            subnet_id: r.subnet_id.clone(),
            vpc_cidrs: r.vpc_cidrs.iter().filter_map(|c| Net4::parse(c)).collect(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct EndpointRec {
    id: String,
    kind: String,
    service_name: String,
    route_table_ids: Vec<String>,
    private_dns: bool,
}

impl From<&VpcEndpoint> for EndpointRec {
    fn from(e: &VpcEndpoint) -> Self {
        EndpointRec {
            id: e.id.clone(),
            kind: e.kind.clone(),
            service_name: e.service_name.clone(),
            route_table_ids: e.route_table_ids.clone(),
            private_dns: e.private_dns,
        }
    }
}

impl From<&EndpointRec> for VpcEndpoint {
    fn from(e: &EndpointRec) -> Self {
        VpcEndpoint {
            id: e.id.clone(),
            kind: e.kind.clone(),
            service_name: e.service_name.clone(),
            route_table_ids: e.route_table_ids.clone(),
            private_dns: e.private_dns,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RoutingRec {
    route_table_id: Option<String>,
    prefix_list_routes: Vec<(String, String)>,
    endpoints: Vec<EndpointRec>,
}

impl From<&Routing> for RoutingRec {
    fn from(r: &Routing) -> Self {
        RoutingRec {
            route_table_id: r.route_table_id.clone(),
            prefix_list_routes: r.prefix_list_routes.clone(),
            endpoints: r.endpoints.iter().map(EndpointRec::from).collect(),
        }
    }
}

impl From<&RoutingRec> for Routing {
    fn from(r: &RoutingRec) -> Self {
        Routing {
            route_table_id: r.route_table_id.clone(),
            prefix_list_routes: r.prefix_list_routes.clone(),
            endpoints: r.endpoints.iter().map(VpcEndpoint::from).collect(),
        }
    }
}

/// The `routing` section's key: `region vpc subnet`.
pub(super) fn routing_key(region: &str, vpc: &str, subnet: &str) -> String {
    format!("{region} {vpc} {subnet}")
}

const IMDS_KEY: &str = "imds";
const ROUTING_PREFIX: &str = "routing ";

impl LearntKey {
    /// The `learnt` section's key: `imds`, `routing <region> <vpc> <subnet>`
    /// or `<service> <region>`.
    fn to_key(&self) -> String {
        match self {
            LearntKey::Imds => IMDS_KEY.to_string(),
            LearntKey::Routing {
                region,
                vpc,
                subnet,
            } => format!("{ROUTING_PREFIX}{}", routing_key(region, vpc, subnet)),
            LearntKey::Service { service, region } => format!("{service} {region}"),
        }
    }

    /// The inverse of [`LearntKey::to_key`] for every key it writes (a region
    /// may hold spaces: the vpc and subnet are the last two words). A key
    /// without a space other than `imds` is no key at all.
    fn from_key(key: &str) -> Option<LearntKey> {
        if key == IMDS_KEY {
            return Some(LearntKey::Imds);
        }
        let subnet_of = |rest: &str| {
            let mut words = rest.rsplitn(3, ' ');
            let (subnet, vpc, region) = (words.next()?, words.next()?, words.next()?);
            Some(LearntKey::Routing {
                region: region.to_string(),
                vpc: vpc.to_string(),
                subnet: subnet.to_string(),
            })
        };
        key.strip_prefix(ROUTING_PREFIX)
            .and_then(subnet_of)
            .or_else(|| {
                let (service, region) = key.split_once(' ')?;
                Some(LearntKey::Service {
                    service: service.to_string(),
                    region: region.to_string(),
                })
            })
    }
}

impl Learnt {
    fn as_str(self) -> &'static str {
        match self {
            Learnt::Refused => "refused",
            Learnt::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Learnt> {
        [Learnt::Refused, Learnt::Failed]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// Entries of one map section, each parsed on its own (a bad one is dropped).
fn section<T: DeserializeOwned>(
    doc: &Map<String, Value>,
    key: &str,
) -> BTreeMap<String, Stamped<T>> {
    doc.get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn single<T: DeserializeOwned>(doc: &Map<String, Value>, key: &str) -> Option<Stamped<T>> {
    serde_json::from_value(doc.get(key)?.clone()).ok()
}

impl FactsCache {
    /// The cache in `bytes`; empty unless it is a JSON object of this format
    /// written on `machine`.
    pub(super) fn parse(bytes: &[u8], machine: &str) -> FactsCache {
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(bytes) else {
            return FactsCache::default();
        };
        if doc.get("format").and_then(Value::as_u64) != Some(FORMAT)
            || doc.get("machine").and_then(Value::as_str) != Some(machine)
        {
            return FactsCache::default();
        }
        FactsCache {
            instance: single(&doc, "instance"),
            egress: single(&doc, "egress"),
            dns: section(&doc, "dns"),
            routing: section(&doc, "routing"),
            learnt: section::<String>(&doc, "learnt")
                .into_iter()
                .filter_map(|(k, s)| {
                    let value = Learnt::parse(&s.value)?;
                    Some((LearntKey::from_key(&k)?, Stamped { at: s.at, value }))
                })
                .collect(),
        }
    }

    pub(super) fn to_json(&self, machine: &str) -> Vec<u8> {
        let mut doc = Map::new();
        doc.insert("format".into(), FORMAT.into());
        doc.insert("machine".into(), machine.into());
        let put = |doc: &mut Map<String, Value>, key: &str, v: serde_json::Result<Value>| {
            if let Ok(v) = v {
                if !v.is_null() {
                    doc.insert(key.into(), v);
                }
            }
        };
        // Ordered by the key's text, as the file has always been.
        let learnt: BTreeMap<String, Stamped<&str>> = self
            .learnt
            .iter()
            .map(|(k, s)| {
                let value = s.value.as_str();
                (k.to_key(), Stamped { at: s.at, value })
            })
            .collect();
        put(&mut doc, "instance", serde_json::to_value(&self.instance));
        put(&mut doc, "egress", serde_json::to_value(&self.egress));
        put(&mut doc, "dns", serde_json::to_value(&self.dns));
        put(&mut doc, "routing", serde_json::to_value(&self.routing));
        put(&mut doc, "learnt", serde_json::to_value(&learnt));
        serde_json::to_vec(&Value::Object(doc)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::machine::machine_id;
    use super::*;
    use crate::adapters::settings::Ttls;

    #[test]
    fn corrupt_foreign_or_old_files_are_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("facts.json");
        assert_eq!(FactsCache::load(&p), FactsCache::default(), "missing");
        for junk in [
            &b"{not json"[..],
            b"",
            b"[]",
            b"null",
            b"\xff\xfe\x00garbage",
            br#"{"format":"1"}"#,
        ] {
            std::fs::write(&p, junk).unwrap();
            assert_eq!(FactsCache::load(&p), FactsCache::default(), "{junk:?}");
        }
        // A directory where the file should be: unreadable, still empty.
        let dir_as_file = d.path().join("dir.json");
        std::fs::create_dir(&dir_as_file).unwrap();
        assert_eq!(FactsCache::load(&dir_as_file), FactsCache::default());

        let good = full(T0).to_json(machine_id());
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["machine"] = "0123456789abcdef/ip-10-9-9-9".into();
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(
            FactsCache::load(&p),
            FactsCache::default(),
            "foreign machine"
        );
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["format"] = (FORMAT + 1).into();
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(FactsCache::load(&p), FactsCache::default(), "other format");
        // A foreign file is replaced, not merged, on save.
        full(T0).save(&p).unwrap();
        assert_eq!(FactsCache::load(&p), full(T0));

        // One malformed entry is dropped alone.
        let mut doc: Value = serde_json::from_slice(&good).unwrap();
        doc["dns"]["bad.example"] = serde_json::json!({"at": T0, "value": ["not-an-ip"]});
        doc["dns"]["worse.example"] = serde_json::json!("x");
        doc["egress"] = serde_json::json!({"at": "yesterday", "value": "203.0.113.10"});
        doc["learnt"]["s3 ap-northeast-1"] = serde_json::json!({"at": T0, "value": "fine"});
        doc["instance"]["value"]["vpc_cidrs"] = serde_json::json!(["10.0.0.0/16", "nonsense"]);
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        let c = FactsCache::load(&p);
        let t = Ttls::default();
        assert!(c.egress(T0, &t).is_none());
        assert!(c.dns("bad.example", T0, &t).is_none());
        assert!(c.dns("sts.ap-northeast-1.amazonaws.com", T0, &t).is_some());
        assert!(!c.learnt_refused("s3", "ap-northeast-1", T0, &t));
        assert!(c.learnt_refused("dynamodb", "ap-northeast-1", T0, &t));
        assert_eq!(c.instance(T0, &t).unwrap().vpc_cidrs.len(), 1);
    }

    #[test]
    fn learnt_keys_and_values_keep_their_strings() {
        let mut c = FactsCache::default();
        c.set_instance_failed(T0);
        c.set_routing_failed("us east", "vpc-1", "subnet-1", T0);
        c.set_learnt_refused("s3", "eu-west-1", T0);
        c.set_learnt_refused("routing", "r", T0);
        let bytes = c.to_json("m");
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let learnt = doc["learnt"].as_object().unwrap();
        let keys: Vec<&str> = learnt.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                r#"imds"#,
                r#"routing r"#,
                r#"routing us east vpc-1 subnet-1"#,
                "s3 eu-west-1"
            ]
        );
        assert_eq!(
            learnt["imds"],
            serde_json::json!({"at": T0, "value": "failed"})
        );
        assert_eq!(learnt["s3 eu-west-1"]["value"], "refused");
        // Read back: the same cache, and the same bytes once more.
        let back = FactsCache::parse(&bytes, "m");
        assert_eq!(back, c);
        assert_eq!(back.to_json("m"), bytes);
        // What no writer wrote: a value other than refused/failed, a key of
        // one word other than `imds`.
        for (key, value) in [("s3 r", "fine"), ("imds", "maybe"), ("nonsense", "failed")] {
            let doc = serde_json::json!({"format": FORMAT, "machine": "m",
                "learnt": {key: {"at": T0, "value": value}}});
            let c = FactsCache::parse(&serde_json::to_vec(&doc).unwrap(), "m");
            assert_eq!(c, FactsCache::default(), "{key:?} = {value:?}");
        }
    }

    /// Format 1 to the byte, as every version of it has written it.
    #[test]
    fn the_bytes_of_format_1() {
        let mut c = full(T0);
        c.set_instance_failed(T0 + 1);
        c.set_routing_failed("ap-northeast-1", "vpc-0abc", "subnet-0pub", T0 + 2);
        let want = concat!(
            r#"{"dns":{"sts.ap-northeast-1.amazonaws.com":{"at":1790000000,"value":["10.0.5.5""#,
            r#","fd00::5"]}},"egress":{"at":1790000000,"value":"203.0.113.10"},"format":1"#,
            r#","instance":{"at":1790000000,"value":{"instance_id":"i-0123456789abcdef0""#,
            r#","local_ipv4":"10.0.1.10","mac":"06:aa:bb:cc:dd:ee","public_ipv4":"203.0.113.10""#,
            r#","region":"ap-northeast-1","subnet_id":"subnet-0pub","vpc_cidrs":["10.0.0.0/16""#,
            r#","100.64.0.0/16"],"vpc_id":"vpc-0abc"}}"#,
            r#","learnt":{"dynamodb ap-northeast-1":{"at":1790000000,"value":"refused"}"#,
            r#","imds":{"at":1790000001,"value":"failed"}"#,
            r#","routing ap-northeast-1 vpc-0abc subnet-0pub":{"at":1790000002"#,
            r#","value":"failed"}},"machine":"m""#,
            r#","routing":{"ap-northeast-1 vpc-0abc subnet-0priv":{"at":1790000000"#,
            r#","value":{"endpoints":[{"id":"vpce-0s3","kind":"Gateway","private_dns":false"#,
            r#","route_table_ids":["rtb-0priv"]"#,
            r#","service_name":"com.amazonaws.ap-northeast-1.s3"},{"id":"vpce-0sts""#,
            r#","kind":"Interface","private_dns":true,"route_table_ids":[]"#,
            r#","service_name":"com.amazonaws.ap-northeast-1.sts"}]"#,
            r#","prefix_list_routes":[["pl-61a54008","vpce-0s3"]]"#,
            r#","route_table_id":"rtb-0priv"}}}}"#,
        );
        assert_eq!(String::from_utf8(c.to_json("m")).unwrap(), want);
        assert_eq!(FactsCache::parse(want.as_bytes(), "m"), c);
    }
}
