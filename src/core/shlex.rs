//! Python's `shlex.split(s)` (POSIX mode, no comments), which the CLI uses to
//! split the value of a `[toplevel]` alias. Pure; owns nothing else.

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
    use super::split;

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
