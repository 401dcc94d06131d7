//! Helpers shared by the org-scoped services: the org in scope and the users limit.

use domain::permission::marker;
use domain::{Limit, OrgId, PermissionMarker, Role};
use store::Conn;
use store::identity::invites;

use crate::Result;
use crate::authz::Authorized;

/// The org a capability is scoped to (member permissions always carry one).
pub(crate) fn org_of<P: PermissionMarker>(a: &Authorized<P>) -> Result<OrgId> {
    a.org_id()
}

/// The caller's live role in the scoped org.
pub(crate) fn role_of<P: PermissionMarker>(a: &Authorized<P>) -> Result<Role> {
    a.principal()
        .membership
        .map(|(_, r)| r)
        .ok_or_else(crate::authz::unauthenticated)
}

/// Which seats count against the `users` limit (entitlements spec §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seats {
    /// Creating an invite: members and pending, unexpired invites.
    MembersAndPending,
    /// Accepting an invite (or adding a member): members only, so accepts stay possible until
    /// the org is at its limit, and are refused while it is at or over it.
    Members,
}

impl crate::App {
    /// Refuses one more seat when the org is at its `users` limit: 402 `limit_exceeded` with
    /// `current` and `maximum`. Call with the org locked, with the snapshot read before the
    /// transaction began. Seats are the org's members (SaaS) or
    /// the deployment's distinct active users (self-hosted), plus the org's pending invites when
    /// an invite is being created (entitlements spec §4, §16).
    pub(crate) async fn check_seat(
        &self,
        conn: &mut Conn<'_>,
        entitlements: &crate::entitlements::OrgSnapshot,
        now: chrono::DateTime<chrono::Utc>,
        seats: Seats,
    ) -> Result<()> {
        let org = entitlements.org_id;
        let usage = store::entitlements::usage(conn, org).await?;
        let members = match self.engine().config.mode {
            crate::entitlements::Mode::Saas => usage.org_members,
            crate::entitlements::Mode::SelfHosted => usage.deployment_users,
        };
        let pending = match seats {
            Seats::MembersAndPending => invites::count_pending(conn, org, now).await?,
            Seats::Members => 0,
        };
        let current = u64::try_from(members + pending).unwrap_or(0);
        entitlements.ensure_limit(Limit::Users, current, 1)
    }
}

/// Whether the scoped principal also holds `api_tokens:admin`.
pub(crate) fn is_token_admin<P: PermissionMarker>(a: &Authorized<P>) -> bool {
    a.principal()
        .holds(<marker::ApiTokensAdmin as PermissionMarker>::PERMISSION)
}
