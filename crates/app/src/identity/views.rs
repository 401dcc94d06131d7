//! What the identity services return: plain serializable views (no hashes, no secrets).

use chrono::{DateTime, Utc};
use domain::{OrgId, Permission, Role, Tier, UserId};
use serde::Serialize;
use store::identity::orgs::Org;
use store::identity::users::User;
use uuid::Uuid;

/// A user as shown to themselves and their org.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    /// Id.
    pub id: UserId,
    /// Email as typed.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Platform admin flag (read-only everywhere but the CLI).
    pub is_platform_admin: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            email_verified: u.email_verified_at.is_some(),
            is_platform_admin: u.is_platform_admin,
        }
    }
}

/// An organization.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrgView {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Tier.
    pub tier: Tier,
}

impl From<&Org> for OrgView {
    fn from(o: &Org) -> Self {
        Self {
            id: o.id,
            name: o.name.clone(),
            slug: o.slug.clone(),
            tier: o.tier,
        }
    }
}

/// One of the user's memberships.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MembershipView {
    /// The org.
    pub org_id: OrgId,
    /// Its name.
    pub name: String,
    /// Its slug.
    pub slug: String,
    /// The user's role there.
    pub role: Role,
}

/// The credential behind `/auth/me`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    /// `session` or `api_token`.
    pub kind: &'static str,
    /// Session or token id.
    pub id: Uuid,
}

/// `GET /auth/me`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Me {
    /// The user.
    pub user: UserView,
    /// The current org (None: orgless).
    pub org: Option<OrgView>,
    /// The live role in it.
    pub role: Option<Role>,
    /// Effective permissions (for a token: its scopes within the role).
    pub permissions: Vec<Permission>,
    /// Every org of the user.
    pub memberships: Vec<MembershipView>,
    /// The session (absent for API tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<CredentialView>,
    /// The API token (absent for sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<CredentialView>,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; None on the last page.
    pub next_cursor: Option<String>,
}

/// A time as the API shows it.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
