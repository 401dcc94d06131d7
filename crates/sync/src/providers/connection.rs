//! "Test connection" (spec §3.4): one cheap identity call per provider, so the integration page
//! can record `last_tested_at` and show who the token belongs to.

use serde_json::{Value, json};

use super::error::Error;
use super::http::{HttpClient, ProviderKind};

/// Who the credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Login (GitHub), username (GitLab), accountId (Jira) or user id (Linear).
    pub id: String,
    /// Display name, when the provider sends one.
    pub name: Option<String>,
    /// Jira's user time zone (the JQL cursor is formatted in it, spec §7.2).
    pub time_zone: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Calls the provider's identity endpoint: `GET /user` (GitHub, with `base` the API base),
/// `GET /user` under GitLab's `/api/v4` base, `GET /rest/api/3/myself` under the Jira site, or
/// Linear's `viewer { id }` at its GraphQL endpoint.
pub async fn test_connection(http: &HttpClient, base: &str) -> Result<Viewer, Error> {
    let base = base.trim_end_matches('/');
    let decode = |url: &str| Error::Decode {
        url: url.to_owned(),
        message: "no user id in the answer".to_owned(),
    };
    match http.kind() {
        ProviderKind::Github | ProviderKind::Gitlab => {
            let url = format!("{base}/user");
            let v: Value = http.get(&url, None).await?.json()?;
            let key = if http.kind() == ProviderKind::Github {
                "login"
            } else {
                "username"
            };
            Ok(Viewer {
                id: text(&v, key).ok_or_else(|| decode(&url))?,
                name: text(&v, "name"),
                time_zone: None,
            })
        }
        ProviderKind::Jira => {
            let url = format!("{base}/rest/api/3/myself");
            let v: Value = http.get(&url, None).await?.json()?;
            Ok(Viewer {
                id: text(&v, "accountId").ok_or_else(|| decode(&url))?,
                name: text(&v, "displayName"),
                time_zone: text(&v, "timeZone"),
            })
        }
        ProviderKind::Linear => {
            let v: Value = http
                .post_json(
                    base,
                    &json!({ "query": "query Viewer { viewer { id name } }" }),
                )
                .await?
                .json()?;
            let viewer = v.pointer("/data/viewer").ok_or_else(|| decode(base))?;
            Ok(Viewer {
                id: text(viewer, "id").ok_or_else(|| decode(base))?,
                name: text(viewer, "name"),
                time_zone: None,
            })
        }
    }
}
