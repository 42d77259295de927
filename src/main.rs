//! `c9aws`: the executable in front of every `aws` call. The library does the
//! work; the network probes and the instance-role credentials run in the
//! `c9aws-probe` executable installed beside it (see `c9aws::app::Engine`).

fn main() {
    let code = c9aws::app::run(std::env::args_os().collect());
    std::process::exit(code);
}
