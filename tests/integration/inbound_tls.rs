//! Serving HTTPS: HTTP/1.1 and HTTP/2 by ALPN, with a certificate made in the test.

use crate::support::pki::make_pki;
use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::test]
async fn the_gateway_serves_https_over_http1_and_http2() {
    let pki = make_pki(&["localhost"]);
    let acceptor = crate::support::tls::acceptor(&pki);

    let upstream = FakeUpstream::start(|_| {
        respond(
            200,
            "application/xml",
            r#"<Ports total="1"><Port><PortNumInGroup>1</PortNumInGroup></Port></Ports>"#,
        )
    })
    .await;
    let options = GatewayOptions {
        tls: Some(acceptor),
        ..GatewayOptions::default()
    };
    let gateway = start_gateway(&upstream.origin, options).await;
    let port = gateway.rsplit(':').next().unwrap().to_owned();

    let tls = crate::support::tls::client_config(&pki.ca_pem);

    for version in [http::Version::HTTP_11, http::Version::HTTP_2] {
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_only();
        let connector = if version == http::Version::HTTP_2 {
            builder.enable_http2().build()
        } else {
            builder.enable_http1().build()
        };
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
            .http2_only(version == http::Version::HTTP_2)
            .build(connector);
        let request = http::Request::get(format!("https://localhost:{port}/vmrest/ports"))
            .header("authorization", "Basic YWRtaW46cGFzc3dvcmQ=")
            .body(Empty::new())
            .unwrap();
        let response = client
            .request(request)
            .await
            .expect("TLS handshake and request");
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["Port"][0]["PortNumInGroup"], 1, "{version:?}");
        let seen = upstream.last();
        assert_eq!(seen.headers["x-forwarded-proto"], "https");
        assert_eq!(
            seen.headers["x-forwarded-host"],
            format!("localhost:{port}").as_str()
        );
    }

    // A plain-HTTP client on the TLS port gets nothing served, and the gateway carries on.
    let answer = raw_request(
        &format!("http://127.0.0.1:{port}"),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!answer.contains("200 OK"), "{answer}");
}
