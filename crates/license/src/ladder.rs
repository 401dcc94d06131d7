//! The lifecycle of a usable token (entitlements spec §12): active, expiring (30 days before
//! `exp`), in grace (until `exp + grace_days`), expired.

use serde::Serialize;

use crate::claims::Claims;

/// The warning window before `exp`.
pub const WARNING_S: i64 = 30 * 86_400;

/// Where a token stands at an evaluation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Before `nbf`: not applied.
    NotYetValid,
    /// Features and limits from the token.
    Active,
    /// Unchanged, with a warning banner.
    Expiring,
    /// Past `exp`, still applied until the end of grace.
    InGrace,
    /// Past grace: community.
    Expired,
}

impl State {
    /// Whether the token's features and limits apply.
    pub const fn usable(self) -> bool {
        matches!(self, State::Active | State::Expiring | State::InGrace)
    }
}

/// The state of `claims` at `at` (Unix seconds).
pub fn state(claims: &Claims, at: i64) -> State {
    if claims.nbf.is_some_and(|nbf| at < nbf) {
        State::NotYetValid
    } else if at < claims.exp.saturating_sub(WARNING_S) {
        State::Active
    } else if at < claims.exp {
        State::Expiring
    } else if at < claims.grace_ends_at() {
        State::InGrace
    } else {
        State::Expired
    }
}

/// The next time the state changes after `at`, if any.
pub fn next_transition(claims: &Claims, at: i64) -> Option<i64> {
    [
        claims.nbf,
        Some(claims.exp.saturating_sub(WARNING_S)),
        Some(claims.exp),
        Some(claims.grace_ends_at()),
    ]
    .into_iter()
    .flatten()
    .filter(|t| *t > at)
    .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, grace_days: i64, nbf: Option<i64>) -> Claims {
        Claims {
            iss: crate::claims::ISSUER.into(),
            sub: "cus".into(),
            jti: "0b6f7c1e-5d8a-4f2b-9a51-3c8d2e7f4a10".into(),
            iat: 0,
            nbf,
            exp,
            tier: domain::Tier::Team,
            features: Default::default(),
            limits: Default::default(),
            deployment_ids: vec!["self-hosted".into()],
            grace_days,
        }
    }

    #[test]
    fn the_ladder_moves_at_each_boundary() {
        const DAY: i64 = 86_400;
        let c = claims(100 * DAY, 14, Some(10 * DAY));
        assert_eq!(state(&c, 10 * DAY - 1), State::NotYetValid);
        assert_eq!(state(&c, 10 * DAY), State::Active);
        assert_eq!(state(&c, 70 * DAY - 1), State::Active);
        assert_eq!(state(&c, 70 * DAY), State::Expiring);
        assert_eq!(state(&c, 100 * DAY), State::InGrace);
        assert_eq!(state(&c, 114 * DAY - 1), State::InGrace);
        assert_eq!(state(&c, 114 * DAY), State::Expired);
        assert_eq!(next_transition(&c, 0), Some(10 * DAY));
        assert_eq!(next_transition(&c, 80 * DAY), Some(100 * DAY));
        assert_eq!(next_transition(&c, 114 * DAY), None);
        let no_grace = claims(100 * DAY, 0, None);
        assert_eq!(
            state(&no_grace, 100 * DAY),
            State::Expired,
            "community keys have no grace"
        );
        assert!(State::InGrace.usable() && !State::Expired.usable());
    }
}
