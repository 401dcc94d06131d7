//! Database URLs: `sqlite:` (embedded default) or `postgres://`.

use std::fmt;
use std::path::PathBuf;

/// A parsed database URL naming one of the two supported backends.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (kept verbatim for the driver).
    Postgres(String),
}

/// Why a database URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The scheme is neither `sqlite:` nor `postgres://`.
    #[error(
        "unsupported database URL scheme in {0:?}: expected sqlite:PATH or postgres://USER@HOST/DB"
    )]
    Scheme(String),
    /// The URL has the right scheme but is incomplete.
    #[error("malformed database URL {url:?}: {reason}")]
    Malformed {
        /// The URL with any password redacted.
        url: String,
        /// What is missing.
        reason: &'static str,
    },
}

impl DatabaseUrl {
    /// Parses `sqlite:PATH`, `sqlite://PATH` (an absolute path keeps its leading slash:
    /// `sqlite:///var/lib/x.db`), `postgres://…` or `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(UrlError::Malformed {
                    url: raw.to_owned(),
                    reason: "the path of the database file is empty",
                });
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let after = raw.split_once("://").map_or("", |(_, r)| r);
            let host = after.rsplit_once('@').map_or(after, |(_, h)| h);
            if host.is_empty() || host.starts_with('/') || host.starts_with(':') {
                return Err(UrlError::Malformed {
                    url: redact(raw),
                    reason: "the host is missing",
                });
            }
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        Err(UrlError::Scheme(redact(raw)))
    }

    /// The URL for logs and `config show`: any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => redact(u),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_backends() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://.dev-health/dev-health.db"),
            Ok(DatabaseUrl::Sqlite(".dev-health/dev-health.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/dh.db?mode=rwc"),
            Ok(DatabaseUrl::Sqlite("/var/lib/dh.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://dh:pw@db:5432/dh"),
            Ok(DatabaseUrl::Postgres("postgres://dh:pw@db:5432/dh".into()))
        );
    }

    #[test]
    fn refuses_other_schemes_and_empty_parts_without_leaking_passwords() {
        let err = DatabaseUrl::parse("mysql://root:secret@db/dh").unwrap_err();
        assert!(matches!(err, UrlError::Scheme(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(DatabaseUrl::parse("sqlite:").is_err());
        assert!(DatabaseUrl::parse("postgres://user:pw@/db").is_err());
        assert!(DatabaseUrl::parse("not a url").is_err());
    }

    #[test]
    fn redacts_passwords() {
        let url = DatabaseUrl::parse("postgres://dh:hunter2@db/dh").unwrap();
        assert_eq!(url.redacted(), "postgres://dh:***@db/dh");
        assert_eq!(format!("{url:?}"), "postgres://dh:***@db/dh");
    }
}
