//! `c9aws`: the executable in front of every `aws` call. The library does the
//! work; the network probes and the instance-role credentials run in the
//! `c9aws-probe` executable installed beside it (`c9aws::adapters::engine`).
//!
//! `main` is the C entry point rather than Rust's: std's start-up asks glibc
//! for the main thread's stack bounds (glibc reads and parses
//! `/proc/self/maps`), installs a signal stack and stack-overflow handlers,
//! and checks fds 0–2; together ~0.2 ms of every call on the benchmark VM
//! (docs/performance.md). c9aws keeps the two parts that change behaviour
//! (`c9aws::app::start_process`); `std::env::args_os` works without std's
//! entry point on Linux (glibc passes argv to std's `.init_array` hook).
#![no_main]

#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    c9aws::app::start_process();
    let code = c9aws::app::run(
        std::env::args_os().collect(),
        c9aws::adapters::engine::Engine::helper(),
    );
    std::process::exit(code);
}
