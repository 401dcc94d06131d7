//! People → identities (analytics spec §8). The decision is `analytics::identity::resolve`;
//! [`People`] looks the aliases up, writes what it decides and remembers answers for the rest
//! of the run, so a 100,000-commit sync asks once per person. Every source goes through it:
//! git authors ([`Authors`], after the mailmap) and the provider accounts PRs, reviews and work
//! items carry (GitHub/GitLab logins, Jira account ids, Linear user ids, with emails when the
//! provider sends them).

use std::collections::HashMap;

use analytics::identity::{Alias, Bots, Observation, Resolution, aliases, resolve};
use chrono::{DateTime, Utc};
use domain::{IdentityId, OrgId};
use store::Conn;
use store::analytics::identities;
use sync::git::Mailmap;

use crate::Result;

/// The stored kind of an alias.
fn kind(a: &Alias) -> (&'static str, &str) {
    match a {
        Alias::Email(v) => ("email", v),
        Alias::Github(v) => ("github", v),
        Alias::Gitlab(v) => ("gitlab", v),
        Alias::Jira(v) => ("jira", v),
        Alias::Linear(v) => ("linear", v),
    }
}

/// Resolves a run's observations of people.
pub(crate) struct People {
    bots: Bots,
    /// By normalised aliases: the rules give the same answer for the same aliases.
    cache: HashMap<Vec<Alias>, Option<IdentityId>>,
    /// Identities created by this run.
    pub(crate) created: u64,
}

impl People {
    pub(crate) fn new() -> People {
        People {
            bots: Bots::defaults(),
            cache: HashMap::new(),
            created: 0,
        }
    }

    /// The identity of an observation; `None` when it carries no usable alias.
    pub(crate) async fn resolve(
        &mut self,
        conn: &mut Conn<'_>,
        org: OrgId,
        observation: &Observation,
        now: DateTime<Utc>,
    ) -> Result<Option<IdentityId>> {
        let all = aliases(observation);
        if all.is_empty() {
            return Ok(None);
        }
        if let Some(hit) = self.cache.get(&all) {
            return Ok(*hit);
        }
        let mut known = HashMap::new();
        for a in &all {
            let (k, v) = kind(a);
            if let Some(id) = identities::by_alias(conn, org, k, v).await? {
                known.insert(a.clone(), id);
            }
        }
        let id = match resolve(observation, |a| known.get(a).copied()) {
            Resolution::Known { id, attach } => {
                for a in &attach {
                    let (k, v) = kind(a);
                    identities::attach(conn, org, id, k, v, "observed", now).await?;
                }
                id
            }
            Resolution::New {
                aliases,
                display_name,
            } => {
                let name = observation.name.as_deref().unwrap_or("");
                let login = aliases.iter().find_map(|a| match a {
                    Alias::Github(l) | Alias::Gitlab(l) => Some(l.as_str()),
                    _ => None,
                });
                let is_bot = self.bots.is_bot(name)
                    || self.bots.is_bot(&display_name)
                    || login.is_some_and(|l| self.bots.is_bot(l));
                let primary = aliases.iter().find_map(|a| match a {
                    Alias::Email(e) => Some(e.as_str()),
                    _ => None,
                });
                let id = identities::create(conn, org, &display_name, primary, is_bot, now).await?;
                for a in &aliases {
                    let (k, v) = kind(a);
                    identities::attach(conn, org, id, k, v, "observed", now).await?;
                }
                self.created += 1;
                id
            }
            // Email and account disagree: the email's identity is used and nothing is merged.
            Resolution::Conflict { email_identity, .. } => email_identity,
        };
        self.cache.insert(all, Some(id));
        Ok(Some(id))
    }

    /// The identity of a provider account seen only by its login or id.
    pub(crate) async fn account(
        &mut self,
        conn: &mut Conn<'_>,
        org: OrgId,
        account: Alias,
        now: DateTime<Utc>,
    ) -> Result<Option<IdentityId>> {
        let observation = Observation {
            email: None,
            account: Some(account),
            name: None,
        };
        self.resolve(conn, org, &observation, now).await
    }
}

/// Resolves a run's commit authors: the mailmap first, then [`People`].
pub(crate) struct Authors {
    mailmap: Mailmap,
    people: People,
    /// By raw `(name, email)`: the mailmap and the rules give the same answer every time.
    cache: HashMap<(String, String), Option<IdentityId>>,
}

impl Authors {
    pub(crate) fn new(mailmap: Mailmap) -> Authors {
        Authors {
            mailmap,
            people: People::new(),
            cache: HashMap::new(),
        }
    }

    /// Identities created by this run.
    pub(crate) fn created(&self) -> u64 {
        self.people.created
    }

    /// The identity of a raw author; `None` when the commit carries no usable email.
    pub(crate) async fn resolve(
        &mut self,
        conn: &mut Conn<'_>,
        org: OrgId,
        name: &str,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdentityId>> {
        let key = (name.to_owned(), email.to_owned());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(*hit);
        }
        let (name, email) = self.mailmap.resolve(name, email);
        let observation = Observation {
            email: Some(email),
            account: None,
            name: Some(name),
        };
        let id = self.people.resolve(conn, org, &observation, now).await?;
        self.cache.insert(key, id);
        Ok(id)
    }
}
