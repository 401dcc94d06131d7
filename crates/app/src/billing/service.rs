//! The billing use cases (billing spec §10 pull repair, §11): Upgrade (a Checkout session),
//! Manage billing (a customer-portal session), the org's billing summary (reused for 60 s),
//! Refresh / `admin billing resync` (pull the org's token and pass it through the receiver),
//! and the owners an admin is told to ask.
//!
//! The return URLs are always built here from this server's public URL, never taken from the
//! client, so nobody can make Checkout send a customer to another site.

use domain::permission::marker::{BillingManage, BillingRead};
use domain::{OrgId, Role, Tier, UserId};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::identity::memberships;

use super::Billing;
use super::client::{Answer, LicenseSvc, unavailable};
use super::summary::{self, BillingView, Fetched};
use crate::authz::Authorized;
use crate::entitlements::{Accepted, Via};
use crate::{App, AppError, ErrorKind, Result};

/// `POST /billing/checkout`: the plan to buy. Nothing else is accepted (no URLs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// `team` or `enterprise`.
    pub tier: String,
    /// `month` or `year`.
    pub interval: String,
}

/// Where to send the browser (Stripe Checkout or the customer portal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// The URL license-svc returned.
    pub url: String,
}

/// The result of a pull repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    /// `applied`, `duplicate`, `stale` (a newer one is already in force here) or `none`
    /// (license-svc has no billing record or no token for the org: nothing changed).
    pub entitlement: &'static str,
    /// The org's entitlement version after an `applied`.
    pub version: Option<i64>,
    /// The `iat` in force when the pulled token was `stale`.
    pub stored_iat: Option<i64>,
    /// The summary after the pull.
    pub billing: BillingView,
}

/// An owner, named to admins who cannot change billing themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Display name (the email when empty).
    pub name: String,
    /// Address.
    pub email: String,
}

fn invalid(field: &'static str, message: &str) -> AppError {
    AppError::new(
        ErrorKind::Invalid,
        "invalid_field",
        format!("{field}: {message}"),
    )
    .with("field", field)
}

fn not_configured() -> AppError {
    AppError::new(
        ErrorKind::Unavailable,
        "billing_not_configured",
        "Billing is not configured on this server (billing.license_svc_url); ask the operator.",
    )
}

/// The URL of a 201 answer, which must be an http(s) URL (it becomes a `Location` header).
fn redirect_of(answer: &Answer, what: &str) -> Result<Redirect> {
    let url = answer.body["url"].as_str().unwrap_or_default();
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(Redirect { url: u.to_string() }),
        _ => Err(unavailable(&format!(
            "{what}: the answer has no usable url"
        ))),
    }
}

impl App {
    pub(crate) fn billing(&self) -> &Billing {
        &self.billing
    }

    /// The client, in SaaS mode with billing configured.
    fn billing_client(&self) -> Result<&LicenseSvc> {
        self.ensure_saas()?;
        self.billing.client.as_ref().ok_or_else(not_configured)
    }

    fn billing_url(&self, query: &str) -> String {
        format!(
            "{}/settings/billing{query}",
            self.identity_config().public_url
        )
    }

    /// Upgrade (owners): a Stripe Checkout session for the caller's org, created by
    /// license-svc. 409 `subscription_exists` when the org already pays (use Manage billing),
    /// 422 `no_price` when that plan is not sold for the interval.
    pub async fn start_checkout(
        &self,
        auth: &Authorized<BillingManage>,
        input: &CheckoutInput,
        request_id: &str,
    ) -> Result<Redirect> {
        self.ensure_saas()?;
        let tier = match input.tier.trim().parse::<Tier>() {
            Ok(t @ (Tier::Team | Tier::Enterprise)) => t,
            _ => return Err(invalid("tier", "choose team or enterprise.")),
        };
        let interval = match input.interval.trim() {
            i @ ("month" | "year") => i,
            _ => return Err(invalid("interval", "choose month or year.")),
        };
        let client = self.billing_client()?;
        let p = auth.principal();
        let org = p.org()?;
        let email = {
            let mut c = self.store().acquire().await?;
            memberships::get(&mut c.conn(), org, p.user_id)
                .await?
                .map(|m| m.email)
                .ok_or_else(crate::authz::unauthenticated)?
        };
        let body = json!({
            "org_id": org,
            "tier": tier.as_str(),
            "interval": interval,
            "customer_email": email,
            "actor_user_id": p.user_id,
            "success_url": self.billing_url("?checkout=success"),
            "cancel_url": self.billing_url("?checkout=cancel"),
        });
        let now = self.clock().now().timestamp();
        let answer = client
            .call(
                Method::POST,
                "/v1/checkout-sessions",
                Some(&body),
                request_id,
                now,
            )
            .await?;
        let redirect = match (answer.status, answer.code()) {
            (201 | 200, _) => redirect_of(&answer, "checkout")?,
            (409, "subscription_exists") => {
                return Err(AppError::new(
                    ErrorKind::Conflict,
                    "subscription_exists",
                    "This organization already has a subscription; change the plan with Manage billing.",
                ));
            }
            (422, "no_price") => {
                return Err(AppError::new(
                    ErrorKind::Invalid,
                    "no_price",
                    format!(
                        "The {} plan is not offered with {interval}ly billing; choose the other interval.",
                        tier.as_str()
                    ),
                )
                .with("field", "interval"));
            }
            (422, "invalid_url") => {
                tracing::error!(
                    public_url = %self.identity_config().public_url,
                    "license-svc refused our return URLs: server.public_url must match the receiver's public_base_url in license-svc"
                );
                return Err(unavailable("checkout: invalid_url"));
            }
            (status, code) => {
                return Err(unavailable(&format!("checkout: {status} {code}")));
            }
        };
        tracing::info!(actor = %p.user_id, %org, tier = tier.as_str(), interval, request_id, "audit: billing.checkout_started");
        Ok(redirect)
    }

    /// Manage billing (owners): a Stripe customer-portal session returning to the billing page.
    /// 404 `no_billing_account` when the org never bought anything.
    pub async fn open_billing_portal(
        &self,
        auth: &Authorized<BillingManage>,
        request_id: &str,
    ) -> Result<Redirect> {
        let client = self.billing_client()?;
        let p = auth.principal();
        let org = p.org()?;
        let body = json!({ "org_id": org, "return_url": self.billing_url("") });
        let now = self.clock().now().timestamp();
        let answer = client
            .call(
                Method::POST,
                "/v1/portal-sessions",
                Some(&body),
                request_id,
                now,
            )
            .await?;
        let redirect = match (answer.status, answer.code()) {
            (201 | 200, _) => redirect_of(&answer, "portal")?,
            (404, "no_billing_account") => {
                return Err(AppError::new(
                    ErrorKind::NotFound,
                    "no_billing_account",
                    "This organization has no billing account yet; choose a plan with Upgrade first.",
                ));
            }
            (status, code) => return Err(unavailable(&format!("portal: {status} {code}"))),
        };
        tracing::info!(actor = %p.user_id, %org, request_id, "audit: billing.portal_opened");
        Ok(redirect)
    }

    /// The caller's billing summary (owners and admins), reused for 60 s.
    pub async fn billing_view(
        &self,
        auth: &Authorized<BillingRead>,
        request_id: &str,
    ) -> Result<BillingView> {
        let org = auth.principal().org()?;
        let fetched = self.fetch_billing(org, request_id, false).await?;
        self.view_of(org, fetched.as_ref()).await
    }

    /// Refresh (owners and admins): pulls the org's entitlement from license-svc and passes it
    /// through the receiver, repairing a lost push.
    pub async fn refresh_billing(
        &self,
        auth: &Authorized<BillingRead>,
        request_id: &str,
    ) -> Result<Refreshed> {
        let p = auth.principal();
        self.pull(p.org()?, Some(p.user_id), request_id).await
    }

    /// `dev-health admin billing resync --org`: the same pull, run by the operator.
    pub async fn resync_billing(&self, org: OrgId) -> Result<Refreshed> {
        let request_id = uuid::Uuid::now_v7().to_string();
        self.pull(org, None, &request_id).await
    }

    /// The org's owners (for admins, who see the page read-only).
    pub async fn billing_owners(&self, auth: &Authorized<BillingRead>) -> Result<Vec<Owner>> {
        let org = auth.principal().org()?;
        let mut c = self.store().acquire().await?;
        let owners = memberships::list(&mut c.conn(), org, Some(Role::Owner), None, 100).await?;
        Ok(owners
            .into_iter()
            .filter(|m| m.is_active)
            .map(|m| Owner {
                name: if m.name.trim().is_empty() {
                    m.email.clone()
                } else {
                    m.name
                },
                email: m.email,
            })
            .collect())
    }

    async fn pull(&self, org: OrgId, by: Option<UserId>, request_id: &str) -> Result<Refreshed> {
        let fetched = self.fetch_billing(org, request_id, true).await?;
        let token = fetched.as_ref().and_then(|f| f.token.clone());
        let (entitlement, version, stored_iat) = match token {
            None => ("none", None, None),
            Some(token) => match self.accept_token(&token, Via::Pull { org, by }).await {
                Ok(Accepted::Applied { version, .. }) => ("applied", Some(version), None),
                Ok(Accepted::Duplicate) => ("duplicate", None, None),
                Err(e) if e.code == "stale_entitlement" => (
                    "stale",
                    None,
                    e.details.get("stored_iat").and_then(|v| v.as_i64()),
                ),
                Err(e) if e.code == "invalid_entitlement" => {
                    let code = e
                        .details
                        .get("code")
                        .and_then(|c| c.as_str())
                        .unwrap_or("license_invalid")
                        .to_owned();
                    tracing::error!(%org, code, "license-svc returned an entitlement this server refuses; check deployment_id and the trusted keys");
                    return Err(AppError::new(
                        ErrorKind::Internal,
                        "invalid_entitlement",
                        format!("license-svc returned an entitlement this server refuses ({code}); nothing changed. Check the deployment id."),
                    )
                    .with("code", code));
                }
                Err(e) => return Err(e),
            },
        };
        // The receiver dropped the cached summary; the fresh one is still good.
        self.billing.store(org, self.clock().now(), fetched.clone());
        let billing = self.view_of(org, fetched.as_ref()).await?;
        tracing::info!(%org, requested_by = ?by, entitlement, request_id, "billing summary pulled");
        Ok(Refreshed {
            entitlement,
            version,
            stored_iat,
            billing,
        })
    }

    async fn view_of(&self, org: OrgId, fetched: Option<&Fetched>) -> Result<BillingView> {
        let snapshot = self.entitlements_of(org).await;
        Ok(BillingView::new(org, snapshot.effective_tier, fetched))
    }

    /// The org's summary from license-svc: the cached one unless `fresh`; `None` when
    /// license-svc has no billing record for it (404 `unknown_org`).
    async fn fetch_billing(
        &self,
        org: OrgId,
        request_id: &str,
        fresh: bool,
    ) -> Result<Option<Fetched>> {
        let client = self.billing_client()?;
        let now = self.clock().now();
        if !fresh && let Some(hit) = self.billing.cached(org, now) {
            return Ok(hit);
        }
        let answer = client
            .call(
                Method::GET,
                // This deployment's token: license-svc may push to several ops deployments.
                &format!(
                    "/v1/entitlements/{org}?deployment_id={}",
                    self.engine().config.deployment_id
                ),
                None,
                request_id,
                now.timestamp(),
            )
            .await?;
        let fetched = match (answer.status, answer.code()) {
            (200, _) => Some(
                summary::parse(&answer.body, now)
                    .ok_or_else(|| unavailable("entitlements: an answer of another shape"))?,
            ),
            (404, "unknown_org") => None,
            (status, code) => {
                return Err(unavailable(&format!("entitlements: {status} {code}")));
            }
        };
        self.billing.store(org, now, fetched.clone());
        Ok(fetched)
    }
}
