//! RFC 9110 weighted lists (`Accept`, `Accept-Encoding`): each item with its `q` value,
//! parsed in one place for content negotiation and for content codings alike.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// `(item, q, parameters)` of every `name` header holding an RFC 9110 weighted list (`Accept`,
/// `Accept-Encoding`): items lower-cased, empty ones skipped, `q` 1 when absent, parameters
/// as sent.
pub(crate) fn weighted_items(
    headers: &HeaderMap,
    name: HeaderName,
) -> impl Iterator<Item = (Cow<'_, str>, f32, &str)> + '_ {
    weighted_values(headers.get_all(name).iter())
}

/// [`weighted_items`] of the values of one header.
pub(crate) fn weighted_values<'a>(
    values: impl Iterator<Item = &'a HeaderValue> + 'a,
) -> impl Iterator<Item = (Cow<'a, str>, f32, &'a str)> + 'a {
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let (item, params) = item.split_once(';').unwrap_or((item, ""));
            let item = item.trim();
            if item.is_empty() {
                return None;
            }
            // The weight's name is case-insensitive (RFC 9110 §12.4.2): `Q=0` refuses too.
            let q = params
                .split(';')
                .filter_map(|p| {
                    let (name, value) = p.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then_some(value)
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Lower-cased in a copy only when it is not already: clients send lower case.
            let item = match item.bytes().any(|b| b.is_ascii_uppercase()) {
                true => Cow::Owned(item.to_ascii_lowercase()),
                false => Cow::Borrowed(item),
            };
            Some((item, q, params))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::ACCEPT_ENCODING;

    #[test]
    fn items_come_lower_cased_with_their_weights() {
        let mut headers = HeaderMap::new();
        headers.append(ACCEPT_ENCODING, "GZIP;Q=0.5, , br".parse().unwrap());
        headers.append(ACCEPT_ENCODING, "identity; q=0".parse().unwrap());
        let items: Vec<_> = weighted_items(&headers, ACCEPT_ENCODING).collect();
        assert_eq!(
            items,
            [
                ("gzip".into(), 0.5, "Q=0.5"),
                ("br".into(), 1.0, ""),
                ("identity".into(), 0.0, " q=0"),
            ]
        );
    }
}
