//! In-memory token buckets: per-IP buckets for the public auth endpoints and the per-org API
//! rate (identity spec §2.4, §2.6). With one replica the buckets live in memory, as the spec
//! allows; the arithmetic is `auth::throttle`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use auth::throttle::{Bucket, BucketState};
use chrono::{DateTime, Utc};

use super::errors;
use crate::AppError;

/// Buckets by key (`ip:<addr>:auth`, `org:<id>:api`, …).
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    states: Mutex<HashMap<String, BucketState>>,
}

/// IPv6 clients are grouped by /64, so one host cannot rotate addresses to escape its bucket.
pub(crate) fn ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

impl Buckets {
    /// Takes a token from `key`'s bucket, or the wait until one is available.
    pub(crate) fn take(
        &self,
        key: String,
        bucket: &Bucket,
        now: DateTime<Utc>,
    ) -> Result<BucketState, chrono::Duration> {
        let mut map = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Full buckets carry no information; dropping them is the same as keeping them.
            map.retain(|_, s| bucket.refill(Some(*s), now).tokens < bucket.capacity);
        }
        let state = map.get(&key).copied();
        let next = bucket.take(state, now)?;
        map.insert(key, next);
        Ok(next)
    }

    /// The per-IP `auth` bucket (login, verify, reset, invite accept): 429 `too_many_attempts`.
    pub(crate) fn auth(&self, ip: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), AppError> {
        self.take_ip(
            "auth",
            ip,
            &auth::throttle::AUTH_BUCKET,
            now,
            "too_many_attempts",
        )
    }

    /// The per-IP `mail` bucket (register, forgot password, resend): 429 `too_many_attempts`.
    pub(crate) fn mail(&self, ip: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), AppError> {
        self.take_ip(
            "mail",
            ip,
            &auth::throttle::MAIL_BUCKET,
            now,
            "too_many_attempts",
        )
    }

    /// Takes a token from the client IP's bucket of this kind; an empty bucket is a 429 with
    /// `code`.
    pub(crate) fn take_ip(
        &self,
        kind: &str,
        ip: Option<IpAddr>,
        bucket: &Bucket,
        now: DateTime<Utc>,
        code: &'static str,
    ) -> Result<(), AppError> {
        self.take(format!("ip:{}:{kind}", ip_key(ip)), bucket, now)
            .map(|_| ())
            .map_err(|wait| errors::throttled(code, wait))
    }
}
