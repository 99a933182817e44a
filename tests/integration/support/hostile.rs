//! For proving the gateway refuses a huge XML token before buffering it whole: a hand-rolled
//! upstream that answers with one, streamed in chunks so that it costs the test no memory
//! (`head`, then `filler` repeated up to `size` bytes, then `tail`), and the real gateway
//! binary as a child process whose peak memory can be read.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use super::read_request_head;

/// One document of the shape `head` + `filler`… + `tail`.
#[derive(Clone, Debug)]
pub(crate) struct HugeToken {
    pub head: &'static str,
    /// Repeated; a single character for one huge token, markup (`<a/>`) for a flood.
    pub filler: &'static str,
    /// Bytes of filler; it ends when the gateway stops reading, if sooner.
    pub size: usize,
    pub tail: &'static str,
}

impl HugeToken {
    /// The whole body, for a request (only for sizes a test can hold).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.head.len() + self.size + self.tail.len());
        body.extend_from_slice(self.head.as_bytes());
        body.extend(self.filler.bytes().cycle().take(self.size));
        body.extend_from_slice(self.tail.as_bytes());
        body
    }
}

/// Serves `document` as a chunked `application/xml` 200 to every request; returns the origin.
pub(crate) async fn huge_token_upstream(document: HugeToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let document = Arc::new(document);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let document = document.clone();
            tokio::spawn(async move {
                if read_request_head(&mut stream).await {
                    // The gateway hangs up once it refuses the body: the write then fails.
                    let _ = write_document(&mut stream, &document).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

async fn write_document(
    stream: &mut tokio::net::TcpStream,
    document: &HugeToken,
) -> std::io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\n\
              transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await?;
    let filler: Vec<u8> = document.filler.bytes().cycle().take(CHUNK).collect();
    write_chunk(stream, document.head.as_bytes()).await?;
    let mut left = document.size;
    while left > 0 {
        // Whole repetitions only, so that markup is not cut.
        let n = left.min(CHUNK - CHUNK % document.filler.len());
        write_chunk(stream, &filler[..n]).await?;
        left -= n;
    }
    write_chunk(stream, document.tail.as_bytes()).await?;
    stream.write_all(b"0\r\n\r\n").await?;
    stream.shutdown().await
}

async fn write_chunk(stream: &mut tokio::net::TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    stream
        .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
        .await?;
    stream.write_all(bytes).await?;
    stream.write_all(b"\r\n").await
}

/// The gateway binary, listening on a free loopback port.
pub(crate) struct GatewayProcess {
    child: Child,
    pub base: String,
}

impl GatewayProcess {
    /// Starts `cupi-gateway --upstream <upstream> <args>` and waits for it to listen.
    pub(crate) async fn start(upstream: &str, args: &[&str]) -> GatewayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cupi-gateway"))
            .args(["--listen", "127.0.0.1:0", "--upstream", upstream])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway binary starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let base = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = stdout.next_line().await.expect("stdout") {
                if let Some(url) = line.split(" listening on ").nth(1) {
                    return url.trim().to_owned();
                }
            }
            panic!("the gateway exited before listening");
        })
        .await
        .expect("listening within 20 s");
        // Keep reading so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        GatewayProcess { child, base }
    }

    /// The most memory the process has held at once (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        self.status_field("VmHWM:")
    }

    fn status_field(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("the gateway is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
        kib * 1024
    }
}

/// PUTs `body` to `base` + `path` over a raw connection, reading the answer while the body is
/// still being written: a gateway that refuses it (413) answers and hangs up before it is all
/// sent, which an HTTP client library reports as a broken pipe instead of the answer.
/// Returns (status, body of the answer).
pub(crate) async fn put_while_reading(base: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut reading, mut writing) = stream.into_split();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/xml\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tokio::spawn(async move {
        // Stops with an error once the gateway hangs up: expected.
        let _ = writing.write_all(head.as_bytes()).await;
        let _ = writing.write_all(&body).await;
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let read = async {
        while let Ok(n) = reading.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("answered within 20 s");
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body_at = text.find("\r\n\r\n").map_or(answer.len(), |at| at + 4);
    (status, answer[body_at..].to_vec())
}
