//! `bare-proxy --listen ADDR --upstream URL`: a hyper 1 reverse proxy that forwards and
//! streams, nothing else. In `benches/load.sh` it is the floor "what a proxy underneath the
//! gateway costs": the same two hops, with no validation, transcoding or middleware.

use http_body_util::Either;

#[tokio::main]
async fn main() -> Result<(), cupi_floors::Error> {
    cupi_floors::serve(|upstream, request| async move {
        Ok(upstream.forward(request).await?.map(Either::Left))
    })
    .await
}
