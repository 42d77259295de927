//! The pure core: facts in, plan out. Nothing in here reads the environment,
//! files, the network or the clock; adapters gather facts and carry out plans.

pub mod argv;
pub mod cli_layer;
pub mod command_table;
pub mod config_edit;
pub mod configparse;
pub mod credentials;
pub mod decide;
pub mod ec2_query;
pub mod endpoints;
pub mod long_call;
pub mod op_args;
pub mod overrides;
pub mod plan;
pub mod process;
pub mod profile;
pub mod region;
pub mod route;
pub mod route_tables;
pub mod shlex;
pub mod stdin_use;
pub mod subcommands;
pub(crate) mod table;
pub mod target;

#[cfg(test)]
mod props;

/// The AWS CLI's major version: its rules differ (argv, region, endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CliMajor {
    V1,
    V2,
}

/// The environment variables that matter to the CLI and c9aws, as a plain map
/// (adapters::environment fills it; nothing in the core reads the process's).
pub type EnvMap = std::collections::BTreeMap<String, String>;
