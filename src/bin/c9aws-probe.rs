//! `c9aws-probe`: the part of c9aws that needs an async runtime, HTTP and TLS.
//! `c9aws` starts it, next to itself, for a cold facts cache (`__probe`: one
//! request on stdin, the answer on stdout), for the direct route-table read
//! (`__route-tables`, likewise) and for `credential-process`; run by
//! hand it is a complete c9aws with everything in-process.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = args.get(1);
    let code = if first.is_some_and(|a| a == c9aws::adapters::helper::PROBE_WORD) {
        c9aws::adapters::helper::serve()
    } else if first.is_some_and(|a| a == c9aws::adapters::helper::ROUTE_TABLES_WORD) {
        c9aws::adapters::ec2_direct::serve()
    } else {
        c9aws::app::run(args, c9aws::adapters::engine::Engine::in_process())
    };
    std::process::exit(code);
}
