//! Organization roles (seed: owner, admin, editor, viewer).

use crate::Permission;
use crate::vocab::closed_enum;

closed_enum! {
    /// A member's role in one organization. Declaration order is from most to least powerful.
    pub enum Role as "role" {
        /// Full control including billing and org deletion.
        Owner => "owner",
        /// Manages users and settings, full data access.
        Admin => "admin",
        /// Modifies teams, runs syncs, write access.
        Editor => "editor",
        /// Read-only access to analytics.
        Viewer => "viewer",
    }
}

impl Role {
    /// Power rank: owner 3 … viewer 0. Used for "no role above your own" rules.
    pub const fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Editor => 1,
            Role::Viewer => 0,
        }
    }

    /// Every permission this role holds, in permission declaration order. Nothing is inherited
    /// at read time: the matrix lists each role's full set.
    pub fn permissions(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| p.granted_to(self))
    }
}
