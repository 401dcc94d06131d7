//! Sessions as refresh families (identity spec §2.5): issuing, rotation with reuse detection,
//! logout, logout-all and switching org.

use auth::access::Subject;
use auth::token::sha256_hex;
use chrono::{DateTime, Utc};
use domain::{OrgId, Role, UserId};
use serde::Serialize;
use store::Conn;
use store::identity::sessions::{self, NewSession, RefreshToken};
use store::identity::{memberships, orgs, users};
use uuid::Uuid;

use super::views::{OrgView, UserView};
use super::{Client, REFRESH_GRACE, REFRESH_TTL, SESSION_CAP, errors, mail};
use crate::authz::{Credential, Principal};
use crate::{App, AppError, ErrorKind, Result};

/// A new token pair, with who it is for (login, refresh, switch-org, invite acceptance).
#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    /// The 15-minute access JWT.
    pub access_token: String,
    /// The rotating refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires (900).
    pub expires_in: i64,
    /// The user.
    pub user: UserView,
    /// The session's org (None: orgless).
    pub org: Option<OrgView>,
    /// The live role in it.
    pub role: Option<Role>,
    /// The session id.
    #[serde(skip)]
    pub session_id: Uuid,
}

impl App {
    /// The access JWT for a session.
    fn mint_access(
        &self,
        user: UserId,
        email: &str,
        membership: Option<(OrgId, Role)>,
        session: Uuid,
        now: DateTime<Utc>,
    ) -> String {
        self.identity().config.keys.access.issue(
            &Subject {
                user_id: user,
                email: email.to_owned(),
                membership,
                session_id: session,
            },
            now,
        )
    }

    /// Creates a session (refresh family) and its first refresh token inside `conn`'s
    /// transaction, and returns the token pair.
    pub(crate) async fn start_session(
        &self,
        conn: &mut Conn<'_>,
        user: &users::User,
        org: Option<(&orgs::Org, Role)>,
        method: &str,
        client: &Client,
    ) -> Result<SignedIn> {
        let now = self.clock().now();
        let session = Uuid::now_v7();
        let ip = client.ip_text();
        sessions::insert(
            conn,
            &NewSession {
                id: session,
                user_id: user.id,
                org_id: org.map(|(o, _)| o.id),
                auth_method: method,
                epoch: user.session_epoch,
                absolute_expires_at: now + SESSION_CAP,
                ip: ip.as_deref(),
                user_agent: client.user_agent.as_deref(),
            },
            now,
        )
        .await?;
        let refresh = RefreshToken {
            id: Uuid::now_v7(),
            session_id: session,
            expires_at: now + REFRESH_TTL,
            used_at: None,
            successor_id: None,
        };
        let refresh_token = self.identity().config.keys.refresh.mint(refresh.id);
        sessions::insert_refresh(conn, &refresh, None, &sha256_hex(&refresh_token), now).await?;
        users::record_login(conn, user.id, org.map(|(o, _)| o.id), now).await?;
        let membership = org.map(|(o, r)| (o.id, r));
        Ok(SignedIn {
            access_token: self.mint_access(user.id, &user.email, membership, session, now),
            refresh_token,
            token_type: "Bearer",
            expires_in: auth::access::ACCESS_TTL.num_seconds(),
            user: UserView::from(user),
            org: org.map(|(o, _)| OrgView::from(o)),
            role: org.map(|(_, r)| r),
            session_id: session,
        })
    }

    /// `POST /auth/refresh`: rotates a refresh token (identity spec §2.5), in one transaction.
    pub async fn refresh(&self, token: &str, client: &Client) -> Result<SignedIn> {
        let now = self.clock().now();
        self.identity().buckets.take_ip(
            "refresh",
            client.ip,
            &auth::throttle::REFRESH_BUCKET,
            now,
            "rate_limited",
        )?;
        let keys = &self.identity().config.keys;
        let id = keys
            .refresh
            .verify(token)
            .map_err(|_| errors::invalid_refresh_token())?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let Some(t) = sessions::refresh_for_update(&mut conn, id).await? else {
            return Err(errors::invalid_refresh_token());
        };
        let view = sessions::view(&mut conn, t.session_id, now, true)
            .await?
            .ok_or_else(errors::session_revoked)?;
        if !view.live || now >= t.expires_at {
            return Err(errors::session_revoked());
        }
        let outcome = match t.used_at {
            None => self.rotate(&mut conn, &view, &t, now).await,
            Some(used_at) => {
                let successor = match t.successor_id {
                    Some(s) => sessions::refresh_for_update(&mut conn, s).await?,
                    None => None,
                };
                match successor {
                    Some(s) if s.used_at.is_none() && now - used_at <= REFRESH_GRACE => {
                        self.pair_for(&mut conn, &view, keys.refresh.mint(s.id), now)
                            .await
                    }
                    _ => {
                        sessions::revoke(&mut conn, view.id, "refresh_reuse", now).await?;
                        self.queue_mail(
                            &mut conn,
                            None,
                            &view.email,
                            mail::Template::RefreshReuse,
                            serde_json::json!({
                                "ip": client.ip_text(),
                                "user_agent": client.user_agent,
                            }),
                        )
                        .await?;
                        tracing::warn!(session = %view.id, user = %view.user_id, "refresh token reuse detected; session revoked");
                        Err(AppError::new(
                            ErrorKind::Unauthenticated,
                            "refresh_reuse_detected",
                            "This refresh token was already used; the session has been ended for safety. Sign in again.",
                        ))
                    }
                }
            }
        };
        // Revocations are committed even though the request fails.
        tx.commit().await?;
        if outcome.is_err() {
            self.identity().invalidate();
        }
        outcome
    }

    async fn rotate(
        &self,
        conn: &mut Conn<'_>,
        view: &sessions::SessionView,
        t: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<SignedIn> {
        let member_ok = view.org_id.is_none() || view.role.is_some();
        if !view.user_active || !member_ok {
            sessions::revoke(conn, view.id, "access_lost", now).await?;
            return Err(errors::session_revoked());
        }
        let next = RefreshToken {
            id: Uuid::now_v7(),
            session_id: view.id,
            expires_at: (now + REFRESH_TTL).min(view.absolute_expires_at),
            used_at: None,
            successor_id: None,
        };
        let token = self.identity().config.keys.refresh.mint(next.id);
        sessions::insert_refresh(conn, &next, Some(t.id), &sha256_hex(&token), now).await?;
        sessions::mark_rotated(conn, t.id, next.id, now).await?;
        self.pair_for(conn, view, token, now).await
    }

    /// The token pair for a session, with the user and org as they are now.
    async fn pair_for(
        &self,
        conn: &mut Conn<'_>,
        view: &sessions::SessionView,
        refresh_token: String,
        now: DateTime<Utc>,
    ) -> Result<SignedIn> {
        let user = users::by_id(conn, view.user_id)
            .await?
            .ok_or_else(errors::session_revoked)?;
        let org = match view.org_id {
            Some(o) => orgs::by_id(conn, o).await?,
            None => None,
        };
        let membership = view.org_id.zip(view.role);
        Ok(SignedIn {
            access_token: self.mint_access(view.user_id, &view.email, membership, view.id, now),
            refresh_token,
            token_type: "Bearer",
            expires_in: auth::access::ACCESS_TTL.num_seconds(),
            user: UserView::from(&user),
            org: org.as_ref().map(OrgView::from),
            role: view.role,
            session_id: view.id,
        })
    }

    /// `POST /auth/logout`: ends the caller's session, found from the principal or from a
    /// refresh token. Idempotent; a bad or unknown refresh token is ignored.
    pub async fn logout(&self, principal: Option<&Principal>, refresh: Option<&str>) -> Result<()> {
        let now = self.clock().now();
        let session = match principal {
            Some(p) if p.credential == Credential::Session => Some(p.credential_id),
            _ => match refresh.map(|t| self.identity().config.keys.refresh.verify(t)) {
                Some(Ok(id)) => {
                    let mut c = self.store().acquire().await?;
                    sessions::refresh_for_update(&mut c.conn(), id)
                        .await?
                        .map(|t| t.session_id)
                }
                _ => None,
            },
        };
        if let Some(sid) = session {
            let mut c = self.store().acquire().await?;
            sessions::revoke(&mut c.conn(), sid, "logout", now).await?;
            self.identity().invalidate();
        }
        Ok(())
    }

    /// `POST /auth/logout-all`: increments the user's session epoch and revokes every live
    /// session, so every access token stops working within one cache period. API tokens stay.
    pub async fn logout_all(&self, principal: &Principal) -> Result<u64> {
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        users::bump_epoch(&mut conn, principal.user_id, now).await?;
        let n =
            sessions::revoke_for_user(&mut conn, principal.user_id, None, None, "logout_all", now)
                .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(n)
    }

    /// `POST /auth/switch-org`: moves the caller's session to another org they belong to and
    /// rotates its refresh token. Not a member (or a deleted org) → 404.
    pub async fn switch_org(&self, principal: &Principal, org: OrgId) -> Result<SignedIn> {
        let now = self.clock().now();
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        // Only live orgs have a role, so a deleted org is "not found" too.
        memberships::role_of(&mut conn, org, principal.user_id)
            .await?
            .ok_or_else(|| errors::not_found("organization"))?;
        let sid = principal.credential_id;
        sessions::set_org(&mut conn, sid, org, now).await?;
        users::set_last_org(&mut conn, principal.user_id, org).await?;
        let view = sessions::view(&mut conn, sid, now, true)
            .await?
            .filter(|v| v.live)
            .ok_or_else(errors::session_revoked)?;
        let head = sessions::head_of(&mut conn, sid)
            .await?
            .ok_or_else(errors::session_revoked)?;
        let signed = self.rotate(&mut conn, &view, &head, now).await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(signed)
    }
}
