//! Provider timestamps: RFC 3339 (GitHub, GitLab, Linear) and Jira's `+0000` offsets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// Parses RFC 3339 or Jira's `2024-03-01T09:00:00.000+0000`.
pub(crate) fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Serde adapter for a required provider timestamp.
pub(crate) fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {s:?}")))
}

/// Serde adapter for an optional provider timestamp (`null` or absent → `None`).
pub(crate) fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_offset_styles_parse_to_the_same_instant() {
        assert_eq!(
            parse("2024-03-01T09:00:00.000+0000"),
            parse("2024-03-01T09:00:00Z")
        );
        assert_eq!(
            parse("2024-03-01T10:00:00.000+0100"),
            parse("2024-03-01T09:00:00Z")
        );
        assert!(parse("yesterday").is_none());
    }
}
