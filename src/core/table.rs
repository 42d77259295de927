//! Lookups in the embedded data tables (`data/`) through the sorted key index
//! that `build.rs` writes: a binary search that touches a few pages, instead of
//! scanning hundreds of kilobytes of text on every call. Pure.

/// A table's keys, sorted, each with the byte range of its record.
pub(crate) type Index = &'static [(&'static str, u32, u32)];

include!(concat!(env!("OUT_DIR"), "/tables.rs"));

/// The record of `key` (a whole line, or a block's body), if the table has it.
pub(crate) fn record(data: &'static str, index: Index, key: &str) -> Option<&'static str> {
    let i = index.binary_search_by(|(k, _, _)| (*k).cmp(key)).ok()?;
    let (_, start, end) = index[i];
    data.get(start as usize..end as usize)
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
        let tables: [(&str, Index, usize); 7] = [
            (
                include_str!("../../data/operations-v1.tsv"),
                OPERATIONS_V1,
                1,
            ),
            (
                include_str!("../../data/operations-v2.tsv"),
                OPERATIONS_V2,
                1,
            ),
            (include_str!("../../data/commands-v1.tsv"), COMMANDS_V1, 1),
            (include_str!("../../data/commands-v2.tsv"), COMMANDS_V2, 1),
            (include_str!("../../data/operations.tsv"), API_OPERATIONS, 2),
            (
                include_str!("../../data/endpoint-ids-v1.tsv"),
                ENDPOINT_IDS_V1,
                1,
            ),
            (
                include_str!("../../data/endpoint-ids-v2.tsv"),
                ENDPOINT_IDS_V2,
                1,
            ),
        ];
        for (data, index, fields) in tables {
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
                assert_eq!(record(data, index, &key), Some(first), "{key}");
                seen += 1;
            }
            assert!(seen > 100 && index.len() <= seen);
        }
        for (data, index) in [
            (include_str!("../../data/endpoints-v1.txt"), ENDPOINTS_V1),
            (include_str!("../../data/endpoints-v2.txt"), ENDPOINTS_V2),
        ] {
            let keys: Vec<&str> = data.lines().filter_map(|l| l.strip_prefix('@')).collect();
            assert!(keys.len() > 300 && keys.len() >= index.len());
            for key in keys {
                // The block as the former scan cut it: after "\n@key\n", up to
                // and including the newline before the next "@" line.
                let start = data.find(&format!("\n@{key}\n")).unwrap() + key.len() + 3;
                let rest = &data[start..];
                let want = &rest[..rest.find("\n@").map_or(rest.len(), |i| i + 1)];
                assert_eq!(record(data, index, key), Some(want), "{key}");
            }
        }
        assert_eq!(
            record(
                include_str!("../../data/commands-v1.tsv"),
                COMMANDS_V1,
                "nosuch"
            ),
            None
        );
        assert_eq!(
            record(include_str!("../../data/commands-v1.tsv"), COMMANDS_V1, ""),
            None
        );
    }
}
