//! Members (identity spec §2.4, rules R1–R5): list, change role, remove, leave and transfer
//! ownership. Every change that can reduce access drops the session and token caches, so it
//! takes effect on the member's next request.

use domain::permission::marker::{MembersRead, MembersRemove, OwnershipTransfer, RolesAssign};
use domain::{MembershipId, OrgId, Role, UserId};
use serde::{Deserialize, Serialize};
use store::Conn;
use store::identity::{api_tokens, memberships, orgs, sessions, users};

use super::errors;
use super::mail::Template;
use super::orgs::{org_of, role_of};
use super::views::{Page, rfc3339};
use crate::authz::{Authorized, Principal};
use crate::{App, Result};

/// A member as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberView {
    /// The user.
    pub user_id: UserId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Join time.
    pub joined_at: String,
    /// Last sign-in.
    pub last_login_at: Option<String>,
    /// Linked to an SSO identity (SSO arrives with the enterprise issue).
    pub sso_linked: bool,
}

/// `POST /org/ownership/transfer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// The member who becomes owner.
    pub new_owner_user_id: UserId,
    /// The caller's password (re-authentication).
    #[serde(default)]
    pub current_password: Option<String>,
}

fn owner_protected() -> crate::AppError {
    errors::forbidden(
        "owner_protected",
        "Only an owner can change or remove an owner, or make someone owner.",
    )
}

fn last_owner() -> crate::AppError {
    errors::conflict(
        "last_owner",
        "An organization needs at least one owner; transfer ownership first.",
    )
}

impl App {
    /// `GET /org/members`.
    pub async fn list_members(
        &self,
        a: &Authorized<MembersRead>,
        role: Option<Role>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<MemberView>> {
        let org = org_of(a)?;
        let after = cursor
            .map(super::invites::parse_cursor)
            .transpose()?
            .map(MembershipId::from_uuid);
        let mut c = self.store().acquire().await?;
        let mut rows = memberships::list(&mut c.conn(), org, role, after, limit + 1).await?;
        let next = (rows.len() > limit as usize).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|m| m.id.to_string())
        });
        Ok(Page {
            items: rows
                .into_iter()
                .map(|m| MemberView {
                    user_id: m.user_id,
                    email: m.email,
                    name: m.name,
                    role: m.role,
                    joined_at: rfc3339(m.joined_at),
                    last_login_at: m.last_login_at.map(rfc3339),
                    sso_linked: false,
                })
                .collect(),
            next_cursor: next.flatten(),
        })
    }

    /// `PATCH /org/members/{user_id}`.
    pub async fn change_role(
        &self,
        a: &Authorized<RolesAssign>,
        user: UserId,
        role_text: &str,
    ) -> Result<MemberView> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let caller = role_of(a)?;
        let role: Role = role_text
            .parse()
            .map_err(|_| errors::invalid_role(role_text))?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        memberships::lock_org(&mut conn, org).await?;
        let target = memberships::get(&mut conn, org, user)
            .await?
            .ok_or_else(|| errors::not_found("member"))?;
        if (target.role == Role::Owner || role == Role::Owner) && caller != Role::Owner {
            return Err(owner_protected());
        }
        if role.rank() > caller.rank() {
            return Err(errors::forbidden(
                "role_above_caller",
                "You cannot give a role above your own.",
            ));
        }
        if target.role == Role::Owner
            && role != Role::Owner
            && memberships::count(&mut conn, org, Some(Role::Owner)).await? <= 1
        {
            return Err(last_owner());
        }
        memberships::set_role(&mut conn, org, user, role, now).await?;
        tx.commit().await?;
        self.identity().invalidate();
        tracing::info!(org = %org, member = %user, before = %target.role, after = %role, by = %a.principal().user_id, "member role changed");
        Ok(MemberView {
            user_id: target.user_id,
            email: target.email,
            name: target.name,
            role,
            joined_at: rfc3339(target.joined_at),
            last_login_at: target.last_login_at.map(rfc3339),
            sso_linked: false,
        })
    }

    /// Ends a membership and everything that rode on it (sessions in the org, its API tokens).
    async fn end_membership(
        &self,
        conn: &mut Conn<'_>,
        org: OrgId,
        user: UserId,
        by: UserId,
    ) -> Result<()> {
        let now = self.clock().now();
        memberships::delete(conn, org, user).await?;
        sessions::revoke_for_user(conn, user, Some(org), None, "membership_removed", now).await?;
        api_tokens::revoke_for_member(conn, org, user, by, now).await?;
        Ok(())
    }

    /// `DELETE /org/members/{user_id}`.
    pub async fn remove_member(&self, a: &Authorized<MembersRemove>, user: UserId) -> Result<()> {
        let org = org_of(a)?;
        let caller = role_of(a)?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        memberships::lock_org(&mut conn, org).await?;
        let target = memberships::get(&mut conn, org, user)
            .await?
            .ok_or_else(|| errors::not_found("member"))?;
        if target.role == Role::Owner {
            if caller != Role::Owner {
                return Err(owner_protected());
            }
            if memberships::count(&mut conn, org, Some(Role::Owner)).await? <= 1 {
                return Err(last_owner());
            }
        }
        self.end_membership(&mut conn, org, user, a.principal().user_id)
            .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }

    /// `POST /org/leave`.
    pub async fn leave_org(&self, principal: &Principal) -> Result<()> {
        let Some((org, role)) = principal.membership else {
            return Err(crate::authz::unauthenticated());
        };
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        memberships::lock_org(&mut conn, org).await?;
        if role == Role::Owner && memberships::count(&mut conn, org, Some(Role::Owner)).await? <= 1
        {
            return Err(last_owner());
        }
        self.end_membership(&mut conn, org, principal.user_id, principal.user_id)
            .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }

    /// `POST /org/ownership/transfer`: the target becomes owner and the caller admin, in one
    /// transaction, after the caller re-enters their password.
    pub async fn transfer_ownership(
        &self,
        a: &Authorized<OwnershipTransfer>,
        input: TransferInput,
    ) -> Result<()> {
        let now = self.clock().now();
        let org = org_of(a)?;
        let me = a.principal().user_id;
        let reauth = || {
            crate::AppError::new(
                crate::ErrorKind::Unauthenticated,
                "reauth_required",
                "Confirm this with your current password.",
            )
        };
        let caller = {
            let mut c = self.store().acquire().await?;
            users::by_id(&mut c.conn(), me)
                .await?
                .ok_or_else(errors::session_revoked)?
        };
        let (Some(password), Some(phc)) = (input.current_password, caller.password_hash.clone())
        else {
            return Err(reauth());
        };
        if !self
            .identity()
            .passwords
            .verify(password, phc)
            .await?
            .is_ok_and(|v| v.ok)
        {
            return Err(reauth());
        }
        if input.new_owner_user_id == me {
            return Err(crate::AppError::new(
                crate::ErrorKind::Invalid,
                "cannot_transfer_to_self",
                "Choose another member to become owner.",
            ));
        }
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        memberships::lock_org(&mut conn, org).await?;
        let target = memberships::get(&mut conn, org, input.new_owner_user_id)
            .await?
            .ok_or_else(|| errors::not_found("member"))?;
        if !target.is_active || !target.verified {
            return Err(errors::conflict(
                "target_not_eligible",
                "That member's account is inactive or unverified.",
            ));
        }
        memberships::set_role(&mut conn, org, target.user_id, Role::Owner, now).await?;
        memberships::set_role(&mut conn, org, me, Role::Admin, now).await?;
        let org_row = orgs::by_id(&mut conn, org)
            .await?
            .ok_or_else(errors::internal)?;
        let payload = serde_json::json!({ "org_name": org_row.name, "new_owner": target.email });
        self.queue_mail(
            &mut conn,
            Some(org),
            &caller.email_norm,
            Template::OwnershipTransferred,
            payload.clone(),
        )
        .await?;
        self.queue_mail(
            &mut conn,
            Some(org),
            &target.email.to_lowercase(),
            Template::OwnershipTransferred,
            payload,
        )
        .await?;
        tx.commit().await?;
        self.identity().invalidate();
        Ok(())
    }
}
