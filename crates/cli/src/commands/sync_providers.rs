//! `dev-health sync github|gitlab|work-items`: provider syncs as recorded runs (analytics spec
//! §3, §5–§7). The token is read from an environment variable (never a flag, so it stays out
//! of shell history and process lists) and stored sealed in an integration on first use; later
//! runs reuse the stored integration. A deferred run says when to run the command again.

use app::App;
use app::sync::{
    IntegrationSettings, IntegrationView, NewIntegration, ProviderSyncOptions, ProviderSyncSummary,
    SecretText,
};
use clap::Args;
use domain::{IntegrationId, OrgId};

use super::sync::Bar;
use crate::error::CliError;
use crate::output::line;

/// `sync github` options.
#[derive(Debug, Args)]
pub struct GithubArgs {
    /// The organization, by id or slug.
    #[arg(long)]
    pub org: String,
    /// The repository as owner/name.
    #[arg(long)]
    pub repo: String,
    /// The environment variable holding the token (read when the org has no GitHub
    /// integration for this API yet).
    #[arg(long, default_value = "GITHUB_TOKEN", value_name = "VAR")]
    pub token_env: String,
    /// The API base (`https://<host>/api/v3` for Enterprise Server).
    #[arg(long, default_value = "https://api.github.com", value_name = "URL")]
    pub api: String,
    /// Also sync the repository's issues as work items.
    #[arg(long)]
    pub issues: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `sync gitlab` options.
#[derive(Debug, Args)]
pub struct GitlabArgs {
    /// The organization, by id or slug.
    #[arg(long)]
    pub org: String,
    /// The project as group/project.
    #[arg(long)]
    pub project: String,
    /// The environment variable holding the token.
    #[arg(long, default_value = "GITLAB_TOKEN", value_name = "VAR")]
    pub token_env: String,
    /// The API base of a self-managed instance.
    #[arg(long, default_value = "https://gitlab.com/api/v4", value_name = "URL")]
    pub api: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `sync work-items` options: an existing integration, or a new Jira/Linear one.
#[derive(Debug, Args)]
pub struct WorkItemsArgs {
    /// The organization, by id or slug.
    #[arg(long)]
    pub org: String,
    /// An existing Jira or Linear integration.
    #[arg(long, conflicts_with = "provider")]
    pub integration: Option<String>,
    /// Create an integration of this provider first: `jira` or `linear`.
    #[arg(long, required_unless_present = "integration")]
    pub provider: Option<String>,
    /// The environment variable holding the new integration's token.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// The Jira site (`https://<site>.atlassian.net`) or Linear's GraphQL endpoint.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Jira: the account email of the API token.
    #[arg(long)]
    pub email: Option<String>,
    /// Jira: a project key to sync (repeat for several).
    #[arg(long = "project")]
    pub projects: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

fn failure(e: app::AppError) -> CliError {
    let hint = match e.code {
        "provider_unauthorized" => Some("check the token (it may be expired or revoked)"),
        "provider_forbidden" => Some("grant the token read access to the repository or project"),
        "provider_not_found" => Some("check the repository/project name and the token's access"),
        "provider_unavailable" => Some("the provider kept failing; run the command again later"),
        "secret_unavailable" => {
            Some("set DEV_HEALTH_SECRET_KEY to the key the token was stored with")
        }
        "limit_exceeded" => Some("deactivate a repository or upgrade the plan"),
        "invalid_field" => Some("see --help for the expected values"),
        _ => None,
    };
    CliError::failure(e.message, hint)
}

fn token_from(var: &str) -> Result<SecretText, CliError> {
    match std::env::var(var) {
        Ok(t) if !t.trim().is_empty() => Ok(SecretText::new(t)),
        _ => Err(CliError::failure(
            format!("no token in the environment variable {var}"),
            Some("export the token in that variable (or name another with --token-env)"),
        )),
    }
}

/// The org's integration of `provider` at `base`, created from the token in `token_env` when
/// there is none yet.
async fn integration_for(
    app: &App,
    org: OrgId,
    provider: &str,
    base: &str,
    token_env: &str,
    settings: IntegrationSettings,
) -> Result<IntegrationView, CliError> {
    let base = base.trim_end_matches('/');
    let existing = app.integrations(org).await.map_err(failure)?;
    if let Some(found) = existing
        .into_iter()
        .find(|i| i.provider == provider && i.base_url.as_deref() == Some(base))
    {
        return Ok(found);
    }
    let new = NewIntegration {
        provider: provider.to_owned(),
        base_url: Some(base.to_owned()),
        token: token_from(token_env)?,
        settings,
    };
    app.create_integration(org, &new).await.map_err(failure)
}

fn report(s: &ProviderSyncSummary, json: bool) {
    if json {
        line(serde_json::to_string(s).unwrap_or_default());
        return;
    }
    if s.already_running {
        line(format!(
            "a {} sync of this source is already {} (run {})",
            s.dataset, s.status, s.run_id
        ));
        return;
    }
    let c = &s.counts;
    let mut text = format!(
        "{status}: {written} {dataset} written ({fetched} fetched, {unchanged} unchanged, \
         {nm} pages not modified) in {requests} requests, {waited} s waiting, run {run}",
        status = s.status,
        written = s.written,
        dataset = s.dataset.replace('_', " "),
        fetched = c.fetched,
        unchanged = c.unchanged,
        nm = c.not_modified,
        requests = s.requests,
        waited = s.waited_s,
        run = s.run_id,
    );
    if let Some(at) = s.resume_at {
        text.push_str(&format!(
            "; rate limited: run the same command again after {at} to resume"
        ));
    }
    line(text);
}

/// The org named by `--org` (id or slug), or a one-line error with the hint.
pub(super) async fn org_of(app: &App, org: &str) -> Result<OrgId, CliError> {
    app.resolve_org(org).await.map_err(|e| {
        CliError::failure(
            e.message,
            Some("pass --org with an organization id or slug"),
        )
    })
}

/// `sync github`.
pub async fn github(app: &App, a: GithubArgs) -> Result<(), CliError> {
    let org = org_of(app, &a.org).await?;
    let i = integration_for(
        app,
        org,
        "github",
        &a.api,
        &a.token_env,
        IntegrationSettings::default(),
    )
    .await?;
    let repo = app
        .add_hosted_repo(org, i.id, &a.repo)
        .await
        .map_err(failure)?;
    let opts = ProviderSyncOptions::default();
    let bar = Bar::start();
    let s = app.sync_pull_requests(org, repo, &opts, &bar).await;
    bar.finish();
    report(&s.map_err(failure)?, a.json);
    if a.issues {
        let bar = Bar::start();
        let s = app.sync_github_issues(org, repo, &opts, &bar).await;
        bar.finish();
        report(&s.map_err(failure)?, a.json);
    }
    Ok(())
}

/// `sync gitlab`.
pub async fn gitlab(app: &App, a: GitlabArgs) -> Result<(), CliError> {
    let org = org_of(app, &a.org).await?;
    let i = integration_for(
        app,
        org,
        "gitlab",
        &a.api,
        &a.token_env,
        IntegrationSettings::default(),
    )
    .await?;
    let repo = app
        .add_hosted_repo(org, i.id, &a.project)
        .await
        .map_err(failure)?;
    let bar = Bar::start();
    let s = app
        .sync_pull_requests(org, repo, &ProviderSyncOptions::default(), &bar)
        .await;
    bar.finish();
    report(&s.map_err(failure)?, a.json);
    Ok(())
}

/// `sync work-items`.
pub async fn work_items(app: &App, a: WorkItemsArgs) -> Result<(), CliError> {
    let org = org_of(app, &a.org).await?;
    let id: IntegrationId = match (&a.integration, &a.provider) {
        (Some(id), _) => id.parse().map_err(|_| {
            CliError::failure(
                format!("{id:?} is not an integration id"),
                Some("pass the id printed when the integration was created"),
            )
        })?,
        (None, Some(provider)) => {
            let default_env = if provider == "jira" {
                "JIRA_API_TOKEN"
            } else {
                "LINEAR_API_KEY"
            };
            let base = a.base_url.clone().unwrap_or_else(|| {
                if provider == "linear" {
                    "https://api.linear.app/graphql".to_owned()
                } else {
                    String::new()
                }
            });
            let settings = IntegrationSettings {
                email: a.email.clone(),
                projects: a.projects.clone(),
                story_points_field: None,
            };
            let env = a.token_env.as_deref().unwrap_or(default_env);
            let i = integration_for(app, org, provider, &base, env, settings).await?;
            line(format!("integration {} ({})", i.id, i.provider));
            i.id
        }
        (None, None) => {
            return Err(CliError::failure(
                "no integration given",
                Some("pass --integration ID, or --provider jira|linear to create one"),
            ));
        }
    };
    let bar = Bar::start();
    let s = app
        .sync_work_items(org, id, &ProviderSyncOptions::default(), &bar)
        .await;
    bar.finish();
    report(&s.map_err(failure)?, a.json);
    Ok(())
}
