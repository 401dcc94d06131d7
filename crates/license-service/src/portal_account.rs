//! The self-hosted customer's portal account (billing spec §12 step 6): a single-use magic link
//! (15 min, stored hashed) opens a 12-hour session in which the customer lists and downloads
//! keys, changes deployment ids (a replacement key, audited) and opens the Stripe billing
//! portal. Requesting a link answers the same whether the email is known or not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::{audit, customers, licenses, portal_logins};
use crate::service::{Service, SvcError};

/// How long a magic link works.
pub const LOGIN_TTL: Duration = Duration::minutes(15);
/// How long a portal session lasts.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dh_portal_session";

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl Service {
    /// `POST /portal/login`: a link for every self-hosted customer with this email, returned
    /// (for a mail transport and tests) and mailed. License-svc has no mail transport yet: the
    /// link goes to the log, as ops does without SMTP. Unknown emails get no link, and the
    /// HTTP answer is the same.
    pub async fn portal_login_request(&self, email: &str) -> Result<Vec<String>, SvcError> {
        let now = self.clock.now();
        let mut c = self.store.acquire().await?;
        let found = customers::self_hosted_by_email(&mut c.conn(), email.trim()).await?;
        let base = self.config.public_base_url.as_str().trim_end_matches('/');
        let mut links = Vec::new();
        for customer in found {
            let mut raw = [0u8; 32];
            rand::rng().fill_bytes(&mut raw);
            let token = URL_SAFE_NO_PAD.encode(raw);
            portal_logins::insert(
                &mut c.conn(),
                &sha256_hex(&token),
                customer.id,
                now + LOGIN_TTL,
            )
            .await?;
            let link = format!("{base}/portal/login/{token}");
            tracing::info!(
                to = %customer.email,
                %link,
                "mail: your Dev Health license portal sign-in link (valid 15 minutes)"
            );
            links.push(link);
        }
        Ok(links)
    }

    /// `GET /portal/login/{token}`: the session cookie value, once per link.
    pub async fn portal_login(&self, token: &str) -> Result<Option<String>, SvcError> {
        let now = self.clock.now();
        let mut c = self.store.acquire().await?;
        let customer = portal_logins::consume(&mut c.conn(), &sha256_hex(token), now).await?;
        Ok(customer.map(|id| self.sign_cookie("session", &id.to_string(), now + SESSION_TTL)))
    }

    /// The customer of a session cookie.
    pub fn portal_customer(&self, cookie: &str, now: DateTime<Utc>) -> Option<Uuid> {
        self.check_cookie("session", cookie, now)?.parse().ok()
    }

    /// The customer's keys with their tokens, newest first.
    pub async fn portal_keys(&self, customer: Uuid) -> Result<Vec<licenses::License>, SvcError> {
        let mut c = self.store.acquire().await?;
        Ok(licenses::list(&mut c.conn(), Some(customer), None, true).await?)
    }

    /// New deployment ids: stored for the next renewals, and a replacement for the current
    /// active key (same tier, limits and end; the old key is superseded and stays valid to its
    /// own end), audited.
    pub async fn change_deployment_ids(
        &self,
        customer: Uuid,
        raw: &str,
    ) -> Result<Option<licenses::License>, SvcError> {
        let mut ids: Vec<String> = raw
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty()
            || ids.len() > 10
            || !ids.iter().all(|d| license::claims::valid_deployment_id(d))
        {
            return Err(SvcError::invalid(
                422,
                "invalid_deployment_ids",
                "Deployment ids are 1-63 lower-case letters, digits, '.', '_' or '-' (1 to 10).",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let before = customers::by_id(&mut tx.conn(), customer)
            .await?
            .ok_or_else(|| SvcError::invalid(404, "unknown_customer", "no such customer"))?;
        customers::set_deployment_ids(&mut tx.conn(), customer, &ids, now).await?;
        let current = licenses::list(&mut tx.conn(), Some(customer), Some("active"), false)
            .await?
            .into_iter()
            .find(|l| l.exp > now.timestamp());
        let replacement = match current {
            Some(old) => {
                let l = self
                    .sign_replacement(&mut tx.conn(), &old, ids.clone(), now)
                    .await?;
                Some(l)
            }
            None => None,
        };
        audit::append(
            &mut tx.conn(),
            now,
            &format!("portal:{customer}"),
            "customer.deployment_ids",
            &customer.to_string(),
            Some(&json!({"deployment_ids": before.deployment_ids})),
            Some(&json!({"deployment_ids": ids, "replacement": replacement.as_ref().map(|l| &l.jti)})),
        )
        .await?;
        tx.commit().await?;
        Ok(replacement)
    }

    /// A Stripe billing-portal session for a self-hosted customer; returns its URL.
    pub async fn portal_billing(&self, customer: Uuid) -> Result<String, SvcError> {
        let mut c = self.store.acquire().await?;
        let stripe_id = customers::by_id(&mut c.conn(), customer)
            .await?
            .and_then(|cu| cu.stripe_customer_id)
            .ok_or_else(|| SvcError::invalid(404, "no_billing_account", "no billing account"))?;
        drop(c);
        let back = format!(
            "{}/portal/keys",
            self.config.public_base_url.as_str().trim_end_matches('/')
        );
        self.stripe
            .create_billing_portal_session(&stripe_id, &back)
            .await
            .map_err(|e| SvcError::Unavailable(e.to_string()))
    }
}
