//! Forwarding one request to the upstream with a pooled, kept-alive hyper client: method,
//! path and query, headers (hop-by-hop ones dropped, `Host` the upstream's) and both bodies
//! streamed, as any reverse proxy does and nothing more.

use http::header::{CONNECTION, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::Error;

/// Headers about one connection, not the message (RFC 9110 §7.6.1), and the proxy's own
/// authentication pair: never passed on.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The upstream, `http://` only, and the pool of connections to it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, Incoming>,
    authority: Authority,
    host: HeaderValue,
}

impl Upstream {
    pub fn new(url: &str) -> Result<Self, Error> {
        let uri: Uri = url.parse()?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url}: only http:// upstreams").into());
        }
        let authority = uri
            .authority()
            .ok_or("the upstream URL has no host")?
            .clone();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Upstream {
            client: Client::builder(TokioExecutor::new()).build(connector),
            host: HeaderValue::from_str(authority.as_str())?,
            authority,
        })
    }

    /// Sends `request` upstream and returns the answer with its body unread.
    pub async fn forward(&self, request: Request<Incoming>) -> Result<Response<Incoming>, Error> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().cloned();
        parts.uri = Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(path.unwrap_or_else(|| PathAndQuery::from_static("/")))
            .build()?;
        drop_hop_by_hop(&mut parts.headers);
        parts.headers.insert(HOST, self.host.clone());
        let mut response = self
            .client
            .request(Request::from_parts(parts, body))
            .await?;
        drop_hop_by_hop(response.headers_mut());
        Ok(response)
    }
}

/// Removes [`HOP_BY_HOP`] and whatever `Connection` names.
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or_default().split(','))
        .filter_map(|name| name.trim().parse().ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, x-mine"),
            ("x-mine", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("cookie", "n=1"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        drop_hop_by_hop(&mut headers);
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["cookie"]);
    }

    #[test]
    fn only_http_upstreams_with_a_host() {
        assert!(Upstream::new("https://u:1").is_err());
        assert!(Upstream::new("/path").is_err());
        assert_eq!(Upstream::new("http://u:1").unwrap().host, "u:1");
    }
}
