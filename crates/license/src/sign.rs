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

/// Signs `claims` (the payload is their JSON form, `nbf` left out when absent).
pub fn sign_claims(claims: &crate::Claims, kid: &str, key: &SigningKey) -> String {
    let payload =
        serde_json::to_value(claims).unwrap_or_else(|e| unreachable!("claims serialize: {e}"));
    sign(&payload, kid, key)
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

/// A private key as PKCS#8 PEM (`dev-health license keygen`).
pub fn key_to_pem(key: &SigningKey) -> Result<String, String> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| e.to_string())
}

/// A private key from PKCS#8 PEM.
pub fn key_from_pem(pem: &str) -> Result<SigningKey, String> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let pem = key_to_pem(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(key_from_pem(&pem).unwrap().to_bytes(), key.to_bytes());
        assert!(key_from_pem("not pem").is_err());
    }
}
