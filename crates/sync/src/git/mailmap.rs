//! The mailmap applied when resolving commit authors (analytics spec §4): the repository's
//! `.mailmap` from the synced tip, then the org's mailmap, whose entries win. Git's four entry
//! forms are understood (gix parses them).

use gix::bstr::ByteSlice;

/// A merged mailmap.
#[derive(Default)]
pub struct Mailmap(gix::mailmap::Snapshot);

impl std::fmt::Debug for Mailmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailmap")
            .field("entries", &self.0.entries().len())
            .finish()
    }
}

impl Mailmap {
    /// The repository's mailmap (bytes of `.mailmap`), then the org's, which wins.
    pub fn new(repo: Option<&[u8]>, org: Option<&[u8]>) -> Mailmap {
        let mut snapshot = gix::mailmap::Snapshot::from_bytes(repo.unwrap_or_default());
        if let Some(org) = org {
            snapshot.merge(gix::mailmap::parse_ignore_errors(org));
        }
        Mailmap(snapshot)
    }

    /// The canonical `(name, email)` of a raw author.
    pub fn resolve(&self, name: &str, email: &str) -> (String, String) {
        let sig = gix::actor::SignatureRef {
            name: name.as_bytes().as_bstr(),
            email: email.as_bytes().as_bstr(),
            time: "0 +0000",
        };
        let resolved = self.0.resolve(sig);
        (resolved.name.to_string(), resolved.email.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_mailmap_wins_over_the_repository_one() {
        let repo = b"Ada Lovelace <ada@example.com> <ADA@old.local>\n";
        let m = Mailmap::new(Some(repo), None);
        assert_eq!(
            m.resolve("Ada L", "ada@old.local"),
            ("Ada Lovelace".to_owned(), "ada@example.com".to_owned())
        );
        assert_eq!(
            m.resolve("Grace", "grace@example.com"),
            ("Grace".to_owned(), "grace@example.com".to_owned())
        );
        let org = b"Countess <countess@example.com> <ADA@old.local>\n";
        let m = Mailmap::new(Some(repo), Some(org));
        assert_eq!(
            m.resolve("Ada L", "ADA@old.local"),
            ("Countess".to_owned(), "countess@example.com".to_owned())
        );
    }
}
