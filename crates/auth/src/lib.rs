//! Credentials and identity protocols: password hashing, access/refresh/API tokens, the OIDC
//! relying party and the SAML service provider.
//!
//! Never touches storage (checked by `scripts/check-deps`): it computes and verifies values that
//! `app` stores. Arrives with issue 3 (`spec/identity-and-compliance.md` §2–§4).
