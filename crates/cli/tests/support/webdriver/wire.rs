//! The wire under [`super::Browser`]: the chromedriver process, W3C requests over reqwest, and
//! a blocking request for `Drop` (which cannot await).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::{CHROMEDRIVER, CHROMIUM, POLL};

/// One WebDriver command (a page load included) may take this long on a busy machine.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// A WebDriver error answer.
#[derive(Debug)]
pub struct WdError {
    /// The W3C error code (`no such element`, `stale element reference`, …) or `http`.
    pub error: String,
    /// Its message.
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// A running chromedriver, shared by the sessions opened on it.
pub(super) struct Driver {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub(super) addr: String,
    pub(super) http: reqwest::Client,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free loopback port (three tries, in case another process takes
    /// the port between probing and binding) and waits (at most 30 s) until it is ready.
    pub(super) async fn start() -> Driver {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: run scripts/ensure-chromium (apt-get install chromium chromium-driver)"
            );
        }
        let http = super::super::http();
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("a temp dir for chromedriver");
            let log = dir.path().join("chromedriver.log");
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .arg("--log-level=WARNING")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so drop can end chromium with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
            let mut driver = Driver {
                child,
                addr: format!("127.0.0.1:{port}"),
                http: http.clone(),
                log,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if driver.ready().await {
                    return driver;
                }
                if let Ok(Some(status)) = driver.child.try_wait() {
                    last = format!("chromedriver exited ({status}): {}", driver.log_text());
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
            if last.is_empty() {
                last = format!("chromedriver not ready in 30 s: {}", driver.log_text());
            }
        }
        panic!("{last}");
    }

    async fn ready(&self) -> bool {
        let Ok(r) = self
            .http
            .get(format!("http://{}/status", self.addr))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        else {
            return false;
        };
        let body: Value = r.json().await.unwrap_or(Value::Null);
        body["value"]["ready"] == true
    }

    pub(super) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group holds chromedriver and the browsers it launched (sessions are deleted
        // first, by `Browser`'s drop; this ends whatever is left).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Sends one WebDriver request; the answer's `value`, or its error.
pub(super) async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WdError> {
    let mut request = http.request(method, url).timeout(COMMAND_TIMEOUT);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| WdError {
        error: "http".into(),
        message: e.to_string(),
    })?;
    let status = response.status();
    let text = response.text().await.map_err(|e| WdError {
        error: "http".into(),
        message: e.to_string(),
    })?;
    let mut answer: Value = serde_json::from_str(&text).map_err(|_| WdError {
        error: "http".into(),
        message: format!("{status}: {text}"),
    })?;
    let value = answer["value"].take();
    match value["error"].as_str() {
        Some(error) => Err(WdError {
            error: error.to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        }),
        None if !status.is_success() => Err(WdError {
            error: "http".into(),
            message: format!("{status}: {text}"),
        }),
        None => Ok(value),
    }
}

/// A bodiless request with plain blocking IO (for `Drop`, which cannot await). chromedriver
/// answers HTTP/1.1 with a `Content-Length` and may keep the connection open, so the body is
/// read by its length. `None` on any failure.
pub(super) fn blocking_request(addr: &str, method: &str, path: &str) -> Option<Value> {
    let to = addr.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    // Bounded: at most 64 MiB, each read at most 30 s.
    while raw.len() < 64 << 20 {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))?
                .trim()
                .parse()
                .ok()?;
            if raw.len() >= end + 4 + length {
                let mut answer: Value =
                    serde_json::from_slice(&raw[end + 4..end + 4 + length]).ok()?;
                return Some(answer["value"].take());
            }
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    None
}
