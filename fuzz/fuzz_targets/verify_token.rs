//! Fuzzes `license::verify` and `license::claims::Claims::from_json` (docs/fuzzing.md). Neither
//! may panic, whatever the bytes; and a byte-edited good token may only verify when the edit
//! was surrounding whitespace.
//!
//! Every input is used three ways:
//! 1. as a token (lossy UTF-8), verified for both purposes at `t_eval` and at an extreme time;
//! 2. as a JSON payload handed straight to `Claims::from_json`;
//! 3. as a structured mutation of a good token signed with the public test key, chosen by the
//!    first byte. Some mutations re-sign, so the fuzzer reaches the steps after the signature
//!    (claims, issuer, times, deployment, subject) with arbitrary headers and payloads.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::entitlement::{self, Inputs};
use domain::{Feature, Limit};
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use license::claims::Claims;
use license::{Anchor, Expect, Purpose, Rejected, Verified};
use serde_json::Value;

/// `t_eval`: 2027-01-15T08:00:00Z.
const T: i64 = 1_800_000_000;
const KID: &str = "dh-test-license-1";
const GOOD_HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT","kid":"dh-test-license-1"}"#;
const GOOD_PAYLOAD: &str = r#"{"iss":"fullchaos.studio","sub":"7d0c6f9e-5d8a-4f2b-9a51-3c8d2e7f4a10","jti":"6f1c2a0e-8b3d-4c5e-9f70-1a2b3c4d5e6f","iat":1799136000,"nbf":1799136000,"exp":1830672000,"tier":"enterprise","features":{"audit_log":true,"webhooks":false,"future_key":true},"limits":{"users":250,"api_rate":-1},"deployment_ids":["self-hosted","acme-prod"],"grace_days":30}"#;

struct Fixture {
    key: SigningKey,
    anchors: Vec<Anchor>,
    good: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = license::anchors::signing_key_from_hex(license::anchors::TEST_LICENSE_SEED_HEX)
            .expect("the committed test seed");
        // Both purposes trust the license test key here, so entitlement-only steps (the
        // subject) are reached too.
        let anchors = vec![
            Anchor {
                kid: KID,
                purpose: Purpose::License,
                key: key.verifying_key(),
            },
            Anchor {
                kid: KID,
                purpose: Purpose::Entitlement,
                key: key.verifying_key(),
            },
        ];
        let good = sign_raw(GOOD_HEADER.as_bytes(), GOOD_PAYLOAD.as_bytes(), &key);
        let f = Fixture { key, anchors, good };
        assert!(
            verify_at(&f.good, &f.anchors, Purpose::License, T).is_ok(),
            "the good token verifies"
        );
        f
    })
}

/// A compact JWS over arbitrary header and payload bytes.
fn sign_raw(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn verify_at(
    token: &str,
    anchors: &[Anchor],
    purpose: Purpose,
    at: i64,
) -> Result<Verified, Rejected> {
    let expect = Expect {
        purpose,
        deployment_id: "self-hosted",
        subject: match purpose {
            Purpose::License => None,
            Purpose::Entitlement => Some("7d0c6f9e-5d8a-4f2b-9a51-3c8d2e7f4a10"),
        },
        at,
    };
    license::verify(
        token,
        anchors,
        &["11111111-1111-4111-8111-111111111111"],
        &expect,
    )
}

/// Verifies, then uses every part of the answer the way the application does.
fn exercise(token: &str, at: i64) -> [bool; 2] {
    let f = fixture();
    let mut ok = [false; 2];
    for (i, purpose) in [Purpose::License, Purpose::Entitlement]
        .into_iter()
        .enumerate()
    {
        let result = verify_at(token, &f.anchors, purpose, at);
        ok[i] = result.is_ok();
        match &result {
            Ok(v) => {
                let _ = license::ladder::state(&v.claims, at);
                let _ = license::ladder::next_transition(&v.claims, at);
                let _ = v.claims.grace_ends_at();
                let _ = serde_json::to_string(&v.claims);
            }
            Err(r) => {
                let _ = r.to_string();
                let _ = r.code.as_str();
            }
        }
        let engine = license::engine_token(&result, at);
        for &feature in Feature::ALL {
            let _ = entitlement::decide(
                feature,
                &Inputs {
                    kill_switch_on: true,
                    override_: None,
                    token: Some(&engine),
                    now: chrono_now(),
                },
            );
        }
        for &limit in Limit::ALL {
            let _ = entitlement::limit(limit, Some(&engine));
        }
        let _ = entitlement::effective_tier(Some(&engine));
    }
    let _ = license::token::fingerprint(token);
    ok
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(T, 0).expect("a valid time")
}

fn u16_at(data: &[u8], i: usize) -> usize {
    usize::from(u16::from_le_bytes([
        data.get(i).copied().unwrap_or(0),
        data.get(i + 1).copied().unwrap_or(0),
    ]))
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();

    // 1. The bytes as a token, at t_eval and at an extreme evaluation time.
    let text = String::from_utf8_lossy(data);
    exercise(&text, T);
    let extreme = match data.last().copied().unwrap_or(0) % 4 {
        0 => i64::MIN,
        1 => i64::MAX,
        2 => 0,
        _ => -T,
    };
    exercise(&text, extreme);

    // 2. The bytes as a payload, straight to the claims reader.
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Ok(claims) = Claims::from_json(&value) {
            let _ = claims.grace_ends_at();
            let _ = license::ladder::state(&claims, T);
            let _ = license::ladder::next_transition(&claims, extreme);
        }
    }

    // 3. Structured mutations of a good token.
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let good = f.good.as_str();
    match op % 7 {
        // Arbitrary payload bytes under a genuine signature.
        0 => {
            exercise(&sign_raw(GOOD_HEADER.as_bytes(), rest, &f.key), T);
        }
        // Arbitrary header bytes under a genuine signature.
        1 => {
            exercise(&sign_raw(rest, GOOD_PAYLOAD.as_bytes(), &f.key), T);
        }
        // Byte edits of the good token: (position u16, byte) pairs. Only whitespace around
        // the token may leave it valid.
        2 => {
            let mut bytes = good.as_bytes().to_vec();
            for edit in rest.chunks(3) {
                let pos = u16_at(edit, 0) % (bytes.len() + 1);
                let byte = edit.get(2).copied().unwrap_or(b' ');
                match edit.first().copied().unwrap_or(0) % 3 {
                    0 if pos < bytes.len() => bytes[pos] = byte,
                    1 => bytes.insert(pos, byte),
                    _ if pos < bytes.len() => {
                        bytes.remove(pos);
                    }
                    _ => {}
                }
            }
            let edited = String::from_utf8_lossy(&bytes).into_owned();
            let ok = exercise(&edited, T);
            if ok[0] {
                assert_eq!(edited.trim(), good, "an edited token verified: {edited:?}");
            }
        }
        // One segment replaced by the bytes, base64url-encoded or raw.
        3 => {
            let Some((&which, body)) = rest.split_first() else {
                return;
            };
            let mut segments: Vec<String> = good.split('.').map(str::to_owned).collect();
            segments[usize::from(which % 3)] = if which & 0x80 == 0 {
                URL_SAFE_NO_PAD.encode(body)
            } else {
                String::from_utf8_lossy(body).into_owned()
            };
            exercise(&segments.join("."), T);
        }
        // A JSON object merged into the good claims, then signed: type confusion in every claim.
        4 => {
            let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            let Ok(Value::Object(mut claims)) = serde_json::from_str::<Value>(GOOD_PAYLOAD) else {
                return;
            };
            for (k, v) in patch {
                if v.is_null() {
                    claims.remove(&k);
                } else {
                    claims.insert(k, v);
                }
            }
            let payload = Value::Object(claims).to_string();
            let token = sign_raw(GOOD_HEADER.as_bytes(), payload.as_bytes(), &f.key);
            let at = i64::from_le_bytes(
                rest.get(..8)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or(T.to_le_bytes()),
            );
            exercise(&token, T);
            exercise(&token, at);
        }
        // The good token truncated, or with the bytes appended.
        5 => {
            let pos = u16_at(rest, 0) % (good.len() + 1);
            exercise(&good[..pos], T);
            let mut longer = good.to_owned();
            longer.push_str(&String::from_utf8_lossy(rest));
            exercise(&longer, T);
        }
        // A header object merged into the good header, then signed (alg, kid, forbidden members).
        _ => {
            let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            let Ok(Value::Object(mut header)) = serde_json::from_str::<Value>(GOOD_HEADER) else {
                return;
            };
            header.extend(patch);
            let header = Value::Object(header).to_string();
            exercise(
                &sign_raw(header.as_bytes(), GOOD_PAYLOAD.as_bytes(), &f.key),
                T,
            );
        }
    }
});
