//! The tampered-token corpus of entitlements spec §19.3, committed as fixtures under
//! `tests/fixtures/tampered/` (one token per file, no trailing newline; `README.md` lists each
//! case and its code). Each case must yield exactly its §10 code.
//!
//! The fixtures are generated here from the public test key with fixed times and a fixed jti,
//! and the header and payload JSON are written as text, so the bytes do not depend on serde_json
//! features: Ed25519 signatures are deterministic and the files are stable. The test fails when
//! a committed file differs from what the generator produces; after a deliberate change,
//! regenerate with
//!
//! ```text
//! UPDATE_SNAPSHOTS=1 cargo nextest run -p license -E 'binary(tampered_corpus)'
//! ```
//!
//! and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use license::{Anchor, Code, Expect, Purpose};

/// The evaluation time of every case: 2027-01-15T08:00:00Z.
const T: i64 = 1_800_000_000;
const DAY: i64 = 86_400;
const JTI: &str = "6f1c2a0e-8b3d-4c5e-9f70-1a2b3c4d5e6f";
const DEPLOYMENT: &str = "self-hosted";

/// Which anchors a case is verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// A build with `test-keys` (anchors built from the committed seeds).
    TestKeys,
    /// A build without `test-keys`: `license::anchors::production()`.
    Production,
}

struct Case {
    file: &'static str,
    what: &'static str,
    trust: Trust,
    code: Option<Code>,
    token: String,
}

/// The claims of a good enterprise key, as JSON text, with `edit` applied to the members.
fn payload(edit: &[(&str, &str)]) -> String {
    let mut members: Vec<(&str, String)> = vec![
        ("iss", r#""fullchaos.studio""#.to_owned()),
        ("sub", r#""cus_9f2c1a7e""#.to_owned()),
        ("jti", format!(r#""{JTI}""#)),
        ("iat", (T - 10 * DAY).to_string()),
        ("nbf", (T - 10 * DAY).to_string()),
        ("exp", (T + 355 * DAY).to_string()),
        ("tier", r#""enterprise""#.to_owned()),
        ("features", r#"{"audit_log":true}"#.to_owned()),
        ("limits", r#"{"users":250}"#.to_owned()),
        ("deployment_ids", format!(r#"["{DEPLOYMENT}"]"#)),
        ("grace_days", "30".to_owned()),
    ];
    for (key, value) in edit {
        match members.iter_mut().find(|(k, _)| k == key) {
            Some(m) => m.1 = (*value).to_owned(),
            None => members.push((key, (*value).to_owned())),
        }
    }
    let body: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!(r#""{k}":{v}"#))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn header(alg: &str, kid: &str) -> String {
    format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#)
}

/// A compact JWS over the exact header and payload text.
fn sign_text(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = format!("{}.{}", common::b64(header), common::b64(payload));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", common::b64(signature.to_bytes()))
}

fn good() -> String {
    sign_text(
        &header("EdDSA", common::LICENSE_KID),
        &payload(&[]),
        &common::license_key(),
    )
}

fn signed(edit: &[(&str, &str)]) -> String {
    sign_text(
        &header("EdDSA", common::LICENSE_KID),
        &payload(edit),
        &common::license_key(),
    )
}

fn cases() -> Vec<Case> {
    let key = common::license_key();
    let kid = common::LICENSE_KID;
    let case = |file, what, trust, code, token| Case {
        file,
        what,
        trust,
        code,
        token,
    };
    let good = good();
    let (signing_input, signature) = good.rsplit_once('.').expect("three segments");
    let mut flipped = common::unb64(signature);
    flipped[10] ^= 0x01;
    let anchor = Anchor {
        kid,
        purpose: Purpose::License,
        key: key.verifying_key(),
    };
    // An RS256 token needs no RSA key to be refused: any 256-byte "signature" will do.
    let rs256 = format!(
        "{}.{}.{}",
        common::b64(header("RS256", kid)),
        common::b64(payload(&[])),
        common::b64([0x5a_u8; 256])
    );
    // A genuinely signed key made larger than 16 KiB by a claim verifiers ignore.
    let oversize = signed(&[("x_padding", &format!(r#""{}""#, "a".repeat(13_000)))]);
    vec![
        case(
            "valid.jwt",
            "control: a good enterprise key",
            Trust::TestKeys,
            None,
            good.clone(),
        ),
        case(
            "bad_signature.jwt",
            "one bit of the decoded signature flipped",
            Trust::TestKeys,
            Some(Code::BadSignature),
            format!("{signing_input}.{}", common::b64(&flipped)),
        ),
        case(
            "alg_none.jwt",
            "unsecured JWS: alg none and an empty signature",
            Trust::TestKeys,
            Some(Code::BadAlg),
            format!(
                "{}.{}.",
                common::b64(header("none", kid)),
                common::b64(payload(&[]))
            ),
        ),
        case(
            "alg_none_signed.jwt",
            "alg none over a genuine EdDSA signature",
            Trust::TestKeys,
            Some(Code::BadAlg),
            sign_text(&header("none", kid), &payload(&[]), &key),
        ),
        case(
            "alg_hs256.jwt",
            "HS256 with the public key as the HMAC secret",
            Trust::TestKeys,
            Some(Code::BadAlg),
            common::hs256_with_public_key(&header("HS256", kid), &payload(&[]), &anchor),
        ),
        case(
            "alg_rs256.jwt",
            "RS256 with a 256-byte signature",
            Trust::TestKeys,
            Some(Code::BadAlg),
            rs256,
        ),
        case(
            "unknown_kid.jwt",
            "signed by the test key under a kid nobody compiled in",
            Trust::TestKeys,
            Some(Code::UnknownKid),
            sign_text(&header("EdDSA", "dh-license-2099-1"), &payload(&[]), &key),
        ),
        case(
            "test_kid_without_test_keys.jwt",
            "a good test-kid key on a build without test-keys",
            Trust::Production,
            Some(Code::UnknownKid),
            good.clone(),
        ),
        case(
            "wrong_issuer.jwt",
            "iss is not fullchaos.studio",
            Trust::TestKeys,
            Some(Code::WrongIssuer),
            signed(&[("iss", r#""fullchaos.studio.example""#)]),
        ),
        case(
            "future_nbf.jwt",
            "nbf 301 s after t_eval (beyond the skew)",
            Trust::TestKeys,
            Some(Code::NotYetValid),
            signed(&[("nbf", &(T + 301).to_string())]),
        ),
        case(
            "future_iat.jwt",
            "iat one day after t_eval (nbf in the past)",
            Trust::TestKeys,
            Some(Code::IssuedInFuture),
            signed(&[
                ("iat", &(T + DAY).to_string()),
                ("nbf", &(T - DAY).to_string()),
            ]),
        ),
        case(
            "wrong_deployment.jwt",
            "bound to acme-prod, verified on self-hosted",
            Trust::TestKeys,
            Some(Code::WrongDeployment),
            signed(&[("deployment_ids", r#"["acme-prod","acme-staging"]"#)]),
        ),
        case(
            "expired_beyond_grace.jwt",
            "exp + 30 grace days is 1 s before t_eval",
            Trust::TestKeys,
            Some(Code::Expired),
            signed(&[
                ("iat", &(T - 400 * DAY).to_string()),
                ("nbf", &(T - 400 * DAY).to_string()),
                ("exp", &(T - 30 * DAY - 1).to_string()),
            ]),
        ),
        case(
            "trailing_dot.jwt",
            "a good key followed by a fourth, empty segment",
            Trust::TestKeys,
            Some(Code::Malformed),
            format!("{good}."),
        ),
        case(
            "padding.jwt",
            "a good key with its signature segment padded (==)",
            Trust::TestKeys,
            Some(Code::Malformed),
            format!("{good}=="),
        ),
        case(
            "oversize_17kib.jwt",
            "a genuinely signed key over 16 KiB (17 KiB)",
            Trust::TestKeys,
            Some(Code::Malformed),
            oversize,
        ),
        case(
            "jwk_header.jwt",
            "a jwk member in the header (keys never come from the token)",
            Trust::TestKeys,
            Some(Code::BadHeader),
            sign_text(
                &format!(
                    r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}","jwk":{{"kty":"OKP","crv":"Ed25519"}}}}"#
                ),
                &payload(&[]),
                &key,
            ),
        ),
        case(
            "unknown_tier.jwt",
            "tier platinum (a genuine signature over a bad claim)",
            Trust::TestKeys,
            Some(Code::BadClaims),
            signed(&[("tier", r#""platinum""#)]),
        ),
    ]
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tampered")
}

fn manifest(cases: &[Case]) -> String {
    let mut out = String::from(
        "# Tampered license tokens (entitlements spec §19.3)\n\n\
         Generated by `tests/tampered_corpus.rs` from the public test key \
         (`dh-test-license-1`), fixed times and a fixed jti. Every case is verified at \
         t_eval = 1800000000 (2027-01-15T08:00:00Z) for deployment `self-hosted`. Regenerate \
         with `UPDATE_SNAPSHOTS=1 cargo nextest run -p license -E 'binary(tampered_corpus)'`.\n\n\
         | file | case | anchors | expected |\n|---|---|---|---|\n",
    );
    for c in cases {
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` |\n",
            c.file,
            c.what,
            match c.trust {
                Trust::TestKeys => "test kids (a `test-keys` build)",
                Trust::Production => "`anchors::production()` (a build without `test-keys`)",
            },
            c.code.map_or("verified", Code::as_str),
        ));
    }
    out
}

#[test]
fn every_tampered_token_yields_exactly_its_code() {
    let cases = cases();
    let dir = dir();
    let manifest = manifest(&cases);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the old corpus");
        }
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        for c in &cases {
            std::fs::write(dir.join(c.file), &c.token).expect("write a fixture");
        }
        std::fs::write(dir.join("README.md"), &manifest).expect("write the manifest");
    }
    // No stray or missing files.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/tampered exists (UPDATE_SNAPSHOTS=1 creates it)")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = cases.iter().map(|c| c.file.to_owned()).collect();
    expected.push("README.md".to_owned());
    expected.sort();
    assert_eq!(on_disk, expected, "the corpus files");
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).expect("README.md"),
        manifest,
        "tests/fixtures/tampered/README.md is stale (regenerate with UPDATE_SNAPSHOTS=1)"
    );

    let test_anchors = common::test_anchors();
    let expect = Expect {
        purpose: Purpose::License,
        deployment_id: DEPLOYMENT,
        subject: None,
        at: T,
    };
    for c in &cases {
        let committed = std::fs::read_to_string(dir.join(c.file)).expect("a fixture");
        assert_eq!(
            committed, c.token,
            "{} differs from the generator: the fixtures are not stable (or were edited); \
             regenerate with UPDATE_SNAPSHOTS=1 and review the diff",
            c.file
        );
        let anchors: &[Anchor] = match c.trust {
            Trust::TestKeys => &test_anchors,
            Trust::Production => license::anchors::production(),
        };
        let got = license::verify(&committed, anchors, &[], &expect);
        assert_eq!(
            got.as_ref().err().map(|r| r.code.as_str()),
            c.code.map(Code::as_str),
            "{} ({}): {:?}",
            c.file,
            c.what,
            got.as_ref().map(|v| &v.kid)
        );
    }

    // The cases prove what they claim: each tampered token differs from a good one only in the
    // property under test.
    let by_file = |f: &str| {
        cases
            .iter()
            .find(|c| c.file == f)
            .map(|c| c.token.clone())
            .expect("a case")
    };
    let oversize = by_file("oversize_17kib.jwt");
    assert!(
        (17 * 1024..18 * 1024).contains(&oversize.len()),
        "17 KiB: {} bytes",
        oversize.len()
    );
    // Only its size is wrong: the Ed25519 signature over it verifies.
    let (input, sig) = oversize.rsplit_once('.').expect("three segments");
    let sig: [u8; 64] = common::unb64(sig).try_into().expect("64 bytes");
    assert!(
        common::license_key()
            .verifying_key()
            .verify_strict(
                input.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&sig)
            )
            .is_ok(),
        "the oversize key is genuinely signed"
    );
    assert!(
        license::verify(&by_file("valid.jwt"), &test_anchors, &[], &expect).is_ok(),
        "the control verifies against the test kids"
    );
    for (file, fixed) in [
        (
            "trailing_dot.jwt",
            by_file("trailing_dot.jwt").trim_end_matches('.').to_owned(),
        ),
        (
            "padding.jwt",
            by_file("padding.jwt").trim_end_matches('=').to_owned(),
        ),
    ] {
        assert!(
            license::verify(&fixed, &test_anchors, &[], &expect).is_ok(),
            "{file} is a good key but for its tampering"
        );
    }
}
