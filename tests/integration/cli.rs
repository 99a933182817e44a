//! The binary as a newcomer runs it: flags and environment, start-up messages, the embedded
//! simulator, the `simulate` subcommand, and a clean exit on SIGTERM.

use crate::support::pki;

use tokio::process::Command;

use crate::support::binary;

use binary::{start, terminate, BIN};

#[tokio::test]
async fn starts_on_the_embedded_simulator_configured_by_environment() {
    // The listen address comes from the environment twin of --listen.
    let (child, base, printed) =
        start(&[], &[("CUPI_GATEWAY_LISTEN", "127.0.0.1:0")], "/healthz").await;
    assert!(
        printed
            .iter()
            .any(|l| l.contains("curl -u admin:password") && l.contains("/vmrest/portgroups")),
        "prints URLs to try: {printed:?}"
    );
    let response = reqwest::Client::new()
        .get(format!("{base}/vmrest/portgroups"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["PortGroup"][0]["EnableMWI"], true);

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "exit 0 after SIGTERM; log:\n{log}");
    assert!(
        log.contains("embedded CUPI simulator"),
        "says so in its log:\n{log}"
    );
    assert!(log.contains("SIGTERM"), "{log}");
    // One access line per request, with no credential in it.
    assert!(
        log.lines().any(|l| l.contains("cupi_gateway::access")
            && l.contains("/vmrest/portgroups")
            && l.contains("status=200")),
        "access line missing:\n{log}"
    );
    assert!(
        !log.contains("YWRtaW46cGFzc3dvcmQ="),
        "Basic credentials were logged:\n{log}"
    );
    // Not a terminal: no colour escape codes in the log.
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log:\n{log}"
    );
}

#[tokio::test]
async fn skipping_tls_verification_is_logged_loudly() {
    let (child, _, _) = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "https://127.0.0.1:9",
            "--upstream-insecure-skip-verify",
        ],
        &[],
        "listening on",
    )
    .await;
    let (_, log) = terminate(child).await;
    assert!(log.contains("VERIFICATION IS DISABLED"), "{log}");
}

#[tokio::test]
async fn bad_configuration_is_refused_with_a_reason() {
    let output = Command::new(BIN)
        .args(["--upstream", "https://cuc.example.com/vmrest"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("origin only"), "{stderr}");

    let output = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "https://cuc.example.com",
            "--upstream-ca-file",
            "/nonexistent.pem",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent.pem"), "{stderr}");
}

#[tokio::test]
async fn simulate_subcommand_serves_cupi_xml() {
    let (child, base, _) = start(
        &["simulate", "--listen", "127.0.0.1:0", "--port-groups", "3"],
        &[],
        "try:",
    )
    .await;
    let response = reqwest::Client::new()
        .get(format!("{base}/vmrest/portgroups"))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("xml"));
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"<PortGroups total="4">"#), "{body}");
    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "exit 0 after SIGTERM; log:\n{log}");
}

/// CUPI compatibility mode by its flag or variable, and by the old names of both: XML for a
/// client that names no type, Unity Connection's JSON for one asking for JSON, typed JSON by
/// profile.
#[tokio::test]
async fn cupi_compat_mode_by_flag_or_variable_old_names_included() {
    let listen = ("CUPI_GATEWAY_LISTEN", "127.0.0.1:0");
    type Way<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let ways: [Way<'_>; 4] = [
        (&["--cupi-compat"], &[listen]),
        (&[], &[listen, ("CUPI_GATEWAY_CUPI_COMPAT", "true")]),
        (&["--cupi-json"], &[listen]),
        (&[], &[listen, ("CUPI_GATEWAY_CUPI_JSON", "true")]),
    ];
    for (args, env) in ways {
        let (child, base, _) = start(args, env, "/healthz").await;
        let get = |accept: Option<&'static str>| {
            let request = reqwest::Client::new()
                .get(format!("{base}/vmrest/portgroups"))
                .basic_auth("admin", Some("password"));
            match accept {
                Some(accept) => request.header("accept", accept),
                None => request,
            }
            .send()
        };
        let response = get(None).await.unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/xml",
            "{args:?} {env:?}"
        );
        let body = response.text().await.unwrap();
        assert!(body.starts_with("<?xml"), "{args:?} {env:?}: {body}");

        let response = get(Some("application/json")).await.unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/json; profile=cupi",
            "{args:?} {env:?}"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["@total"], "1");
        assert_eq!(body["PortGroup"]["EnableMWI"], "true");

        let response = get(Some("application/json; profile=typed")).await.unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["PortGroup"][0]["EnableMWI"], true);
        let (clean_exit, log) = terminate(child).await;
        assert!(clean_exit, "exit 0 after SIGTERM; log:\n{log}");
    }
}

#[tokio::test]
async fn help_names_the_compat_mode_by_its_new_name_and_its_old_one() {
    let output = Command::new(BIN).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--cupi-compat"), "{help}");
    assert!(help.contains("Formerly --cupi-json"), "{help}");
    assert!(help.contains("(CUPI_GATEWAY_CUPI_JSON)"), "{help}");
}

#[tokio::test]
async fn help_documents_every_flag_with_its_environment_twin() {
    let output = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--listen", "CUPI_GATEWAY_LISTEN"),
        ("--upstream", "CUPI_GATEWAY_UPSTREAM"),
        ("--upstream-ca-file", "CUPI_GATEWAY_UPSTREAM_CA_FILE"),
        (
            "--upstream-insecure-skip-verify",
            "CUPI_GATEWAY_UPSTREAM_INSECURE_SKIP_VERIFY",
        ),
        ("--connect-timeout", "CUPI_GATEWAY_CONNECT_TIMEOUT"),
        ("--upstream-timeout", "CUPI_GATEWAY_UPSTREAM_TIMEOUT"),
        ("--max-request-body", "CUPI_GATEWAY_MAX_REQUEST_BODY"),
        ("--max-response-body", "CUPI_GATEWAY_MAX_RESPONSE_BODY"),
        ("--drain-timeout", "CUPI_GATEWAY_DRAIN_TIMEOUT"),
        ("--cupi-compat", "CUPI_GATEWAY_CUPI_COMPAT"),
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
        assert!(
            help.contains(&format!("[env: {env}=")),
            "{env} missing from --help"
        );
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in help
        .lines()
        .filter(|l| l.trim_start().starts_with("[env: "))
    {
        let env = line
            .trim()
            .trim_start_matches("[env: ")
            // `NAME=value]`, or `NAME]` for a flag whose value help hides (a password).
            .split(['=', ']'])
            .next()
            .unwrap();
        assert!(
            readme.contains(env),
            "{env} is not documented in the README"
        );
    }
}

/// Runs `cupi-gateway healthcheck` with `env` and returns (exit success, what it printed).
async fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("healthcheck")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn healthcheck_subcommand_asks_the_gateway_at_its_own_listen_address() {
    let (child, base, _) = start(&["--listen", "127.0.0.1:0"], &[], "/healthz").await;
    let port = base.rsplit(':').next().unwrap();

    // The same variable the server reads, and an unspecified address asked on loopback.
    let listen = format!("0.0.0.0:{port}");
    let (healthy, printed) = healthcheck(&[], &[("CUPI_GATEWAY_LISTEN", &listen)]).await;
    assert!(healthy, "{printed}");
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}/healthz answered 200")),
        "{printed}"
    );

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "exit 0 after SIGTERM; log:\n{log}");
    let (healthy, printed) = healthcheck(&["--listen", &listen, "--timeout", "1s"], &[]).await;
    assert!(!healthy, "healthy with the gateway stopped: {printed}");
    assert!(printed.starts_with("unhealthy: "), "{printed}");
}

#[tokio::test]
async fn healthcheck_speaks_https_to_a_gateway_serving_https() {
    let pki = pki::make_pki(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("cupi-gateway-cli-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.leaf_pem).unwrap();
    std::fs::write(&key, &pki.leaf_key_pem).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let tls_env = [
        ("CUPI_GATEWAY_TLS_CERT", cert),
        ("CUPI_GATEWAY_TLS_KEY", key),
    ];
    let (child, base, _) = start(&["--listen", "127.0.0.1:0"], &tls_env, "/healthz").await;
    let listen = format!("127.0.0.1:{}", base.rsplit(':').next().unwrap());

    let (healthy, printed) = healthcheck(&["--listen", &listen], &tls_env[..1]).await;
    assert!(healthy, "{printed}");
    assert!(printed.contains("https://127.0.0.1:"), "{printed}");
    // Without the certificate variable it asks in plain HTTP, which a TLS port never answers.
    let (healthy, printed) = healthcheck(&["--listen", &listen], &[]).await;
    assert!(!healthy, "{printed}");

    let (clean_exit, log) = terminate(child).await;
    assert!(clean_exit, "exit 0 after SIGTERM; log:\n{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}
