//! Credentials and identity protocols: email normalization, the password policy and Argon2id
//! hashing, and the formats of refresh, API and one-time tokens (hashed at rest, never JWTs).
//!
//! Never touches storage (checked by `scripts/check-deps`): it computes and verifies values that
//! `app` stores; also the brute-force arithmetic and the AES-256-GCM envelope for secrets at rest.
//! OIDC and SAML follow (`spec/identity-and-compliance.md` §2–§4).

pub mod access;
pub mod email;
pub mod keys;
pub mod password;
pub mod secrets;
pub mod throttle;
pub mod token;
