//! Accounts (identity spec §2.3): register, verify, login, password change, forgot and reset.
//!
//! Public endpoints answer the same way whether or not an account exists (§2.7): unknown
//! emails get a dummy Argon2 check and the same throttle rows as real ones, and mail is only
//! queued, never sent inline.

use std::sync::Arc;

use auth::email::EmailNorm;
use auth::password::{WeakReason, check_policy};
use auth::throttle::{FAILURE_WINDOW, delay_after};
use auth::token::{one_time, sha256_hex};
use chrono::Duration;
use domain::{OrgId, UserId};
use serde::Deserialize;
use store::identity::throttle::{self, Claim};
use store::identity::{memberships, one_time as otp, orgs, outbox, sessions, users};

use super::mail::Template;
use super::sessions::SignedIn;
use super::views::{CredentialView, Me, MembershipView, OrgView, UserView};
use super::{Client, RESET_TTL, Registration, VERIFY_TTL, errors};
use crate::authz::{Credential, Principal};
use crate::{App, AppError, ErrorKind, Result};

/// `POST /auth/register`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Name of the org to create (default: "<name>'s organization").
    #[serde(default)]
    pub org_name: Option<String>,
}

/// `POST /auth/login`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The org to sign in to (default: the last one used).
    #[serde(default)]
    pub org_id: Option<OrgId>,
}

/// `POST /auth/password/change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeInput {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /auth/forgot-password` and `/auth/verify-email/resend`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotInput {
    /// Email.
    pub email: String,
}

/// `POST /auth/reset-password`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    /// The mailed token.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

const VERIFY: &str = "email_verify";
const RESET: &str = "password_reset";
/// Mails from public endpoints per address and hour (extra ones are dropped silently).
const MAILS_PER_ADDRESS_HOUR: i64 = 3;

pub(crate) fn parse_email(raw: &str) -> Result<EmailNorm> {
    EmailNorm::parse(raw).map_err(|e| errors::invalid_email(e.0))
}

pub(crate) fn check_password(password: &str, email: &EmailNorm) -> Result<()> {
    check_policy(password, Some(email)).map_err(|r| errors::weak_password(&r))
}

/// A display name or org name: 1–200 characters after trimming, no control characters.
pub(crate) fn check_name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(errors::invalid_field(field, "must not be empty"));
    }
    if v.chars().count() > 200 {
        return Err(errors::invalid_field(
            field,
            "must be at most 200 characters",
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(errors::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

impl App {
    fn throttle_key(&self, email: &EmailNorm, device: Option<&str>) -> String {
        let k = &self.identity().config.keys.throttle;
        match device {
            Some(d) => k.sign(&[b"login", email.as_str().as_bytes(), d.as_bytes()]),
            None => k.sign(&[b"login", email.as_str().as_bytes()]),
        }
    }

    /// Claims the account's attempt slot (identity spec §2.6): the failures counted so far, or
    /// 429 `too_many_attempts` while another attempt holds the slot or the delay runs.
    async fn claim_attempt(&self, key: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i32> {
        let mut c = self.store().acquire().await?;
        match throttle::claim(&mut c.conn(), key, now, FAILURE_WINDOW).await? {
            Claim::Granted { failures } => Ok(failures),
            Claim::Busy { retry_at } => Err(errors::throttled("too_many_attempts", retry_at - now)),
        }
    }

    /// Records one more failed password check (committed before the 401 is sent), sets the
    /// delay for the next attempt and releases the slot.
    async fn record_failure(&self, key: &str, failures: i32) -> Result<()> {
        let now = self.clock().now();
        let failures = failures.saturating_add(1);
        let next = now + delay_after(u32::try_from(failures).unwrap_or(u32::MAX));
        let mut c = self.store().acquire().await?;
        throttle::fail(&mut c.conn(), key, failures, next, now).await?;
        Ok(())
    }

    /// Whether another public-endpoint mail to `to` fits this hour's cap.
    async fn mail_allowed(&self, conn: &mut store::Conn<'_>, to: &str) -> Result<bool> {
        let since = self.clock().now() - Duration::hours(1);
        Ok(outbox::count_since(conn, to, since).await? < MAILS_PER_ADDRESS_HOUR)
    }

    async fn queue_verification(
        &self,
        conn: &mut store::Conn<'_>,
        user: UserId,
        email: &str,
    ) -> Result<()> {
        let now = self.clock().now();
        let (token, hash) = one_time();
        otp::issue(conn, VERIFY, user, email, &hash, now + VERIFY_TTL, now).await?;
        let link = self.link(&format!("/verify-email?token={token}"));
        self.queue_mail(
            conn,
            None,
            email,
            Template::VerifyEmail,
            serde_json::json!({ "link": link }),
        )
        .await
    }

    /// `POST /auth/register`: always 202 `check_email` for a well-formed request, whether or
    /// not the address has an account.
    pub async fn register(&self, input: RegisterInput, client: &Client) -> Result<()> {
        let now = self.clock().now();
        if self.identity().config.registration == Registration::InviteOnly {
            return Err(errors::forbidden(
                "registration_closed",
                "Sign-up is by invitation on this server; ask an admin of your organization for an invite.",
            ));
        }
        self.identity().buckets.mail(client.ip, now)?;
        let email = parse_email(&input.email)?;
        check_password(&input.password, &email)?;
        let name = check_name("name", &input.name)?;
        let org_name = match &input.org_name {
            Some(o) => check_name("org_name", o)?,
            None => format!("{name}'s organization"),
        };
        // Hash before looking the address up, so both paths cost the same.
        let hash = self
            .identity()
            .passwords
            .hash(input.password.clone())
            .await?;
        // Self-hosted: every sign-up creates an org, so the deployment's `orgs` limit applies —
        // checked for every address alike (before the lookup), so a refusal reveals nothing.
        let instance = if self.engine().config.mode == crate::entitlements::Mode::SelfHosted {
            Some(self.instance_entitlements().await)
        } else {
            None
        };
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        if let Some(snapshot) = &instance {
            let orgs = store::entitlements::usage(&mut conn, snapshot.org_id)
                .await?
                .deployment_orgs;
            snapshot.ensure_limit(domain::Limit::Orgs, u64::try_from(orgs).unwrap_or(0), 1)?;
        }
        if users::by_email(&mut conn, email.as_str()).await?.is_some() {
            let recent =
                outbox::count_since(&mut conn, email.as_str(), now - Duration::hours(1)).await?;
            if recent == 0 {
                let payload = serde_json::json!({
                    "signin_link": self.link("/signin"),
                    "forgot_link": self.link("/forgot-password"),
                });
                self.queue_mail(
                    &mut conn,
                    None,
                    email.as_str(),
                    Template::AccountExists,
                    payload,
                )
                .await?;
            }
        } else {
            let user = UserId::new();
            users::insert(
                &mut conn,
                &users::NewUser {
                    id: user,
                    email: input.email.trim(),
                    email_norm: email.as_str(),
                    name: &name,
                    password_hash: Some(&hash),
                    verified_at: None,
                    platform_admin: false,
                },
                now,
            )
            .await?;
            let org = self.insert_org(&mut conn, &org_name).await?;
            memberships::insert(&mut conn, org.id, user, domain::Role::Owner, None, now).await?;
            self.queue_verification(&mut conn, user, email.as_str())
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/verify-email`.
    pub async fn verify_email(&self, token: &str, client: &Client) -> Result<()> {
        let now = self.clock().now();
        self.identity().buckets.auth(client.ip, now)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let (user, email_at_issue) = otp::consume(&mut conn, VERIFY, &sha256_hex(token), now)
            .await?
            .ok_or_else(errors::invalid_or_expired_token)?;
        let current = users::by_id(&mut conn, user).await?;
        if current.as_ref().map(|u| u.email_norm.as_str()) != Some(email_at_issue.as_str()) {
            return Err(errors::invalid_or_expired_token());
        }
        users::mark_verified(&mut conn, user, now).await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }

    /// `POST /auth/verify-email/resend`: always 202.
    pub async fn resend_verification(&self, email: &str, client: &Client) -> Result<()> {
        let now = self.clock().now();
        self.identity().buckets.mail(client.ip, now)?;
        let email = parse_email(email)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        if let Some(user) = users::by_email(&mut conn, email.as_str()).await?
            && user.email_verified_at.is_none()
            && self.mail_allowed(&mut conn, email.as_str()).await?
        {
            self.queue_verification(&mut conn, user.id, email.as_str())
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/login` (identity spec §2.3, §2.6).
    pub async fn login(&self, input: LoginInput, client: &Client) -> Result<SignedIn> {
        let now = self.clock().now();
        self.identity().buckets.auth(client.ip, now)?;
        // Malformed input can never match an account: refuse it without hashing or counting.
        let email = parse_email(&input.email).map_err(|_| errors::invalid_credentials())?;
        if let Err(reasons) = check_policy(&input.password, None)
            && reasons
                .iter()
                .any(|r| matches!(r, WeakReason::TooShort | WeakReason::TooLong))
        {
            return Err(errors::invalid_credentials());
        }
        let key = self.throttle_key(&email, client.device.as_deref());
        let failures = self.claim_attempt(&key, now).await?;
        let user = {
            let mut c = self.store().acquire().await?;
            users::by_email(&mut c.conn(), email.as_str()).await?
        };
        let verified = match user.as_ref().and_then(|u| u.password_hash.clone()) {
            Some(phc) => self
                .identity()
                .passwords
                .verify(input.password.clone(), phc)
                .await?
                .ok(),
            None => {
                self.identity()
                    .passwords
                    .verify_dummy(input.password.clone())
                    .await?;
                None
            }
        };
        let (Some(user), Some(verified)) = (user, verified.filter(|v| v.ok)) else {
            self.record_failure(&key, failures).await?;
            tracing::info!(failures = failures + 1, "login failed");
            return Err(errors::invalid_credentials());
        };
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        throttle::reset(&mut conn, &key, now).await?;
        if user.email_verified_at.is_none() {
            if self.mail_allowed(&mut conn, &user.email_norm).await? {
                self.queue_verification(&mut conn, user.id, &user.email_norm)
                    .await?;
            }
            tx.commit().await?;
            return Err(errors::forbidden(
                "email_not_verified",
                "Confirm your email address first; we sent you a new link.",
            ));
        }
        if !user.is_active {
            tx.commit().await?;
            return Err(errors::forbidden(
                "account_disabled",
                "This account is disabled; contact your administrator.",
            ));
        }
        let mine = memberships::orgs_of(&mut conn, user.id).await?;
        let chosen = match input.org_id {
            Some(want) => Some(mine.iter().find(|(o, _)| o.id == want).ok_or_else(|| {
                errors::forbidden(
                    "org_not_available",
                    "You are not a member of that organization.",
                )
            })?),
            None => user
                .last_org_id
                .and_then(|last| mine.iter().find(|(o, _)| o.id == last))
                .or_else(|| mine.first()),
        };
        if verified.needs_rehash {
            let fresh = self.identity().passwords.hash(input.password).await?;
            users::set_password(&mut conn, user.id, &fresh, now).await?;
        }
        let signed = self
            .start_session(
                &mut conn,
                &user,
                chosen.map(|(o, r)| (o, *r)),
                "password",
                client,
            )
            .await?;
        tx.commit().await?;
        Ok(signed)
    }

    /// `POST /auth/password/change`: every other session of the user ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        input: PasswordChangeInput,
    ) -> Result<()> {
        let now = self.clock().now();
        let user = {
            let mut c = self.store().acquire().await?;
            users::by_id(&mut c.conn(), principal.user_id)
                .await?
                .ok_or_else(errors::session_revoked)?
        };
        let email = parse_email(&user.email_norm)?;
        let key = self.throttle_key(&email, None);
        let failures = self.claim_attempt(&key, now).await?;
        let ok = match user.password_hash.clone() {
            Some(phc) => self
                .identity()
                .passwords
                .verify(input.current_password, phc)
                .await?
                .is_ok_and(|v| v.ok),
            None => false,
        };
        if !ok {
            self.record_failure(&key, failures).await?;
            return Err(errors::invalid_credentials());
        }
        {
            let mut c = self.store().acquire().await?;
            throttle::release(&mut c.conn(), &key).await?;
        }
        check_password(&input.new_password, &email)?;
        let hash = self.identity().passwords.hash(input.new_password).await?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        users::set_password(&mut conn, user.id, &hash, now).await?;
        let keep = (principal.credential == Credential::Session).then_some(principal.credential_id);
        sessions::revoke_for_user(&mut conn, user.id, None, keep, "password_changed", now).await?;
        self.queue_mail(
            &mut conn,
            None,
            &user.email_norm,
            Template::PasswordChanged,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }

    /// `POST /auth/forgot-password`: always 202.
    pub async fn forgot_password(&self, email: &str, client: &Client) -> Result<()> {
        let now = self.clock().now();
        self.identity().buckets.mail(client.ip, now)?;
        let email = parse_email(email)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        if let Some(user) = users::by_email(&mut conn, email.as_str()).await?
            && user.is_active
            && self.mail_allowed(&mut conn, email.as_str()).await?
        {
            let (token, hash) = one_time();
            otp::issue(
                &mut conn,
                RESET,
                user.id,
                email.as_str(),
                &hash,
                now + RESET_TTL,
                now,
            )
            .await?;
            let link = self.link(&format!("/reset-password?token={token}"));
            self.queue_mail(
                &mut conn,
                None,
                email.as_str(),
                Template::PasswordReset,
                serde_json::json!({ "link": link }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /auth/reset-password`: a weak new password is refused without consuming the
    /// token; success ends every session, clears the throttle and verifies the email.
    pub async fn reset_password(&self, input: ResetInput, client: &Client) -> Result<()> {
        let now = self.clock().now();
        self.identity().buckets.auth(client.ip, now)?;
        let hash_of_token = sha256_hex(&input.token);
        let (_, email_at_issue) = {
            let mut c = self.store().acquire().await?;
            otp::peek(&mut c.conn(), RESET, &hash_of_token, now)
                .await?
                .ok_or_else(errors::invalid_or_expired_token)?
        };
        let email = parse_email(&email_at_issue)?;
        check_password(&input.new_password, &email)?;
        let hash = self.identity().passwords.hash(input.new_password).await?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let (user, _) = otp::consume(&mut conn, RESET, &hash_of_token, now)
            .await?
            .ok_or_else(errors::invalid_or_expired_token)?;
        users::set_password(&mut conn, user, &hash, now).await?;
        users::bump_epoch(&mut conn, user, now).await?;
        sessions::revoke_for_user(&mut conn, user, None, None, "password_reset", now).await?;
        users::mark_verified(&mut conn, user, now).await?;
        throttle::reset(&mut conn, &self.throttle_key(&email, None), now).await?;
        self.queue_mail(
            &mut conn,
            None,
            email.as_str(),
            Template::PasswordChanged,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }

    /// `GET /auth/me`.
    pub async fn me(&self, principal: &Principal) -> Result<Me> {
        let account = self.account(principal.user_id).await?;
        let (user, mine) = (&account.user, &account.memberships);
        let current = principal
            .membership
            .and_then(|(org, _)| mine.iter().find(|(o, _)| o.id == org));
        let permissions = domain::Permission::ALL
            .iter()
            .copied()
            .filter(|p| principal.holds(*p))
            .collect();
        let credential = CredentialView {
            kind: match principal.credential {
                Credential::Session => "session",
                Credential::ApiToken { .. } => "api_token",
            },
            id: principal.credential_id,
        };
        let is_session = principal.credential == Credential::Session;
        Ok(Me {
            user: UserView::from(user),
            org: current.map(|(o, _)| OrgView::from(o)),
            role: principal.membership.map(|(_, r)| r),
            permissions,
            memberships: mine
                .iter()
                .map(|(o, r)| MembershipView {
                    org_id: o.id,
                    name: o.name.clone(),
                    slug: o.slug.clone(),
                    role: *r,
                })
                .collect(),
            session: is_session.then(|| credential.clone()),
            token: (!is_session).then_some(credential),
        })
    }

    /// The user's row and memberships, from the identity cache when fresh (under a second, and
    /// dropped by this replica's own changes: see `Identity::invalidate`).
    async fn account(&self, id: UserId) -> Result<Arc<Account>> {
        if let Some(a) = self.identity().accounts.get(&id) {
            return Ok(a);
        }
        let mut c = self.store().acquire().await?;
        let mut conn = c.conn();
        let user = users::by_id(&mut conn, id)
            .await?
            .ok_or_else(errors::session_revoked)?;
        let memberships = memberships::orgs_of(&mut conn, id).await?;
        let account = Arc::new(Account { user, memberships });
        self.identity().accounts.put(id, Arc::clone(&account));
        Ok(account)
    }

    pub(crate) async fn insert_org(
        &self,
        conn: &mut store::Conn<'_>,
        name: &str,
    ) -> Result<orgs::Org> {
        let now = self.clock().now();
        let base = slug_base(name);
        for attempt in 0..20u32 {
            let slug = if attempt == 0 {
                base.clone()
            } else {
                format!(
                    "{base}-{}",
                    &uuid::Uuid::now_v7().simple().to_string()[24..30]
                )
            };
            if orgs::slug_taken(conn, &slug).await? {
                continue;
            }
            let id = OrgId::new();
            orgs::insert(conn, id, name, &slug, now).await?;
            return orgs::by_id(conn, id).await?.ok_or_else(errors::internal);
        }
        Err(AppError::new(
            ErrorKind::Conflict,
            "slug_taken",
            "Could not find a free URL name for this organization; choose another name.",
        ))
    }
}

/// A URL-safe slug: lower-case ASCII letters, digits and single dashes, at most 40 characters.
fn slug_base(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let trimmed = out.trim_matches('-').to_owned();
    if trimmed.is_empty() {
        "org".to_owned()
    } else {
        trimmed
    }
}

/// What `GET /auth/me` reads from storage for one user.
#[derive(Debug)]
pub(crate) struct Account {
    user: users::User,
    memberships: Vec<(orgs::Org, domain::Role)>,
}
