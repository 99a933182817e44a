//! `naive-transcoder --listen ADDR --upstream URL`: the proxy of `bare-proxy`, plus XML → JSON
//! the way a first version is written: a 200 XML answer is read whole, turned into a
//! `serde_json::Value` ([`to_value`]) and written out as `application/json`; everything else
//! passes as it came. In `benches/load.sh` it is the floor the gateway's typed, streaming
//! transcoding is measured against.

mod to_value;

use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;

use cupi_floors::{Body, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    cupi_floors::serve(|upstream, mut request| async move {
        // CUPI answers in XML anyway; ask for it as the client asked for JSON from us.
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/xml"));
        transcode(upstream.forward(request).await?).await
    })
    .await
}

/// A 200 XML answer as JSON, buffered; any other answer unchanged.
async fn transcode(response: Response<Incoming>) -> Result<Response<Body>, Error> {
    let is_xml = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("xml"));
    if response.status() != StatusCode::OK || !is_xml {
        return Ok(response.map(Either::Left));
    }
    let (mut parts, body) = response.into_parts();
    let xml = body.collect().await?.to_bytes();
    let json = serde_json::to_vec(&to_value::to_value(&xml)?)?;
    parts.headers.remove(CONTENT_LENGTH); // hyper writes the new one
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Response::from_parts(parts, Either::Right(Full::from(json))))
}
