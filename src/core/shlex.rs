//! Python's `shlex.split(s)` (POSIX mode, no comments), which the CLI uses to
//! split the value of a `[toplevel]` alias, and its inverse for a POSIX shell
//! ([`quote`]), which c9aws uses wherever it writes a word a shell or
//! botocore will split again. Pure; owns nothing else.

/// A word as a POSIX shell (and `shlex.split`) reads it back unchanged: as it
/// is when it holds only characters no shell treats specially, else in single
/// quotes (a `'` inside becomes `'\''`).
pub fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// Splits `s` like `shlex.split`; `Err` carries Python's message.
pub fn split(s: &str) -> Result<Vec<String>, &'static str> {
    #[derive(PartialEq, Clone, Copy)]
    enum St {
        Space,
        Word,
        Single,
        Double,
        Escape(Prev),
    }
    #[derive(PartialEq, Clone, Copy)]
    enum Prev {
        Word,
        Double,
    }
    let mut out = Vec::new();
    let mut tok = String::new();
    let mut have_tok = false;
    let mut st = St::Space;
    for c in s.chars() {
        match st {
            St::Space | St::Word => {
                if c.is_whitespace() {
                    if st == St::Word {
                        out.push(std::mem::take(&mut tok));
                        have_tok = false;
                    }
                    st = St::Space;
                } else if c == '\\' {
                    st = St::Escape(Prev::Word);
                    have_tok = true;
                } else if c == '\'' {
                    st = St::Single;
                    have_tok = true;
                } else if c == '"' {
                    st = St::Double;
                    have_tok = true;
                } else {
                    tok.push(c);
                    have_tok = true;
                    st = St::Word;
                }
            }
            St::Single => {
                if c == '\'' {
                    st = St::Word;
                } else {
                    tok.push(c);
                }
            }
            St::Double => {
                if c == '"' {
                    st = St::Word;
                } else if c == '\\' {
                    st = St::Escape(Prev::Double);
                } else {
                    tok.push(c);
                }
            }
            St::Escape(prev) => {
                // Inside double quotes a backslash escapes only `"` and `\`.
                if prev == Prev::Double && c != '"' && c != '\\' {
                    tok.push('\\');
                }
                tok.push(c);
                st = if prev == Prev::Double {
                    St::Double
                } else {
                    St::Word
                };
            }
        }
    }
    match st {
        St::Single | St::Double => return Err("No closing quotation"),
        St::Escape(_) => return Err("No escaped character"),
        St::Word | St::Space => {
            if have_tok {
                out.push(tok);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{quote, split};

    #[test]
    fn quote_round_trips_through_split() {
        let rows = [
            ("/usr/bin/c9aws", "/usr/bin/c9aws"),
            ("/my dir/it's", r"'/my dir/it'\''s'"),
            ("", "''"),
            ("a*b", "'a*b'"),
            ("--profile=x,y", "--profile=x,y"),
        ];
        for (word, want) in rows {
            assert_eq!(quote(word), want, "{word:?}");
            assert_eq!(split(&quote(word)), Ok(vec![word.to_string()]), "{word:?}");
        }
    }

    #[test]
    fn like_python() {
        let cases: &[(&str, Result<&[&str], &str>)] = &[
            ("ec2 describe-instances", Ok(&["ec2", "describe-instances"])),
            ("  a   b  ", Ok(&["a", "b"])),
            ("a 'b c' \"d e\"", Ok(&["a", "b c", "d e"])),
            ("a''b", Ok(&["ab"])),
            ("''", Ok(&[""])),
            (r#""a\"b\\c\d""#, Ok(&[r#"a"b\c\d"#])),
            (r"a\ b", Ok(&["a b"])),
            ("a # b", Ok(&["a", "#", "b"])),
            ("'open", Err("No closing quotation")),
            ("trail\\", Err("No escaped character")),
        ];
        for (s, want) in cases {
            let got = split(s);
            let want = want.map(|v| v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{s:?}");
        }
    }
}
