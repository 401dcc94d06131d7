//! Provider credentials as typed secrets (spec §3.4, house rule 4): the token is only ever
//! turned into a request header, marked sensitive, and never printed by `Debug` or logged.

use std::fmt;

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};

use super::error::Error;

/// A provider token (PAT, API key, OAuth access token). Its `Debug` is redacted, it has no
/// `Display` and no `Serialize`, so it cannot end up in a log line, an error or a JSON body.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a decrypted token for the duration of a run.
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    /// The last four characters, the only part the UI may show (`integrations.token_hint`).
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// How a provider wants the token presented (spec §5, §6, §7.2, §7.3).
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (GitHub PATs, GitLab and Linear OAuth tokens).
    Bearer(Token),
    /// `PRIVATE-TOKEN: <token>` (GitLab personal access tokens).
    PrivateToken(Token),
    /// `Authorization: Basic base64(email:token)` (Jira Cloud API tokens).
    Basic {
        /// The Atlassian account email; not secret, but kept with the token it belongs to.
        email: String,
        /// The API token.
        token: Token,
    },
    /// `Authorization: <token>` with no scheme (Linear personal API keys).
    Plain(Token),
}

impl Auth {
    /// The header that carries the credential, flagged sensitive so HTTP internals never log it.
    pub(crate) fn header(&self) -> Result<(HeaderName, HeaderValue), Error> {
        let (name, value) = match self {
            Auth::Bearer(t) => (
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", t.expose()),
            ),
            Auth::PrivateToken(t) => (
                HeaderName::from_static("private-token"),
                t.expose().to_owned(),
            ),
            Auth::Basic { email, token } => {
                let raw = format!("{email}:{}", token.expose());
                (
                    reqwest::header::AUTHORIZATION,
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    ),
                )
            }
            Auth::Plain(t) => (reqwest::header::AUTHORIZATION, t.expose().to_owned()),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            Error::Config("the token contains characters a header cannot carry".into())
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let auth = Auth::Basic {
            email: "ana@acme.example".into(),
            token: Token::new("s3cr3t-value"),
        };
        let printed = format!("{auth:?} {:?}", Token::new("s3cr3t-value"));
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert_eq!(Token::new("ghp_abcdef1234").hint(), "1234");
        let (name, value) = auth.header().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, reqwest::header::AUTHORIZATION);
        assert!(value.is_sensitive());
    }
}
