//! Pure domain types of Dev Health.
//!
//! Everything here is plain data and pure functions: no async runtime, no database, no HTTP.
//! Other crates build on these types so that a tier, a feature key, a role or a permission has
//! exactly one definition, compiled into the binary and mirrored (never overridden) by the
//! database seed. The dependency rule is checked by `scripts/check-deps`.

pub mod clock;
pub mod entitlement;
pub mod feature;
pub mod ids;
pub mod limit;
pub mod permission;
pub mod role;
pub mod tier;

mod parse_error;
mod vocab;

pub use clock::{Clock, ManualClock, SystemClock};
pub use feature::{Feature, FeatureMarker};
pub use ids::{
    IdentityId, IntegrationId, JobId, MembershipId, OrgId, RepoId, SyncRunId, TeamId, UserId,
    WorkItemId,
};
pub use limit::{Limit, LimitValue};
pub use parse_error::UnknownValue;
pub use permission::{Permission, PermissionMarker};
pub use role::Role;
pub use tier::Tier;
