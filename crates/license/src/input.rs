//! From a verification result to the entitlement engine's token input (spec §5.1 item 3): the
//! ladder state at the evaluation time, or `expired` / `invalid` from a refusal.

use domain::Tier;
use domain::entitlement::{Token, TokenState};

use crate::ladder::{self, State};
use crate::token::{Code, Rejected, Verified};

/// The engine's view of a verified or refused token at `at` (Unix seconds, `t_eval`).
///
/// A token refused only for being past its grace keeps its tier for display but is `expired`;
/// every other refusal is `invalid` (community, reason `not_licensed`).
pub fn engine_token(result: &Result<Verified, Rejected>, at: i64) -> Token {
    match result {
        Ok(v) => Token {
            state: match ladder::state(&v.claims, at) {
                State::NotYetValid => TokenState::Invalid,
                State::Active => TokenState::Active,
                State::Expiring => TokenState::Expiring,
                State::InGrace => TokenState::InGrace,
                State::Expired => TokenState::Expired,
            },
            tier: v.claims.tier,
            features: v.claims.features.clone(),
            limits: v.claims.limits.clone(),
        },
        Err(r) => {
            let state = if r.code == Code::Expired {
                TokenState::Expired
            } else {
                TokenState::Invalid
            };
            Token {
                state,
                tier: r.claims.as_ref().map_or(Tier::Community, |c| c.tier),
                features: Default::default(),
                limits: Default::default(),
            }
        }
    }
}
