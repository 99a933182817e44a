//! List parameters: `query=(column is|startswith value)`, `sort=(column asc|desc)`,
//! `rowsPerPage` and `pageNumber`, parsed from the raw query string.
//!
//! Parsed by hand rather than through serde so every malformed input gets a precise 400
//! message, as a gateway test would want to see. Parameter names match in any ASCII case;
//! other parameters are ignored; each known one may appear at most once. Inside `query` and
//! `sort` only spaces separate words (a tab or a no-break space is part of a word): the
//! grammar the OpenAPI document's `pattern`s describe, so the gateway and the simulator
//! accept the same values.

use std::cmp::Ordering;

use super::data::{Kind, Record};
use cupi_uri::query_string::pairs;
pub(crate) use cupi_uri::query_string::url_decode;

/// A search operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Whole-value match, case-insensitive (Unicode lowercase). On `true`/`false` fields
    /// `1`/`0` match too.
    Is,
    /// Prefix match, case-insensitive.
    StartsWith,
    /// Value is empty (newer CUPI releases).
    IsNull,
    /// Value is not empty (newer CUPI releases).
    IsNotNull,
}

/// One search criterion (CUPI allows only one).
#[derive(Debug)]
pub(crate) struct Filter {
    column: usize,
    op: Op,
    value: String,
}

/// One sort column.
#[derive(Debug)]
pub(crate) struct Sort {
    column: usize,
    descending: bool,
}

/// Which slice of the matches to return.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Paging {
    /// No paging parameters: every match.
    All,
    /// `rowsPerPage=0` or `pageNumber=0`: only the count.
    CountOnly,
    /// Page `page` (from 1) of `rows` rows; a missing `rowsPerPage` means one page of everything.
    Page { rows: usize, page: usize },
}

/// Everything a list request asked for.
#[derive(Debug)]
pub(crate) struct ListParams {
    pub(crate) filter: Option<Filter>,
    pub(crate) sort: Option<Sort>,
    pub(crate) paging: Paging,
}

/// Parses a raw (still URL-encoded) query string for a list of `kind`.
pub(crate) fn parse_list_params(kind: Kind, raw: Option<&str>) -> Result<ListParams, String> {
    let mut filter = None;
    let mut sort = None;
    let mut rows = None;
    let mut page = None;
    for pair in pairs(raw.unwrap_or("")) {
        let (key, value) = pair?;
        match key.to_ascii_lowercase().as_str() {
            "query" => set_once(&mut filter, parse_filter(kind, &value)?, "query")?,
            "sort" => set_once(&mut sort, parse_sort(kind, &value)?, "sort")?,
            "rowsperpage" => set_once(
                &mut rows,
                parse_count(&value, "rowsPerPage")?,
                "rowsPerPage",
            )?,
            "pagenumber" => set_once(&mut page, parse_count(&value, "pageNumber")?, "pageNumber")?,
            _ => {}
        }
    }
    let paging = match (rows, page) {
        (None, None) => Paging::All,
        (Some(0), _) | (_, Some(0)) => Paging::CountOnly,
        (rows, page) => Paging::Page {
            rows: rows.unwrap_or(usize::MAX),
            page: page.unwrap_or(1),
        },
    };
    Ok(ListParams {
        filter,
        sort,
        paging,
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("parameter {name} given more than once"));
    }
    Ok(())
}

fn parse_count(value: &str, name: &str) -> Result<usize, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name} must be a non-negative integer, got {value:?}"))
}

/// Strips the surrounding parentheses of a `query`/`sort` value.
fn parenthesized<'a>(value: &'a str, name: &str, syntax: &str) -> Result<&'a str, String> {
    trim_spaces(value)
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| format!("{name} must look like {syntax}, got {value:?}"))
}

fn trim_spaces(s: &str) -> &str {
    s.trim_matches(' ')
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    s.split_once(' ').unwrap_or((s, ""))
}

fn column(kind: Kind, name: &str) -> Result<usize, String> {
    kind.column(name)
        .ok_or_else(|| format!("unknown column {name:?} for {}", kind.collection()))
}

/// `(column op value)`: the value is everything after the operator up to the closing `)`,
/// without its leading and trailing spaces; inner spaces are kept.
fn parse_filter(kind: Kind, raw: &str) -> Result<Filter, String> {
    let inner = parenthesized(raw, "query", "(column is|startswith value)")?;
    let (name, rest) = split_word(inner);
    if name.is_empty() {
        return Err("query has no column".into());
    }
    let column = column(kind, name)?;
    let (op, value) = split_word(rest);
    let value = trim_spaces(value).to_string();
    let op = match op.to_ascii_lowercase().as_str() {
        "is" => Op::Is,
        "startswith" => Op::StartsWith,
        "isnull" => Op::IsNull,
        "isnotnull" => Op::IsNotNull,
        "" => return Err(format!("query on {name} has no operator")),
        other => return Err(format!("unknown query operator {other:?}")),
    };
    match op {
        Op::Is | Op::StartsWith if value.is_empty() => Err(format!("query on {name} has no value")),
        Op::IsNull | Op::IsNotNull if !value.is_empty() => {
            Err(format!("query operator on {name} takes no value"))
        }
        _ => Ok(Filter { column, op, value }),
    }
}

/// `(column)`, `(column asc)` or `(column desc)`; the direction defaults to ascending.
fn parse_sort(kind: Kind, raw: &str) -> Result<Sort, String> {
    let inner = parenthesized(raw, "sort", "(column asc|desc)")?;
    let (name, rest) = split_word(inner);
    if name.is_empty() {
        return Err("sort has no column".into());
    }
    let column = column(kind, name)?;
    let descending = match trim_spaces(rest).to_ascii_lowercase().as_str() {
        "" | "asc" => false,
        "desc" => true,
        other => return Err(format!("sort direction must be asc or desc, got {other:?}")),
    };
    Ok(Sort { column, descending })
}

fn lower(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn as_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

impl Filter {
    /// Whether `record` meets the criterion.
    pub(crate) fn matches(&self, record: &Record) -> bool {
        let field = record[self.column].as_str();
        match self.op {
            Op::Is => {
                lower(field).eq(lower(&self.value))
                    || (matches!(field, "true" | "false") && as_bool(field) == as_bool(&self.value))
            }
            Op::StartsWith => {
                let mut rest = lower(field);
                lower(&self.value).all(|c| rest.next() == Some(c))
            }
            Op::IsNull => field.is_empty(),
            Op::IsNotNull => !field.is_empty(),
        }
    }
}

impl Sort {
    /// Sorts in place, stably: integers numerically when both values parse, otherwise
    /// case-insensitively as text.
    pub(crate) fn apply(&self, records: &mut [&Record]) {
        let c = self.column;
        if self.descending {
            records.sort_by(|a, b| compare(&b[c], &a[c]));
        } else {
            records.sort_by(|a, b| compare(&a[c], &b[c]));
        }
    }
}

fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => lower(a).cmp(lower(b)),
    }
}

impl Paging {
    /// The slice of `matches` this paging selects.
    pub(crate) fn slice<'a, T>(&self, matches: &'a [T]) -> &'a [T] {
        match *self {
            Paging::All => matches,
            Paging::CountOnly => &[],
            Paging::Page { rows, page } => {
                let start = (page - 1).saturating_mul(rows).min(matches.len());
                let end = start.saturating_add(rows).min(matches.len());
                &matches[start..end]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = parse_list_params(
            Kind::PortGroup,
            Some("query=(displayname%20startswith%20Phone%20System)&sort=(PORTCOUNT+desc)&rowsPerPage=5"),
        )
        .unwrap();
        let f = p.filter.unwrap();
        assert_eq!((f.op, f.value.as_str()), (Op::StartsWith, "Phone System"));
        assert!(p.sort.unwrap().descending);
        assert_eq!(p.paging, Paging::Page { rows: 5, page: 1 });
        for bad in [
            "query=(Nope is 1)",
            "query=DisplayName is 1",
            "query=(DisplayName like x)",
            "query=(DisplayName is)",
            "sort=(DisplayName up)",
            "sort=()",
            "rowsPerPage=x",
            "pageNumber=-1",
            "query=(EnableMWI is 1)&query=(EnableMWI is 0)",
            "query=(DisplayName%09is%09x)",
            "sort=(DisplayName%C2%A0desc)",
        ] {
            assert!(
                parse_list_params(Kind::PortGroup, Some(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn pages_slice() {
        let v = [1, 2, 3, 4, 5];
        assert_eq!(Paging::Page { rows: 2, page: 3 }.slice(&v), &[5]);
        assert!(Paging::Page { rows: 2, page: 9 }.slice(&v).is_empty());
        assert_eq!(
            Paging::Page {
                rows: usize::MAX,
                page: 1
            }
            .slice(&v),
            &v
        );
        assert!(Paging::Page {
            rows: usize::MAX,
            page: 2
        }
        .slice(&v)
        .is_empty());
    }
}
