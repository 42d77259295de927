//! The pure core: facts in, plan out. Nothing in here reads the environment,
//! files, the network or the clock; adapters gather facts and carry out plans.

pub mod argv;
pub mod command_table;
pub mod config_edit;
pub mod configparse;
pub mod credentials;
pub mod decide;
pub mod endpoints;
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

pub use endpoints::CliMajor;
