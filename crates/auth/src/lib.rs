//! Credentials and identity protocols: email normalization, the password policy and Argon2id
//! hashing, and the formats of refresh, API and one-time tokens (hashed at rest, never JWTs).
//!
//! Never touches storage (checked by `scripts/check-deps`): it computes and verifies values that
//! `app` stores. Access JWTs, OIDC and SAML follow (`spec/identity-and-compliance.md` §2–§4).

pub mod access;
pub mod email;
pub mod password;
pub mod throttle;
pub mod token;
