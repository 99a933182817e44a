//! Start-up: what runs before the first connection is accepted. The OpenAPI document, the
//! upstream client (or the embedded simulator when no upstream is given), the TLS files and
//! their reloader, binding, and the lines `cargo run` prints; then [`crate::server::serve`]
//! until shutdown. The stand-alone simulator (`cupi-gateway simulate`) starts here too.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{GatewayArgs, SimulateArgs};
use crate::upstream::{Upstream, UpstreamConfig};
use crate::{app, limit, metrics, openapi, server, tls_reload, upstream};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream TLS configuration: {0}")]
    Tls(#[from] upstream::tls::TlsConfigError),
    #[error("OpenAPI document: {0}")]
    Spec(#[from] openapi::SpecError),
    #[error("inbound TLS: {0}")]
    ServerTls(#[from] server::ServerTlsError),
}

/// Runs the gateway until `shutdown` resolves. Without an upstream, the embedded simulator is
/// started on a free loopback port and used as the upstream.
pub async fn run_gateway(
    args: GatewayArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let spec = openapi::ApiSpec::load(&args.schemas)?;
    let simulator = args.upstream.is_none();
    let origin = match args.upstream.clone() {
        Some(origin) => origin,
        None => start_embedded_simulator(&args).await?,
    };
    let tls_options_given = args.upstream_ca_file.is_some() || args.upstream_insecure_skip_verify;
    if tls_options_given && origin.scheme() != &http::uri::Scheme::HTTPS {
        tracing::warn!(upstream = %origin, "the upstream is plain HTTP: TLS options are ignored");
    }
    let metrics = Arc::new(metrics::Metrics::new(spec.path_templates()));
    // Before the gateway says it listens: its first requests already share the budget.
    let mut settings = args.settings();
    if let Some(redis) = args.upstream_limit_redis.clone() {
        let slots = settings.upstream_limit.max_concurrent;
        let shared = limit::shared::SharedLimit::connect(redis, &origin, slots, metrics.clone());
        settings.upstream_limit.shared = Some(shared.await);
    }
    let mut reloader = tls_reload::Reloader::new(metrics.clone());
    let (upstream, ca_watch) = Upstream::reloadable(&UpstreamConfig {
        origin: origin.clone(),
        verification: args.tls_verification(),
        connect_timeout: args.connect_timeout,
        response_timeout: args.upstream_timeout,
    })?;
    if let Some((verifier, files)) = ca_watch {
        reloader.watch(verifier, files);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (acceptor, serving, files) = server::reloading_tls_acceptor(cert, key)?;
            reloader.watch(serving, files);
            Some(acceptor)
        }
        _ => None,
    };
    // Before the gateway says it is ready: from then on, SIGHUP reloads and never terminates.
    reloader.spawn(args.tls_reload_interval);
    let listener = bind(args.listen).await?;
    let local = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(listen = %local, upstream = %origin, "cupi-gateway is ready");
    print_try_me(local, tls.is_some(), simulator);
    if args.no_request_validation {
        tracing::warn!("request validation is off: writes go upstream unchecked");
    }
    let connections = server::ConnectionSettings {
        open_connections: metrics.open_connections.clone(),
        ..args.connection_settings()
    };
    let gateway = app::app_with_metrics(upstream, Arc::new(spec), settings, metrics);
    server::serve(listener, gateway, shutdown, connections, tls).await;
    Ok(())
}

/// Runs the stand-alone simulator until `shutdown` resolves.
pub async fn run_simulator(
    args: SimulateArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let listener = bind(args.listen).await?;
    let local = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(listen = %local, "CUPI simulator is ready");
    println!("CUPI simulator listening on http://{local}");
    println!(
        "try:  curl -u {}:{} http://{local}/vmrest/ports",
        args.username, args.password
    );
    tokio::select! {
        result = cupi_simulator::serve(listener, args.simulator_config()) => {
            if let Err(error) = result {
                tracing::error!(%error, "simulator stopped");
            }
        }
        () = shutdown => {}
    }
    Ok(())
}

async fn start_embedded_simulator(args: &GatewayArgs) -> Result<upstream::Origin, StartError> {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let config = cupi_simulator::SimulatorConfig {
        generated_port_groups: args.simulator_port_groups,
        ..cupi_simulator::SimulatorConfig::default()
    };
    tracing::warn!(
        simulator = %local,
        "no upstream configured (--upstream / CUPI_GATEWAY_UPSTREAM): serving the embedded CUPI \
         simulator, user admin, password password"
    );
    tokio::spawn(async move {
        if let Err(error) = cupi_simulator::serve(listener, config).await {
            tracing::error!(%error, "embedded simulator stopped");
        }
    });
    Ok(format!("http://{local}")
        .parse()
        .expect("a socket address is a valid origin"))
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Prints where the gateway listens and what to try there. In front of the embedded simulator
/// these are the README's first commands (tests/integration/readme.rs checks that the two agree, and that
/// each command gets a 2xx); in front of a real server they are reads only, since a suggested
/// write would change production data and the simulator's credentials and ids mean nothing there.
fn print_try_me(local: std::net::SocketAddr, tls: bool, simulator: bool) {
    // A wildcard address is not one to send requests to: suggest loopback instead.
    let host = match local {
        std::net::SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            format!("127.0.0.1:{}", v4.port())
        }
        std::net::SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("[::1]:{}", v6.port()),
        other => other.to_string(),
    };
    let base = format!("{}://{host}", if tls { "https" } else { "http" });
    println!("cupi-gateway listening on {base}");
    println!("try:");
    for line in try_me_commands(&base, simulator) {
        println!("  {line}");
    }
}

fn try_me_commands(base: &str, simulator: bool) -> Vec<String> {
    let auth = if simulator {
        "admin:password"
    } else {
        "USER:PASSWORD"
    };
    let mut lines = vec![
        format!("curl -u {auth} {base}/vmrest/portgroups   # typed JSON"),
        format!("curl -u {auth} {base}/vmrest/ports"),
        format!(
            "curl -u {auth} -H 'Accept: application/xml' {base}/vmrest/ports   # CUPI's XML, untouched"
        ),
    ];
    if simulator {
        lines.extend([
            format!("curl -u {auth} -X PUT -H 'Content-Type: application/json' \\"),
            r#"     -d '{"MwiOnCode":"678","MwiOffCode":"876"}' \"#.to_owned(),
            format!(
                "     {base}/vmrest/portgroups/{}   # 204",
                cupi_simulator::SEED_GROUP_ID
            ),
        ]);
    }
    lines.push(format!("curl {base}/healthz"));
    lines
}
