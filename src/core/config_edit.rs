//! Textual edits of `~/.aws/config` and c9aws's config for `c9aws setup`:
//! c9aws's own profile section is replaced or appended, and every other byte of
//! the file (comments, spacing, order, other sections, line endings) stays as
//! it was. Pure: text in, text out.
//!
//! Lines are classified as the CLI's configparser reads them
//! (src/core/configparse.rs): full-line `#`/`;` comments, a header is a
//! stripped line `[…]` up to its last `]` (so `[profile x] ; note` is one),
//! and an indented line after a setting is a continuation of its value, never
//! a header. A header names profile NAME as botocore's `build_profile_map`
//! reads it: `[default]`, or a name starting with `profile` that shlex-splits
//! into exactly two words (`[profile  x]`, `[profile "x"]`); `[ profile x ]`
//! and `[x]` are other sections. c9aws's section is marked by [`MARKER`] so
//! that a section of the user's is never overwritten by accident. Every edit
//! is checked by parsing the result as the CLI would: a file the CLI cannot
//! read is never edited, and an edit that would not give the profile exactly
//! the settings written is refused.

use crate::core::configparse;
use crate::core::shlex;

/// The comment line that marks a section as written by `c9aws setup`.
pub const MARKER: &str = "# managed by c9aws setup (rerun `c9aws setup` to change it)";

#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// A section for this profile exists and was not written by c9aws (1-based line).
    Foreign { line: usize },
    /// Several sections name this profile; which one the CLI uses is unclear.
    Duplicate { lines: Vec<usize> },
    /// The CLI itself cannot read the file (its parser's error, 1-based line).
    Unreadable { line: usize, message: String },
    /// The edited text would not give the profile the settings written (a
    /// safety net: the file is left as it was).
    Unverified,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Foreign { line } => write!(
                f,
                "line {line} already defines this profile and c9aws did not write it"
            ),
            EditError::Duplicate { lines } => write!(
                f,
                "lines {} all define this profile",
                lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            EditError::Unreadable { line, message } => write!(
                f,
                "line {line}: {message}; the AWS CLI cannot read this file either, fix it first"
            ),
            EditError::Unverified => write!(
                f,
                "the edited file would not read back as written (please report this); left unchanged"
            ),
        }
    }
}

/// What the config file holds for a profile name.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    Absent,
    /// A section written by c9aws (marked).
    Ours,
    /// A section of the user's (1-based line of its header).
    Foreign {
        line: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header(String),
    Setting,
    Continuation,
}

struct Line<'a> {
    start: usize,
    end: usize,
    text: &'a str,
    kind: Kind,
}

/// `\[(?P<header>.+)\]` matched at the start of the stripped line.
fn section_header(stripped: &str) -> Option<&str> {
    let rest = stripped.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    Some(&rest[..end]).filter(|h| !h.is_empty())
}

/// configparser's line states (`_read`), enough to tell headers, settings and
/// continuation lines apart. Lines end at `\n` (a `\r` before it is whitespace).
fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_section = false;
    let mut in_setting = false;
    let mut indent_level = 0usize;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        let indent = l.chars().take_while(|c| c.is_whitespace()).count();
        let kind = if t.starts_with('#') || t.starts_with(';') {
            Kind::Comment
        } else if t.is_empty() {
            Kind::Blank
        } else if in_section && in_setting && indent > indent_level {
            Kind::Continuation
        } else {
            indent_level = indent;
            if let Some(h) = section_header(t) {
                in_section = true;
                in_setting = false;
                Kind::Header(h.to_string())
            } else {
                in_setting = in_section && t.contains(['=', ':']);
                Kind::Setting
            }
        };
        out.push(Line {
            start,
            end: start + l.len(),
            text: l,
            kind,
        });
        start += l.len();
    }
    out
}

/// Does the section named `header` hold profile `name` for botocore?
fn names_profile(header: &str, name: &str) -> bool {
    if header.starts_with("profile") {
        matches!(shlex::split(header).as_deref(), Ok([_, n]) if n == name)
    } else {
        header == "default" && name == "default"
    }
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The section of profile `name`: (header line index, last line index of its
/// settings or marker, marked as c9aws's).
struct Found {
    header: usize,
    last: usize,
    ours: bool,
}

fn find(ls: &[Line<'_>], name: &str) -> Result<Option<Found>, EditError> {
    let headers: Vec<usize> = ls
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(&l.kind, Kind::Header(h) if names_profile(h, name)))
        .map(|(i, _)| i)
        .collect();
    let i = match headers.as_slice() {
        [] => return Ok(None),
        [i] => *i,
        many => {
            return Err(EditError::Duplicate {
                lines: many.iter().map(|i| i + 1).collect(),
            })
        }
    };
    let mut last = i;
    let mut ours = false;
    for (j, l) in ls.iter().enumerate().skip(i + 1) {
        match l.kind {
            Kind::Header(_) => break,
            Kind::Setting | Kind::Continuation => last = j,
            Kind::Comment if l.text.trim() == MARKER => {
                ours = true;
                last = last.max(j);
            }
            _ => {}
        }
    }
    Ok(Some(Found {
        header: i,
        last,
        ours,
    }))
}

fn readable(text: &str) -> Result<(), EditError> {
    configparse::parse(text)
        .map(|_| ())
        .map_err(|e| EditError::Unreadable {
            line: e.line,
            message: e.message,
        })
}

/// What `text` holds for profile `name` (for `aws configure sso`, which
/// edits the file itself).
pub fn existing(text: &str, name: &str) -> Result<Existing, EditError> {
    readable(text)?;
    Ok(match find(&lines(text), name)? {
        None => Existing::Absent,
        Some(f) if f.ours => Existing::Ours,
        Some(f) => Existing::Foreign { line: f.header + 1 },
    })
}

/// `text` with profile `name`'s section set to `body` (`key = value` lines),
/// after the header and the marker. An existing section of c9aws's is
/// replaced in place, from its header to its last setting (comments and blank
/// lines after it stay); otherwise the section is appended. A section of the
/// user's is replaced only with `force`.
pub fn set_profile(
    text: &str,
    name: &str,
    body: &[String],
    force: bool,
) -> Result<String, EditError> {
    readable(text)?;
    let nl = newline(text);
    let mut section = format!("[profile {name}]{nl}{MARKER}{nl}");
    for b in body {
        section.push_str(b);
        section.push_str(nl);
    }
    let ls = lines(text);
    let out = match find(&ls, name)? {
        None => {
            let mut out = text.to_string();
            if !out.is_empty() {
                if !out.ends_with('\n') {
                    out.push_str(nl);
                }
                if !out.ends_with(&format!("{nl}{nl}")) && out != nl {
                    out.push_str(nl);
                }
            }
            out.push_str(&section);
            out
        }
        Some(f) => {
            if !f.ours && !force {
                return Err(EditError::Foreign { line: f.header + 1 });
            }
            let (start, end) = (ls[f.header].start, ls[f.last].end);
            let mut out = String::with_capacity(text.len() + section.len());
            out.push_str(&text[..start]);
            out.push_str(&section);
            // The old section's last line may have ended the file without a newline.
            let rest = &text[end..];
            if rest.is_empty() && !text[start..end].ends_with('\n') {
                out.truncate(out.len() - nl.len());
            }
            out.push_str(rest);
            out
        }
    };
    verify(&out, name, body)?;
    Ok(out)
}

/// Does `text` read back, as the CLI reads it, with profile `name` set to
/// every `key = value` of `body`?
fn verify(text: &str, name: &str, body: &[String]) -> Result<(), EditError> {
    let ini = configparse::parse(text).map_err(|_| EditError::Unverified)?;
    let section = ini
        .sections
        .iter()
        .rev()
        .find(|s| names_profile(&s.name, name))
        .ok_or(EditError::Unverified)?;
    for b in body {
        let (k, v) = b.split_once('=').ok_or(EditError::Unverified)?;
        if section.get(&k.trim().to_lowercase()) != Some(v.trim()) {
            return Err(EditError::Unverified);
        }
    }
    Ok(())
}

/// `text` (an INI file read by rust-ini) with top-level `key = value`: the
/// last top-level line setting `key` (the one rust-ini's reader keeps) is
/// replaced; otherwise the line is put first in the file. Other lines are kept
/// byte for byte.
pub fn set_top_key(text: &str, key: &str, value: &str) -> String {
    let nl = newline(text);
    let line = format!("{key} = {value}{nl}");
    let mut hit: Option<(usize, usize, bool)> = None;
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        let (s, t) = (start, l.trim());
        start += l.len();
        if t.starts_with('[') {
            break;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.split(['=', ':']).next().unwrap_or("").trim() == key {
            hit = Some((s, start, l.ends_with('\n')));
        }
    }
    match hit {
        Some((s, e, keep_nl)) => {
            let mut out = String::with_capacity(text.len() + line.len());
            out.push_str(&text[..s]);
            out.push_str(if keep_nl {
                &line
            } else {
                line.trim_end_matches(['\r', '\n'])
            });
            out.push_str(&text[e..]);
            out
        }
        None => format!("{line}{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<String> {
        vec!["credential_process = /bin/c9aws credential-process".into()]
    }

    fn ours(nl: &str) -> String {
        format!("[profile c9-fallback]{nl}{MARKER}{nl}credential_process = /bin/c9aws credential-process{nl}")
    }

    #[test]
    fn headers_name_profiles_as_botocore_reads_them() {
        for (header, name, want) in [
            ("profile c9-fallback", "c9-fallback", true),
            ("profile   c9-fallback ", "c9-fallback", true),
            ("profile \"c9-fallback\"", "c9-fallback", true),
            ("profile 'c9-fallback'", "c9-fallback", true),
            // botocore only checks the prefix, then shlex-splits.
            ("profilex c9-fallback", "c9-fallback", true),
            (" profile c9-fallback", "c9-fallback", false),
            ("c9-fallback", "c9-fallback", false),
            ("profile c9-fallback extra", "c9-fallback", false),
            ("profile \"c9-fallback", "c9-fallback", false),
            ("sso-session c9-fallback", "c9-fallback", false),
            ("services c9-fallback", "c9-fallback", false),
            ("default", "default", true),
            ("profile default", "default", true),
            ("default", "c9-fallback", false),
        ] {
            assert_eq!(names_profile(header, name), want, "[{header}] {name}");
        }
    }

    #[test]
    fn appends_keeping_every_byte_before() {
        for (before, sep) in [
            ("", ""),
            ("[default]\nregion = x\n", "\n"),
            ("[default]\nregion = x", "\n\n"),
            ("[default]\nregion = x\n\n", ""),
            ("# only a comment\n", "\n"),
            // Not profile c9-fallback for the CLI.
            ("[c9-fallback]\nregion = x\n", "\n"),
            ("[ profile c9-fallback ]\nregion = x\n", "\n"),
            ("[profile c9-fallback-not]\nregion = x\n", "\n"),
            ("[sso-session c9-fallback]\nsso_region = us-east-1\n[services c9-fallback]\ns3 =\n  endpoint_url = http://x\n", "\n"),
            // An indented header after a setting continues its value.
            ("[profile a]\nregion = x\n  [profile c9-fallback]\n", "\n"),
        ] {
            let out = set_profile(before, "c9-fallback", &body(), false).unwrap();
            assert_eq!(out, format!("{before}{sep}{}", ours("\n")), "{before:?}");
            // Idempotent.
            assert_eq!(
                set_profile(&out, "c9-fallback", &body(), false).unwrap(),
                out
            );
        }
        let crlf = "[default]\r\nregion = x\r\n";
        let out = set_profile(crlf, "c9-fallback", &body(), false).unwrap();
        assert_eq!(out, format!("{crlf}\r\n{}", ours("\r\n")));
        assert_eq!(
            set_profile(&out, "c9-fallback", &body(), false).unwrap(),
            out
        );
    }

    #[test]
    fn replaces_its_own_section_only() {
        let before = format!("; head\n[profile   c9-fallback ] ; ours\n{MARKER}\nregion = old\n  continued\n\n# about work\n[profile work]\nregion=y");
        let out = set_profile(&before, "c9-fallback", &body(), false).unwrap();
        assert_eq!(
            out,
            format!(
                "; head\n{}\n# about work\n[profile work]\nregion=y",
                ours("\n")
            )
        );
        // At the end of a file without a final newline.
        let before = format!("[default]\n\n[profile c9-fallback]\n{MARKER}\nregion = old");
        let out = set_profile(&before, "c9-fallback", &body(), false).unwrap();
        assert_eq!(
            out,
            format!("[default]\n\n{}", ours("\n").trim_end_matches('\n'))
        );
        // CRLF, with a region added.
        let before = format!(
            "[default]\r\n[profile c9-fallback]\r\n{MARKER}\r\nregion = a\r\n[profile z]\r\n"
        );
        let mut b = body();
        b.push("region = b".into());
        let out = set_profile(&before, "c9-fallback", &b, false).unwrap();
        assert_eq!(
            out,
            format!("[default]\r\n{}region = b\r\n[profile z]\r\n", ours("\r\n"))
        );
    }

    #[test]
    fn never_overwrites_a_users_section_unless_forced() {
        let before = "[profile c9-fallback]\nregion = mine\n[profile other]\n";
        assert_eq!(
            set_profile(before, "c9-fallback", &body(), false),
            Err(EditError::Foreign { line: 1 })
        );
        let out = set_profile(before, "c9-fallback", &body(), true).unwrap();
        assert_eq!(out, format!("{}[profile other]\n", ours("\n")));
        // Headers the CLI reads as this profile, however they are spelt.
        for before in [
            "[profile c9-fallback] # mine\nregion = x\n",
            "[profile \"c9-fallback\"]\nregion = x\n",
            "[default]\n[profile  c9-fallback  ]\n",
        ] {
            assert!(
                matches!(
                    set_profile(before, "c9-fallback", &body(), false),
                    Err(EditError::Foreign { .. })
                ),
                "{before:?}"
            );
            assert_eq!(
                existing(before, "c9-fallback"),
                Ok(Existing::Foreign {
                    line: before
                        .lines()
                        .position(|l| l.contains("c9-fallback"))
                        .unwrap()
                        + 1
                })
            );
        }
        // Two sections for one profile: refuse, even forced.
        let before = "[profile c9-fallback]\n[profile  c9-fallback]\n";
        assert_eq!(
            set_profile(before, "c9-fallback", &body(), true),
            Err(EditError::Duplicate { lines: vec![1, 2] })
        );
    }

    #[test]
    fn a_file_the_cli_cannot_read_is_left_alone() {
        for (before, line) in [
            ("region = x\n[default]\n", 1),
            ("[a]\nk = 1\n[a]\n", 3),
            ("[a]\nk = 1\nk = 2\n", 3),
            ("[a]\nnot a setting\n", 2),
        ] {
            match set_profile(before, "c9-fallback", &body(), false) {
                Err(EditError::Unreadable { line: l, .. }) => assert_eq!(l, line, "{before:?}"),
                other => panic!("{before:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_exists() {
        assert_eq!(existing("", "x"), Ok(Existing::Absent));
        assert_eq!(existing("[x]\n", "x"), Ok(Existing::Absent));
        let out = set_profile("", "x", &body(), false).unwrap();
        assert_eq!(existing(&out, "x"), Ok(Existing::Ours));
        assert_eq!(
            existing("[profile x]\n", "x"),
            Ok(Existing::Foreign { line: 1 })
        );
    }

    #[test]
    fn top_level_keys() {
        for (before, want) in [
            ("", "fallback_profile = a\n"),
            (
                "# c\nnotice = never\n[service s3]\nroute = amtc\n",
                "fallback_profile = a\n# c\nnotice = never\n[service s3]\nroute = amtc\n",
            ),
            (
                "notice=never\nfallback_profile=old\n",
                "notice=never\nfallback_profile = a\n",
            ),
            ("fallback_profile=old", "fallback_profile = a"),
            ("fallback_profile : old\r\n", "fallback_profile = a\r\n"),
            // rust-ini keeps the last of two: that one changes.
            (
                "fallback_profile = x\nfallback_profile = y\n",
                "fallback_profile = x\nfallback_profile = a\n",
            ),
            // A key inside a section is not the top-level one.
            (
                "[x]\nfallback_profile = z\n",
                "fallback_profile = a\n[x]\nfallback_profile = z\n",
            ),
        ] {
            assert_eq!(
                set_top_key(before, "fallback_profile", "a"),
                want,
                "{before:?}"
            );
        }
    }
}
