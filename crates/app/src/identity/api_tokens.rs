//! API tokens (identity spec §2.4): shown once, SHA-256 at rest, scopes bounded by the
//! creator's role, org-scoped, gated by `api_access`.

use chrono::Duration;
use domain::permission::marker::ApiTokensOwn;
use domain::{Permission, Tier};
use serde::{Deserialize, Deserializer, Serialize};
use store::identity::api_tokens::{self, ApiToken};
use uuid::Uuid;

use super::errors;
use super::orgs::{is_token_admin, org_of, role_of};
use super::views::rfc3339;
use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// `POST /org/api-tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenInput {
    /// A name unique among the caller's active tokens (1–100 characters).
    pub name: String,
    /// Permissions to grant.
    pub scopes: Vec<String>,
    /// Days until expiry: absent → 90, 1–365, `null` → never (Enterprise only).
    #[serde(default = "default_expiry", deserialize_with = "present")]
    pub expires_in_days: Option<i64>,
}

fn default_expiry() -> Option<i64> {
    Some(90)
}

fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    Option::<i64>::deserialize(d)
}

/// A token as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenView {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// First characters, to recognize it.
    pub display_prefix: String,
    /// Granted permissions.
    pub scopes: Vec<Permission>,
    /// The creator.
    pub user_id: domain::UserId,
    /// Creation.
    pub created_at: String,
    /// Expiry (None: never).
    pub expires_at: Option<String>,
    /// Last use.
    pub last_used_at: Option<String>,
    /// Revocation.
    pub revoked_at: Option<String>,
}

/// The answer to creation: the only time the token is shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CreatedToken {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The secret; store it now.
    pub token: String,
    /// First characters.
    pub display_prefix: String,
    /// Granted permissions.
    pub scopes: Vec<Permission>,
    /// Expiry.
    pub expires_at: Option<String>,
}

fn view(t: &ApiToken) -> TokenView {
    TokenView {
        id: t.id,
        name: t.name.clone(),
        display_prefix: t.display_prefix.clone(),
        scopes: t.scopes.clone(),
        user_id: t.user_id,
        created_at: rfc3339(t.created_at),
        expires_at: t.expires_at.map(rfc3339),
        last_used_at: t.last_used_at.map(rfc3339),
        revoked_at: t.revoked_at.map(rfc3339),
    }
}

fn invalid(code: &'static str, message: String) -> AppError {
    AppError::new(ErrorKind::Invalid, code, message)
}

impl App {
    async fn require_api_access(&self, org: domain::OrgId) -> Result<Tier> {
        self.api_rate(org).await?;
        Ok(self.entitlements_of(org).await.effective_tier)
    }

    /// `POST /org/api-tokens`.
    pub async fn create_api_token(
        &self,
        a: &Authorized<ApiTokensOwn>,
        input: NewTokenInput,
    ) -> Result<CreatedToken> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let role = role_of(a)?;
        let tier = self.require_api_access(org).await?;
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(errors::invalid_field(
                "name",
                "must be 1 to 100 characters without control characters",
            ));
        }
        if input.scopes.is_empty() {
            return Err(invalid(
                "invalid_scope",
                "Give the token at least one scope.".into(),
            ));
        }
        let mut scopes = Vec::new();
        for s in &input.scopes {
            let p: Permission = s
                .parse()
                .map_err(|_| invalid("invalid_scope", format!("{s:?} is not a permission.")))?;
            if !p.api_grantable() {
                return Err(invalid(
                    "scope_not_grantable",
                    format!("{p} cannot be granted to an API token."),
                ));
            }
            if !p.granted_to(role) {
                return Err(errors::forbidden(
                    "scope_exceeds_role",
                    &format!("Your role does not hold {p}, so a token of yours cannot either."),
                ));
            }
            if !scopes.contains(&p) {
                scopes.push(p);
            }
        }
        let expires_at = match input.expires_in_days {
            Some(d) if (1..=365).contains(&d) => Some(now + Duration::days(d)),
            None if tier == Tier::Enterprise => None,
            None => {
                return Err(invalid(
                    "invalid_expiry",
                    "Tokens without expiry need the Enterprise plan; choose 1 to 365 days.".into(),
                ));
            }
            Some(_) => {
                return Err(invalid(
                    "invalid_expiry",
                    "Choose an expiry of 1 to 365 days.".into(),
                ));
            }
        };
        let secret = auth::token::api_token();
        let token = ApiToken {
            id: Uuid::now_v7(),
            user_id: a.principal().user_id,
            name,
            display_prefix: secret.display_prefix.clone(),
            scopes,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let mut c = self.store().acquire().await?;
        api_tokens::insert(&mut c.conn(), org, &token, &secret.hash)
            .await
            .map_err(|e| {
                if e.is_unique_violation() {
                    errors::conflict(
                        "name_taken",
                        "You already have an active token with this name.",
                    )
                } else {
                    e.into()
                }
            })?;
        Ok(CreatedToken {
            id: token.id,
            name: token.name,
            token: secret.token,
            display_prefix: token.display_prefix,
            scopes: token.scopes,
            expires_at: token.expires_at.map(rfc3339),
        })
    }

    /// `GET /org/api-tokens`: one's own tokens, or every token of the org with `all` (needs
    /// `api_tokens:admin`). Not gated: after a downgrade, kept tokens stay visible and
    /// revocable (entitlements spec §17) — only creating and using them needs `api_access`.
    pub async fn list_api_tokens(
        &self,
        a: &Authorized<ApiTokensOwn>,
        all: bool,
    ) -> Result<Vec<TokenView>> {
        let org = org_of(a)?;
        if all {
            crate::authz::check(Some(a.principal()), Permission::ApiTokensAdmin)?;
        }
        let mut c = self.store().acquire().await?;
        let user = (!all).then_some(a.principal().user_id);
        Ok(api_tokens::list(&mut c.conn(), org, user)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// `DELETE /org/api-tokens/{id}`: the creator or a token admin; effective at once here
    /// and within a second on other replicas.
    pub async fn revoke_api_token(&self, a: &Authorized<ApiTokensOwn>, id: Uuid) -> Result<()> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let mut c = self.store().acquire().await?;
        let mut conn = c.conn();
        let token = api_tokens::get(&mut conn, org, id)
            .await?
            .ok_or_else(|| errors::not_found("API token"))?;
        if token.user_id != a.principal().user_id && !is_token_admin(a) {
            return Err(errors::not_found("API token"));
        }
        api_tokens::revoke(&mut conn, org, id, a.principal().user_id, now).await?;
        self.identity().invalidate();
        Ok(())
    }
}
