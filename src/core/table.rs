//! Lookups in the embedded data tables (`data/`) through the sorted key index
//! that `build.rs` writes beside each table's text: a binary search that
//! touches a few pages, instead of scanning hundreds of kilobytes of text on
//! every call. Pure.

/// One embedded table: its text, and its keys, sorted, each with the byte
/// range of its record in that text.
pub(crate) struct Table {
    pub(crate) text: &'static str,
    index: &'static [(&'static str, u32, u32)],
}

include!(concat!(env!("OUT_DIR"), "/tables.rs"));

impl Table {
    /// The record of `key` (a whole line, or a block's body), if the table has it.
    pub(crate) fn record(&self, key: &str) -> Option<&'static str> {
        let i = self
            .index
            .binary_search_by(|(k, _, _)| (*k).cmp(key))
            .ok()?;
        let (_, start, end) = self.index[i];
        self.text.get(start as usize..end as usize)
    }
}

/// The line of `block` whose first tab-separated field is `key`, the block's
/// lines being sorted byte-wise on that field: a binary search over the
/// block's bytes (a command's block of `data/op-args-v*.tsv` is up to ~100 KB).
pub(crate) fn sorted_line(block: &'static str, key: &str) -> Option<&'static str> {
    let b = block.as_bytes();
    // Lines starting before `lo` sort below `key`, lines starting at or after
    // `hi` above it; `lo` is always a line start.
    let (mut lo, mut hi) = (0usize, b.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = b[lo..mid]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let end = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| start + i);
        let line = &block[start..end];
        let field = line.split('\t').next().unwrap_or_default();
        match field.cmp(key) {
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
            std::cmp::Ordering::Equal => return Some(line),
        }
    }
    None
}

/// The rest of a line record after its first `fields` tab-separated fields.
pub(crate) fn after_fields(line: &'static str, fields: usize) -> Option<&'static str> {
    let mut rest = line;
    for _ in 0..fields {
        rest = rest.split_once('\t')?.1;
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every indexed record is what a scan of the text from the top finds.
    #[test]
    fn index_agrees_with_a_scan() {
        let tables: [(&Table, usize); 12] = [
            (&SUBCOMMANDS_V1, 1),
            (&SUBCOMMANDS_V2, 1),
            (&COMMANDS_V1, 1),
            (&COMMANDS_V2, 1),
            (&API_OPERATIONS, 2),
            (&ENDPOINT_IDS_V1, 1),
            (&ENDPOINT_IDS_V2, 1),
            (&HOST_PREFIXES_V1, 2),
            (&HOST_PREFIXES_V2, 2),
            (&CLI_ENDPOINTS_V1, 2),
            (&ARN_ENDPOINTS_V1, 2),
            (&ARN_ENDPOINTS_V2, 2),
        ];
        for (table, fields) in tables {
            let data = table.text;
            let mut seen = 0;
            for line in data
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                let key: Vec<&str> = line.splitn(fields + 1, '\t').take(fields).collect();
                let key = key.join("\t");
                let first = data
                    .lines()
                    .find(|l| !l.starts_with('#') && l.starts_with(&format!("{key}\t")))
                    .unwrap();
                assert_eq!(table.record(&key), Some(first), "{key}");
                seen += 1;
            }
            assert!(seen > 50 && table.index.len() <= seen);
        }
        for table in [&ENDPOINTS_V1, &ENDPOINTS_V2] {
            let data = table.text;
            let keys: Vec<&str> = data.lines().filter_map(|l| l.strip_prefix('@')).collect();
            assert!(keys.len() > 300 && keys.len() >= table.index.len());
            for key in keys {
                // The block as the former scan cut it: after "\n@key\n", up to
                // and including the newline before the next "@" line.
                let start = data.find(&format!("\n@{key}\n")).unwrap() + key.len() + 3;
                let rest = &data[start..];
                let want = &rest[..rest.find("\n@").map_or(rest.len(), |i| i + 1)];
                assert_eq!(table.record(key), Some(want), "{key}");
            }
        }
        for table in [&OP_ARGS_V1, &OP_ARGS_V2] {
            let mut ops = 0;
            for block in table.text.split("\n@").skip(1) {
                let (command, body) = block.split_once('\n').unwrap_or((block, ""));
                let record = table.record(command).unwrap();
                assert_eq!(record.trim_end(), body.trim_end(), "{command}");
                let keys: Vec<&str> = body
                    .lines()
                    .map(|l| l.split('\t').next().unwrap())
                    .collect();
                assert!(keys.windows(2).all(|w| w[0] < w[1]), "{command}: unsorted");
                for line in body.lines() {
                    let key = line.split('\t').next().unwrap();
                    assert_eq!(sorted_line(record, key), Some(line), "{command} {key}");
                    // Keys next to a real one are absent.
                    assert_eq!(sorted_line(record, &format!("{key}-")), None);
                    let shorter = &key[..key.len() - 1];
                    if !keys.contains(&shorter) {
                        assert_eq!(sorted_line(record, shorter), None);
                    }
                    ops += 1;
                }
            }
            assert!(ops > 15_000, "{ops}");
        }
        assert_eq!(COMMANDS_V1.record("nosuch"), None);
        assert_eq!(COMMANDS_V1.record(""), None);
    }
}
