//! `dev-health license keygen | issue | inspect | verify` through the real binary (built with
//! the `test-keys` feature for tests), with the exit codes of entitlements spec §9.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::Value;
use support::{issue_test_license, run};

fn issue(dir: &std::path::Path, extra: &[&str]) -> String {
    issue_test_license(dir, "enterprise", extra)
}

fn verify(dir: &std::path::Path, token: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["license", "verify", token, "--json"];
    args.extend_from_slice(extra);
    let out = run(dir, &args, &[]);
    let doc = serde_json::from_slice(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("null")
            .as_bytes(),
    )
    .unwrap();
    (out.status.code(), doc)
}

#[test]
fn issued_test_keys_verify_and_every_refusal_has_its_code_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let version = run(d, &["version", "--json"], &[]);
    let version: Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(
        version["test_keys"], true,
        "test builds trust the test kids and say so"
    );

    let token = issue(
        d,
        &[
            "--days",
            "365",
            "--feature",
            "audit_log=true",
            "--limit",
            "users=250",
        ],
    );
    let (code, doc) = verify(d, &token, &[]);
    assert_eq!(
        (code, doc["state"].as_str(), doc["tier"].as_str()),
        (Some(0), Some("active"), Some("enterprise")),
        "{doc}"
    );
    assert_eq!(doc["kid"], "dh-test-license-1");

    let (code, doc) = verify(d, &token, &["--deployment-id", "acme-prod"]);
    assert_eq!(
        (code, doc["code"].as_str()),
        (Some(2), Some("license_wrong_deployment"))
    );

    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let (code, doc) = verify(d, &String::from_utf8(tampered).unwrap(), &[]);
    assert_eq!(code, Some(2));
    assert!(
        doc["code"].as_str().unwrap().starts_with("license_"),
        "{doc}"
    );

    let expired = issue(
        d,
        &[
            "--exp",
            "2020-01-31T00:00:00Z",
            "--iat",
            "2020-01-01T00:00:00Z",
            "--allow-past",
        ],
    );
    let (code, doc) = verify(d, &expired, &[]);
    assert_eq!(
        (code, doc["code"].as_str(), doc["state"].as_str()),
        (Some(2), Some("license_expired"), Some("expired"))
    );
    let (code, doc) = verify(d, &expired, &["--at", "2020-02-15T00:00:00Z"]);
    assert_eq!(
        (code, doc["state"].as_str()),
        (Some(0), Some("in_grace")),
        "{doc}"
    );

    let past = run(
        d,
        &[
            "license",
            "issue",
            "--test-key",
            "--sub",
            "c",
            "--tier",
            "team",
            "--deployment-id",
            "x",
            "--exp",
            "2020-01-01T00:00:00Z",
        ],
        &[],
    );
    assert_eq!(
        past.status.code(),
        Some(64),
        "a past expiry needs --allow-past"
    );
    let bad = run(
        d,
        &[
            "license",
            "issue",
            "--test-key",
            "--sub",
            "c",
            "--tier",
            "team",
            "--deployment-id",
            "x",
            "--days",
            "1",
            "--feature",
            "nope=true",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(64));

    let inspect = run(d, &["license", "inspect", &token], &[]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("UNVERIFIED") && text.contains("\"users\": 250"),
        "{text}"
    );
}

#[test]
fn keygen_writes_a_private_key_once_and_its_tokens_need_a_compiled_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(
        d,
        &[
            "license",
            "keygen",
            "--kid",
            "acme-1",
            "--purpose",
            "license",
            "--out",
            "keys",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = d.join("keys/acme-1.pk8.pem");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&pem).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let again = run(
        d,
        &[
            "license",
            "keygen",
            "--kid",
            "acme-1",
            "--purpose",
            "license",
            "--out",
            "keys",
        ],
        &[],
    );
    assert!(!again.status.success(), "never overwrites a key");
    let token = run(
        d,
        &[
            "license",
            "issue",
            "--key",
            "keys/acme-1.pk8.pem",
            "--kid",
            "acme-1",
            "--sub",
            "c",
            "--tier",
            "team",
            "--deployment-id",
            "self-hosted",
            "--days",
            "30",
        ],
        &[],
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap();
    let (code, doc) = verify(d, token.trim(), &[]);
    assert_eq!(
        (code, doc["code"].as_str()),
        (Some(2), Some("license_unknown_kid")),
        "a key that is not compiled in is never trusted"
    );
}
