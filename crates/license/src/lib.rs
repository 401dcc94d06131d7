//! License and entitlement tokens: Ed25519-signed JWS in the license format, verified offline
//! against trust anchors compiled into the binary, with the degrade ladder.
//!
//! Pure and synchronous by rule (checked by `scripts/check-deps`): no async runtime, database or
//! HTTP crate. The token format, validation pipeline and CLI arrive with issue 4
//! (`spec/entitlements-and-licensing.md` §7–§13); this crate exists now so that the workspace
//! layout and its dependency rules are in force from the start.
