//! Identity and access (identity spec §2–§3): accounts, sessions with rotating refresh tokens,
//! organizations, invites, members and API tokens, and turning a presented credential into a
//! [`Principal`](crate::authz::Principal).
//!
//! Every decision that depends on time reads the app's clock, so tests drive expiry and the
//! refresh grace with a manual clock. Mail is written to the outbox in the same transaction as
//! the change that causes it and sent by the `email.send` job.

mod accounts;
mod api_tokens;
mod authenticate;
mod cache;
mod errors;
mod invites;
pub mod mail;
mod members;
mod orgs;
mod rate;
mod sessions;
mod setup;
mod views;

use std::net::IpAddr;
use std::sync::Arc;

use auth::keys::{MasterKey, MasterKeyError, ServerKeys};
use chrono::Duration;
use uuid::Uuid;

use crate::passwords::PasswordPool;

pub use accounts::{ForgotInput, LoginInput, PasswordChangeInput, RegisterInput, ResetInput};
pub use api_tokens::{CreatedToken, NewTokenInput, TokenView};
pub use authenticate::RateStatus;
pub use invites::{AcceptInput, InvitePreview, InviteView, NewInviteInput};
pub use members::{MemberView, TransferInput};
pub use sessions::SignedIn;
pub use setup::{NewUserInput, SetupInput};
pub use views::{Me, MembershipView, OrgView, Page, UserView};

/// Lifetime of a refresh token.
pub const REFRESH_TTL: Duration = Duration::days(30);
/// Absolute cap of a session (refresh family).
pub const SESSION_CAP: Duration = Duration::days(90);
/// The only grace of refresh rotation: the immediate predecessor, this long after it rotated.
pub const REFRESH_GRACE: Duration = Duration::seconds(10);
/// Email verification links.
pub const VERIFY_TTL: Duration = Duration::hours(24);
/// Password reset links.
pub const RESET_TTL: Duration = Duration::hours(1);
/// Invites.
pub const INVITE_TTL: Duration = Duration::hours(72);

/// Who may sign up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone; each sign-up creates a community org and its owner (SaaS).
    Open,
    /// Only by invitation (self-hosted once the first org exists).
    InviteOnly,
}

/// Identity settings.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The public URL: the JWT issuer, the CSRF origin and the base of mailed links.
    pub public_url: String,
    /// Who may sign up.
    pub registration: Registration,
    /// Keys derived from the master secret.
    pub keys: ServerKeys,
    /// How mail is delivered.
    pub mail: mail::Transport,
}

impl IdentityConfig {
    /// Settings with keys derived from `master`.
    pub fn new(
        public_url: &str,
        registration: Registration,
        master: &MasterKey,
    ) -> Result<Self, MasterKeyError> {
        let public_url = public_url.trim_end_matches('/').to_owned();
        Ok(Self {
            keys: ServerKeys::derive(master, &public_url)?,
            public_url,
            registration,
            mail: mail::Transport::Log,
        })
    }

    /// Settings with a fresh random master key, open registration and log mail. Every restart
    /// invalidates sessions and stored secrets: for tests and throwaway instances only.
    pub fn ephemeral(public_url: &str) -> Self {
        let master = MasterKey::from_base64(&MasterKey::generate_base64());
        match master.and_then(|m| Self::new(public_url, Registration::Open, &m)) {
            Ok(c) => c,
            // A generated 32-byte key always derives; anything else is a bug in this crate.
            Err(e) => unreachable!("ephemeral keys: {e}"),
        }
    }

    /// The origin (scheme, host, port) of the public URL, for CSRF checks.
    pub fn origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[after_scheme..].find('/') {
            Some(i) => &self.public_url[..after_scheme + i],
            None => &self.public_url,
        }
    }

    /// Whether the public URL is https (cookies get `Secure` and the `__Host-` prefix).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Facts about the calling client, from the server edge (identity spec §6.2).
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The derived client IP.
    pub ip: Option<IpAddr>,
    /// The User-Agent header (truncated).
    pub user_agent: Option<String>,
    /// A valid known-device id for this browser, if it sent one.
    pub device: Option<String>,
}

impl Client {
    fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// The identity layer's state: settings, the password pool, caches and in-memory buckets.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) config: IdentityConfig,
    pub(crate) passwords: PasswordPool,
    /// Access tokens whose signature and claims were checked, by their text (the clock is
    /// checked on every use): HMAC and two JSON parses per request were a tenth of `/auth/me`.
    pub(crate) access_tokens: cache::TtlCache<String, auth::access::AccessClaims>,
    pub(crate) sessions: cache::TtlCache<Uuid, store::identity::sessions::SessionView>,
    pub(crate) tokens: cache::TtlCache<String, store::identity::api_tokens::TokenAuth>,
    /// A user's row and memberships as `GET /auth/me` shows them: the SPA asks on every page
    /// load, and two queries per call made it a quarter of `/healthz`'s rate.
    pub(crate) accounts: cache::TtlCache<domain::UserId, std::sync::Arc<accounts::Account>>,
    pub(crate) buckets: rate::Buckets,
}

impl Identity {
    pub(crate) fn new(config: IdentityConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            passwords: PasswordPool::per_cpu(),
            access_tokens: cache::TtlCache::new(),
            sessions: cache::TtlCache::new(),
            tokens: cache::TtlCache::new(),
            accounts: cache::TtlCache::new(),
            buckets: rate::Buckets::default(),
        })
    }

    /// Drops every cached session, token and account: called after any change that can end
    /// access or alter what `/auth/me` shows (revocation, removal, role change, a new membership,
    /// a verified email, a new tier), so this replica sees it on the next request.
    pub(crate) fn invalidate(&self) {
        self.sessions.clear();
        self.tokens.clear();
        self.accounts.clear();
    }
}
