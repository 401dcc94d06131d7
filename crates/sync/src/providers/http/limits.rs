//! The rate-limit table of spec §3.3: what each provider's status, headers and body mean for
//! the request that got them: done, wait this long, back off, or fail without retrying.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use super::ProviderKind;
use crate::providers::error::Error;

/// The GitHub secondary-limit wait floor, and its step when the limit keeps hitting.
pub(crate) const SECONDARY_MIN_S: u64 = 60;

/// What to do with a response.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Hand the response back (2xx or 304).
    Done,
    /// A server-sent wait (seconds), then retry.
    Wait {
        /// Seconds to wait.
        secs: u64,
        /// Which rule fired, for the log line.
        reason: &'static str,
    },
    /// A transient failure: back off with jitter, then retry.
    Transient(String),
    /// A failure that retrying cannot fix.
    Fail(Error),
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    header(h, name).and_then(|v| v.parse().ok())
}

/// `Retry-After` in seconds (the HTTP-date form is rare from these providers and treated as
/// absent, which falls back to the reset header or backoff).
fn retry_after(h: &HeaderMap) -> Option<u64> {
    header_u64(h, "retry-after")
}

/// Seconds until an epoch-seconds reset, plus one (spec: "until reset + 1 s").
fn until_reset_s(reset_epoch_s: u64, now: DateTime<Utc>) -> u64 {
    let now_s = u64::try_from(now.timestamp()).unwrap_or(0);
    reset_epoch_s.saturating_sub(now_s) + 1
}

/// A short, single-line excerpt of a body for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("errorMessages"))
                .or_else(|| v.get("error"))
                .map(|m| m.to_string())
        })
        .unwrap_or_else(|| text.to_string());
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

/// GraphQL `errors[].extensions.code` values of a body, if it is a GraphQL error body.
fn graphql_codes(body: &[u8]) -> Option<(Vec<String>, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    if errors.is_empty() {
        return None;
    }
    let codes = errors
        .iter()
        .filter_map(|e| e.pointer("/extensions/code")?.as_str().map(str::to_owned))
        .collect();
    let message = errors
        .iter()
        .filter_map(|e| e.get("message")?.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Some((codes, message))
}

/// Decides what a response means for `kind` (spec §3.3 table). `secondary_hits` counts earlier
/// GitHub secondary limits on the same request, so repeated hits back off from the 60 s floor.
pub(crate) fn classify(
    kind: ProviderKind,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    now: DateTime<Utc>,
    secondary_hits: u32,
) -> Verdict {
    if kind == ProviderKind::Linear
        && let Some((codes, message)) = graphql_codes(body)
    {
        // A rate limit whatever the HTTP status.
        if codes.iter().any(|c| c == "RATELIMITED") {
            return match header_u64(headers, "x-ratelimit-requests-reset") {
                Some(reset_ms) => Verdict::Wait {
                    secs: until_reset_s(reset_ms / 1000, now),
                    reason: "linear RATELIMITED",
                },
                None => Verdict::Transient("linear RATELIMITED without a reset".into()),
            };
        }
        if codes.iter().any(|c| c == "AUTHENTICATION_ERROR") {
            return Verdict::Fail(Error::Unauthorized { status });
        }
        if (200..300).contains(&status) || status == 400 {
            return Verdict::Fail(Error::GraphQl {
                code: codes.into_iter().next(),
                message,
            });
        }
    }

    match status {
        200..=299 | 304 => return Verdict::Done,
        401 => return Verdict::Fail(Error::Unauthorized { status }),
        404 => {
            return Verdict::Fail(Error::NotFound {
                url: url.to_owned(),
            });
        }
        _ => {}
    }
    match kind {
        ProviderKind::Github if status == 403 || status == 429 => {
            github_limit(status, headers, body, url, now, secondary_hits)
        }
        ProviderKind::Gitlab if status == 429 => match retry_after(headers) {
            Some(secs) => Verdict::Wait {
                secs,
                reason: "gitlab retry-after",
            },
            None => match header_u64(headers, "ratelimit-reset") {
                Some(reset) => Verdict::Wait {
                    secs: until_reset_s(reset, now),
                    reason: "gitlab ratelimit-reset",
                },
                None => Verdict::Transient("gitlab 429".into()),
            },
        },
        ProviderKind::Jira if status == 429 || status == 503 => match retry_after(headers) {
            Some(secs) => Verdict::Wait {
                secs,
                reason: "jira retry-after",
            },
            None => Verdict::Transient(format!("jira {status}")),
        },
        _ if status == 429 => match retry_after(headers) {
            Some(secs) => Verdict::Wait {
                secs,
                reason: "retry-after",
            },
            None => Verdict::Transient("429".into()),
        },
        _ if status == 403 => Verdict::Fail(Error::Permission {
            url: url.to_owned(),
            message: excerpt(body),
        }),
        _ if status == 408 || (500..=599).contains(&status) => {
            Verdict::Transient(format!("HTTP {status}"))
        }
        _ => Verdict::Fail(Error::Status {
            url: url.to_owned(),
            status,
            message: excerpt(body),
        }),
    }
}

/// GitHub's 403/429 rules, in the table's order.
fn github_limit(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    now: DateTime<Utc>,
    secondary_hits: u32,
) -> Verdict {
    let text = String::from_utf8_lossy(body).to_lowercase();
    let secondary = text.contains("secondary rate limit") || text.contains("abuse detection");
    if header_u64(headers, "x-ratelimit-remaining") == Some(0)
        && let Some(reset) = header_u64(headers, "x-ratelimit-reset")
    {
        return Verdict::Wait {
            secs: until_reset_s(reset, now),
            reason: "github primary limit",
        };
    }
    // Secondary limits: at least 60 s, doubling while they keep coming.
    let floor = SECONDARY_MIN_S.saturating_mul(1u64 << secondary_hits.min(16));
    if let Some(secs) = retry_after(headers) {
        return Verdict::Wait {
            secs: if secondary { secs.max(floor) } else { secs },
            reason: "github retry-after",
        };
    }
    if secondary {
        return Verdict::Wait {
            secs: floor,
            reason: "github secondary limit",
        };
    }
    if status == 429 {
        return Verdict::Transient("github 429".into());
    }
    Verdict::Fail(Error::Permission {
        url: url.to_owned(),
        message: excerpt(body),
    })
}

/// The quota a successful response reports: (remaining, limit, reset), for the "below 5 %
/// sleep until reset" throttle. Jira sends no such headers.
pub(crate) fn quota(kind: ProviderKind, headers: &HeaderMap) -> Option<(u64, u64, DateTime<Utc>)> {
    let (remaining, limit, reset_s) = match kind {
        ProviderKind::Github => (
            header_u64(headers, "x-ratelimit-remaining")?,
            header_u64(headers, "x-ratelimit-limit")?,
            header_u64(headers, "x-ratelimit-reset")?,
        ),
        ProviderKind::Gitlab => (
            header_u64(headers, "ratelimit-remaining")?,
            header_u64(headers, "ratelimit-limit")?,
            header_u64(headers, "ratelimit-reset")?,
        ),
        ProviderKind::Linear => (
            header_u64(headers, "x-ratelimit-requests-remaining")?,
            header_u64(headers, "x-ratelimit-requests-limit")?,
            header_u64(headers, "x-ratelimit-requests-reset")? / 1000,
        ),
        ProviderKind::Jira => return None,
    };
    let reset = DateTime::from_timestamp(i64::try_from(reset_s).ok()?, 0)?;
    Some((remaining, limit, reset))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn wait_of(v: Verdict) -> u64 {
        match v {
            Verdict::Wait { secs, .. } => secs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn github_rules_in_order() {
        let gh = ProviderKind::Github;
        let reset = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000100"),
        ]);
        assert_eq!(
            wait_of(classify(gh, 403, &reset, b"{}", "u", now(), 0)),
            101
        );
        let ra = headers(&[("retry-after", "30")]);
        assert_eq!(wait_of(classify(gh, 429, &ra, b"{}", "u", now(), 0)), 30);
        let body = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        assert_eq!(wait_of(classify(gh, 403, &ra, body, "u", now(), 0)), 60);
        assert_eq!(
            wait_of(classify(gh, 403, &HeaderMap::new(), body, "u", now(), 2)),
            240
        );
        assert!(matches!(
            classify(
                gh,
                403,
                &HeaderMap::new(),
                br#"{"message":"Resource not accessible by personal access token"}"#,
                "u",
                now(),
                0
            ),
            Verdict::Fail(Error::Permission { .. })
        ));
    }

    #[test]
    fn other_providers() {
        let gl = headers(&[("ratelimit-reset", "1700000010")]);
        assert_eq!(
            wait_of(classify(ProviderKind::Gitlab, 429, &gl, b"", "u", now(), 0)),
            11
        );
        assert!(matches!(
            classify(
                ProviderKind::Jira,
                503,
                &HeaderMap::new(),
                b"",
                "u",
                now(),
                0
            ),
            Verdict::Transient(_)
        ));
        let limited = br#"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}"#;
        let lin = headers(&[("x-ratelimit-requests-reset", "1700000030000")]);
        assert_eq!(
            wait_of(classify(
                ProviderKind::Linear,
                200,
                &lin,
                limited,
                "u",
                now(),
                0
            )),
            31
        );
        let complex = br#"{"errors":[{"message":"Query too complex","extensions":{"code":"INVALID_INPUT"}}]}"#;
        assert!(matches!(
            classify(
                ProviderKind::Linear,
                400,
                &HeaderMap::new(),
                complex,
                "u",
                now(),
                0
            ),
            Verdict::Fail(Error::GraphQl { .. })
        ));
        assert!(matches!(
            classify(
                ProviderKind::Gitlab,
                502,
                &HeaderMap::new(),
                b"",
                "u",
                now(),
                0
            ),
            Verdict::Transient(_)
        ));
    }
}
