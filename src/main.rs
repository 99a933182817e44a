//! The `cupi-gateway` binary: parse flags, set up logging, run until SIGINT/SIGTERM.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cupi_gateway::config::{Cli, Command, HealthcheckArgs, LogFormat};
use cupi_gateway::log_format::{TextFields, Timestamps};
use cupi_gateway::log_sink::{self, LogSink};
use cupi_gateway::server::shutdown_signal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The healthcheck logs nothing: the one line it prints is what `docker inspect` shows.
    // Dropped at the end of `main`: lines still waiting are written then.
    let logs = (!matches!(cli.command, Some(Command::Healthcheck(_))))
        .then(|| init_logging(cli.gateway.log_format));
    let result = match cli.command {
        Some(Command::Simulate(args)) => {
            cupi_gateway::start::run_simulator(args, shutdown_signal()).await
        }
        Some(Command::Healthcheck(args)) => return healthcheck(&args).await,
        None => cupi_gateway::start::run_gateway(cli.gateway, shutdown_signal()).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            drop(logs); // that line first
            eprintln!("cupi-gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `cupi-gateway healthcheck`: exit 0 if the gateway beside it answers `/healthz` with 200.
async fn healthcheck(args: &HealthcheckArgs) -> ExitCode {
    match cupi_gateway::healthcheck::check(args).await {
        Ok(url) => {
            println!("healthy: {url} answered 200");
            ExitCode::SUCCESS
        }
        Err(unhealthy) => {
            println!("unhealthy: {unhealthy}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` overrides the default `info` level, e.g. `RUST_LOG=cupi_gateway=debug`. Lines
/// go to stderr through [`LogSink`]'s writer thread, not from each request's worker.
fn init_logging(format: LogFormat) -> log_sink::Flush {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (sink, flush) = LogSink::new(std::io::stderr());
    // Colours only for a terminal: in a file or a log shipper, escape codes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(Timestamps)
        .with_writer(sink);
    match format {
        LogFormat::Text => builder.fmt_fields(TextFields).init(),
        LogFormat::Json => builder.json().init(),
    }
    flush
}
