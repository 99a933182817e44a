//! Header rewriting for the forwarded request and its response.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::Uri;

use crate::connection::ConnectionInfo;
use crate::upstream::Origin;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1, `Upgrade` among
/// them: the gateway switches no protocol for the upstream), plus the proxy-auth pair, which
/// is for the proxy and never for the server behind it.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop headers, including any header the `Connection` header names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one look at their few names costs less than nine removals.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in &named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Makes the client's headers fit for the upstream. `client_authority` is the gateway's
/// address as the client used it (see [`client_authority`]).
pub(crate) fn prepare_request(
    headers: &mut HeaderMap,
    upstream: &Origin,
    connection: &ConnectionInfo,
    client_authority: Option<&Authority>,
) {
    remove_hop_by_hop(headers);
    // The upstream is the server's own name for itself: Tomcat builds URIs from it.
    headers.insert(header::HOST, upstream.host().clone());
    match client_authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
        Some(host) => headers.insert(X_FORWARDED_HOST.clone(), host),
        None => headers.remove(&X_FORWARDED_HOST),
    };
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(connection.scheme),
    );
    if let Some(client_ip) = &connection.forwarded_for {
        // Append to what earlier proxies wrote, as each hop does.
        let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(earlier) => {
                HeaderValue::from_bytes(&[earlier.as_bytes(), b", ", client_ip.as_bytes()].concat())
                    .ok()
            }
            None => Some(client_ip.clone()),
        };
        if let Some(value) = value {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    }
}

/// Makes the upstream's headers fit for the client. `gateway` is the scheme and authority the
/// client reached the gateway at, for a `Location` that points at the upstream.
pub(crate) fn prepare_response(
    headers: &mut HeaderMap,
    upstream: &Origin,
    gateway: Option<(&str, &Authority)>,
) {
    remove_hop_by_hop(headers);
    remove_cors(headers);
    let Some(location) = headers.get(header::LOCATION) else {
        return;
    };
    let Some(uri) = location.to_str().ok().and_then(|l| l.parse::<Uri>().ok()) else {
        return;
    };
    if !upstream.is_origin_of(&uri) {
        return;
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // Without a usable Host from the client, a relative reference still resolves to us.
    let rewritten = match gateway {
        Some((scheme, authority)) => format!("{scheme}://{authority}{path}"),
        None => path.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&rewritten) {
        headers.insert(header::LOCATION, value);
    }
}

/// Removes every `Access-Control-*` header. CORS is the gateway's to grant (its own
/// `CorsLayer`, for the configured origins only): an upstream that reflects any `Origin` with
/// `Access-Control-Allow-Credentials: true` would otherwise open it to every site.
fn remove_cors(headers: &mut HeaderMap) {
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
}

/// The gateway's address as the client reached it (`127.0.0.1:8080`): the `Host` header in
/// HTTP/1.1, the `:authority` (in the URI) in HTTP/2, which has no `Host`.
pub(crate) fn client_authority(headers: &HeaderMap, uri: &Uri) -> Option<Authority> {
    let authority = match headers.get(header::HOST) {
        Some(host) => host.to_str().ok()?.parse::<Authority>().ok()?,
        None => uri.authority()?.clone(),
    };
    // An authority with user info is not a host; refuse rather than echo it.
    (!authority.as_str().contains('@')).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn request_headers_are_rewritten() {
        let upstream: Origin = "https://cuc.example.com:8443".parse().unwrap();
        let mut headers = map(&[
            ("host", "gw.local:8080"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic Zm9v"),
            ("authorization", "Basic YWRtaW46cGFzc3dvcmQ="),
            ("cookie", "JSESSIONID=abc; JSESSIONIDSSO=def"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        let connection =
            ConnectionInfo::new("192.0.2.7:5555".parse::<SocketAddr>().unwrap(), "http");
        let client = client_authority(&headers, &Uri::from_static("/"));
        prepare_request(&mut headers, &upstream, &connection, client.as_ref());
        assert_eq!(headers["host"], "cuc.example.com:8443");
        assert_eq!(headers["x-forwarded-host"], "gw.local:8080");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(headers["authorization"], "Basic YWRtaW46cGFzc3dvcmQ=");
        assert_eq!(headers["cookie"], "JSESSIONID=abc; JSESSIONIDSSO=def");
        for gone in ["connection", "x-custom-hop", "te", "proxy-authorization"] {
            assert!(!headers.contains_key(gone), "{gone} should be removed");
        }
    }

    #[test]
    fn hop_by_hop_headers_go_with_or_without_a_connection_header() {
        let left = |pairs: &[(&str, &str)]| {
            let mut headers = map(pairs);
            remove_hop_by_hop(&mut headers);
            let mut names: Vec<_> = headers.keys().map(|n| n.as_str().to_owned()).collect();
            names.sort_unstable();
            names
        };
        assert_eq!(left(&[("upgrade", "h2c"), ("accept", "*/*")]), ["accept"]);
        assert_eq!(
            left(&[("keep-alive", "5"), ("te", "trailers")]),
            [] as [&str; 0]
        );
        let none = [("accept", "*/*"), ("x-custom", "1"), ("cookie", "s=1")];
        assert_eq!(left(&none), ["accept", "cookie", "x-custom"]);
        let named = [
            ("connection", "x-custom"),
            ("x-custom", "1"),
            ("accept", "*/*"),
        ];
        assert_eq!(left(&named), ["accept"]);
    }

    #[test]
    fn location_pointing_upstream_is_rewritten() {
        let upstream: Origin = "https://cuc.example.com".parse().unwrap();
        let rewrite = |location: &str, gateway: Option<&str>| {
            let mut headers = map(&[("location", location), ("transfer-encoding", "chunked")]);
            let authority = gateway.map(|a| a.parse::<Authority>().unwrap());
            prepare_response(
                &mut headers,
                &upstream,
                authority.as_ref().map(|a| ("http", a)),
            );
            assert!(!headers.contains_key("transfer-encoding"));
            headers["location"].to_str().unwrap().to_owned()
        };
        assert_eq!(
            rewrite(
                "https://cuc.example.com:443/vmrest/users/1?x=y",
                Some("gw:8080")
            ),
            "http://gw:8080/vmrest/users/1?x=y"
        );
        assert_eq!(
            rewrite("https://cuc.example.com/vmrest/users/1", None),
            "/vmrest/users/1"
        );
        assert_eq!(
            rewrite("https://elsewhere.example.com/a", Some("gw")),
            "https://elsewhere.example.com/a"
        );
        assert_eq!(rewrite("/vmrest/users/1", Some("gw")), "/vmrest/users/1");
    }

    #[test]
    fn upstream_cors_headers_are_removed() {
        let upstream: Origin = "https://cuc.example.com".parse().unwrap();
        let mut headers = map(&[
            ("access-control-allow-origin", "http://evil.example"),
            ("Access-Control-Allow-Credentials", "true"),
            ("access-control-expose-headers", "set-cookie"),
            ("access-control-max-age", "86400"),
            ("vary", "Origin"),
            ("content-type", "application/xml"),
        ]);
        prepare_response(&mut headers, &upstream, None);
        let mut left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "vary"]);
    }

    #[test]
    fn client_authority_comes_from_host_or_the_http2_authority() {
        let relative = Uri::from_static("/vmrest/ports");
        let authority =
            |headers: &HeaderMap, uri: &Uri| client_authority(headers, uri).map(|a| a.to_string());
        assert_eq!(
            authority(&map(&[("host", "127.0.0.1:8080")]), &relative).as_deref(),
            Some("127.0.0.1:8080")
        );
        let http2 = Uri::from_static("https://gw.example.com:8443/vmrest/ports");
        assert_eq!(
            authority(&HeaderMap::new(), &http2).as_deref(),
            Some("gw.example.com:8443")
        );
        assert_eq!(authority(&map(&[("host", "a b")]), &relative), None);
        assert_eq!(authority(&map(&[("host", "u@evil")]), &relative), None);
        assert_eq!(authority(&HeaderMap::new(), &relative), None);
    }
}
