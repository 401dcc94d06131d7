//! `dev-health license keygen | issue | inspect | verify` (entitlements spec §9): offline
//! issuance for tests and air-gapped vendors, and inspection for support.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::{Feature, Limit, Tier};
use license::sign::{key_from_pem, key_to_pem, sign_claims};
use license::{Purpose, State, anchors, ladder};
use serde_json::{Value, json};

use crate::cli::{IssueArgs, LicenseCommand};
use crate::error::CliError;
use crate::output::line;

/// Exit code of `verify` for a refused token.
const EXIT_REJECTED: u8 = 2;
/// Exit code for a usage error.
const EXIT_USAGE: u8 = 64;

fn usage(message: impl Into<String>, hint: &str) -> CliError {
    CliError::with_code(EXIT_USAGE, message, Some(hint))
}

pub fn run(cmd: LicenseCommand) -> Result<(), CliError> {
    match cmd {
        LicenseCommand::Keygen { kid, purpose, out } => keygen(&kid, &purpose, &out),
        LicenseCommand::Issue(args) => issue(&args),
        LicenseCommand::Inspect { token } => inspect(&read_token(&token)?),
        LicenseCommand::Verify {
            token,
            deployment_id,
            at,
            json,
        } => verify(&read_token(&token)?, deployment_id, at.as_deref(), json),
    }
}

/// `TOKEN`, `@FILE` or `-` (stdin).
fn read_token(arg: &str) -> Result<String, CliError> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| usage(format!("reading stdin: {e}"), "pipe the token in"))?;
        s
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("reading {path}: {e}"), "check the path after @"))?
    } else {
        arg.to_owned()
    };
    Ok(text.trim().to_owned())
}

fn time(flag: &str, text: &str) -> Result<i64, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| {
            usage(
                format!("{flag} {text:?} is not an RFC 3339 time"),
                "e.g. 2027-01-01T00:00:00Z",
            )
        })
}

fn rfc3339(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

fn keygen(kid: &str, purpose: &str, out: &std::path::Path) -> Result<(), CliError> {
    let purpose = match purpose {
        "license" => "License",
        "entitlement" => "Entitlement",
        other => {
            return Err(usage(
                format!("--purpose {other:?} is not license or entitlement"),
                "use --purpose license",
            ));
        }
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let pem =
        key_to_pem(&key).map_err(|e| CliError::failure(format!("encoding the key: {e}"), None))?;
    std::fs::create_dir_all(out).map_err(|e| {
        usage(
            format!("{}: {e}", out.display()),
            "choose a writable --out directory",
        )
    })?;
    let path = out.join(format!("{kid}.pk8.pem"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&path).map_err(|e| {
        CliError::failure(
            format!("{}: {e}", path.display()),
            Some("keygen never overwrites a key; choose another --kid or --out"),
        )
    })?;
    std::io::Write::write_all(&mut f, pem.as_bytes())
        .map_err(|e| CliError::failure(format!("{}: {e}", path.display()), None))?;
    let public = key.verifying_key().to_bytes();
    line(format!("private key: {}", path.display()));
    line(format!("public key:  {}", URL_SAFE_NO_PAD.encode(public)));
    line(format!(
        "trust anchor: (\"{kid}\", Purpose::{purpose}, {public:?}),"
    ));
    Ok(())
}

fn pairs<'a>(flag: &str, items: &'a [String]) -> Result<Vec<(&'a str, &'a str)>, CliError> {
    items
        .iter()
        .map(|i| {
            i.split_once('=').ok_or_else(|| {
                usage(
                    format!("{flag} {i:?} is not key=value"),
                    "e.g. --feature audit_log=true",
                )
            })
        })
        .collect()
}

fn issue(a: &IssueArgs) -> Result<(), CliError> {
    let now = Utc::now().timestamp();
    let (key, kid) = if a.test_key {
        if !anchors::TEST_KEYS {
            return Err(usage(
                "--test-key needs a build with the test-keys feature",
                "build with `--features test-keys` (never for releases)",
            ));
        }
        let key = anchors::signing_key_from_hex(anchors::TEST_LICENSE_SEED_HEX)
            .ok_or_else(|| CliError::failure("the bundled test key is unreadable", None))?;
        (
            key,
            a.kid.clone().unwrap_or_else(|| "dh-test-license-1".into()),
        )
    } else {
        let path = a
            .key
            .as_ref()
            .ok_or_else(|| usage("--key is required", "pass --key FILE.pem"))?;
        let pem = std::fs::read_to_string(path).map_err(|e| {
            usage(
                format!("{}: {e}", path.display()),
                "pass the PEM from `license keygen`",
            )
        })?;
        let key = key_from_pem(&pem).map_err(|e| {
            usage(
                format!("{}: {e}", path.display()),
                "pass the PEM from `license keygen`",
            )
        })?;
        let kid = a.kid.clone().ok_or_else(|| {
            usage(
                "--kid is required with --key",
                "the kid of the key's trust anchor",
            )
        })?;
        (key, kid)
    };
    let tier: Tier = a.tier.parse().map_err(|_| {
        usage(
            format!("--tier {:?} is not community, team or enterprise", a.tier),
            "e.g. --tier team",
        )
    })?;
    let iat = a
        .iat
        .as_deref()
        .map(|t| time("--iat", t))
        .transpose()?
        .unwrap_or(now);
    let exp = match (&a.exp, a.days) {
        (Some(t), _) => time("--exp", t)?,
        (None, Some(d)) => iat + d * 86_400,
        (None, None) => return Err(usage("--days or --exp is required", "e.g. --days 365")),
    };
    if (exp <= now || iat < now - 300) && !a.allow_past {
        return Err(usage(
            "the expiry or issue time is in the past",
            "pass --allow-past to issue such a key on purpose",
        ));
    }
    let grace_days = a.grace_days.unwrap_or(match tier {
        Tier::Community => 0,
        Tier::Team => 14,
        Tier::Enterprise => 30,
    });
    if !(0..=license::claims::MAX_GRACE_DAYS).contains(&grace_days) {
        return Err(usage(
            "--grace-days must be 0 to 90",
            "e.g. --grace-days 30",
        ));
    }
    let mut features = BTreeMap::new();
    for (k, v) in pairs("--feature", &a.features)? {
        k.parse::<Feature>().map_err(|_| {
            usage(
                format!("--feature {k:?} is not a feature key"),
                "see the feature registry",
            )
        })?;
        let v: bool = v.parse().map_err(|_| {
            usage(
                format!("--feature {k}={v}: use true or false"),
                "e.g. audit_log=true",
            )
        })?;
        features.insert(k.to_owned(), v);
    }
    let mut limits = BTreeMap::new();
    for (k, v) in pairs("--limit", &a.limits)? {
        k.parse::<Limit>().map_err(|_| {
            usage(
                format!("--limit {k:?} is not a limit"),
                "users, orgs, repos, api_rate or retention_days_max",
            )
        })?;
        let n: i64 = v.parse().ok().filter(|n| *n >= -1).ok_or_else(|| {
            usage(
                format!("--limit {k}={v}: use -1 or a count"),
                "e.g. users=250",
            )
        })?;
        limits.insert(k.to_owned(), n);
    }
    let claims = license::Claims {
        iss: license::claims::ISSUER.to_owned(),
        sub: a.sub.clone(),
        jti: a
            .jti
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        iat,
        nbf: a.nbf.as_deref().map(|n| time("--nbf", n)).transpose()?,
        exp,
        tier,
        features,
        limits,
        deployment_ids: a.deployment_ids.clone(),
        grace_days,
    };
    line(sign_claims(&claims, &kid, &key));
    Ok(())
}

fn decode(segment: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?).ok()
}

fn inspect(token: &str) -> Result<(), CliError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p)) = (parts.next().and_then(decode), parts.next().and_then(decode)) else {
        return Err(CliError::with_code(
            EXIT_REJECTED,
            "not a license token (license_malformed)",
            Some("a token has three dot-separated base64url parts"),
        ));
    };
    line("UNVERIFIED — decoded without checking the signature");
    line(format!("header: {h}"));
    line(format!(
        "claims: {}",
        serde_json::to_string_pretty(&p).unwrap_or_default()
    ));
    if let Some(exp) = p.get("exp").and_then(Value::as_i64) {
        let grace = p.get("grace_days").and_then(Value::as_i64).unwrap_or(0);
        line(format!(
            "warning from: {}",
            rfc3339(exp - ladder::WARNING_S)
        ));
        line(format!("expires:      {}", rfc3339(exp)));
        line(format!("grace ends:   {}", rfc3339(exp + grace * 86_400)));
    }
    let unknown: Vec<String> = p
        .get("features")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .filter(|k| k.parse::<Feature>().is_err())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !unknown.is_empty() {
        line(format!(
            "unknown feature keys (ignored): {}",
            unknown.join(", ")
        ));
    }
    Ok(())
}

fn verify(
    token: &str,
    deployment_id: Option<String>,
    at: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let at = match at {
        Some(t) => time("--at", t)?,
        None => Utc::now().timestamp(),
    };
    let deployment = deployment_id
        .or_else(|| std::env::var("DEV_HEALTH_DEPLOYMENT_ID").ok())
        .unwrap_or_else(|| "self-hosted".into());
    let expect = license::Expect {
        purpose: Purpose::License,
        deployment_id: &deployment,
        subject: None,
        at,
    };
    let outcome = license::verify(token, anchors::compiled(), &[], &expect);
    let (state, code, claims, kid) = match &outcome {
        Ok(v) => (
            ladder::state(&v.claims, at),
            None,
            Some(&v.claims),
            Some(v.kid.clone()),
        ),
        Err(r) => (
            if r.code == license::Code::Expired {
                State::Expired
            } else {
                State::NotYetValid
            },
            Some(r.code.as_str()),
            r.claims.as_deref(),
            r.kid.clone(),
        ),
    };
    let doc = json!({
        "state": if code.is_some() && code != Some("license_expired") { "invalid".to_owned() } else { serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default() },
        "code": code,
        "claim": outcome.as_ref().err().and_then(|r| r.claim),
        "tier": claims.map(|c| c.tier.as_str()),
        "jti": claims.map(|c| c.jti.clone()),
        "kid": kid,
        "exp": claims.map(|c| rfc3339(c.exp)),
        "grace_ends_at": claims.map(|c| rfc3339(c.grace_ends_at())),
        "deployment_id": deployment,
        "test_keys": anchors::TEST_KEYS,
    });
    if as_json {
        line(doc.to_string());
    } else {
        line(format!(
            "state: {}  code: {}  tier: {}  exp: {}",
            doc["state"].as_str().unwrap_or(""),
            code.unwrap_or("-"),
            doc["tier"].as_str().unwrap_or("-"),
            doc["exp"].as_str().unwrap_or("-"),
        ));
    }
    match outcome {
        Ok(_) => Ok(()),
        Err(r) => Err(CliError::with_code(
            EXIT_REJECTED,
            format!("the license was refused: {r}"),
            Some("see `dev-health license inspect` for its contents"),
        )),
    }
}
