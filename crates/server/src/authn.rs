//! Authentication of every request (identity spec §2.2, §8.2): finds the credential (bearer
//! header, or the access cookie of the web UI), asks `app` for the principal, and leaves the
//! outcome in the request for the route guard. Public routes never fail because of a stale
//! credential; guarded routes answer with the precise reason (`invalid_token`,
//! `session_revoked`, 402, 429).
//!
//! A cookie request whose access token has expired while its refresh cookie is live is
//! rotated transparently and the new cookies are set on the response; parallel requests doing
//! the same are covered by the refresh grace.

use app::AppError;
use app::authz::Principal;
use app::identity::{Client, RateStatus, SignedIn};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, ORIGIN, REFERER, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::client_ip::ClientIp;

/// How the principal was authenticated (CSRF applies to cookies only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// `Authorization` header.
    Header,
    /// The web UI's cookie.
    Cookie,
}

/// What a cookie-authenticated unsafe request must present (identity spec §8.2).
#[derive(Debug, Clone)]
pub(crate) struct Csrf {
    /// The synchronizer token for this session.
    pub token: String,
    /// The public URL's origin.
    pub origin: String,
}

/// The synchronizer token of a session: HMAC(csrf key, sid).
pub(crate) fn csrf_token(state: &AppState, sid: uuid::Uuid) -> String {
    state
        .app
        .identity_config()
        .keys
        .csrf
        .sign(&[b"csrf", sid.as_bytes()])
}

/// Why a presented credential was refused (kept for guarded routes).
#[derive(Debug, Clone)]
pub(crate) struct Refused(pub AppError);

/// The cookie names: `__Host-` and `Secure` need https; plain-http dev installs drop both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieNames {
    pub access: &'static str,
    pub refresh: &'static str,
    pub pre: &'static str,
    pub secure: bool,
}

pub(crate) fn cookie_names(state: &AppState) -> CookieNames {
    if state.app.identity_config().is_https() {
        CookieNames {
            access: "__Host-dh_at",
            refresh: "__Host-dh_rt",
            pre: "__Host-dh_pre",
            secure: true,
        }
    } else {
        CookieNames {
            access: "dh_at",
            refresh: "dh_rt",
            pre: "dh_pre",
            secure: false,
        }
    }
}

/// The value of cookie `name`, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure on https.
pub(crate) fn set_cookie(
    names: CookieNames,
    name: &str,
    value: &str,
    max_age_s: i64,
) -> HeaderValue {
    let secure = if names.secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookies of a new token pair.
pub(crate) fn session_cookies(names: CookieNames, signed: &SignedIn) -> [HeaderValue; 2] {
    [
        set_cookie(names, names.access, &signed.access_token, signed.expires_in),
        set_cookie(
            names,
            names.refresh,
            &signed.refresh_token,
            app::identity::REFRESH_TTL.num_seconds(),
        ),
    ]
}

/// The cookies that end a browser session.
pub(crate) fn clear_cookies(names: CookieNames) -> [HeaderValue; 2] {
    [
        set_cookie(names, names.access, "", 0),
        set_cookie(names, names.refresh, "", 0),
    ]
}

/// The pre-session cookie of the anonymous forms (identity spec §8.2): a browser session
/// cookie (no `Max-Age`) holding a random value, from which the forms' token is derived.
pub(crate) fn pre_cookie(names: CookieNames, value: &str) -> HeaderValue {
    let secure = if names.secure { "; Secure" } else { "" };
    let v = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}",
        names.pre
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A pre-session cookie value we issued: 32 random bytes, hex.
fn is_pre_value(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The form token of pre-session value `value`: HMAC(csrf key, "pre", value).
fn pre_token(state: &AppState, value: &str) -> String {
    state
        .app
        .identity_config()
        .keys
        .csrf
        .sign(&[b"pre", value.as_bytes()])
}

/// The token to render in an anonymous form, and the `Set-Cookie` to send when the browser
/// has no (well-formed) pre-session cookie yet. An existing cookie is kept, so several open
/// tabs stay valid.
pub(crate) fn pre_session(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let names = cookie_names(state);
    match cookie(headers, names.pre).filter(|v| is_pre_value(v)) {
        Some(value) => (pre_token(state, value), None),
        None => {
            let value = hex::encode(rand::random::<[u8; 32]>());
            (pre_token(state, &value), Some(pre_cookie(names, &value)))
        }
    }
}

/// The origin of a request (`Origin`, or the origin part of `Referer`); `None` when neither
/// header is sent or the browser sent `Origin: null` without a `Referer`.
pub(crate) fn request_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null");
    if let Some(o) = origin {
        return Some(o.to_owned());
    }
    let referer = headers.get(REFERER)?.to_str().ok()?;
    let after = referer.find("://")? + 3;
    let end = referer[after..]
        .find('/')
        .map_or(referer.len(), |i| after + i);
    Some(referer[..end].to_owned())
}

fn csrf_failed(why: &str) -> AppError {
    AppError::new(
        app::ErrorKind::Forbidden,
        "csrf_failed",
        format!("The form could not be verified ({why}); reload the page and try again."),
    )
}

/// Checks an anonymous form (identity spec §8.2): `token` must be derived from this browser's
/// pre-session cookie, and a request origin, when the browser states one, must be ours.
///
/// A page whose URL carries a token is served with `Referrer-Policy: no-referrer`, and
/// browsers then send `Origin: null` and no `Referer` with its form posts; such a request is
/// judged by the token alone, which a cross-site page cannot know (it is bound to an HttpOnly
/// cookie). Any stated foreign origin is refused.
pub(crate) fn check_pre_session(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), AppError> {
    if let Some(origin) = request_origin(headers)
        && origin != state.app.identity_config().origin()
    {
        return Err(csrf_failed("cross-origin request"));
    }
    let names = cookie_names(state);
    let value = cookie(headers, names.pre)
        .filter(|v| is_pre_value(v))
        .ok_or_else(|| csrf_failed("no pre-session cookie"))?;
    if token.is_empty()
        || !state
            .app
            .identity_config()
            .keys
            .csrf
            .verify(&[b"pre", value.as_bytes()], token)
    {
        return Err(csrf_failed("wrong or missing token"));
    }
    Ok(())
}

/// The calling client as `app` needs it.
pub(crate) fn client(headers: &HeaderMap, ip: Option<ClientIp>) -> Client {
    Client {
        ip: ip.and_then(ClientIp::ip),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        device: None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The authentication middleware.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let names = cookie_names(&state);
    let ip = request.extensions().get::<ClientIp>().copied();
    let mut rate: Option<RateStatus> = None;
    let mut renewed: Option<SignedIn> = None;
    let outcome: Option<(Result<Principal, AppError>, Via)> = if let Some(token) = bearer(headers) {
        let result = if token.starts_with("dhp_") {
            state
                .app
                .authenticate_api_token(token, &client(headers, ip))
                .await
                .map(|(p, r)| {
                    rate = Some(r);
                    p
                })
        } else {
            state.app.authenticate_access(token).await
        };
        Some((result, Via::Header))
    } else if let Some(jwt) = cookie(headers, names.access).filter(|v| !v.is_empty()) {
        let mut result = state.app.authenticate_access(jwt).await;
        if result.is_err()
            && let Some(rt) = cookie(headers, names.refresh).filter(|v| !v.is_empty())
            && let Ok(signed) = state.app.refresh(rt, &client(headers, ip)).await
        {
            result = state.app.authenticate_access(&signed.access_token).await;
            renewed = Some(signed);
        }
        Some((result, Via::Cookie))
    } else if let Some(rt) = cookie(headers, names.refresh).filter(|v| !v.is_empty()) {
        // The access cookie expired and the browser dropped it; the refresh cookie is live.
        match state.app.refresh(rt, &client(headers, ip)).await {
            Ok(signed) => {
                let result = state.app.authenticate_access(&signed.access_token).await;
                renewed = Some(signed);
                Some((result, Via::Cookie))
            }
            Err(_) => None,
        }
    } else {
        None
    };
    match outcome {
        Some((Ok(principal), via)) => {
            if via == Via::Cookie {
                request.extensions_mut().insert(Csrf {
                    token: csrf_token(&state, principal.credential_id),
                    origin: state.app.identity_config().origin().to_owned(),
                });
            }
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(via);
        }
        Some((Err(e), _)) => {
            request.extensions_mut().insert(Refused(e));
        }
        None => {}
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if let Some(r) = rate {
        h.insert("x-ratelimit-limit", HeaderValue::from(r.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(r.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(r.reset_s));
    }
    if let Some(signed) = renewed {
        for c in session_cookies(names, &signed) {
            h.append(SET_COOKIE, c);
        }
    }
    response
}
