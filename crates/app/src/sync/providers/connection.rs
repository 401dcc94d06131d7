//! "Test connection" (analytics spec §3.4): one cheap identity call with the stored
//! credential, recorded as `last_tested_at`, so people learn a token is wrong before a sync
//! fails on it.

use chrono::{DateTime, Utc};
use domain::{IntegrationId, OrgId};
use serde::Serialize;
use store::analytics::integrations;
use sync::providers::{HttpClient, ProviderKind, connection};

use super::{ProviderSyncOptions, provider_error};
use crate::{App, AppError, ErrorKind, Result};

/// Who the integration's token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    /// Login (GitHub), username (GitLab), accountId (Jira) or user id (Linear).
    pub account: String,
    /// Display name, when the provider sends one.
    pub name: Option<String>,
    /// When the test succeeded.
    pub tested_at: DateTime<Utc>,
}

/// The client rules of an integration's provider.
pub(crate) fn kind_of(provider: &str) -> Result<ProviderKind> {
    Ok(match provider {
        "github" => ProviderKind::Github,
        "gitlab" => ProviderKind::Gitlab,
        "jira" => ProviderKind::Jira,
        "linear" => ProviderKind::Linear,
        _ => {
            return Err(AppError::new(
                ErrorKind::Invalid,
                "not_a_provider",
                "This integration has no provider API to call.",
            ));
        }
    })
}

impl App {
    /// Calls the provider's identity endpoint with the stored token and records
    /// `last_tested_at` when it answers.
    pub async fn test_integration(
        &self,
        org: OrgId,
        id: IntegrationId,
        opts: &ProviderSyncOptions,
    ) -> Result<ConnectionView> {
        let i = self.stored_integration(org, id).await?;
        let kind = kind_of(&i.provider)?;
        let auth = self.credential(org, &i)?;
        let http = HttpClient::new(kind, auth, opts.http.clone(), self.timekeeper(opts))
            .map_err(provider_error)?;
        let base = i.base_url.clone().unwrap_or_default();
        let viewer = connection::test_connection(&http, &base)
            .await
            .map_err(provider_error)?;
        let now = self.clock().now();
        let mut c = self.store().acquire().await?;
        integrations::set_tested(&mut c.conn(), org, id, now).await?;
        // As stored (both backends keep microseconds), so it equals what the view shows.
        let tested_at = integrations::get(&mut c.conn(), org, id)
            .await?
            .and_then(|i| i.last_tested_at)
            .unwrap_or(now);
        Ok(ConnectionView {
            account: viewer.id,
            name: viewer.name,
            tested_at,
        })
    }
}
