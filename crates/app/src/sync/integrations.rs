//! Provider integrations (analytics spec §2.1, §3.4): one credential per integration, sealed
//! with AES-256-GCM before it is stored and bound to its row and org (`Place` =
//! `integrations.secret_ct`, the row id, the org id), so a ciphertext copied elsewhere does not
//! decrypt. The token is never returned, logged or stored in clear; only its last four
//! characters (`token_hint`) are readable. Hosted repositories (GitHub, GitLab) are bound to
//! the integration whose credential reads them.

use auth::secrets::{Place, SecretKeys};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::permission::marker::{AnalyticsRead, SyncConfigure};
use domain::{IntegrationId, Limit, OrgId, RepoId};
use serde::{Deserialize, Serialize};
use store::analytics::integrations::{self, Integration, NewIntegration as NewRow};
use store::analytics::repos::{self, NewRepo};
use sync::providers::{Auth, Token};

use crate::authz::Authorized;
use crate::{App, AppError, ErrorKind, Result};

/// The data key integration tokens are sealed with. `DEV_HEALTH_SECRET_KEY` (32 bytes,
/// base64) when configured; otherwise the secrets key derived from the master key (which a
/// self-hosted install keeps in a 0600 key file in its data directory).
#[derive(Debug, Clone)]
pub struct IntegrationKey(SecretKeys);

/// The key id of a key given as `DEV_HEALTH_SECRET_KEY`.
const ENV_KID: &str = "env1";

impl IntegrationKey {
    /// Parses `DEV_HEALTH_SECRET_KEY`: exactly 32 bytes in base64 (standard or URL-safe,
    /// padding optional).
    pub fn from_base64(text: &str) -> Result<IntegrationKey> {
        let invalid = || {
            AppError::new(
                ErrorKind::Invalid,
                "invalid_secret_key",
                "DEV_HEALTH_SECRET_KEY must be 32 random bytes in base64 \
                 (generate one with: head -c 32 /dev/urandom | base64)",
            )
        };
        let t = text.trim().trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(t.replace('+', "-").replace('/', "_"))
            .map_err(|_| invalid())?;
        if bytes.len() != 32 {
            return Err(invalid());
        }
        SecretKeys::new(ENV_KID, &[(ENV_KID.to_owned(), bytes)])
            .map(IntegrationKey)
            .map_err(|_| invalid())
    }

    /// A fresh random key: tokens sealed with it die with the process (tests only).
    pub fn ephemeral() -> IntegrationKey {
        let bytes: [u8; 32] = rand::random();
        match IntegrationKey::from_base64(&URL_SAFE_NO_PAD.encode(bytes)) {
            Ok(k) => k,
            Err(e) => unreachable!("a generated key is always valid: {e}"),
        }
    }

    /// Wraps already loaded keys (the master-derived secrets key).
    pub(crate) fn from_keys(keys: SecretKeys) -> IntegrationKey {
        IntegrationKey(keys)
    }
}

/// A token on its way to being sealed: its `Debug` is redacted and it has no `Display` or
/// `Serialize`, so it cannot reach a log line or a response.
#[derive(Clone, Default)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a token read from the environment or a form.
    pub fn new(value: impl Into<String>) -> SecretText {
        SecretText(value.into().trim().to_owned())
    }

    /// The last four characters, the only part ever shown (`token_hint`).
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

/// What a new integration is made from.
#[derive(Debug, Clone, Default)]
pub struct NewIntegration {
    /// `github`, `gitlab`, `jira` or `linear`.
    pub provider: String,
    /// API base URL; the provider's public API when absent (Jira has none: required).
    pub base_url: Option<String>,
    /// The token (PAT, API token, API key). Sealed before it is stored.
    pub token: SecretText,
    /// Provider settings (Jira: `email`, `projects`).
    pub settings: IntegrationSettings,
}

/// Provider settings that are not secret (`integrations.settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSettings {
    /// Jira: the Atlassian account email of basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Jira: the project keys to search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// Jira: the custom field holding story points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story_points_field: Option<String>,
}

/// An integration as people see it: never the token, only its hint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationView {
    /// Id.
    pub id: IntegrationId,
    /// Provider.
    pub provider: String,
    /// API base URL.
    pub base_url: Option<String>,
    /// How the token is presented.
    pub auth_kind: String,
    /// The token's last four characters.
    pub token_hint: Option<String>,
    /// Provider settings.
    pub settings: IntegrationSettings,
    /// Whether scheduled syncs run.
    pub enabled: bool,
    /// The last successful "test connection".
    pub last_tested_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

pub(crate) fn settings_of(i: &Integration) -> IntegrationSettings {
    serde_json::from_value(i.settings.clone()).unwrap_or_default()
}

fn view(i: &Integration) -> IntegrationView {
    IntegrationView {
        id: i.id,
        provider: i.provider.clone(),
        base_url: i.base_url.clone(),
        auth_kind: i.auth_kind.clone(),
        token_hint: i.token_hint.clone(),
        settings: settings_of(i),
        enabled: i.enabled,
        last_tested_at: i.last_tested_at,
        created_at: i.created_at,
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::new(ErrorKind::Invalid, "invalid_field", message).with("field", field)
}

pub(crate) fn no_integration() -> AppError {
    AppError::new(ErrorKind::NotFound, "not_found", "No such integration.")
}

/// The default API base and the way each provider takes its token.
fn defaults(provider: &str) -> Result<(Option<&'static str>, &'static str)> {
    Ok(match provider {
        "github" => (Some("https://api.github.com"), "bearer"),
        "gitlab" => (Some("https://gitlab.com/api/v4"), "private_token"),
        "jira" => (None, "basic"),
        "linear" => (Some("https://api.linear.app/graphql"), "plain"),
        _ => {
            return Err(invalid(
                "provider",
                "provider must be github, gitlab, jira or linear",
            ));
        }
    })
}

fn place<'a>(row: &'a str, org: &'a str) -> Place<'a> {
    Place {
        table: "integrations",
        column: "secret_ct",
        row_id: row,
        org_id: org,
    }
}

impl App {
    /// Replaces the key integration tokens are sealed with (`DEV_HEALTH_SECRET_KEY`). Without
    /// it the master-derived secrets key is used.
    pub fn with_integration_key(mut self, key: IntegrationKey) -> Self {
        self.integration_key = std::sync::Arc::new(key);
        self
    }

    /// Stores an integration of the org with its token sealed (operators and the CLI; an HTTP
    /// route wraps it with the `sync:configure` check). Returns it without the token.
    pub async fn create_integration(
        &self,
        org: OrgId,
        new: &NewIntegration,
    ) -> Result<IntegrationView> {
        let (default_base, auth_kind) = defaults(&new.provider)?;
        let base_url = new
            .base_url
            .as_deref()
            .map(|b| b.trim().trim_end_matches('/'))
            .or(default_base)
            .ok_or_else(|| invalid("base_url", "a Jira integration needs its site URL"))?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(invalid("base_url", "base_url must be an http(s) URL"));
        }
        let hint = new.token.hint();
        if hint.is_empty() {
            return Err(invalid("token", "the token is empty"));
        }
        let s = &new.settings;
        if new.provider == "jira" && (s.email.is_none() || s.projects.is_empty()) {
            return Err(invalid(
                "settings",
                "a Jira integration needs the account email and at least one project key",
            ));
        }
        let id = IntegrationId::new();
        let (id_text, org_text) = (id.to_string(), org.to_string());
        let sealed = self
            .integration_key
            .0
            .encrypt(new.token.0.as_bytes(), &place(&id_text, &org_text));
        let settings = serde_json::to_value(s).unwrap_or_default();
        let mut c = self.store().acquire().await?;
        integrations::insert(
            &mut c.conn(),
            org,
            &NewRow {
                id,
                provider: &new.provider,
                base_url: Some(base_url),
                auth_kind,
                secret_ct: &sealed,
                secret_key_id: SecretKeys::kid_of(&sealed),
                token_hint: &hint,
                settings: &settings,
            },
            self.clock().now(),
        )
        .await?;
        tracing::info!(%org, integration = %id, provider = new.provider, "integration created");
        let stored = integrations::get(&mut c.conn(), org, id)
            .await?
            .ok_or_else(no_integration)?;
        Ok(view(&stored))
    }

    /// `create_integration` for a member with `sync:configure`: the org is always the
    /// caller's, so a request can never name another org.
    pub async fn create_integration_as(
        &self,
        a: &Authorized<SyncConfigure>,
        new: &NewIntegration,
    ) -> Result<IntegrationView> {
        self.create_integration(a.org_id()?, new).await
    }

    /// The caller's org's integrations (`analytics:read`); the view never holds the token.
    pub async fn integrations_of(
        &self,
        a: &Authorized<AnalyticsRead>,
    ) -> Result<Vec<IntegrationView>> {
        self.integrations(a.org_id()?).await
    }

    /// One integration of the caller's org (`analytics:read`; another org's id answers 404).
    pub async fn integration_of(
        &self,
        a: &Authorized<AnalyticsRead>,
        id: IntegrationId,
    ) -> Result<IntegrationView> {
        self.integration(a.org_id()?, id).await
    }

    /// `add_hosted_repo` for a member with `sync:configure`, with the branch to sync when
    /// given; the `repos` limit is checked by the same locked transaction as the CLI's.
    pub async fn add_hosted_repo_as(
        &self,
        a: &Authorized<SyncConfigure>,
        integration: IntegrationId,
        full_name: &str,
        default_branch: Option<&str>,
    ) -> Result<super::RepoView> {
        let org = a.org_id()?;
        let branch = default_branch.map(str::trim);
        if branch.is_some_and(str::is_empty) {
            return Err(invalid("default_branch", "default_branch is empty"));
        }
        let id = self
            .insert_hosted_repo(org, integration, full_name, branch)
            .await?;
        let row = {
            let mut c = self.store().acquire().await?;
            repos::get(&mut c.conn(), org, id).await?
        };
        let row = row.ok_or_else(|| {
            AppError::new(ErrorKind::NotFound, "not_found", "No such repository.")
        })?;
        self.view(org, row).await
    }

    /// One integration of the org, without its token (another org's id answers 404).
    pub async fn integration(&self, org: OrgId, id: IntegrationId) -> Result<IntegrationView> {
        Ok(view(&self.stored_integration(org, id).await?))
    }

    /// The org's integrations, without tokens.
    pub async fn integrations(&self, org: OrgId) -> Result<Vec<IntegrationView>> {
        let mut c = self.store().acquire().await?;
        let all = integrations::list(&mut c.conn(), org).await?;
        Ok(all.iter().map(view).collect())
    }

    pub(crate) async fn stored_integration(
        &self,
        org: OrgId,
        id: IntegrationId,
    ) -> Result<Integration> {
        let mut c = self.store().acquire().await?;
        integrations::get(&mut c.conn(), org, id)
            .await?
            .ok_or_else(no_integration)
    }

    /// The integration's credential, unsealed for the duration of a run.
    pub(crate) fn credential(&self, org: OrgId, i: &Integration) -> Result<Auth> {
        let unavailable = || {
            AppError::new(
                ErrorKind::Invalid,
                "secret_unavailable",
                "The integration's token does not decrypt with the configured key; \
                 check DEV_HEALTH_SECRET_KEY or enter the token again.",
            )
        };
        let sealed = i.secret_ct.as_deref().ok_or_else(unavailable)?;
        let (id_text, org_text) = (i.id.to_string(), org.to_string());
        let plain = self
            .integration_key
            .0
            .decrypt(sealed, &place(&id_text, &org_text))
            .map_err(|_| unavailable())?;
        let token = Token::new(String::from_utf8(plain).map_err(|_| unavailable())?);
        Ok(match i.auth_kind.as_str() {
            "private_token" => Auth::PrivateToken(token),
            "plain" => Auth::Plain(token),
            "basic" => Auth::Basic {
                email: settings_of(i).email.unwrap_or_default(),
                token,
            },
            _ => Auth::Bearer(token),
        })
    }

    /// Binds a GitHub (`owner/name`) or GitLab (`group/project` or numeric id) repository to an integration
    /// of the org, counted against the `repos` limit when new. Returns its id.
    pub async fn add_hosted_repo(
        &self,
        org: OrgId,
        integration: IntegrationId,
        full_name: &str,
    ) -> Result<RepoId> {
        self.insert_hosted_repo(org, integration, full_name, None)
            .await
    }

    async fn insert_hosted_repo(
        &self,
        org: OrgId,
        integration: IntegrationId,
        full_name: &str,
        default_branch: Option<&str>,
    ) -> Result<RepoId> {
        let i = self.stored_integration(org, integration).await?;
        if i.provider != "github" && i.provider != "gitlab" {
            return Err(invalid(
                "integration_id",
                "repositories belong to a github or gitlab integration",
            ));
        }
        let full_name = full_name.trim().trim_matches('/');
        let parts: Vec<&str> = full_name.split('/').collect();
        // GitLab projects may also be named by their numeric id.
        let numeric = i.provider == "gitlab" && full_name.bytes().all(|b| b.is_ascii_digit());
        if !numeric && (parts.len() < 2 || parts.iter().any(|p| p.is_empty())) {
            return Err(invalid("full_name", "give the repository as owner/name"));
        }
        let snapshot = self.entitlements_of(org).await;
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        tx.conn().lock_key(&format!("repos:{org}")).await?;
        if let Some(existing) = repos::by_name(&mut tx.conn(), org, &i.provider, full_name).await? {
            return Ok(existing.id);
        }
        let active = repos::count_active(&mut tx.conn(), org).await?;
        snapshot.ensure_limit(Limit::Repos, u64::try_from(active).unwrap_or(0), 1)?;
        let (id, _) = repos::insert_or_get(
            &mut tx.conn(),
            org,
            &NewRepo {
                integration_id: Some(integration),
                provider: &i.provider,
                external_id: None,
                full_name,
                default_branch,
                local_path: None,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%org, repo = %id, full_name, "hosted repository added");
        Ok(id)
    }
}
