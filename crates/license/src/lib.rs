//! License and entitlement tokens: Ed25519-signed JWS in the license format, verified offline
//! against trust anchors compiled into the binary, with the degrade ladder
//! (`spec/entitlements-and-licensing.md` §7–§12).
//!
//! Pure and synchronous by rule (checked by `scripts/check-deps`): no async runtime, database or
//! HTTP crate.

pub mod anchors;
pub mod claims;
pub mod input;
pub mod ladder;
pub mod service_auth;
pub mod sign;
pub mod token;

pub use anchors::{Anchor, Purpose};
pub use claims::Claims;
pub use input::engine_token;
pub use ladder::State;
pub use token::{Code, Expect, Rejected, Verified, verify};
