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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

mod wire;

pub use wire::WdError;
use wire::{Driver, blocking_request, send};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of a web element reference in W3C answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL: Duration = Duration::from_millis(50);

/// Chromium's flags besides the profile: headless, no first-run or background traffic, no proxy,
/// and a resolver that fails every host name but localhost (the tests use loopback only).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--window-size=1280,1000",
];

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
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 60_000, "script": 30_000},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let url = format!("http://{}/session", driver.addr);
        let value = send(&driver.http, Method::POST, &url, Some(caps))
            .await
            .unwrap_or_else(|e| {
                let log = driver.log_text();
                panic!("new WebDriver session: {e}\nchromedriver log:\n{log}")
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
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        let url = format!("http://{}/session/{}{path}", self.driver.addr, self.session);
        send(&self.driver.http, method, &url, body).await
    }

    /// Sends one command and panics, with the page's URL, when it fails.
    pub async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.try_cmd(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => {
                let at = self.url_or_unknown().await;
                panic!("WebDriver {method} {path}: {e} (page: {at})")
            }
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.cmd(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(Method::POST, path, Some(body)).await
    }

    async fn url_or_unknown(&self) -> String {
        match self.try_cmd(Method::GET, "/url", None).await {
            Ok(Value::String(url)) => url,
            _ => "unknown".into(),
        }
    }

    /// Opens `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> String {
        string(self.get("/url").await)
    }

    /// The current page's HTML (as the DOM is now).
    pub async fn page_source(&self) -> String {
        string(self.get("/source").await)
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        string(self.get("/title").await)
    }

    /// The first element matching `css`, without waiting (panics when there is none).
    pub async fn find(&self, css: &str) -> Element<'_> {
        self.element(&self.post("/element", by_css(css)).await)
    }

    /// Every element matching `css` (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.elements(&self.post("/elements", by_css(css)).await)
    }

    fn element(&self, v: &Value) -> Element<'_> {
        let id = v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {v}"));
        Element {
            browser: self,
            path: format!("/element/{id}"),
        }
    }

    fn elements(&self, v: &Value) -> Vec<Element<'_>> {
        let all = v.as_array().map(Vec::as_slice).unwrap_or_default();
        all.iter().map(|e| self.element(e)).collect()
    }

    /// Elements matching `css` now, none on any error (a page in the middle of loading).
    async fn poll_all(&self, css: &str) -> Vec<Element<'_>> {
        match self
            .try_cmd(Method::POST, "/elements", Some(by_css(css)))
            .await
        {
            Ok(v) => self.elements(&v),
            Err(_) => Vec::new(),
        }
    }

    /// Waits (at most `timeout`) until an element matching `css` is displayed.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            for e in self.poll_all(css).await {
                if e.try_get("/displayed").await.is_ok_and(|v| v == true) {
                    return e;
                }
            }
            if Instant::now() >= deadline {
                return self.give_up(&format!("a displayed {css:?}"), timeout).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (at most `timeout`) until an element matching `css` has `needle` in its visible
    /// text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            for e in self.poll_all(css).await {
                if let Ok(Value::String(text)) = e.try_get("/text").await
                    && text.contains(needle)
                {
                    return e;
                }
            }
            if Instant::now() >= deadline {
                let what = format!("{css:?} containing {needle:?}");
                return self.give_up(&what, timeout).await;
            }
            tokio::time::sleep(POLL).await;
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
            if let Ok(Value::String(url)) = self.try_cmd(Method::GET, "/url", None).await
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
        let source = match self.try_cmd(Method::GET, "/source", None).await {
            Ok(v) => string(v),
            Err(e) => format!("(no page source: {e})"),
        };
        let secs = timeout.as_secs_f32();
        let page = main_part(&source);
        panic!("timed out after {secs} s waiting for {what} on {at}; the page:\n{page}")
    }

    /// Writes a PNG of the viewport to `target/tmp/browser-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = STANDARD
            .decode(string(self.get("/screenshot").await))
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
    /// `/element/{id}`.
    path: String,
}

impl<'a> Element<'a> {
    async fn get(&self, rest: &str) -> Value {
        self.browser.get(&format!("{}{rest}", self.path)).await
    }

    async fn post(&self, rest: &str, body: Value) -> Value {
        self.browser
            .post(&format!("{}{rest}", self.path), body)
            .await
    }

    async fn try_get(&self, rest: &str) -> Result<Value, WdError> {
        let path = format!("{}{rest}", self.path);
        self.browser.try_cmd(Method::GET, &path, None).await
    }

    /// Clicks it (the driver scrolls it into view first).
    pub async fn click(&self) {
        self.post("/click", json!({})).await;
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) {
        self.post("/value", json!({ "text": text })).await;
    }

    /// Empties an input, then types `text`.
    pub async fn fill(&self, text: &str) {
        self.post("/clear", json!({})).await;
        self.send_keys(text).await;
    }

    /// Its visible text.
    pub async fn text(&self) -> String {
        string(self.get("/text").await)
    }

    /// A DOM property (`value`, `checked`, …), `Null` when unset.
    pub async fn property(&self, name: &str) -> Value {
        self.get(&format!("/property/{name}")).await
    }

    /// An HTML attribute, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self.get(&format!("/attribute/{name}")).await;
        v.as_str().map(str::to_owned)
    }

    /// The first descendant matching `css` (panics when there is none).
    pub async fn find(&self, css: &str) -> Element<'a> {
        let v = self.post("/element", by_css(css)).await;
        self.browser.element(&v)
    }

    /// Every descendant matching `css`.
    pub async fn find_all(&self, css: &str) -> Vec<Element<'a>> {
        let v = self.post("/elements", by_css(css)).await;
        self.browser.elements(&v)
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
            .and_then(|b64| STANDARD.decode(b64).ok())
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

fn string(v: Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn by_css(css: &str) -> Value {
    json!({"using": "css selector", "value": css})
}

/// The `<main>` of a page when it has one (what a failure message needs), else all of it.
fn main_part(html: &str) -> &str {
    match (html.find("<main"), html.find("</main>")) {
        (Some(a), Some(b)) if a < b => &html[a..b + 7],
        _ => html,
    }
}
