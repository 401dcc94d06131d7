//! Tiers: community < team < enterprise.

use crate::vocab::closed_enum;

closed_enum! {
    /// A commercial tier. The derived order is the tier rank, so `Tier::Team > Tier::Community`.
    pub enum Tier as "tier" {
        /// Free: basic analytics, sync, a single org, up to 3 users.
        Community => "community",
        /// Paid: multiple orgs, unlimited users, API access, webhooks, capacity planning.
        Team => "team",
        /// Paid: investment view, SSO, audit log, retention policies, IP allowlist.
        Enterprise => "enterprise",
    }
}

impl Tier {
    /// Rank used in comparisons and reports (community 0, team 1, enterprise 2).
    pub const fn rank(self) -> u8 {
        match self {
            Tier::Community => 0,
            Tier::Team => 1,
            Tier::Enterprise => 2,
        }
    }

    /// Days a token of this tier stays usable after `exp` when the token does not say otherwise.
    pub const fn default_grace_days(self) -> u32 {
        match self {
            Tier::Community => 0,
            Tier::Team => 14,
            Tier::Enterprise => 30,
        }
    }

    /// Human label for pages and messages.
    pub const fn label(self) -> &'static str {
        match self {
            Tier::Community => "Community",
            Tier::Team => "Team",
            Tier::Enterprise => "Enterprise",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_totally_ordered_by_rank() {
        assert!(Tier::Community < Tier::Team && Tier::Team < Tier::Enterprise);
        for pair in Tier::ALL.windows(2) {
            assert!(pair[0].rank() < pair[1].rank());
        }
    }

    #[test]
    fn unknown_tier_names_the_accepted_values() {
        let err = "gold".parse::<Tier>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown tier "gold" (expected one of: community, team, enterprise)"#
        );
        assert_eq!("team".parse::<Tier>(), Ok(Tier::Team));
        assert_eq!(
            serde_json::to_string(&Tier::Enterprise).unwrap(),
            "\"enterprise\""
        );
    }
}
