//! The AWS CLI's INI dialect: Python's `configparser.RawConfigParser` as botocore
//! uses it for `~/.aws/config`, `~/.aws/credentials` and `~/.aws/cli/alias`.
//!
//! Owns: turning file text into sections of `key = value`, with the same quirks as
//! the CLI (full-line `#`/`;` comments only, `=` or `:` delimiters, lower-cased keys,
//! indented continuation lines, `[DEFAULT]` inherited by every section, strict
//! duplicate checks) so that c9aws sees exactly the values the CLI sees, and fails
//! exactly where the CLI fails. Must not read files: text in, sections out.
//! rust-ini is used for c9aws's own config; it does not share these quirks.

use std::fmt;

/// One parsed file: sections in file order, keys in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniFile {
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// 1-based line of the section header.
    pub line: usize,
    pub entries: Vec<(String, String)>,
}

/// Why the CLI would refuse this file (it raises `ConfigParseError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl IniFile {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// Splits like Python's `str.splitlines(keepends=False)` for text files read in
/// universal-newline mode: `\n`, `\r\n` and `\r` end a line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Parses `text` as `RawConfigParser().read()` would.
///
/// Why so literal: a file the CLI rejects makes every `aws` call fail, and a value
/// the CLI reads differently (a continuation line, a `:` delimiter) would make
/// c9aws predict a different profile or region than the CLI uses.
pub fn parse(text: &str) -> Result<IniFile, ParseError> {
    // Python strips a UTF-8 BOM only with encoding utf-8-sig; botocore uses the
    // locale encoding, so a BOM stays part of the first line (and makes the first
    // header line a parse error, as in the CLI).
    let mut sections: Vec<Section> = Vec::new();
    let mut defaults: Vec<(String, Vec<String>)> = Vec::new();
    // Values are kept as line lists until the end, like configparser.
    let mut values: Vec<Vec<(String, Vec<String>)>> = Vec::new();
    // Which section the cursor is in: None (before any), Some(None) = DEFAULT, Some(Some(i)).
    let mut cursect: Option<Option<usize>> = None;
    let mut added_sections: Vec<String> = Vec::new();
    let mut added_options: Vec<(String, String)> = Vec::new();
    let mut optname: Option<String> = None;
    let mut indent_level: usize = 0;
    let mut first_error: Option<ParseError> = None;

    for (idx, line) in lines(text).enumerate() {
        let lineno = idx + 1;
        let stripped = py_strip(line);
        let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if is_comment { "" } else { stripped };
        if value.is_empty() {
            // empty_lines_in_values=True: a blank (not comment) line extends the
            // current value with an empty line.
            if !is_comment {
                if let (Some(cs), Some(opt)) = (cursect, optname.as_deref()) {
                    if !opt.is_empty() {
                        if let Some(v) = current_values(&mut defaults, &mut values, cs, opt) {
                            v.push(String::new());
                        }
                    }
                }
            }
            continue;
        }
        let cur_indent = line
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map(|(i, _)| line[..i].chars().count())
            .unwrap_or(0);
        if let (Some(cs), Some(opt)) = (cursect, optname.as_deref()) {
            if !opt.is_empty() && cur_indent > indent_level {
                if let Some(v) = current_values(&mut defaults, &mut values, cs, opt) {
                    v.push(value.to_string());
                    continue;
                }
            }
        }
        indent_level = cur_indent;
        if let Some(header) = section_header(value) {
            if header == "DEFAULT" {
                cursect = Some(None);
            } else if let Some(pos) = sections.iter().position(|s| s.name == header) {
                if added_sections.iter().any(|s| s == header) {
                    return Err(ParseError {
                        line: lineno,
                        message: format!("section {header:?} already exists"),
                    });
                }
                cursect = Some(Some(pos));
            } else {
                sections.push(Section {
                    name: header.to_string(),
                    line: lineno,
                    entries: Vec::new(),
                });
                values.push(Vec::new());
                added_sections.push(header.to_string());
                cursect = Some(Some(sections.len() - 1));
            }
            optname = None;
            continue;
        }
        let Some(cs) = cursect else {
            return Err(ParseError {
                line: lineno,
                message: "file contains no section headers".to_string(),
            });
        };
        match option_line(value) {
            Some((opt, val)) => {
                if opt.is_empty() && first_error.is_none() {
                    first_error = Some(ParseError {
                        line: lineno,
                        message: format!("cannot parse {value:?}"),
                    });
                }
                let opt = opt.to_lowercase();
                let sect_key = match cs {
                    None => "DEFAULT".to_string(),
                    Some(i) => sections[i].name.clone(),
                };
                if added_options
                    .iter()
                    .any(|(s, o)| *s == sect_key && *o == opt)
                {
                    return Err(ParseError {
                        line: lineno,
                        message: format!("option {opt:?} in section {sect_key:?} already exists"),
                    });
                }
                added_options.push((sect_key, opt.clone()));
                let list = match cs {
                    None => &mut defaults,
                    Some(i) => &mut values[i],
                };
                match list.iter_mut().find(|(k, _)| *k == opt) {
                    Some((_, v)) => *v = vec![val.to_string()],
                    None => list.push((opt.clone(), vec![val.to_string()])),
                }
                optname = Some(opt);
            }
            None => {
                if first_error.is_none() {
                    first_error = Some(ParseError {
                        line: lineno,
                        message: format!("cannot parse {value:?} (expected key = value)"),
                    });
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let join = |v: &Vec<String>| py_rstrip(&v.join("\n")).to_string();
    for (i, section) in sections.iter_mut().enumerate() {
        for (k, v) in &values[i] {
            section.entries.push((k.clone(), join(v)));
        }
        // [DEFAULT] values show through in every section that lacks them.
        for (k, v) in &defaults {
            if section.get(k).is_none() {
                section.entries.push((k.clone(), join(v)));
            }
        }
    }
    Ok(IniFile { sections })
}

fn current_values<'a>(
    defaults: &'a mut [(String, Vec<String>)],
    values: &'a mut [Vec<(String, Vec<String>)>],
    cs: Option<usize>,
    opt: &str,
) -> Option<&'a mut Vec<String>> {
    let list = match cs {
        None => defaults,
        Some(i) => values[i].as_mut_slice(),
    };
    list.iter_mut().find(|(k, _)| k == opt).map(|(_, v)| v)
}

/// `\[(?P<header>.+)\]` matched at the start: everything up to the last `]`.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let header = &rest[..end];
    (!header.is_empty()).then_some(header)
}

/// `(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`
fn option_line(value: &str) -> Option<(&str, &str)> {
    let pos = value.find(['=', ':'])?;
    let opt = py_rstrip(&value[..pos]);
    let val = py_strip(&value[pos + 1..]);
    Some((opt, val))
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(char::is_whitespace)
}

fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(char::is_whitespace)
}

/// botocore's `_parse_nested`: an option whose value starts with a newline is a
/// sub-section (`s3 =\n  addressing_style = path`).
pub fn nested(value: &str) -> Option<Vec<(String, String)>> {
    if !value.starts_with('\n') {
        return None;
    }
    let mut out = Vec::new();
    for line in value.lines() {
        let line = py_strip(line);
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=')?;
        out.push((py_strip(k).to_string(), py_strip(v).to_string()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(f: &IniFile, s: &str, k: &str) -> Option<String> {
        f.section(s).and_then(|s| s.get(k)).map(str::to_string)
    }

    #[test]
    fn reads_like_configparser() {
        let text = "# top comment\n[default]\nRegion = eu-west-1\nout:json\n  ; indented comment\n[profile x]\ns3 =\n    addressing_style = path\n\n    use_accelerate_endpoint = false\nkey = a = b\n";
        let f = parse(text).unwrap();
        assert_eq!(get(&f, "default", "region").as_deref(), Some("eu-west-1"));
        assert_eq!(get(&f, "default", "out").as_deref(), Some("json"));
        let s3 = get(&f, "profile x", "s3").unwrap();
        assert_eq!(
            s3,
            "\naddressing_style = path\n\nuse_accelerate_endpoint = false"
        );
        assert_eq!(
            nested(&s3).unwrap(),
            vec![
                ("addressing_style".into(), "path".into()),
                ("use_accelerate_endpoint".into(), "false".into())
            ]
        );
        assert_eq!(get(&f, "profile x", "key").as_deref(), Some("a = b"));
    }

    #[test]
    fn table_of_quirks() {
        // (text, section, key, expected value or None)
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            (
                "[a]\nk = v # not a comment\n",
                "a",
                "k",
                Some("v # not a comment"),
            ),
            ("[a]\r\nk = v\r\n", "a", "k", Some("v")),
            ("[a] trailing]\nk=v", "a] trailing", "k", Some("v")),
            (
                "[DEFAULT]\nregion = r\n[a]\nk = v\n",
                "a",
                "region",
                Some("r"),
            ),
            (
                "[DEFAULT]\nregion = r\n[a]\nregion = s\n",
                "a",
                "region",
                Some("s"),
            ),
            ("[a]\nk =\n", "a", "k", Some("")),
            ("  [a]\n  k = v\n", "a", "k", Some("v")),
            ("[a]\nk = v\n[b]\n[a]\nj = w\n", "a", "j", None),
        ];
        for (text, s, k, want) in cases {
            let got = parse(text).ok().and_then(|f| get(&f, s, k));
            assert_eq!(got.as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn errors_the_cli_also_raises() {
        let cases: &[(&str, usize)] = &[
            ("k = v\n", 1),
            ("[a]\nk = v\n[a]\n", 3),
            ("[a]\nk = v\nK = w\n", 3),
            ("[a]\njust words\n", 2),
        ];
        for (text, line) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
        }
    }
}
