//! docs/c9aws.1, the man page, is generated from the clap definitions of
//! c9aws's own commands; this test fails when it is out of date.
//! Regenerate: `UPDATE_MAN=1 cargo test --lib manpage`.

use crate::cli::Own;
use clap::CommandFactory;

fn render() -> Vec<u8> {
    let cmd = Own::command().after_long_help(
        "Any other arguments are the AWS CLI's: `c9aws s3 ls` runs `aws s3 ls`, with the \
         fallback profile only when Cloud9's managed credentials would be refused. \
         `c9aws -- ARGS` always passes ARGS to aws unchanged.",
    );
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .expect("render");
    // Each command in full: its own usage, description and options.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // Test-only, once per command: clap's names are &'static str here.
        let name: &'static str = format!("c9aws {}", sub.get_name()).leak();
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let man = clap_mangen::Man::new(sub.clone().name(name).bin_name(name));
        man.render_synopsis_section(&mut out)
            .and_then(|_| man.render_description_section(&mut out))
            .and_then(|_| man.render_options_section(&mut out))
            .expect("render");
    }
    out
}

#[test]
fn man_page_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/c9aws.1");
    let want = render();
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/c9aws.1 is out of date: UPDATE_MAN=1 cargo test --lib manpage"
    );
}
