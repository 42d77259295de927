//! Build steps of the c9aws binary:
//!
//! 1. Links it as a position-dependent executable on Linux. Why: c9aws starts
//!    in front of every `aws` call. As a PIE its dynamic loader applied ~18,600
//!    relative relocations (290 KB of RELRO) at every start, a third of the
//!    process's page faults; linked non-PIE the linker resolves them once
//!    (docs/performance.md). Only the binaries get the flag: proc-macros and
//!    build scripts are unaffected, and the code itself is still PIC, so this
//!    works with any Linux target (x86_64 and aarch64 alike).
//! 2. Links `c9aws` statically, when this machine's toolchain can: no
//!    dynamic loader, no shared libraries to find, map and relocate at every
//!    start. On the benchmark VM that is ~0.3 ms of every call, a third of
//!    what c9aws adds (docs/performance.md). Cargo has no per-binary
//!    `crt-static`, and std's link line names `-lgcc_s -lutil -lrt -lpthread
//!    -lm -ldl -lc` after `-Bdynamic`; so `c9aws` alone gets `-static` and a
//!    directory, first in the linker's search, where each of those names is a
//!    one-line linker script for the static archive (`libgcc_s` for
//!    libgcc's `libgcc_eh.a`, as `-static-libgcc` does in C). Before using
//!    it, a trial program is linked the same way and run; if the archives are
//!    missing (Amazon Linux: package `glibc-static`) or the trial fails,
//!    `c9aws` links dynamically, with only `libgcc_s` replaced if that
//!    trial passes, and cargo prints why. `C9AWS_STATIC=0` turns it off.
//!    c9aws-probe links as usual.
//! 3. Indexes the embedded data tables (`data/`): a sorted list of each table's
//!    keys with the byte range of their record, so that a lookup is a binary
//!    search touching a few pages instead of a scan of ~400 KB of text on
//!    every call (`src/core/table.rs` reads it). Each table is written as its
//!    text (`include_str!`) and its index in one value, so no caller pairs them.
use std::fmt::Write as _;
use std::path::Path;

/// How a table's records are keyed.
#[derive(Clone, Copy)]
enum Shape {
    /// One record per line; the key is the first `fields` tab-separated fields;
    /// the record is the whole line. Lines starting with `#` are comments.
    Lines { fields: usize },
    /// Blocks opened by a line `@key`; the record is the block's body up to
    /// and including the newline before the next `@` line.
    Blocks,
}

const TABLES: &[(&str, &str, Shape)] = &[
    (
        "SUBCOMMANDS_V1",
        "subcommands-v1.tsv",
        Shape::Lines { fields: 1 },
    ),
    (
        "SUBCOMMANDS_V2",
        "subcommands-v2.tsv",
        Shape::Lines { fields: 1 },
    ),
    ("COMMANDS_V1", "commands-v1.tsv", Shape::Lines { fields: 1 }),
    ("COMMANDS_V2", "commands-v2.tsv", Shape::Lines { fields: 1 }),
    (
        "API_OPERATIONS",
        "api-operations.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "ENDPOINT_IDS_V1",
        "endpoint-ids-v1.tsv",
        Shape::Lines { fields: 1 },
    ),
    (
        "ENDPOINT_IDS_V2",
        "endpoint-ids-v2.tsv",
        Shape::Lines { fields: 1 },
    ),
    (
        "HOST_PREFIXES_V1",
        "host-prefixes-v1.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "HOST_PREFIXES_V2",
        "host-prefixes-v2.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "PARAMFILE_DISABLED_V1",
        "paramfile-disabled-v1.tsv",
        Shape::Lines { fields: 3 },
    ),
    (
        "PARAMFILE_DISABLED_V2",
        "paramfile-disabled-v2.tsv",
        Shape::Lines { fields: 3 },
    ),
    (
        "ARN_ENDPOINTS_V1",
        "arn-endpoints-v1.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "ARN_ENDPOINTS_V2",
        "arn-endpoints-v2.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "CLI_ENDPOINTS_V1",
        "cli-endpoints-v1.tsv",
        Shape::Lines { fields: 2 },
    ),
    (
        "CLI_ENDPOINTS_V2",
        "cli-endpoints-v2.tsv",
        Shape::Lines { fields: 2 },
    ),
    ("OP_ARGS_V1", "op-args-v1.tsv", Shape::Blocks),
    ("OP_ARGS_V2", "op-args-v2.tsv", Shape::Blocks),
    ("ENDPOINTS_V1", "endpoints-v1.txt", Shape::Blocks),
    ("ENDPOINTS_V2", "endpoints-v2.txt", Shape::Blocks),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" && std::env::var_os("C9AWS_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=C9AWS_PIE");
    println!("cargo:rerun-if-env-changed=C9AWS_STATIC");
    // How `c9aws` is linked, for `c9aws doctor` (env!("C9AWS_LINKED")).
    let linked = if os != "linux" {
        "dynamically (static linking is only set up for Linux)".to_string()
    } else if std::env::var_os("C9AWS_PIE").is_some() {
        "dynamically (C9AWS_PIE is set)".to_string()
    } else if std::env::var("C9AWS_STATIC").as_deref() == Ok("0") {
        "dynamically (C9AWS_STATIC=0)".to_string()
    } else {
        link_static()
    };
    println!("cargo:rustc-env=C9AWS_LINKED={linked}");

    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::from("// Generated by build.rs from data/: do not edit.\n");
    for (name, file, shape) in TABLES {
        let path = Path::new(&root).join("data").join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut entries = index(&text, *shape);
        // First record of a key wins, as a scan from the top would find it.
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries.dedup_by(|b, a| a.0 == b.0);
        // The text and its index in one value: a lookup cannot pair one
        // table's index with another table's text.
        writeln!(
            out,
            "pub(crate) static {name}: crate::core::table::Table = crate::core::table::Table {{\n    \
             text: include_str!({:?}),\n    index: &[",
            path.display().to_string()
        )
        .unwrap();
        for (key, start, end) in entries {
            writeln!(out, "        ({key:?}, {start}, {end}),").unwrap();
        }
        out.push_str("    ],\n};\n");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("tables.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

/// (key, start, end) of every record, in file order (stable for the dedup).
fn index(text: &str, shape: Shape) -> Vec<(&str, usize, usize)> {
    let mut entries = Vec::new();
    let mut pos = 0;
    let mut open: Option<(&str, usize)> = None;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let body = line.strip_suffix('\n').unwrap_or(line);
        match shape {
            Shape::Lines { fields } => {
                if body.is_empty() || body.starts_with('#') {
                    continue;
                }
                let cut = body
                    .match_indices('\t')
                    .nth(fields - 1)
                    .map_or(body.len(), |(i, _)| i);
                entries.push((&body[..cut], start, start + body.len()));
            }
            Shape::Blocks => {
                if let Some(key) = body.strip_prefix('@') {
                    if let Some((k, s)) = open.take() {
                        entries.push((k, s, start));
                    }
                    open = Some((key, pos));
                }
            }
        }
    }
    if let Some((k, s)) = open {
        entries.push((k, s, text.len()));
    }
    entries
}

/// Step 2 of the module doc. Static when the trial allows, else without
/// `libgcc_s` only, else as cargo would link it. Says which.
fn link_static() -> String {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let same_machine = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if !same_machine {
        return "dynamically (cross-compiled: the trial link cannot run here)".into();
    }
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("gnu") {
        return "as the target links by default (not glibc)".into(); // musl is static already
    }
    const ALL: &[(&str, &str)] = &[
        ("gcc_s", "libgcc_eh.a"),
        ("util", "libutil.a"),
        ("rt", "librt.a"),
        ("pthread", "libpthread.a"),
        ("m", "libm.a"),
        ("dl", "libdl.a"),
        ("c", "libc.a"),
    ];
    let full = try_link(&out.join("link-static"), ALL, true);
    let (dir, linked) = match full {
        Ok(dir) => {
            println!("cargo:rustc-link-arg-bin=c9aws=-static");
            (dir, "statically".to_string())
        }
        Err(why) => {
            println!(
                "cargo:warning=c9aws is linked dynamically ({why}); a static c9aws starts ~0.3 ms \
                 faster: install the C library's static archives (Debian: libc6-dev, Amazon \
                 Linux: glibc-static) and rebuild"
            );
            match try_link(&out.join("link-unwinder"), &ALL[..1], false) {
                Ok(dir) => (dir, format!("dynamically ({why})")),
                Err(_) => return format!("dynamically ({why})"),
            }
        }
    };
    println!("cargo:rustc-link-arg-bin=c9aws=-L{}", dir.display());
    linked
}

/// Writes linker scripts that turn each `-l<name>` into its static archive,
/// links and runs a trial program with them; the directory on success.
fn try_link(
    dir: &Path,
    libs: &[(&str, &str)],
    all_static: bool,
) -> Result<std::path::PathBuf, String> {
    use std::process::Command;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    println!("cargo:rerun-if-env-changed=CC");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, archive) in libs {
        let found = Command::new(&cc)
            .arg(format!("-print-file-name={archive}"))
            .output()
            .map_err(|e| format!("cannot run {cc}: {e}"))?;
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        if !Path::new(&path).is_absolute() || !Path::new(&path).exists() {
            return Err(format!("{cc} has no {archive}"));
        }
        // `.so` is what -Bdynamic looks for first; `.a` for -Bstatic.
        for ext in ["so", "a"] {
            std::fs::write(
                dir.join(format!("lib{name}.{ext}")),
                format!("INPUT({path})\n"),
            )
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let src = dir.join("trial.rs");
    let bin = dir.join("trial");
    std::fs::write(
        &src,
        "fn main() {\n    let a: Vec<String> = std::env::args().skip(1).collect();\n    \
         let t = std::thread::spawn(move || a.join(\"+\"));\n    \
         print!(\"{}\", t.join().unwrap());\n}\n",
    )
    .map_err(|e| format!("{}: {e}", src.display()))?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.arg(&src).arg("-o").arg(&bin);
    if let Ok(target) = std::env::var("TARGET") {
        cmd.args(["--target", &target]);
    }
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        cmd.arg(format!("-Clinker={linker}"));
    }
    cmd.arg("-Clink-arg=-no-pie")
        .arg(format!("-Clink-arg=-L{}", dir.display()));
    if all_static {
        cmd.arg("-Clink-arg=-static");
    }
    let built = cmd.output().map_err(|e| format!("cannot run rustc: {e}"))?;
    if !built.status.success() {
        return Err("the trial program did not link".into());
    }
    let ran = Command::new(&bin)
        .args(["a", "b"])
        .output()
        .map_err(|e| format!("the trial program did not run: {e}"))?;
    if !ran.status.success() || ran.stdout != b"a+b" {
        return Err("the trial program did not run correctly".into());
    }
    Ok(dir.to_path_buf())
}
