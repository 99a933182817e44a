//! Turns an upstream's HTML or plain-text error page into a one-line message for the JSON
//! error shape, so a frontend never has to render Tomcat's markup.

/// Longest message kept from an error page, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// The readable text of an error page: the HTML `<title>` and the text of `<body>` with tags,
/// scripts and styles removed, whitespace collapsed, and common entities decoded.
pub(super) fn message_from_error_page(body: &[u8], is_html: bool) -> String {
    let text = String::from_utf8_lossy(body);
    let readable = if is_html {
        strip_html(&text)
    } else {
        text.into_owned()
    };
    let collapsed = readable.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let lower_start: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        // Skip script and style bodies entirely; they are never part of the message.
        let skip_to = ["script", "style"].iter().find_map(|name| {
            lower_start[1..].starts_with(name).then(|| {
                let close = format!("</{name}");
                tag.to_ascii_lowercase()
                    .find(&close)
                    .map(|i| i + close.len())
            })
        });
        let after = match skip_to {
            Some(Some(end)) => &tag[end..],
            Some(None) => "",
            None => tag,
        };
        rest = match after.find('>') {
            Some(close) => &after[close + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    decode_entities(&out)
}

/// Decodes character references and the named entities error pages use; any other `&name;`
/// is left as it is.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&end| end <= 10)
            .and_then(|end| Some((decode_entity(&after[..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "copy" => '©',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_become_text() {
        let page = b"<html><head><title>HTTP Status 401 &ndash; Unauthorized</title>\
            <style>h1 {color:red}</style><script>var x = '<b>';</script></head>\
            <body><h1>HTTP Status 401</h1><p>Bad   credentials &amp; more</p></body></html>";
        assert_eq!(
            message_from_error_page(page, true),
            "HTTP Status 401 – Unauthorized HTTP Status 401 Bad credentials & more"
        );
    }

    #[test]
    fn references_are_decoded_and_unknown_ones_kept() {
        assert_eq!(
            decode_entities("a&#233;&#x41;&lt;&foo;&amp"),
            "aéA<&foo;&amp"
        );
    }

    #[test]
    fn plain_text_is_kept_and_long_pages_are_cut() {
        assert_eq!(
            message_from_error_page(b"  Service\nUnavailable ", false),
            "Service Unavailable"
        );
        let long = "x".repeat(2000);
        let message = message_from_error_page(long.as_bytes(), false);
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
