//! Email addresses as identities: one normalized form per mailbox (identity spec §1.2).

use std::fmt;

/// The normalized form: trimmed, lower-cased, the domain as IDNA A-labels, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailNorm(String);

/// Why an address was refused (`invalid_email`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address: {0}")]
pub struct InvalidEmail(pub &'static str);

impl EmailNorm {
    /// Normalizes `raw`. Display-name forms (`Ann <ann@x.io>`), whitespace or control characters
    /// inside, a missing local part or domain, and more than 254 characters are refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','))
        {
            return Err(InvalidEmail(
                "use the bare address, without a name, spaces or quotes",
            ));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(InvalidEmail("an address needs an @"));
        };
        if local.is_empty() || local.contains('@') || domain.is_empty() {
            return Err(InvalidEmail(
                "an address needs a name before and a domain after a single @",
            ));
        }
        let domain = idna::domain_to_ascii(domain)
            .map_err(|_| InvalidEmail("the domain is not a valid host name"))?;
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(InvalidEmail("the domain is not a valid host name"));
        }
        let norm = format!("{}@{domain}", local.to_lowercase());
        if norm.len() > 254 {
            return Err(InvalidEmail("an address has at most 254 characters"));
        }
        Ok(EmailNorm(norm))
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(l, _)| l)
    }
}

impl fmt::Display for EmailNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_whitespace_and_international_domains() {
        assert_eq!(
            EmailNorm::parse("  Ann.Lee@Example.COM ").unwrap().as_str(),
            "ann.lee@example.com"
        );
        assert_eq!(
            EmailNorm::parse("bob@bücher.example").unwrap().as_str(),
            "bob@xn--bcher-kva.example"
        );
        assert_eq!(
            EmailNorm::parse("a+tag@x.io").unwrap().local_part(),
            "a+tag"
        );
    }

    #[test]
    fn refuses_what_is_not_a_bare_address() {
        for bad in [
            "",
            "no-at-sign",
            "@x.io",
            "ann@",
            "Ann <ann@x.io>",
            "a b@x.io",
            "a@@x.io",
            "ann@localhost",
            "ann\n@x.io",
            "ann@x\u{0}.io",
        ] {
            assert!(EmailNorm::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailNorm::parse(&long).is_err());
    }
}
