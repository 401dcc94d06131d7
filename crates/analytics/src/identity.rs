//! Identity resolution (analytics spec §8): the aliases an observation carries (email, provider
//! accounts, GitHub noreply emails), bot detection, and which identity an observation belongs
//! to. Pure: the caller looks aliases up in its store and writes what [`resolve`] decides.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// One way to recognise a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alias {
    /// Lower-cased, trimmed email (after the mailmap).
    Email(String),
    /// Lower-cased GitHub login.
    Github(String),
    /// Lower-cased GitLab username.
    Gitlab(String),
    /// Jira accountId.
    Jira(String),
    /// Linear user id.
    Linear(String),
}

impl Alias {
    /// Whether this is a provider account (not an email).
    pub fn is_account(&self) -> bool {
        !matches!(self, Alias::Email(_))
    }
}

/// Who did something, as a provider reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Email, raw.
    pub email: Option<String>,
    /// Provider account alias (already built with its kind).
    pub account: Option<Alias>,
    /// Display name or git author name.
    pub name: Option<String>,
}

/// The aliases an observation carries, normalised (§8): the email, the account, and for GitHub
/// noreply emails (`<id>+<login>@users.noreply.github.com`, `<login>@users.noreply.github.com`)
/// the `github:<login>` alias too.
pub fn aliases(o: &Observation) -> Vec<Alias> {
    let mut out = Vec::new();
    if let Some(email) = o
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@'))
    {
        if let Some(local) = email.strip_suffix("@users.noreply.github.com") {
            let login = local.split_once('+').map_or(local, |(_, l)| l);
            if !login.is_empty() {
                out.push(Alias::Github(login.to_owned()));
            }
        }
        out.push(Alias::Email(email));
    }
    if let Some(a) = &o.account {
        let a = match a {
            Alias::Github(l) => Alias::Github(l.trim().to_lowercase()),
            Alias::Gitlab(l) => Alias::Gitlab(l.trim().to_lowercase()),
            Alias::Email(e) => Alias::Email(e.trim().to_lowercase()),
            other => other.clone(),
        };
        out.push(a);
    }
    out.sort();
    out.dedup();
    out
}

/// What to do with an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<Id> {
    /// A known identity; attach these aliases it does not have yet.
    Known {
        /// The identity.
        id: Id,
        /// New aliases seen next to a known one.
        attach: Vec<Alias>,
    },
    /// A new identity with these aliases and display name.
    New {
        /// Every alias the observation carries.
        aliases: Vec<Alias>,
        /// Name, else the account login.
        display_name: String,
    },
    /// Email and account point at different identities: use the email's, merge nothing, and
    /// record a merge suggestion.
    Conflict {
        /// The email's identity (used for the row).
        email_identity: Id,
        /// The account's identity.
        account_identity: Id,
    },
}

/// §8's rule: a known email alias wins, then a known account alias, else a new identity. There
/// is no name-similarity matching.
pub fn resolve<Id: Clone + PartialEq>(
    o: &Observation,
    known: impl Fn(&Alias) -> Option<Id>,
) -> Resolution<Id> {
    let all = aliases(o);
    let by_email = all.iter().filter(|a| !a.is_account()).find_map(&known);
    let by_account = all.iter().filter(|a| a.is_account()).find_map(&known);
    let id = match (by_email, by_account) {
        (Some(e), Some(a)) if e != a => {
            return Resolution::Conflict {
                email_identity: e,
                account_identity: a,
            };
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            let display_name = o
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .or_else(|| {
                    all.iter().find_map(|a| match a {
                        Alias::Github(l) | Alias::Gitlab(l) => Some(l.clone()),
                        _ => None,
                    })
                })
                .or_else(|| o.email.clone())
                .unwrap_or_else(|| "unknown".to_owned());
            return Resolution::New {
                aliases: all,
                display_name,
            };
        }
    };
    let attach = all.into_iter().filter(|a| known(a).is_none()).collect();
    Resolution::Known { id, attach }
}

/// The default bot login patterns (§8), besides any login ending in `[bot]`.
pub const DEFAULT_BOT_PATTERNS: &[&str] = &["dependabot*", "renovate*", "github-actions*"];

/// Bot detection by login.
#[derive(Debug, Clone)]
pub struct Bots(GlobSet);

impl Bots {
    /// Compiles the org's patterns (case-insensitive globs over the login).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Bots, String> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            b.add(
                Glob::new(&p.as_ref().to_lowercase())
                    .map_err(|e| format!("bot pattern {:?}: {e}", p.as_ref()))?,
            );
        }
        b.build().map(Bots).map_err(|e| e.to_string())
    }

    /// The defaults.
    pub fn defaults() -> Bots {
        Bots::new(DEFAULT_BOT_PATTERNS)
            .unwrap_or_else(|e| unreachable!("the defaults compile: {e}"))
    }

    /// Whether `login` is a bot.
    pub fn is_bot(&self, login: &str) -> bool {
        let l = login.trim().to_lowercase();
        l.ends_with("[bot]") || self.0.is_match(&l)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn obs(email: Option<&str>, github: Option<&str>, name: Option<&str>) -> Observation {
        Observation {
            email: email.map(str::to_owned),
            account: github.map(|g| Alias::Github(g.to_owned())),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn aliases_are_normalised_and_noreply_emails_yield_the_login() {
        let a = aliases(&obs(
            Some(" 123+Octo@users.noreply.github.com "),
            Some("OCTO"),
            None,
        ));
        assert_eq!(
            a,
            [
                Alias::Email("123+octo@users.noreply.github.com".into()),
                Alias::Github("octo".into())
            ]
        );
        let b = aliases(&obs(Some("hubot@users.noreply.github.com"), None, None));
        assert!(b.contains(&Alias::Github("hubot".into())));
    }

    #[test]
    fn email_first_then_account_then_new_and_conflicts_merge_nothing() {
        let known: HashMap<Alias, u32> = [
            (Alias::Email("ana@acme.example".into()), 1),
            (Alias::Github("ana".into()), 1),
            (Alias::Github("bob".into()), 2),
        ]
        .into();
        let look = |a: &Alias| known.get(a).copied();
        assert_eq!(
            resolve(&obs(Some("ANA@acme.example"), Some("ana-alt"), None), look),
            Resolution::Known {
                id: 1,
                attach: vec![Alias::Github("ana-alt".into())]
            }
        );
        assert_eq!(
            resolve(
                &obs(Some("bob@acme.example"), Some("bob"), Some("Bob")),
                look
            ),
            Resolution::Known {
                id: 2,
                attach: vec![Alias::Email("bob@acme.example".into())]
            }
        );
        assert_eq!(
            resolve(&obs(Some("ana@acme.example"), Some("bob"), None), look),
            Resolution::Conflict {
                email_identity: 1,
                account_identity: 2
            }
        );
        // Same name, no shared alias: a new identity (no name matching).
        match resolve(&obs(Some("ana@elsewhere.example"), None, Some("Ana")), look) {
            Resolution::New {
                aliases,
                display_name,
            } => {
                assert_eq!((aliases.len(), display_name.as_str()), (1, "Ana"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bots_by_suffix_and_patterns() {
        let bots = Bots::defaults();
        for l in [
            "dependabot[bot]",
            "Renovate-Bot",
            "github-actions",
            "some-app[bot]",
        ] {
            assert!(bots.is_bot(l), "{l}");
        }
        assert!(!bots.is_bot("octocat"));
        assert!(Bots::new(&["ci-*"]).unwrap().is_bot("CI-runner"));
    }
}
