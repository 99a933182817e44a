//! A SIGTERM that arrives after `shutdown_signal()` is called but before its future is first
//! polled still stops the gateway cleanly. The future is polled beside the accept loop, which
//! can hand a waiting connection to another worker first; the CLI tests once saw the process
//! answer a request and then die from SIGTERM's default action. In a file of its own, since
//! without the fix SIGTERM kills the whole test binary.

use std::time::Duration;

#[tokio::test]
async fn a_sigterm_before_the_first_poll_is_caught() {
    let shutdown = cupi_gateway::server::shutdown_signal();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    // Whatever the delay, the process is still here to see it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("the SIGTERM sent before the first poll resolves the future");
}
