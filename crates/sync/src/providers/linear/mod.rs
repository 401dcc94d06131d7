//! Linear GraphQL (spec §7.3): issues updated since the cursor, paged by `endCursor`, with
//! their state history as transitions (long histories continue with `issue(id) { history }`).

mod issues;
mod query;

pub use issues::issues;

/// One Linear workspace.
#[derive(Debug, Clone)]
pub struct LinearWorkspace {
    /// The GraphQL endpoint: `https://api.linear.app/graphql`.
    pub endpoint: String,
}

impl Default for LinearWorkspace {
    fn default() -> Self {
        LinearWorkspace {
            endpoint: "https://api.linear.app/graphql".to_owned(),
        }
    }
}
