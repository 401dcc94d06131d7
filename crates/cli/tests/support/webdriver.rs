//! A small W3C WebDriver client for the real-browser tests: headless Debian Chromium driven by
//! `chromedriver`, spoken to with reqwest (no WebDriver crate). Test code: every failure panics
//! with the command, the WebDriver error and the page's URL.
//!
//! `Browser::start()` runs one `chromedriver --port=<free port>` (its process group is killed on
//! drop) and opens a session with its own profile directory; `browser.new_context()` opens
//! another session on the same driver with another profile, so a second user has separate
//! cookies. Chromium gets only loopback: every host name but localhost resolves to nothing and
//! no proxy is used. Waits poll every 50 ms up to the given timeout — never a fixed sleep.
//! `screenshot_on_failure` leaves a PNG and the page source under
//! `target/tmp/browser-screenshots/` when the test panics.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/ensure-chromium`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of a web element reference in W3C answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// One WebDriver command (a page load included) may take this long on a busy machine.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(50);

/// A WebDriver error answer.
#[derive(Debug)]
pub struct WdError {
    /// The W3C error code (`no such element`, `stale element reference`, …) or `http`.
    pub error: String,
    /// Its message.
    pub message: String,
}

/// A running chromedriver, shared by the sessions opened on it.
struct Driver {
    child: Child,
    /// `127.0.0.1:<port>`.
    addr: String,
    http: reqwest::Client,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free loopback port (three tries, in case another process takes
    /// the port between probing and binding) and waits (at most 30 s) until it is ready.
    async fn start() -> Driver {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: run scripts/ensure-chromium (apt-get install chromium chromium-driver)"
            );
        }
        let http = super::http();
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

    fn log_text(&self) -> String {
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

/// One browser session: its own profile directory, so its own cookies and storage.
pub struct Browser {
    driver: Arc<Driver>,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium session.
    pub async fn start() -> Browser {
        let driver = Arc::new(Driver::start().await);
        Browser::open(driver).await
    }

    /// A second, independent browser (another user) on the same chromedriver.
    pub async fn new_context(&self) -> Browser {
        Browser::open(self.driver.clone()).await
    }

    async fn open(driver: Arc<Driver>) -> Browser {
        let profile = tempfile::tempdir().expect("a temp dir for the browser profile");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-default-apps".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-breakpad".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--no-proxy-server".to_owned(),
            // Loopback only: any other host name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"
                .to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 60_000, "script": 30_000},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let url = format!("http://{}/session", driver.addr);
        let answer = send(&driver.http, reqwest::Method::POST, &url, Some(caps)).await;
        let value = answer.unwrap_or_else(|e| {
            panic!(
                "new WebDriver session: {}: {}\nchromedriver log:\n{}",
                e.error,
                e.message,
                driver.log_text()
            )
        });
        let session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answer without sessionId: {value}"))
            .to_owned();
        Browser {
            driver,
            session,
            _profile: profile,
        }
    }

    /// Sends one command (`path` below `/session/{id}`); errors come back as values.
    pub async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        let url = format!("http://{}/session/{}{path}", self.driver.addr, self.session);
        send(&self.driver.http, method, &url, body).await
    }

    /// Sends one command and panics, with the page's URL, when it fails.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_cmd(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => {
                let at = self.url_or_unknown().await;
                panic!(
                    "WebDriver {method} {path}: {}: {} (page: {at})",
                    e.error, e.message
                )
            }
        }
    }

    async fn url_or_unknown(&self) -> String {
        match self.try_cmd(reqwest::Method::GET, "/url", None).await {
            Ok(Value::String(url)) => url,
            _ => "unknown".into(),
        }
    }

    /// Opens `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> String {
        let v = self.cmd(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The current page's HTML (as the DOM is now).
    pub async fn page_source(&self) -> String {
        let v = self.cmd(reqwest::Method::GET, "/source", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        let v = self.cmd(reqwest::Method::GET, "/title", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, without waiting (panics when there is none).
    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Ok(e) => e,
            Err(e) => {
                let at = self.url_or_unknown().await;
                panic!("no element {css:?} on {at}: {}", e.message)
            }
        }
    }

    async fn try_find(&self, css: &str) -> Result<Element<'_>, WdError> {
        let v = self
            .try_cmd(reqwest::Method::POST, "/element", Some(by_css(css)))
            .await?;
        Ok(self.element(&v))
    }

    /// Every element matching `css` (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self
            .cmd(reqwest::Method::POST, "/elements", Some(by_css(css)))
            .await;
        v.as_array()
            .map(|all| all.iter().map(|e| self.element(e)).collect())
            .unwrap_or_default()
    }

    fn element(&self, v: &Value) -> Element<'_> {
        let id = v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {v}"))
            .to_owned();
        Element { browser: self, id }
    }

    /// Waits (at most `timeout`) until an element matching `css` is displayed.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(e) = self.try_find(css).await
                && e.try_displayed().await.unwrap_or(false)
            {
                return e;
            }
            if Instant::now() >= deadline {
                return self
                    .give_up(&format!("a displayed element {css:?}"), timeout)
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (at most `timeout`) until an element matching `css` contains `needle` in its
    /// visible text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            for e in self.try_find_all(css).await {
                if e.try_text().await.is_ok_and(|t| t.contains(needle)) {
                    return e;
                }
            }
            if Instant::now() >= deadline {
                return self
                    .give_up(&format!("{css:?} containing {needle:?}"), timeout)
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn try_find_all(&self, css: &str) -> Vec<Element<'_>> {
        match self
            .try_cmd(reqwest::Method::POST, "/elements", Some(by_css(css)))
            .await
        {
            Ok(Value::Array(all)) => all.iter().map(|e| self.element(e)).collect(),
            _ => Vec::new(),
        }
    }

    /// Waits (at most `timeout`) until the current URL satisfies `ok`; returns it.
    pub async fn wait_for_url(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Value::String(url)) = self.try_cmd(reqwest::Method::GET, "/url", None).await
                && ok(&url)
            {
                return url;
            }
            if Instant::now() >= deadline {
                return self.give_up(&format!("a URL {what}"), timeout).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn give_up<T>(&self, what: &str, timeout: Duration) -> T {
        let at = self.url_or_unknown().await;
        let source = self
            .try_cmd(reqwest::Method::GET, "/source", None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        panic!(
            "timed out after {} s waiting for {what} on {at}; the page:\n{}",
            timeout.as_secs_f32(),
            visible_part(&source)
        )
    }

    /// Writes a PNG of the viewport to `target/tmp/browser-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writing the screenshot");
        path
    }

    /// A guard that, if the test panics while it lives, saves a screenshot and the page
    /// source as `target/tmp/browser-screenshots/<name>.{png,html}`.
    pub fn screenshot_on_failure(&self, name: &str) -> FailureShot<'_> {
        FailureShot {
            browser: self,
            name: name.to_owned(),
        }
    }

    fn blocking(&self, method: &str, path: &str) -> Option<Value> {
        let path = format!("/session/{}{path}", self.session);
        blocking_request(&self.driver.addr, method, &path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session, which quits its Chromium (drop cannot await: plain blocking HTTP).
        let _ = self.blocking("DELETE", "");
    }
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl<'a> Element<'a> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Clicks it (scrolled into view first by the driver).
    pub async fn click(&self) {
        self.browser
            .cmd(reqwest::Method::POST, &self.path("/click"), Some(json!({})))
            .await;
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) {
        self.browser
            .cmd(
                reqwest::Method::POST,
                &self.path("/value"),
                Some(json!({ "text": text })),
            )
            .await;
    }

    /// Empties an input, then types `text`.
    pub async fn fill(&self, text: &str) {
        self.browser
            .cmd(reqwest::Method::POST, &self.path("/clear"), Some(json!({})))
            .await;
        self.send_keys(text).await;
    }

    /// Its visible text.
    pub async fn text(&self) -> String {
        let v = self
            .browser
            .cmd(reqwest::Method::GET, &self.path("/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn try_text(&self) -> Result<String, WdError> {
        let v = self
            .browser
            .try_cmd(reqwest::Method::GET, &self.path("/text"), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    async fn try_displayed(&self) -> Result<bool, WdError> {
        let v = self
            .browser
            .try_cmd(reqwest::Method::GET, &self.path("/displayed"), None)
            .await?;
        Ok(v == true)
    }

    /// A DOM property (`value`, `checked`, …), `Null` when unset.
    pub async fn property(&self, name: &str) -> Value {
        self.browser
            .cmd(
                reqwest::Method::GET,
                &self.path(&format!("/property/{name}")),
                None,
            )
            .await
    }

    /// An HTML attribute, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .cmd(
                reqwest::Method::GET,
                &self.path(&format!("/attribute/{name}")),
                None,
            )
            .await;
        v.as_str().map(str::to_owned)
    }

    /// The first descendant matching `css` (panics when there is none).
    pub async fn find(&self, css: &str) -> Element<'a> {
        let v = self
            .browser
            .cmd(
                reqwest::Method::POST,
                &self.path("/element"),
                Some(by_css(css)),
            )
            .await;
        self.browser.element(&v)
    }

    /// Every descendant matching `css`.
    pub async fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        let v = self
            .browser
            .cmd(
                reqwest::Method::POST,
                &self.path("/elements"),
                Some(by_css(css)),
            )
            .await;
        v.as_array()
            .map(|all| all.iter().map(|e| self.browser.element(e)).collect())
            .unwrap_or_default()
    }
}

/// See [`Browser::screenshot_on_failure`].
pub struct FailureShot<'a> {
    browser: &'a Browser,
    name: String,
}

impl Drop for FailureShot<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // Never panic here (a panic while unwinding aborts): report and go on.
        let dir = screenshot_dir();
        if let Some(png) = self
            .browser
            .blocking("GET", "/screenshot")
            .and_then(|v| v.as_str().map(str::to_owned))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        {
            let path = dir.join(format!("{}.png", self.name));
            if std::fs::write(&path, png).is_ok() {
                eprintln!("browser screenshot: {}", path.display());
            }
        }
        if let Some(html) = self
            .browser
            .blocking("GET", "/source")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            let path = dir.join(format!("{}.html", self.name));
            if std::fs::write(&path, html).is_ok() {
                eprintln!("browser page source: {}", path.display());
            }
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn by_css(css: &str) -> Value {
    json!({"using": "css selector", "value": css})
}

/// The `<main>` of a page when it has one (what a failure message needs), else all of it.
fn visible_part(html: &str) -> &str {
    match (html.find("<main"), html.find("</main>")) {
        (Some(a), Some(b)) if a < b => &html[a..b + 7],
        _ => html,
    }
}

/// Sends one WebDriver request; the answer's `value`, or its error.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
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
fn blocking_request(addr: &str, method: &str, path: &str) -> Option<Value> {
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
