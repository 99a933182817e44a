//! Reading the binary's access log the way a log shipper would, in both of its formats, for
//! tests of what the log writes and how it quotes client-controlled values.

/// The fields of each access line of a text-format log.
pub(crate) fn access_text(log: &str) -> Vec<Vec<Field>> {
    log.lines()
        .filter_map(|l| l.split_once("cupi_gateway::access: "))
        .map(|(_, fields)| text_fields(fields))
        .collect()
}

/// Each access line of a JSON-format log, parsed.
pub(crate) fn access_json(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| l.contains("cupi_gateway::access"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// One field of a text-format log line: its value (unescaped) and whether it was quoted.
#[derive(Debug)]
pub(crate) struct Field {
    pub key: String,
    pub value: String,
    pub quoted: bool,
}

/// Splits the fields of a text-format line the way a log shipper would: `key=value` pairs
/// separated by spaces, a value either bare or a `"…"` string with `\"` and `\\` escapes.
pub(crate) fn text_fields(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(|c: char| c != ' ') {
        rest = &rest[start..];
        let token_end = rest.find([' ', '=']).unwrap_or(rest.len());
        if !rest[token_end..].starts_with('=') {
            rest = &rest[token_end..];
            continue;
        }
        let key = rest[..token_end].to_owned();
        rest = &rest[token_end + 1..];
        let (value, quoted) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end..];
            (value, true)
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let value = rest[..end].to_owned();
            rest = &rest[end..];
            (value, false)
        };
        fields.push(Field { key, value, quoted });
    }
    fields
}
