//! Typed identifiers.
//!
//! Every id is a UUIDv7 (time-ordered, so indexes stay compact) wrapped in its own type, so a
//! user id can never be passed where an org id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {0:?}: expected a UUID")]
pub struct InvalidId(pub String);

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID, e.g. one read from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| InvalidId(s.to_owned()))
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// Identifies a user account (global, not org-scoped).
    UserId
);
typed_id!(
    /// Identifies an organization, the unit of tenancy.
    OrgId
);
typed_id!(
    /// Identifies a membership of a user in an organization.
    MembershipId
);
typed_id!(
    /// Identifies a job in the durable queue.
    JobId
);
typed_id!(
    /// Identifies a synced repository within its org.
    RepoId
);
typed_id!(
    /// Identifies a provider integration (one credential) within its org.
    IntegrationId
);
typed_id!(
    /// Identifies a person (or bot) behind commits, PRs and work items, within its org.
    IdentityId
);
typed_id!(
    /// Identifies a sync run.
    SyncRunId
);
typed_id!(
    /// Identifies a synced work item within its org.
    WorkItemId
);
typed_id!(
    /// Identifies a team within its org.
    TeamId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_are_time_ordered() {
        let a = OrgId::new();
        let b = OrgId::new();
        assert!(a < b, "UUIDv7 ids sort by creation time");
        assert_eq!(a.to_string().parse::<OrgId>(), Ok(a));
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
