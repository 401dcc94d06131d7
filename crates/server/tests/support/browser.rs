//! A browser for web-page tests: a cookie jar, its own client address, forms posted with our
//! `Origin`, and the answer's HTML.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use tower::ServiceExt;

use super::PUBLIC;

/// One answer, with the body as text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The value of the first hidden `csrf_token` field.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no csrf_token field in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    pub fn has(&self, text: &str) -> bool {
        self.html.contains(text)
    }
}

/// A browser: a cookie jar and its own client address.
pub struct Browser<'a> {
    router: &'a Router,
    jar: BTreeMap<String, String>,
    ip: [u8; 4],
}

impl<'a> Browser<'a> {
    /// A browser at `ip` signed in as `email` through the sign-in form (session cookies set).
    pub async fn signed_in(router: &'a Router, ip: [u8; 4], email: &str) -> Browser<'a> {
        let mut b = Browser::new(router, ip);
        let form = b.get("/signin").await;
        let token = form.csrf();
        let done = b
            .post(
                "/signin",
                &[
                    ("csrf_token", token.as_str()),
                    ("email", email),
                    ("password", super::PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert!(b.cookie("dh_at").is_some(), "session cookies set");
        b
    }

    pub fn new(router: &'a Router, ip: [u8; 4]) -> Self {
        Self {
            router,
            jar: BTreeMap::new(),
            ip,
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        origin: Option<&str>,
    ) -> Page {
        self.send_with(method, path, form, origin, &[]).await
    }

    /// [`Browser::send`] with extra request headers (e.g. `HX-Request` for htmx).
    pub async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        origin: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        if let Some(o) = origin {
            builder = builder.header(header::ORIGIN, o);
        }
        let body = match form {
            Some(f) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f)
            }
            None => Body::empty(),
        };
        let mut request = builder.body(body).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((self.ip, 40000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = to_bytes(response.into_body(), 4 << 20).await.unwrap();
        Page {
            status,
            headers,
            html: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, None).await
    }

    /// Posts a form as a browser on our site does (with our `Origin`).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(Method::POST, path, Some(body), Some(PUBLIC))
            .await
    }
}
