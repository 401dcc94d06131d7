//! The self-hosted purchase path (billing spec §12 steps 1–4): a customer picks a plan, pays in
//! Stripe Checkout, and gets the key on the success page (or from `checkout.session.completed`,
//! whichever comes first). The browser is bound to its Checkout Session by a signed 1-hour
//! cookie, so a leaked success URL does not reveal the key.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::{Kind, Price};
use crate::db::{customers, licenses};
use crate::service::{Service, SvcError};
use crate::stripe_api::CheckoutParams;

/// How long the binding cookie lives.
pub const BINDING_TTL: Duration = Duration::hours(1);
/// The binding cookie's name.
pub const BINDING_COOKIE: &str = "dh_portal_checkout";

/// A purchase form.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Purchase {
    /// The self-hosted price id.
    pub plan: String,
    /// Billing email.
    pub email: String,
    /// Company.
    pub company: String,
    /// Comma-separated deployment ids (default `self-hosted`).
    #[serde(default)]
    pub deployment_ids: String,
}

fn bad(message: impl Into<String>) -> SvcError {
    SvcError::invalid(422, "invalid_purchase", message)
}

impl Service {
    /// The self-hosted plans on sale: `(price id, label)`.
    pub fn self_hosted_plans(&self) -> Vec<(String, String)> {
        self.config
            .prices
            .iter()
            .filter(|p| p.kind == Kind::SelfHosted && p.checkout)
            .map(|p: &Price| {
                (
                    p.id.clone(),
                    format!("{} — billed per {}", p.tier, p.interval),
                )
            })
            .collect()
    }

    /// The key of the portal's cookies, derived from the license signing key (no extra secret
    /// to configure; rotating the signing key signs everyone out of the portal).
    fn cookie_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"dev-health portal cookies v1");
        h.update(self.config.signing.license.key.to_bytes());
        h.finalize().into()
    }

    fn cookie_mac(&self, label: &str, subject: &str, exp: i64) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.cookie_key())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        m.update(format!("{label}\n{subject}.{exp}").as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// A signed cookie value `subject.exp.mac` for one purpose (`label`).
    pub(crate) fn sign_cookie(&self, label: &str, subject: &str, until: DateTime<Utc>) -> String {
        let exp = until.timestamp();
        let mac = URL_SAFE_NO_PAD.encode(self.cookie_mac(label, subject, exp));
        format!("{subject}.{exp}.{mac}")
    }

    /// The subject of a signed cookie for `label`, when its MAC and time are good.
    pub(crate) fn check_cookie(
        &self,
        label: &str,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let mut parts = cookie.rsplitn(3, '.');
        let (mac, exp, subject) = (parts.next()?, parts.next()?, parts.next()?);
        let exp = exp.parse::<i64>().ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let ok = bool::from(self.cookie_mac(label, subject, exp).ct_eq(&mac));
        (ok && now.timestamp() <= exp).then(|| subject.to_owned())
    }

    /// The binding cookie value for a Checkout Session.
    pub fn binding(&self, session: &str, now: DateTime<Utc>) -> String {
        self.sign_cookie("checkout", session, now + BINDING_TTL)
    }

    /// Whether `cookie` binds this browser to `session` now.
    pub fn bound(&self, cookie: &str, session: &str, now: DateTime<Utc>) -> bool {
        self.check_cookie("checkout", cookie, now).as_deref() == Some(session)
    }

    /// `POST /portal/checkout`: a self-hosted customer, its Stripe customer and a Checkout
    /// Session; returns `(session id, Stripe URL)`.
    pub async fn portal_checkout(&self, p: &Purchase) -> Result<(String, String), SvcError> {
        let price = self
            .config
            .prices
            .by_id(&p.plan)
            .filter(|pr| pr.kind == Kind::SelfHosted && pr.checkout)
            .ok_or_else(|| bad("Choose one of the plans on sale."))?
            .clone();
        let email = p.email.trim();
        if email.len() > 254
            || !email.contains('@')
            || email.starts_with('@')
            || email.ends_with('@')
        {
            return Err(bad("Enter a valid billing email."));
        }
        let company = p.company.trim();
        if company.is_empty() || company.chars().count() > 200 {
            return Err(bad("Enter the company name (at most 200 characters)."));
        }
        let mut ids: Vec<String> = p
            .deployment_ids
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if ids.is_empty() {
            ids.push("self-hosted".into());
        }
        ids.sort();
        ids.dedup();
        if ids.len() > 10 || !ids.iter().all(|d| license::claims::valid_deployment_id(d)) {
            return Err(bad(
                "Deployment ids are 1-63 lower-case letters, digits, '.', '_' or '-' (at most 10).",
            ));
        }
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let metadata = BTreeMap::from([
            ("kind".to_owned(), "self_hosted".to_owned()),
            ("customer_id".to_owned(), id.to_string()),
            ("deployment_ids".to_owned(), ids.join(",")),
        ]);
        let stripe_id = self
            .stripe
            .create_customer(
                email,
                Some(company),
                &metadata,
                Some(&format!("customer:{id}")),
            )
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))?;
        let mut c = self.store.acquire().await?;
        customers::insert(
            &mut c.conn(),
            &customers::Customer {
                id,
                stripe_customer_id: Some(stripe_id.clone()),
                kind: "self_hosted".into(),
                org_id: None,
                email: email.to_owned(),
                name: company.to_owned(),
                deployment_ids: ids,
                trial_used_at: None,
            },
            now,
        )
        .await?;
        drop(c);
        let base = self.config.public_base_url.as_str().trim_end_matches('/');
        let session = self
            .stripe
            .create_checkout_session(&CheckoutParams {
                customer: stripe_id,
                price: price.id.clone(),
                quantity: 1,
                client_reference_id: Some(id.to_string()),
                success_url: format!(
                    "{base}/portal/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"
                ),
                cancel_url: format!("{base}/portal"),
                metadata,
                trial_period_days: None,
                idempotency_key: format!("portal-checkout:{id}"),
            })
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))?;
        tracing::info!(customer = %id, session = %session.id, price = %price.id, "portal checkout created");
        Ok((session.id, session.url))
    }

    /// The success page's key: checks the session is complete in Stripe, records its
    /// subscription if the webhook has not yet, and returns the period's key.
    pub async fn portal_key(&self, session_id: &str) -> Result<licenses::License, SvcError> {
        let pending = || {
            SvcError::invalid(
                409,
                "payment_pending",
                "The payment is not complete yet; reload this page in a moment.",
            )
        };
        let session = self
            .stripe
            .get_checkout_session(session_id)
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))?;
        if session.get("status").and_then(|s| s.as_str()) != Some("complete") {
            return Err(pending());
        }
        let sub_id = session
            .get("subscription")
            .and_then(|s| s.as_str().or_else(|| s.get("id").and_then(|i| i.as_str())))
            .ok_or_else(pending)?
            .to_owned();
        let now = self.clock.now();
        {
            let mut tx = self.store.begin_write().await?;
            if let Some(l) = self
                .key_for_subscription(&mut tx.conn(), &sub_id, now)
                .await?
            {
                tx.commit().await?;
                return Ok(l);
            }
        }
        // The webhook has not arrived yet: record the subscription as Stripe has it now.
        let object = self
            .stripe
            .get_subscription(&sub_id)
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))?;
        self.apply_fetched(object, now).await?;
        let mut tx = self.store.begin_write().await?;
        let key = self
            .key_for_subscription(&mut tx.conn(), &sub_id, now)
            .await?;
        tx.commit().await?;
        key.ok_or_else(pending)
    }
}
