//! Route declarations: every route states who may call it, and the router cannot be built
//! without that statement.
//!
//! [`Routes`] is the only way to add a route. Each registration takes an [`Access`] —
//! `{auth, rule, csrf}` as in identity spec §3.3 — records it in the [`RouteTable`] (used by the
//! checked-in route snapshot test and, later, the generated authorization matrix test) and wraps
//! the route in [`enforce`], which runs the check before any extractor reads the body. Handlers
//! that act on an org additionally take [`crate::Auth<P>`], so the permission is also visible in
//! their signature and handed to the `app` service as a capability.

use std::fmt;

use app::authz::{self, Credential, Principal};
use app::{AppError, ErrorKind};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use domain::{Permission, PermissionMarker};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::authn::{Csrf, Refused};
use crate::{ApiError, AppState};

/// How the caller must be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// No credential needed.
    Public,
    /// A session (browser cookie or bearer access token).
    Session,
    /// An API token.
    Token,
    /// A session or an API token.
    SessionOrToken,
    /// A platform admin's session.
    Platform,
}

/// What the authenticated caller must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Nothing beyond authentication (public and orgless-allowed routes only).
    None,
    /// Membership of the session's org, without a specific permission (e.g. leaving the org).
    AnyMember,
    /// A permission, checked against the live role (and the token's scopes).
    Permission(Permission),
}

/// A route's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Authentication.
    pub auth: AuthKind,
    /// Authorization.
    pub rule: Rule,
    /// Whether cookie-authenticated unsafe requests need a CSRF token.
    pub csrf: bool,
    /// A page that sends a GET without any usable credential to the sign-in page (303 to
    /// `/signin?next=<this URL>`) instead of answering 401: people open such pages from links
    /// and bookmarks, and should land back on them after signing in.
    pub signin_redirect: bool,
}

impl Access {
    /// Anyone may call it.
    pub const fn public() -> Self {
        Access {
            auth: AuthKind::Public,
            rule: Rule::None,
            csrf: false,
            signin_redirect: false,
        }
    }

    /// A member holding `P`, by session or API token.
    pub const fn member<P: PermissionMarker>() -> Self {
        Access {
            auth: AuthKind::SessionOrToken,
            rule: Rule::Permission(P::PERMISSION),
            csrf: true,
            signin_redirect: false,
        }
    }

    /// A member holding `P`, by session only (API tokens refused).
    pub const fn session<P: PermissionMarker>() -> Self {
        Access {
            auth: AuthKind::Session,
            rule: Rule::Permission(P::PERMISSION),
            csrf: true,
            signin_redirect: false,
        }
    }

    /// A page for members holding `P`, by session only; anonymous visitors are sent to sign in
    /// and come back here afterwards.
    pub const fn page<P: PermissionMarker>() -> Self {
        Access {
            signin_redirect: true,
            ..Access::session::<P>()
        }
    }

    /// Any member of the session's org.
    pub const fn any_member() -> Self {
        Access {
            auth: AuthKind::Session,
            rule: Rule::AnyMember,
            csrf: true,
            signin_redirect: false,
        }
    }

    /// Any session or API token, even without an org (`/auth/me`).
    pub const fn authenticated() -> Self {
        Access {
            auth: AuthKind::SessionOrToken,
            rule: Rule::None,
            csrf: true,
            signin_redirect: false,
        }
    }

    /// Any signed-in user, even without an org (orgless-allowed routes).
    pub const fn signed_in() -> Self {
        Access {
            auth: AuthKind::Session,
            rule: Rule::None,
            csrf: true,
            signin_redirect: false,
        }
    }

    /// A platform admin holding platform permission `P` (sessions only).
    pub const fn platform<P: PermissionMarker>() -> Self {
        Access {
            auth: AuthKind::Platform,
            rule: Rule::Permission(P::PERMISSION),
            csrf: true,
            signin_redirect: false,
        }
    }

    /// Runs the declared checks for `principal`.
    pub fn check(&self, principal: Option<&Principal>) -> Result<(), AppError> {
        if self.auth == AuthKind::Public {
            return Ok(());
        }
        let p = principal.ok_or_else(authz::unauthenticated)?;
        let credential_ok = matches!(
            (self.auth, &p.credential),
            (AuthKind::Public | AuthKind::SessionOrToken, _)
                | (AuthKind::Session | AuthKind::Platform, Credential::Session)
                | (AuthKind::Token, Credential::ApiToken { .. })
        );
        if !credential_ok {
            return Err(AppError::new(
                ErrorKind::Unauthenticated,
                "unauthenticated",
                "This endpoint does not accept this kind of credential.",
            ));
        }
        match self.rule {
            Rule::None => Ok(()),
            Rule::AnyMember => p.org().map(|_| ()),
            Rule::Permission(permission) => authz::check(Some(p), permission).map(|_| ()),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.auth {
            AuthKind::Public => "public",
            AuthKind::Session => "session",
            AuthKind::Token => "token",
            AuthKind::SessionOrToken => "session_or_token",
            AuthKind::Platform => "platform",
        };
        match self.rule {
            Rule::None => write!(f, "{auth}"),
            Rule::AnyMember => write!(f, "{auth} any_member"),
            Rule::Permission(p) => write!(f, "{auth} {p}"),
        }?;
        if self.csrf && self.auth != AuthKind::Public {
            write!(f, " csrf")?;
        }
        if self.signin_redirect {
            write!(f, " signin_redirect")?;
        }
        Ok(())
    }
}

/// Which surface a route belongs to: it decides how errors are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON API (documented in OpenAPI).
    Api,
    /// Machine endpoints outside the API document (metrics, the document itself).
    Machine,
    /// Server-rendered HTML.
    Web,
}

impl Surface {
    /// `api`, `machine` or `web`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Surface::Api => "api",
            Surface::Machine => "machine",
            Surface::Web => "web",
        }
    }
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDecl {
    /// HTTP method.
    pub method: Method,
    /// Path template, e.g. `/api/v1/org/members/{user_id}`.
    pub path: String,
    /// Its declaration.
    pub access: Access,
    /// API, machine or web.
    pub surface: Surface,
}

/// Every route of the server with its declaration.
#[derive(Debug, Clone, Default)]
pub struct RouteTable(Vec<RouteDecl>);

impl RouteTable {
    /// The routes, sorted by path then method.
    pub fn routes(&self) -> &[RouteDecl] {
        &self.0
    }

    /// One line per route (`GET /healthz public [api]`), the format of the checked-in snapshot.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} [{}]\n",
                    r.method,
                    r.path,
                    r.access,
                    r.surface.as_str()
                )
            })
            .collect()
    }
}

/// The route builder: the only way to add routes to the server.
pub struct Routes {
    api: OpenApiRouter<AppState>,
    other: Router<AppState>,
    table: Vec<RouteDecl>,
}

fn methods_of(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.put.is_some(), Method::PUT),
        (item.post.is_some(), Method::POST),
        (item.delete.is_some(), Method::DELETE),
        (item.options.is_some(), Method::OPTIONS),
        (item.head.is_some(), Method::HEAD),
        (item.patch.is_some(), Method::PATCH),
        (item.trace.is_some(), Method::TRACE),
    ]
    .into_iter()
    .filter_map(|(present, m)| present.then_some(m))
    .collect()
}

impl Routes {
    /// Starts from the API document's metadata.
    pub fn new(openapi: OpenApi) -> Self {
        Self {
            api: OpenApiRouter::with_openapi(openapi),
            other: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds documented API operations (from `utoipa_axum::routes!`) under a declaration.
    pub fn api(
        mut self,
        access: Access,
        (schemas, paths, method_router): UtoipaMethodRouter<AppState>,
    ) -> Self {
        for (path, item) in &paths.paths {
            for method in methods_of(item) {
                self.table.push(RouteDecl {
                    method,
                    path: path.clone(),
                    access,
                    surface: Surface::Api,
                });
            }
        }
        self.api = self
            .api
            .routes((schemas, paths, guard(access, method_router)));
        self
    }

    /// Adds an undocumented route (a web page or a machine endpoint) under a declaration.
    pub fn route(
        mut self,
        surface: Surface,
        method: Method,
        path: &str,
        access: Access,
        method_router: MethodRouter<AppState>,
    ) -> Self {
        self.table.push(RouteDecl {
            method,
            path: path.to_owned(),
            access,
            surface,
        });
        self.other = self.other.route(path, guard(access, method_router));
        self
    }

    /// The assembled router, the API document and the route table.
    pub fn finish(mut self) -> (Router<AppState>, OpenApi, RouteTable) {
        let (api, openapi) = self.api.split_for_parts();
        self.table
            .sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
        (api.merge(self.other), openapi, RouteTable(self.table))
    }
}

/// Wraps a route in its declared check; public routes have nothing to check and stay unwrapped.
fn guard(access: Access, method_router: MethodRouter<AppState>) -> MethodRouter<AppState> {
    if access.auth == AuthKind::Public {
        return method_router;
    }
    method_router.route_layer(middleware::from_fn_with_state(access, enforce))
}

/// Runs a route's declared check before its handler (and before any body is read): the
/// credential (with the reason a presented one was refused), the rule, then CSRF for
/// cookie-authenticated unsafe requests.
async fn enforce(State(access): State<Access>, request: Request, next: Next) -> Response {
    let principal = request.extensions().get::<Principal>();
    if principal.is_none() && access.signin_redirect && request.method() == Method::GET {
        return signin_redirect(request.uri());
    }
    if principal.is_none()
        && let Some(Refused(e)) = request.extensions().get::<Refused>()
    {
        return ApiError(e.clone()).into_response();
    }
    if let Err(e) = access.check(principal) {
        return ApiError(e).into_response();
    }
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let csrf = request.extensions().get::<Csrf>().cloned();
    match csrf {
        Some(csrf) if access.csrf && unsafe_method => match check_csrf(&csrf, request).await {
            Ok(request) => next.run(request).await,
            Err(e) => ApiError(e).into_response(),
        },
        _ => next.run(request).await,
    }
}

/// 303 to the sign-in page with `next` = the requested path and query (a local path, so the
/// sign-in page's own `next` check accepts it).
fn signin_redirect(uri: &axum::http::Uri) -> Response {
    let here = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let query = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
    let mut response = axum::http::StatusCode::SEE_OTHER.into_response();
    let location = axum::http::HeaderValue::from_str(&format!("/signin?{query}"))
        .unwrap_or(axum::http::HeaderValue::from_static("/signin"));
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn csrf_failed(why: &str) -> AppError {
    AppError::new(
        ErrorKind::Forbidden,
        "csrf_failed",
        format!(
            "The request failed the cross-site request check ({why}); reload the page and try again."
        ),
    )
}

/// Form bodies larger than this cannot carry a CSRF field we read.
const FORM_LIMIT: usize = 64 * 1024;

/// Origin (or Referer) must be the public origin, and the synchronizer token must match,
/// from the `X-CSRF-Token` header or a `csrf_token` form field.
async fn check_csrf(csrf: &Csrf, request: Request) -> Result<Request, AppError> {
    let headers = request.headers();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            let referer = headers.get(header::REFERER)?.to_str().ok()?;
            let after = referer.find("://")? + 3;
            let end = referer[after..]
                .find('/')
                .map_or(referer.len(), |i| after + i);
            Some(referer[..end].to_owned())
        });
    match origin {
        None => return Err(csrf_failed("no Origin or Referer header")),
        Some(o) if o != csrf.origin => return Err(csrf_failed("cross-origin request")),
        Some(_) => {}
    }
    if let Some(token) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return if constant_eq(token, &csrf.token) {
            Ok(request)
        } else {
            Err(csrf_failed("wrong token"))
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(csrf_failed("no token"));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| csrf_failed("form too large"))?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let ok = fields
        .iter()
        .any(|(k, v)| k == "csrf_token" && constant_eq(v, &csrf.token));
    if !ok {
        return Err(csrf_failed("wrong or missing token"));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::permission::marker;
    use domain::{OrgId, Role, UserId};

    fn principal(role: Option<Role>, credential: Credential, platform_admin: bool) -> Principal {
        Principal {
            user_id: UserId::new(),
            membership: role.map(|r| (OrgId::new(), r)),
            platform_admin,
            credential,
            credential_id: uuid::Uuid::nil(),
        }
    }

    fn status(access: Access, p: Option<&Principal>) -> Option<ErrorKind> {
        access.check(p).err().map(|e| e.kind)
    }

    #[test]
    fn declarations_enforce_authentication_kind_and_permission() {
        let viewer = principal(Some(Role::Viewer), Credential::Session, false);
        let admin = principal(Some(Role::Admin), Credential::Session, false);
        let token = principal(
            Some(Role::Admin),
            Credential::ApiToken {
                scopes: vec![Permission::MembersRead],
            },
            false,
        );
        let platform = principal(None, Credential::Session, true);
        let orgless = principal(None, Credential::Session, false);

        assert_eq!(status(Access::public(), None), None);
        let remove = Access::member::<marker::MembersRemove>();
        assert_eq!(status(remove, None), Some(ErrorKind::Unauthenticated));
        assert_eq!(status(remove, Some(&viewer)), Some(ErrorKind::Forbidden));
        assert_eq!(status(remove, Some(&admin)), None);
        assert_eq!(
            status(remove, Some(&token)),
            Some(ErrorKind::Forbidden),
            "not in scopes"
        );
        assert_eq!(
            status(Access::member::<marker::MembersRead>(), Some(&token)),
            None
        );
        assert_eq!(
            status(Access::session::<marker::MembersRead>(), Some(&token)),
            Some(ErrorKind::Unauthenticated)
        );
        let flags = Access::platform::<marker::PlatformFeatureFlags>();
        assert_eq!(status(flags, Some(&platform)), None);
        assert_eq!(status(flags, Some(&admin)), Some(ErrorKind::Forbidden));
        assert_eq!(
            status(Access::any_member(), Some(&orgless)),
            Some(ErrorKind::Forbidden)
        );
        assert_eq!(status(Access::signed_in(), Some(&orgless)), None);
    }

    #[test]
    fn declarations_render_for_the_snapshot() {
        assert_eq!(Access::public().to_string(), "public");
        assert_eq!(
            Access::member::<marker::AuditRead>().to_string(),
            "session_or_token audit:read csrf"
        );
        assert_eq!(
            Access::platform::<marker::PlatformOrgs>().to_string(),
            "platform platform:orgs csrf"
        );
    }
}
