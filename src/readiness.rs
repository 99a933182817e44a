//! `GET /readyz`: is Unity Connection reachable? For orchestrators (Kubernetes readiness
//! probes, load balancers), which should stop sending traffic to a gateway that cannot reach
//! its upstream.
//!
//! The check is a TCP connect to the upstream's host and port, within the connect timeout:
//! it costs Unity Connection nothing (no request, no session, no slot in its small request
//! queue). Its result is cached for a couple of seconds, so probes from many places cannot
//! turn into a connection storm.
//!
//! With a shared upstream budget (`--upstream-limit-redis`), a ready answer also says whether
//! this replica is in it (`shared`) or on its own cap while Redis is away (`local_fallback`).
//! Redis being away never makes the gateway unready: requests are still served, on the local
//! cap.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::{Response, StatusCode};

use crate::error::error_response;
use crate::limit::shared::SharedLimit;
use crate::upstream::Origin;

/// How long one check's result is reused.
const CACHE_FOR: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Readiness {
    origin: Origin,
    connect_timeout: Duration,
    shared_limit: Option<SharedLimit>,
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

/// The `/readyz` route.
pub(crate) fn routes(
    origin: Origin,
    connect_timeout: Duration,
    shared_limit: Option<SharedLimit>,
) -> Router {
    let state = Arc::new(Readiness {
        origin,
        connect_timeout,
        shared_limit,
        last: Mutex::new(None),
    });
    Router::new()
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<Readiness>>) -> Response<Body> {
    let cached = state
        .last
        .lock()
        .ok()
        .and_then(|last| last.clone())
        .filter(|(at, _)| at.elapsed() < CACHE_FOR);
    let result = match cached {
        Some((_, result)) => result,
        None => {
            let result = probe(&state.origin, state.connect_timeout).await;
            if let Ok(mut last) = state.last.lock() {
                *last = Some((Instant::now(), result.clone()));
            }
            result
        }
    };
    match result {
        Ok(()) => {
            let mut body =
                serde_json::json!({"status": "ready", "upstream": state.origin.to_string()});
            if let Some(shared) = &state.shared_limit {
                // Not cached: the mode may change between two probes.
                body["upstream_limit"] = serde_json::json!({
                    "mode": shared.mode(),
                    "redis": shared.redis().to_string(),
                });
            }
            axum::response::IntoResponse::into_response(Json(body))
        }
        Err(reason) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unreachable",
            &reason,
        ),
    }
}

async fn probe(origin: &Origin, timeout: Duration) -> Result<(), String> {
    let address = (
        origin.authority().host().trim_matches(['[', ']']),
        origin.port(),
    );
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("cannot connect to {origin}: {error}")),
        Err(_) => Err(format!("no connection to {origin} within {timeout:?}")),
    }
}
