//! Links the c9aws binary as a position-dependent executable on Linux.
//!
//! Why: c9aws starts in front of every `aws` call. As a PIE its dynamic loader
//! applied ~18,600 relative relocations (290 KB of RELRO) at every start, a
//! third of the process's page faults; linked non-PIE the linker resolves them
//! once (docs/performance.md). Only the binaries get the flag: proc-macros and
//! build scripts are unaffected, and the code itself is still PIC, so this works
//! with any Linux target (x86_64 and aarch64 alike).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" && std::env::var_os("C9AWS_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=C9AWS_PIE");
}
