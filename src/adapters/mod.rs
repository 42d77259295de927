//! One adapter per outside system. Adapters gather facts for the pure core and
//! carry out its plan; a missing fact is `None` plus a debug line, never a crash.

pub mod aws_cli;
pub mod aws_files;
pub mod child;
pub mod dns;
pub mod ec2_direct;
pub mod egress;
pub mod engine;
pub mod environment;
pub mod facts_cache;
pub mod helper;
pub mod imds;
pub mod instance_role;
pub mod long_call_file;
pub mod network;
pub mod path_shim;
pub mod private_file;
pub mod probe;
pub mod process;
pub mod refresher;
pub mod route_tables;
pub mod settings;
pub mod supervise;
