//! The `cupi-gateway` binary as a child process: started with flags and environment, its
//! base URL read from what it prints, stopped with SIGTERM and its log collected, for tests
//! of what only the real process shows (start-up messages, the log format, exit codes).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_cupi-gateway");

/// Starts the binary, reads stdout up to the line containing `last_line`, and returns the
/// child, the base URL from its "listening on" line, and the lines read.
pub(crate) async fn start(
    args: &[&str],
    env: &[(&str, &str)],
    last_line: &str,
) -> (Child, String, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        // No NO_COLOR here: a piped stderr must be plain text by itself.
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(20), async {
        let mut base = None;
        while let Some(line) = stdout.next_line().await.unwrap() {
            printed.push(line.clone());
            if let Some(url) = line.split(" listening on ").nth(1) {
                base = Some(url.trim().to_owned());
            }
            if line.contains(last_line) {
                return base.expect("'listening on' comes first");
            }
        }
        panic!("stdout ended early: {printed:?}");
    })
    .await
    .expect("started within 20 s");
    // Keep reading so the child never blocks on a full pipe.
    let rest = tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    drop(rest);
    (child, base, printed)
}

/// Sends `signal` (`TERM`, `HUP`) to the running child.
pub(crate) fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends SIGTERM and returns (exit success, everything the process logged).
pub(crate) async fn terminate(mut child: Child) -> (bool, String) {
    signal(&child, "TERM");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    (exit.success(), stderr)
}
