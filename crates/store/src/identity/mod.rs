//! Identity tables (identity spec §1.2): users, organizations and memberships, sessions and
//! their refresh tokens, API tokens, invites, one-time tokens, login throttling and the mail
//! outbox.
//!
//! Functions on org-scoped tables take the org id as their first argument and put it in every
//! `WHERE`, so an id from another org reads as missing; the `app` layer passes the org only from
//! an `OrgScope` it got from the principal.

pub mod api_tokens;
pub mod invites;
pub mod memberships;
pub mod one_time;
pub mod orgs;
pub mod outbox;
pub mod sessions;
pub mod throttle;
pub mod users;

use std::str::FromStr;

use crate::{Result, StoreError};

/// Parses a closed-vocabulary column (role, tier, status) read back from storage.
pub(crate) fn parse_col<T: FromStr>(column: &'static str, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::corrupt(column, e))
}
