//! `c9aws doctor`.

use crate::core::profile::EnvMap;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_env: &EnvMap, _args: Args) -> i32 {
    eprintln!("c9aws: `doctor` is not built yet");
    2
}
