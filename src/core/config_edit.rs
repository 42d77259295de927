//! Textual edits of `~/.aws/config` and c9aws's config for `c9aws setup`:
//! c9aws's own profile section is replaced or appended, and every other byte of
//! the file (comments, spacing, order, other sections, line endings) stays as
//! it was. Pure: text in, text out.
//!
//! Sections are found as the CLI's configparser finds them: a line whose
//! stripped form is `[NAME]`; `[profile  x ]` names profile `x` (botocore splits
//! the header on whitespace). c9aws's section is marked by [`MARKER`] so that a
//! section of the user's is never overwritten by accident.

/// The comment line that marks a section as written by `c9aws setup`.
pub const MARKER: &str = "# managed by c9aws setup (rerun `c9aws setup` to change it)";

#[derive(Debug, PartialEq, Eq)]
pub enum EditError {
    /// A section for this profile exists and was not written by c9aws (1-based line).
    Foreign { line: usize },
    /// Several sections name this profile; which one the CLI uses is unclear.
    Duplicate { lines: Vec<usize> },
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
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header,
    Other,
}

struct Line<'a> {
    start: usize,
    end: usize,
    text: &'a str,
    kind: Kind,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        let kind = if t.is_empty() {
            Kind::Blank
        } else if t.starts_with('#') || t.starts_with(';') {
            Kind::Comment
        } else if t.starts_with('[') && t.len() > 2 && t.ends_with(']') {
            Kind::Header
        } else {
            Kind::Other
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

/// Is this header line the config-file section of profile `name`?
fn names_profile(header: &str, name: &str) -> bool {
    let t = header.trim();
    let inner = &t[1..t.len() - 1];
    let words: Vec<&str> = inner.split_whitespace().collect();
    if name == "default" {
        return inner == "default" || words == ["profile", "default"];
    }
    words == ["profile", name]
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
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
    let nl = newline(text);
    let mut section = format!("[profile {name}]{nl}{MARKER}{nl}");
    for b in body {
        section.push_str(b);
        section.push_str(nl);
    }
    let ls = lines(text);
    let found: Vec<usize> = ls
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind == Kind::Header && names_profile(l.text, name))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [] => {
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
            Ok(out)
        }
        [i] => {
            let i = *i;
            let mut last = i;
            let mut ours = false;
            for (j, l) in ls.iter().enumerate().skip(i + 1) {
                match l.kind {
                    Kind::Header => break,
                    Kind::Other => last = j,
                    Kind::Comment if l.text.trim() == MARKER => {
                        ours = true;
                        last = last.max(j);
                    }
                    _ => {}
                }
            }
            if !ours && !force {
                return Err(EditError::Foreign { line: i + 1 });
            }
            let (start, end) = (ls[i].start, ls[last].end);
            let mut out = String::with_capacity(text.len() + section.len());
            out.push_str(&text[..start]);
            out.push_str(&section);
            // The old section's last line may have ended the file without a newline.
            let rest = &text[end..];
            if rest.is_empty() && !text[start..end].ends_with('\n') {
                out.truncate(out.len() - nl.len());
            }
            out.push_str(rest);
            Ok(out)
        }
        many => Err(EditError::Duplicate {
            lines: many.iter().map(|i| i + 1).collect(),
        }),
    }
}

/// `text` (an INI file read by rust-ini) with top-level `key = value`: the
/// first top-level line setting `key` is replaced; otherwise the line is put
/// first in the file. Other lines are kept byte for byte.
pub fn set_top_key(text: &str, key: &str, value: &str) -> String {
    let nl = newline(text);
    let line = format!("{key} = {value}{nl}");
    for l in lines(text) {
        if l.kind == Kind::Header {
            break;
        }
        if l.kind == Kind::Other {
            let k = l.text.split(['=', ':']).next().unwrap_or("").trim();
            if k == key {
                let keep_nl = l.text.ends_with('\n');
                let mut out = String::new();
                out.push_str(&text[..l.start]);
                out.push_str(if keep_nl {
                    &line
                } else {
                    line.trim_end_matches(['\r', '\n'])
                });
                out.push_str(&text[l.end..]);
                return out;
            }
        }
    }
    format!("{line}{text}")
}

/// A value for `credential_process`, which botocore splits like a POSIX shell.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
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
    fn appends_keeping_every_byte_before() {
        for (before, sep) in [
            ("", ""),
            ("[default]\nregion = x\n", "\n"),
            ("[default]\nregion = x", "\n\n"),
            ("[default]\nregion = x\n\n", ""),
            ("# only a comment\n", "\n"),
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
    }

    #[test]
    fn replaces_its_own_section_only() {
        let before = "; head\n[ profile   c9-fallback ]\n# managed by c9aws setup (rerun `c9aws setup` to change it)\nregion = old\n  continued\n\n# about work\n[profile work]\nregion=y";
        let out = set_profile(before, "c9-fallback", &body(), false).unwrap();
        assert_eq!(
            out,
            format!(
                "; head\n{}\n# about work\n[profile work]\nregion=y",
                ours("\n")
            )
        );
        // At the end of a file without a final newline.
        let before = "[default]\n\n[profile c9-fallback]\n# managed by c9aws setup (rerun `c9aws setup` to change it)\nregion = old";
        let out = set_profile(before, "c9-fallback", &body(), false).unwrap();
        assert_eq!(
            out,
            format!("[default]\n\n{}", ours("\n").trim_end_matches('\n'))
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
        // `[c9-fallback]` is not a profile in the config file: left alone.
        let before = "[c9-fallback]\nregion = x\n";
        assert!(set_profile(before, "c9-fallback", &body(), false)
            .unwrap()
            .starts_with(before));
        // Two sections for one profile: refuse.
        let before = "[profile c9-fallback]\n[profile  c9-fallback]\n";
        assert_eq!(
            set_profile(before, "c9-fallback", &body(), true),
            Err(EditError::Duplicate { lines: vec![1, 2] })
        );
    }

    #[test]
    fn sso_sessions_and_services_sections_are_other_sections() {
        let before = "[sso-session c9-fallback]\nsso_region = us-east-1\n[services c9-fallback]\ns3 =\n  endpoint_url = http://x\n";
        let out = set_profile(before, "c9-fallback", &body(), false).unwrap();
        assert!(out.starts_with(before));
    }

    #[test]
    fn top_level_keys() {
        assert_eq!(
            set_top_key("", "fallback_profile", "a"),
            "fallback_profile = a\n"
        );
        assert_eq!(
            set_top_key(
                "# c\nnotice = never\n[service s3]\nroute = amtc\n",
                "fallback_profile",
                "a"
            ),
            "fallback_profile = a\n# c\nnotice = never\n[service s3]\nroute = amtc\n"
        );
        assert_eq!(
            set_top_key(
                "notice=never\nfallback_profile=old\n",
                "fallback_profile",
                "a"
            ),
            "notice=never\nfallback_profile = a\n"
        );
        assert_eq!(
            set_top_key("fallback_profile=old", "fallback_profile", "a"),
            "fallback_profile = a"
        );
        // A key inside a section is not the top-level one.
        assert_eq!(
            set_top_key("[x]\nfallback_profile = z\n", "fallback_profile", "a"),
            "fallback_profile = a\n[x]\nfallback_profile = z\n"
        );
    }

    #[test]
    fn quoting_for_credential_process() {
        assert_eq!(shell_quote("/usr/bin/c9aws"), "/usr/bin/c9aws");
        assert_eq!(shell_quote("/my dir/it's"), r"'/my dir/it'\''s'");
    }
}
