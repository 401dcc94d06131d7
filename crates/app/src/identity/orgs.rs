//! Helpers shared by the org-scoped services: the org in scope and the users limit.

use domain::permission::marker;
use domain::{Limit, LimitValue, OrgId, PermissionMarker, Role};
use store::Conn;
use store::identity::{invites, memberships, orgs};

use super::errors;
use crate::Result;
use crate::authz::Authorized;

/// The org a capability is scoped to (member permissions always carry one).
pub(crate) fn org_of<P: PermissionMarker>(a: &Authorized<P>) -> Result<OrgId> {
    a.scope()
        .map(|s| s.org_id())
        .ok_or_else(crate::authz::unauthenticated)
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

/// Refuses one more seat when the org is at its `users` limit: 402 `limit_exceeded` with
/// `current` and `maximum`. Call with the org locked.
pub(crate) async fn check_seat(
    conn: &mut Conn<'_>,
    org: OrgId,
    now: chrono::DateTime<chrono::Utc>,
    seats: Seats,
) -> Result<()> {
    let tier = orgs::by_id(conn, org)
        .await?
        .ok_or_else(|| errors::not_found("organization"))?
        .tier;
    let LimitValue::Max(max) = Limit::Users.default_for(tier) else {
        return Ok(());
    };
    let members = memberships::count(conn, org, None).await?;
    let pending = match seats {
        Seats::MembersAndPending => invites::count_pending(conn, org, now).await?,
        Seats::Members => 0,
    };
    let current = u64::try_from(members + pending).unwrap_or(0);
    if !Limit::Users.default_for(tier).allows(current, 1) {
        return Err(errors::limit_exceeded("users", current, max, tier));
    }
    Ok(())
}

/// Whether the scoped principal also holds `api_tokens:admin`.
pub(crate) fn is_token_admin<P: PermissionMarker>(a: &Authorized<P>) -> bool {
    a.principal()
        .holds(<marker::ApiTokensAdmin as PermissionMarker>::PERMISSION)
}

/// The org's API rate per minute, or 402 `feature_not_licensed` (`api_access`) when it is 0.
/// The one place both token creation and token use ask, so the gate and the bucket always
/// agree; the entitlement engine will supply the tier's limit here.
pub(crate) fn api_rate(tier: domain::Tier) -> Result<u32> {
    match Limit::ApiRate.default_for(tier) {
        LimitValue::Max(0) => Err(errors::feature_not_licensed(
            domain::Feature::ApiAccess,
            tier,
        )),
        LimitValue::Max(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        LimitValue::Unlimited => Ok(u32::MAX),
    }
}
