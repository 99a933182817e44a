//! Command-line flags, each with an environment-variable twin (`CUPI_GATEWAY_*`), so the same
//! binary is configured by flags on a laptop and by environment in a container.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use http::HeaderValue;

use crate::app::Settings;
use crate::body_rate::BodyRate;
use crate::budget::BodySettings;
use crate::limit::shared::{RedisUrl, RedisUrlError};
use crate::limit::LimitSettings;
use crate::server::ConnectionSettings;
use crate::transcode::{Limits, Mode};
use crate::upstream::tls::TlsVerification;
use crate::upstream::Origin;
use cupi_simulator::SimulatorConfig;

/// A JSON gateway for the Cisco Unity Connection provisioning API (CUPI).
///
/// Forwards /vmrest to Unity Connection and transcodes its XML to JSON and back. With no
/// upstream configured it starts an embedded CUPI simulator and serves that.
#[derive(Debug, Parser)]
#[command(name = "cupi-gateway", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the CUPI simulator (XML, like a real Unity Connection), for frontend work
    /// without a server.
    Simulate(SimulateArgs),
    /// Exit 0 if the gateway on this machine answers GET /healthz with 200, else 1: a
    /// container healthcheck that needs no shell or curl.
    Healthcheck(HealthcheckArgs),
}

/// Settings of the gateway.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Address to listen on. Use 0.0.0.0:8080 in a container.
    #[arg(long, env = "CUPI_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// PEM certificate chain for serving HTTPS (HTTP/2 and HTTP/1.1) instead of plain HTTP.
    /// Needs --tls-key too.
    #[arg(long, env = "CUPI_GATEWAY_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "CUPI_GATEWAY_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// How often --tls-cert, --tls-key and --upstream-ca-file are checked for a change (a
    /// Kubernetes secret's symlink swap, a rewrite); changed files that load are used for new
    /// connections, open ones are kept. SIGHUP checks at once. 0s: on SIGHUP only.
    #[arg(long, env = "CUPI_GATEWAY_TLS_RELOAD_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub(crate) tls_reload_interval: Duration,

    /// Unity Connection's origin, e.g. https://cuc.example.com or https://cuc:8443.
    /// Without it, the embedded simulator is started and used.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM")]
    pub upstream: Option<Origin>,

    /// PEM file with the CA certificate(s) to trust for the upstream, instead of the
    /// system's roots (for self-signed and internal-CA servers).
    #[arg(
        long,
        env = "CUPI_GATEWAY_UPSTREAM_CA_FILE",
        conflicts_with = "upstream_insecure_skip_verify"
    )]
    pub(crate) upstream_ca_file: Option<PathBuf>,

    /// Do not verify the upstream's TLS certificate at all. Lab use only: logged as a warning.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_INSECURE_SKIP_VERIFY")]
    pub(crate) upstream_insecure_skip_verify: bool,

    /// Time allowed to open the TCP connection to the upstream.
    #[arg(long, env = "CUPI_GATEWAY_CONNECT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,

    /// Time allowed for the upstream to answer with a response head.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,

    /// Longest time from a request to its response head through the gateway, queue wait and
    /// retries included (→ 504 gateway_timeout). Streamed bodies are timed by
    /// --upstream-timeout's idle rule instead.
    #[arg(long, env = "CUPI_GATEWAY_REQUEST_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Largest JSON request body, in bytes, the gateway transcodes, and largest XML it makes of
    /// one (larger: 413).
    #[arg(long, env = "CUPI_GATEWAY_MAX_REQUEST_BODY", default_value_t = 1024 * 1024)]
    pub max_request_body: usize,

    /// Largest XML object, in bytes, read whole to transcode it: a response that is not a
    /// list, one item of a list, or an error page (larger: 502). Lists stream, whatever their size,
    /// except a gzip or deflate answer, held to this as a whole once decoded.
    #[arg(long, env = "CUPI_GATEWAY_MAX_RESPONSE_BODY", default_value_t = 64 * 1024 * 1024)]
    pub max_response_body: usize,

    /// Bytes all buffered request and response bodies may hold at once, across every
    /// connection; past it a body waits a second, then gets 503 body_budget_exhausted with
    /// Retry-After.
    #[arg(long, env = "CUPI_GATEWAY_BODY_BUDGET", default_value_t = BodySettings::default().budget)]
    pub(crate) body_budget: usize,

    /// Bytes per second a client's request body must average once its grace period is over
    /// (slower: 408 request_timeout); 0 turns the rate off (the 30 s idle gap stays).
    #[arg(long, env = "CUPI_GATEWAY_REQUEST_BODY_MIN_RATE", default_value_t = BodyRate::default().min_bytes_per_second)]
    pub(crate) request_body_min_rate: u64,

    /// Time every request body has before --request-body-min-rate applies.
    #[arg(long, env = "CUPI_GATEWAY_REQUEST_BODY_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) request_body_grace: Duration,

    /// Most requests at Unity Connection at once. Its documented limit is 5; more only
    /// queue inside the server, where they time out as 503s for every client.
    #[arg(
        long,
        env = "CUPI_GATEWAY_UPSTREAM_MAX_CONCURRENCY",
        default_value_t = 5
    )]
    pub(crate) upstream_max_concurrency: usize,

    /// Most requests waiting for one of those slots; beyond it, 503 at once.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_QUEUE", default_value_t = 100)]
    pub(crate) upstream_queue: usize,

    /// Longest wait for a slot before answering 503 with Retry-After.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_QUEUE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) upstream_queue_timeout: Duration,

    /// Redis through which the replicas that name it and the same --upstream share one budget
    /// of --upstream-max-concurrency slots: redis://host:6379/0, rediss:// for TLS,
    /// redis://:PASSWORD@host for a password (never logged). When Redis is unreachable or
    /// slow, each replica keeps to that cap on its own until Redis is back.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_LIMIT_REDIS", hide_env_values = true, value_parser = RedisUrlParser)]
    pub(crate) upstream_limit_redis: Option<RedisUrl>,

    /// How often a GET/HEAD that Unity Connection answered 503 is retried (with backoff,
    /// within a retry budget); 0 turns retrying off. Writes are never retried.
    #[arg(long, env = "CUPI_GATEWAY_UPSTREAM_RETRIES", default_value_t = 2)]
    pub upstream_retries: u32,

    /// A browser origin (`https://app.example.com`) allowed to call the gateway, credentials
    /// included (CORS). Repeat the flag, or separate origins with commas in the variable.
    /// None: CORS stays closed.
    #[arg(long = "cors-allow-origin", env = "CUPI_GATEWAY_CORS_ALLOW_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_allowed_origins: Vec<HeaderValue>,

    /// On SIGTERM, how long in-flight requests get to finish.
    #[arg(long, env = "CUPI_GATEWAY_DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Time a client has to complete a request head after connecting (after the TLS handshake)
    /// and, on HTTP/1.1, after its previous response; then its connection is closed. A client
    /// that connects and sends nothing holds a connection this long at most.
    #[arg(long, env = "CUPI_GATEWAY_HEADER_READ_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// An HTTP/2 connection whose streams have all ended is closed after this long without a
    /// new one.
    #[arg(long, env = "CUPI_GATEWAY_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Most client connections open at once. At the cap the gateway stops accepting (new
    /// clients wait in the kernel's backlog) and keeps serving the open ones; it accepts
    /// again when one closes. Keep it below the open-file limit (ulimit -n).
    #[arg(long, env = "CUPI_GATEWAY_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// An extra OpenAPI document (YAML or JSON) whose paths and schemas are added to the
    /// built-in one: typing and validation for more resources, with no code change.
    /// Repeat the flag, or separate files with commas in the environment variable.
    #[arg(long = "schema", env = "CUPI_GATEWAY_SCHEMA", value_delimiter = ',')]
    pub schemas: Vec<PathBuf>,

    /// Serve as Unity Connection does, so existing CUPI scripts run unchanged: the upstream's
    /// XML, untouched, unless the client asks for application/json (no Accept and */* get
    /// XML), and then Unity Connection's own JSON (every value a string, a list of one as a
    /// bare object); a body labelled JSON that is not JSON, for a resource the OpenAPI document
    /// does not describe, goes to the server to judge. `Accept: application/json; profile=typed` still gets the typed JSON,
    /// and without this flag `profile=cupi` gets CUPI's. Formerly --cupi-json
    /// (CUPI_GATEWAY_CUPI_JSON), which still works.
    #[arg(long, env = "CUPI_GATEWAY_CUPI_COMPAT")]
    pub(crate) cupi_compat: bool,

    /// The old name of --cupi-compat, kept so existing deployments keep working.
    #[arg(long, env = "CUPI_GATEWAY_CUPI_JSON", hide = true)]
    pub(crate) cupi_json: bool,

    /// Forward requests without checking them against the OpenAPI document first
    /// (for Unity Connection releases that allow more writes than the document describes).
    #[arg(long, env = "CUPI_GATEWAY_NO_REQUEST_VALIDATION")]
    pub(crate) no_request_validation: bool,

    /// Send answers uncompressed whatever the client's Accept-Encoding (for a gateway behind
    /// a proxy that compresses).
    #[arg(long, env = "CUPI_GATEWAY_NO_COMPRESSION")]
    pub(crate) no_compression: bool,

    /// Embedded simulator only: how many extra port groups to generate.
    #[arg(long, env = "CUPI_GATEWAY_SIMULATOR_PORT_GROUPS", default_value_t = 0)]
    pub(crate) simulator_port_groups: usize,

    /// Log format.
    #[arg(
        long,
        env = "CUPI_GATEWAY_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Parses `--upstream-limit-redis`. clap's own message for a refused value quotes the value,
/// password and all; this one shows the URL with its password replaced.
#[derive(Clone, Debug)]
struct RedisUrlParser;

impl clap::builder::TypedValueParser for RedisUrlParser {
    type Value = RedisUrl;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<RedisUrl, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for --upstream-limit-redis: {message}\n"),
            )
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("the URL is not UTF-8".to_owned()))?;
        text.parse()
            .map_err(|e: RedisUrlError| refuse(e.to_string()))
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing else.
fn parse_origin(value: &str) -> Result<HeaderValue, String> {
    let uri: http::Uri = value.parse().map_err(|e| format!("{value}: {e}"))?;
    let is_origin = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && matches!(uri.path(), "" | "/")
        && uri.query().is_none();
    if !is_origin {
        return Err(format!(
            "{value} is not an origin like https://app.example.com"
        ));
    }
    HeaderValue::from_str(value.trim_end_matches('/')).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl GatewayArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            limits: Limits {
                max_request_body: self.max_request_body,
                max_response_body: self.max_response_body,
            },
            validate_requests: !self.no_request_validation,
            compress_responses: !self.no_compression,
            cors_allowed_origins: self.cors_allowed_origins.clone(),
            upstream_retries: self.upstream_retries,
            request_timeout: self.request_timeout,
            default_mode: if self.cupi_compat || self.cupi_json {
                Mode::Cupi
            } else {
                Mode::Typed
            },
            bodies: BodySettings {
                budget: self.body_budget,
                request_rate: BodyRate {
                    min_bytes_per_second: self.request_body_min_rate,
                    grace: self.request_body_grace,
                    ..BodyRate::default()
                },
            },
            upstream_limit: LimitSettings {
                max_concurrent: self.upstream_max_concurrency,
                max_queued: self.upstream_queue,
                max_wait: self.upstream_queue_timeout,
                // Connected at start-up (`start::run_gateway`), from `upstream_limit_redis`.
                shared: None,
            },
        }
    }

    pub(crate) fn connection_settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections as usize,
            drain_timeout: self.drain_timeout,
            open_connections: Default::default(),
        }
    }

    pub(crate) fn tls_verification(&self) -> TlsVerification {
        match (&self.upstream_ca_file, self.upstream_insecure_skip_verify) {
            (_, true) => TlsVerification::Disabled,
            (Some(path), false) => TlsVerification::CaFile(path.clone()),
            (None, false) => TlsVerification::SystemRoots,
        }
    }
}

/// Settings of the stand-alone simulator.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, env = "CUPI_SIMULATOR_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    /// User name the simulator accepts (Basic auth).
    #[arg(long, env = "CUPI_SIMULATOR_USERNAME", default_value = "admin")]
    pub username: String,

    /// Password the simulator accepts (Basic auth).
    #[arg(long, env = "CUPI_SIMULATOR_PASSWORD", default_value = "password")]
    pub password: String,

    /// How many extra port groups to generate, beside the Cisco page's PhoneSystem-1.
    #[arg(long, env = "CUPI_SIMULATOR_PORT_GROUPS", default_value_t = 0)]
    pub(crate) port_groups: usize,

    /// How many ports each generated port group has.
    #[arg(long, env = "CUPI_SIMULATOR_PORTS_PER_GROUP", default_value_t = 2)]
    pub(crate) ports_per_group: usize,
}

impl SimulateArgs {
    pub(crate) fn simulator_config(&self) -> SimulatorConfig {
        SimulatorConfig {
            username: self.username.clone(),
            password: self.password.clone(),
            generated_port_groups: self.port_groups,
            ports_per_generated_group: self.ports_per_group,
        }
    }
}

/// Settings of `healthcheck`: the gateway's own variables, so a container that sets them for
/// the gateway needs nothing more for its healthcheck.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The gateway's listen address; an unspecified one (0.0.0.0, [::]) is asked on loopback.
    #[arg(long, env = "CUPI_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The gateway's certificate: when one is set, the check speaks HTTPS (without verifying
    /// it: the check asks its own process over loopback whether it answers).
    #[arg(long, env = "CUPI_GATEWAY_TLS_CERT")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// Longest wait for the answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse_into_settings() {
        let cli = Cli::try_parse_from([
            "cupi-gateway",
            "--upstream",
            "https://cuc.example.com:8443",
            "--upstream-ca-file",
            "/etc/ca.pem",
            "--connect-timeout",
            "2s",
            "--max-request-body",
            "10",
        ])
        .unwrap();
        let gateway = cli.gateway;
        assert_eq!(
            gateway.upstream.as_ref().unwrap().to_string(),
            "https://cuc.example.com:8443"
        );
        assert_eq!(
            gateway.tls_verification(),
            TlsVerification::CaFile("/etc/ca.pem".into())
        );
        assert_eq!(gateway.connect_timeout, Duration::from_secs(2));
        assert_eq!(gateway.settings().limits.max_request_body, 10);
        assert!(gateway.settings().validate_requests);
        assert_eq!(gateway.settings().default_mode, Mode::Typed);
        assert_eq!(gateway.settings().bodies, BodySettings::default());
        for flag in ["--cupi-compat", "--cupi-json"] {
            let cupi = Cli::try_parse_from(["cupi-gateway", flag]).unwrap();
            assert_eq!(cupi.gateway.settings().default_mode, Mode::Cupi, "{flag}");
        }
        assert!(Cli::try_parse_from(["cupi-gateway", "--upstream", "https://cuc/vmrest"]).is_err());
        assert!(Cli::try_parse_from([
            "cupi-gateway",
            "--upstream-ca-file",
            "x",
            "--upstream-insecure-skip-verify"
        ])
        .is_err());
    }

    #[test]
    fn connection_flags_default_to_the_documented_bounds() {
        let defaults = Cli::try_parse_from(["cupi-gateway"]).unwrap();
        let settings = defaults.gateway.connection_settings();
        let documented = ConnectionSettings::default();
        assert_eq!(settings.header_read_timeout, documented.header_read_timeout);
        assert_eq!(settings.idle_timeout, documented.idle_timeout);
        assert_eq!(settings.max_connections, documented.max_connections);
        assert_eq!(settings.drain_timeout, documented.drain_timeout);
        let cli = Cli::try_parse_from([
            "cupi-gateway",
            "--header-read-timeout",
            "3s",
            "--max-connections",
            "7",
        ])
        .unwrap();
        let settings = cli.gateway.connection_settings();
        assert_eq!(settings.header_read_timeout, Duration::from_secs(3));
        assert_eq!(settings.max_connections, 7);
        assert!(Cli::try_parse_from(["cupi-gateway", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn schemas_repeat_and_validation_can_be_turned_off() {
        let cli = Cli::try_parse_from([
            "cupi-gateway",
            "--schema",
            "a.yaml",
            "--schema",
            "b.json",
            "--no-request-validation",
        ])
        .unwrap();
        assert_eq!(
            cli.gateway.schemas,
            [PathBuf::from("a.yaml"), PathBuf::from("b.json")]
        );
        assert!(!cli.gateway.settings().validate_requests);
    }

    #[test]
    fn cors_origins_must_be_origins() {
        let cli = Cli::try_parse_from([
            "cupi-gateway",
            "--cors-allow-origin",
            "https://app.example.com",
            "--cors-allow-origin",
            "http://localhost:5173/",
        ])
        .unwrap();
        assert_eq!(
            cli.gateway.settings().cors_allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "*",
            "ftp://x",
        ] {
            assert!(
                Cli::try_parse_from(["cupi-gateway", "--cors-allow-origin", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn simulate_is_a_subcommand() {
        let cli = Cli::try_parse_from(["cupi-gateway", "simulate", "--port-groups", "3"]).unwrap();
        let Some(Command::Simulate(args)) = cli.command else {
            panic!("expected simulate");
        };
        assert_eq!(args.simulator_config().generated_port_groups, 3);
        assert_eq!(args.listen.port(), 8081);
    }

    #[test]
    fn healthcheck_is_a_subcommand() {
        let cli = Cli::try_parse_from(["cupi-gateway", "healthcheck", "--listen", "0.0.0.0:9090"])
            .unwrap();
        let Some(Command::Healthcheck(args)) = cli.command else {
            panic!("expected healthcheck");
        };
        assert_eq!(args.listen.port(), 9090);
        assert_eq!(args.timeout, Duration::from_secs(2));
        assert!(args.tls_cert.is_none());
    }
}
