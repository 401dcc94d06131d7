//! Signing tokens in the license format (for `dev-health license issue`, the license service
//! and tests). Verification never uses this module.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

/// Signs `payload` as a compact JWS with header `{"alg":"EdDSA","typ":"JWT","kid":kid}`.
pub fn sign(payload: &Value, kid: &str, key: &SigningKey) -> String {
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    sign_with_header(&header, payload, key)
}

/// Signs with an arbitrary header (tests build hostile headers with it).
pub fn sign_with_header(header: &Value, payload: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
