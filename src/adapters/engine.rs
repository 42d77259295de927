//! Where the work that needs an async runtime, HTTP and TLS runs. `c9aws`
//! uses [`Engine::helper`] (the `c9aws-probe` executable beside it);
//! `c9aws-probe` uses [`Engine::in_process`]. Only what an executable names
//! gets linked into it, so `c9aws` carries none of that machinery. The engine
//! is chosen by the executable's `main` and passed down in the session; no
//! global holds it.

use crate::adapters::probe::{ProbeRequest, Probed};
use crate::adapters::{ec2_direct, helper, instance_role, probe};
use crate::core::ec2_query::{DirectAnswer, DirectRequest};
use crate::core::EnvMap;
use crate::error::Error;

#[derive(Clone, Copy)]
pub struct Engine {
    /// Whether this executable carries the machinery itself (`c9aws-probe`).
    pub in_process: bool,
    /// IMDS, egress and DNS under one deadline (cold cache only).
    pub probe: fn(&ProbeRequest) -> Probed,
    /// The instance role's credential_process JSON.
    pub credentials: fn(&EnvMap, Option<&str>) -> Result<String, Error>,
    /// The route table read directly (signed EC2 calls), or why the CLI must.
    pub route_tables: fn(&EnvMap, &DirectRequest) -> DirectAnswer,
}

impl Engine {
    pub fn helper() -> Engine {
        Engine {
            in_process: false,
            probe: helper::probe,
            credentials: helper::credentials,
            route_tables: helper::route_tables,
        }
    }

    pub fn in_process() -> Engine {
        Engine {
            in_process: true,
            probe: probe::probe,
            credentials: instance_role::fetch,
            route_tables: ec2_direct::read,
        }
    }
}
