//! Invites (identity spec §2.4): create, list, resend, revoke, preview and accept.
//!
//! The invite token is only ever mailed; holding it is what lets someone preview or accept,
//! and acceptance by a new user counts as email verification.

use auth::token::{one_time, sha256_hex};
use chrono::{DateTime, Duration, Utc};
use domain::permission::marker::{InvitesManage, InvitesRead};
use domain::{Role, UserId};
use serde::{Deserialize, Serialize};
use store::identity::invites::{self, Invite};
use store::identity::{memberships, orgs, users};
use uuid::Uuid;

use super::accounts::{check_name, check_password, parse_email};
use super::mail::Template;
use super::orgs::{Seats, org_of, role_of};
use super::sessions::SignedIn;
use super::views::{Page, rfc3339};
use super::{Client, INVITE_TTL, errors};
use crate::authz::{Authorized, Credential, Principal};
use crate::{App, AppError, ErrorKind, Result};

/// `POST /org/invites`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInviteInput {
    /// Address to invite.
    pub email: String,
    /// `admin`, `editor` or `viewer`.
    pub role: String,
}

/// An invite as listed (never its token).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InviteView {
    /// Id.
    pub id: Uuid,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    pub role: Role,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    /// Expiry of the current link.
    pub expires_at: String,
    /// Times sent.
    pub send_count: i32,
}

fn view(i: &Invite, now: DateTime<Utc>) -> InviteView {
    let status = if i.status == "pending" && i.expires_at <= now {
        "expired".to_owned()
    } else {
        i.status.clone()
    };
    InviteView {
        id: i.id,
        email: i.email_norm.clone(),
        role: i.role,
        status,
        expires_at: rfc3339(i.expires_at),
        send_count: i.send_count,
    }
}

/// `GET /invites/preview`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvitePreview {
    /// The org's name.
    pub org_name: String,
    /// Who invited.
    pub inviter_name: String,
    /// Role on acceptance.
    pub role: Role,
    /// Invited address.
    pub email: String,
    /// Expiry.
    pub expires_at: String,
    /// Whether the address already has an account (sign in first, then accept).
    pub account_exists: bool,
}

/// `POST /invites/accept`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// The mailed token.
    pub token: String,
    /// Name of the new account.
    #[serde(default)]
    pub name: Option<String>,
    /// Password of the new account.
    #[serde(default)]
    pub password: Option<String>,
}

/// Sends of one invite at most, and the gap between them.
const MAX_SENDS: i32 = 5;
const RESEND_GAP: Duration = Duration::seconds(60);

/// Roles an invite may carry (never owner: owners are made by promotion or transfer).
pub(crate) fn parse_invitable(text: &str) -> Result<Role> {
    match text.parse::<Role>() {
        Ok(Role::Owner) | Err(_) => Err(errors::invalid_role(text)),
        Ok(r) => Ok(r),
    }
}

impl App {
    async fn mail_invite(
        &self,
        conn: &mut store::Conn<'_>,
        invite: &Invite,
        token: &str,
        inviter: UserId,
    ) -> Result<()> {
        let org = orgs::by_id(conn, invite.org_id)
            .await?
            .ok_or_else(errors::internal)?;
        let inviter = users::by_id(conn, inviter).await?;
        let payload = serde_json::json!({
            "link": self.link(&format!("/invite?token={token}")),
            "org_name": org.name,
            "inviter_name": inviter.map(|u| if u.name.is_empty() { u.email } else { u.name }).unwrap_or_default(),
            "role": invite.role.as_str(),
        });
        self.queue_mail(
            conn,
            Some(invite.org_id),
            &invite.email_norm,
            Template::Invite,
            payload,
        )
        .await
    }

    /// `POST /org/invites`.
    pub async fn create_invite(
        &self,
        a: &Authorized<InvitesManage>,
        input: NewInviteInput,
    ) -> Result<InviteView> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let role = parse_invitable(&input.role)?;
        if role.rank() > role_of(a)?.rank() {
            return Err(errors::forbidden(
                "role_above_caller",
                "You cannot invite someone with a role above your own.",
            ));
        }
        let email = parse_email(&input.email)?;
        // Read before the transaction: building a snapshot needs its own connection.
        let entitlements = self.entitlements_of(org).await;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        memberships::lock_org(&mut conn, org).await?;
        invites::expire_stale(&mut conn, org, now).await?;
        if let Some(existing) = users::by_email(&mut conn, email.as_str()).await?
            && memberships::role_of(&mut conn, org, existing.id)
                .await?
                .is_some()
        {
            return Err(errors::conflict(
                "already_member",
                "That address already belongs to a member.",
            ));
        }
        let pending = invites::list(&mut conn, org, Some("pending"), None, 1000).await?;
        if pending.iter().any(|i| i.email_norm == email.as_str()) {
            return Err(errors::conflict(
                "invite_pending",
                "That address already has a pending invite; resend it instead.",
            ));
        }
        self.check_seat(&mut conn, &entitlements, now, Seats::MembersAndPending)
            .await?;
        let (token, hash) = one_time();
        let invite = Invite {
            id: Uuid::now_v7(),
            org_id: org,
            email_norm: email.as_str().to_owned(),
            role,
            invited_by: Some(a.principal().user_id),
            created_at: now,
            expires_at: now + INVITE_TTL,
            last_sent_at: now,
            send_count: 1,
            status: "pending".into(),
        };
        invites::insert(&mut conn, &invite, &hash).await?;
        self.mail_invite(&mut conn, &invite, &token, a.principal().user_id)
            .await?;
        tx.commit().await?;
        Ok(view(&invite, now))
    }

    /// `GET /org/invites`, newest first.
    pub async fn list_invites(
        &self,
        a: &Authorized<InvitesRead>,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<InviteView>> {
        let now = self.clock().now();
        let org = org_of(a)?;
        if let Some(s) = status
            && !["pending", "accepted", "revoked", "expired"].contains(&s)
        {
            return Err(AppError::new(
                ErrorKind::BadRequest,
                "invalid_query",
                format!("status {s:?} is not one of pending, accepted, revoked, expired."),
            ));
        }
        let before = cursor.map(parse_cursor).transpose()?;
        let mut c = self.store().acquire().await?;
        let mut conn = c.conn();
        invites::expire_stale(&mut conn, org, now).await?;
        let mut rows = invites::list(&mut conn, org, status, before, limit + 1).await?;
        let next = (rows.len() > limit as usize).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|i| i.id.to_string())
        });
        Ok(Page {
            items: rows.iter().map(|i| view(i, now)).collect(),
            next_cursor: next.flatten(),
        })
    }

    /// `POST /org/invites/{id}/resend`: a new token and a new 72 h.
    pub async fn resend_invite(
        &self,
        a: &Authorized<InvitesManage>,
        id: Uuid,
    ) -> Result<InviteView> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let invite = invites::get(&mut conn, org, id)
            .await?
            .ok_or_else(|| errors::not_found("invite"))?;
        if invite.status != "pending" {
            return Err(errors::conflict(
                "invite_not_pending",
                "This invite is no longer pending.",
            ));
        }
        if invite.send_count >= MAX_SENDS {
            return Err(AppError::new(
                ErrorKind::TooManyRequests,
                "too_many_sends",
                "This invite was sent 5 times already; revoke it and invite again.",
            )
            .with("retry_after_s", INVITE_TTL.num_seconds()));
        }
        if now - invite.last_sent_at < RESEND_GAP {
            return Err(errors::throttled(
                "too_many_sends",
                RESEND_GAP - (now - invite.last_sent_at),
            ));
        }
        let (token, hash) = one_time();
        let expires_at = now + INVITE_TTL;
        invites::resend(&mut conn, org, id, &hash, expires_at, now).await?;
        let fresh = Invite {
            expires_at,
            last_sent_at: now,
            send_count: invite.send_count + 1,
            ..invite
        };
        self.mail_invite(&mut conn, &fresh, &token, a.principal().user_id)
            .await?;
        tx.commit().await?;
        Ok(view(&fresh, now))
    }

    /// `DELETE /org/invites/{id}`.
    pub async fn revoke_invite(&self, a: &Authorized<InvitesManage>, id: Uuid) -> Result<()> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let invite = invites::get(&mut conn, org, id)
            .await?
            .ok_or_else(|| errors::not_found("invite"))?;
        if invite.status != "pending" || invite.expires_at <= now {
            return Err(errors::conflict(
                "invite_not_pending",
                "This invite is no longer pending.",
            ));
        }
        invites::close(&mut conn, org, id, false, a.principal().user_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn live_invite(&self, conn: &mut store::Conn<'_>, token: &str) -> Result<Invite> {
        let now = self.clock().now();
        invites::by_hash(conn, &sha256_hex(token))
            .await?
            .filter(|i| i.status == "pending" && i.expires_at > now)
            .ok_or_else(errors::invalid_or_expired_token)
    }

    /// `GET /invites/preview`: only the token holder learns whether the address has an account.
    pub async fn preview_invite(&self, token: &str) -> Result<InvitePreview> {
        let mut c = self.store().acquire().await?;
        let mut conn = c.conn();
        let invite = self.live_invite(&mut conn, token).await?;
        let org = orgs::by_id(&mut conn, invite.org_id)
            .await?
            .ok_or_else(errors::invalid_or_expired_token)?;
        let inviter = match invite.invited_by {
            Some(u) => users::by_id(&mut conn, u).await?,
            None => None,
        };
        let exists = users::by_email(&mut conn, &invite.email_norm)
            .await?
            .is_some();
        Ok(InvitePreview {
            org_name: org.name,
            inviter_name: inviter
                .map(|u| if u.name.is_empty() { u.email } else { u.name })
                .unwrap_or_default(),
            role: invite.role,
            email: invite.email_norm,
            expires_at: rfc3339(invite.expires_at),
            account_exists: exists,
        })
    }

    /// `POST /invites/accept`: joins the org (creating a verified account for a new address)
    /// and returns a session scoped to it.
    pub async fn accept_invite(
        &self,
        principal: Option<&Principal>,
        input: AcceptInput,
        client: &Client,
    ) -> Result<SignedIn> {
        let now = self.clock().now();
        self.identity().buckets.auth(client.ip, now)?;
        let (hash, invite_org) = {
            let mut c = self.store().acquire().await?;
            let invite = self.live_invite(&mut c.conn(), &input.token).await?;
            let invite_org = invite.org_id;
            let session_user = principal.filter(|p| p.credential == Credential::Session);
            let hash = match session_user {
                Some(p) => {
                    let me = users::by_id(&mut c.conn(), p.user_id)
                        .await?
                        .ok_or_else(errors::session_revoked)?;
                    if me.email_norm != invite.email_norm {
                        return Err(errors::forbidden(
                            "invite_email_mismatch",
                            "This invite is for another email address; sign in with that address to accept it.",
                        ));
                    }
                    None
                }
                None => {
                    if users::by_email(&mut c.conn(), &invite.email_norm)
                        .await?
                        .is_some()
                    {
                        return Err(errors::conflict(
                            "account_exists_login_required",
                            "An account with this address exists; sign in, then accept the invite.",
                        ));
                    }
                    let email = parse_email(&invite.email_norm)?;
                    let password = input.password.as_deref().ok_or_else(|| {
                        errors::invalid_field("password", "is required to create your account")
                    })?;
                    check_password(password, &email)?;
                    Some(self.identity().passwords.hash(password.to_owned()).await?)
                }
            };
            (hash, invite_org)
        };
        // Read before the transaction: building a snapshot needs its own connection.
        let entitlements = self.entitlements_of(invite_org).await;
        let name = match &input.name {
            Some(n) => check_name("name", n)?,
            None => String::new(),
        };
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let invite = self.live_invite(&mut conn, &input.token).await?;
        memberships::lock_org(&mut conn, invite.org_id).await?;
        let user = match (&hash, principal) {
            (Some(phc), _) => {
                let id = UserId::new();
                users::insert(
                    &mut conn,
                    &users::NewUser {
                        id,
                        email: &invite.email_norm,
                        email_norm: &invite.email_norm,
                        name: &name,
                        password_hash: Some(phc),
                        verified_at: Some(now),
                        platform_admin: false,
                    },
                    now,
                )
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        errors::conflict(
                            "account_exists_login_required",
                            "An account with this address exists; sign in, then accept the invite.",
                        )
                    } else {
                        e.into()
                    }
                })?;
                id
            }
            (None, Some(p)) => p.user_id,
            (None, None) => return Err(errors::internal()),
        };
        if memberships::role_of(&mut conn, invite.org_id, user)
            .await?
            .is_some()
        {
            return Err(errors::conflict(
                "already_member",
                "You are already a member of this organization.",
            ));
        }
        // Refused only while the org is at or over its limit (e.g. after a downgrade).
        self.check_seat(&mut conn, &entitlements, now, Seats::Members)
            .await?;
        memberships::insert(
            &mut conn,
            invite.org_id,
            user,
            invite.role,
            invite.invited_by,
            now,
        )
        .await?;
        invites::close(&mut conn, invite.org_id, invite.id, true, user, now).await?;
        users::mark_verified(&mut conn, user, now).await?;
        let account = users::by_id(&mut conn, user)
            .await?
            .ok_or_else(errors::internal)?;
        let org = orgs::by_id(&mut conn, invite.org_id)
            .await?
            .ok_or_else(errors::internal)?;
        let signed = self
            .start_session(
                &mut conn,
                &account,
                Some((&org, invite.role)),
                "invite",
                client,
            )
            .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(signed)
    }
}

/// A list cursor: the id of the last item of the previous page.
pub(crate) fn parse_cursor(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| {
        AppError::new(
            ErrorKind::BadRequest,
            "invalid_cursor",
            "The cursor is not one this server issued.",
        )
    })
}
