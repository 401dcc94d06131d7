//! Static files compiled into the binary, served at content-hashed URLs with immutable caching.
//!
//! Templates ask for `assets.url("css/app.css")` and get `/static/<hash>/css/app.css`; a new
//! release changes the hash, so browsers never use a stale file and never revalidate a current one.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/"]
#[exclude = "*.md"]
struct Embedded;

/// The hash of every embedded file.
#[derive(Debug, Default)]
pub(crate) struct Assets {
    hashes: HashMap<String, String>,
}

/// The embedded files are the same for every server in the process: hash them once.
pub(crate) fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(Assets::load)
}

impl Assets {
    fn load() -> Self {
        let hashes = Embedded::iter()
            .filter_map(|path| {
                let file = Embedded::get(&path)?;
                let digest = Sha256::digest(&file.data);
                Some((path.to_string(), hex::encode(&digest[..8])))
            })
            .collect();
        Self { hashes }
    }

    /// The cache-busting URL of an embedded file.
    pub(crate) fn url(&self, path: &str) -> String {
        match self.hashes.get(path) {
            Some(hash) => format!("/static/{hash}/{path}"),
            None => {
                tracing::error!(path, "template asks for an asset that is not embedded");
                format!("/static/missing/{path}")
            }
        }
    }
}

/// `GET /static/{hash}/{*path}`.
pub(crate) async fn serve(Path((hash, path)): Path<(String, String)>) -> Response {
    let (Some(expected), Some(file)) = (assets().hashes.get(&path), Embedded::get(&path)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = file.data.into_owned().into_response();
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime.as_ref())
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let cache = if *expected == hash {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
