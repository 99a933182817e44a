//! The `cupi-gateway` binary: parse flags, set up logging, run until SIGINT/SIGTERM.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use cupi_gateway::config::{Cli, Command, LogFormat};
use cupi_gateway::server::shutdown_signal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.gateway.log_format);
    let result = match cli.command {
        Some(Command::Simulate(args)) => cupi_gateway::run_simulator(args, shutdown_signal()).await,
        None => cupi_gateway::run_gateway(cli.gateway, shutdown_signal()).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("cupi-gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` overrides the default `info` level, e.g. `RUST_LOG=cupi_gateway=debug`.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
