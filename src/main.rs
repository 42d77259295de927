//! c9aws: the AWS CLI, minus Cloud9's managed-credentials failures.
//! `main` only turns the outcome of [`app::run`] into the process's exit status.

mod adapters;
mod app;
mod cli;
mod commands;
mod core;
#[cfg(test)]
mod manpage;

fn main() {
    let code = app::run(std::env::args_os().collect());
    std::process::exit(code);
}
