//! The read queries behind the metric API (analytics spec §9): per-item rows of one population
//! in a window `[from, to)` and scope. Buckets and statistics are computed by the caller from
//! these rows (percentiles never come from pre-aggregated values, §9.1), which also keeps the
//! SQL free of dialect-specific date functions: both backends return the same rows.
//!
//! Every query filters by `org_id` first and by the indexed time column of its population
//! (`commits(org_id, repo_id, committed_at)`, `pr_metrics(org_id, [repo_id,] merged_at)`,
//! `work_item_facts(org_id, completed_at)`).

pub mod code;
pub mod items;
pub mod prs;

use domain::{IdentityId, OrgId, RepoId, TeamId};

use crate::{Conn, Id, Result, Ts, on_conn};

/// Which rows of the org a metric reads; the filters combine (a repo and a team together
/// means the team's activity in that repo). All `None` is the whole org.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only this repository.
    pub repo: Option<RepoId>,
    /// Only this team (its non-bot members, or for work items its attributed items).
    pub team: Option<TeamId>,
    /// Only this person (an identity; bots have no person metrics).
    pub person: Option<IdentityId>,
}

/// One bind value of a query built at run time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    Id(Id),
    Ts(Ts),
}

/// SQL text plus its binds, numbered as they are added (`$1` is always the org).
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(org: OrgId) -> Sql {
        Sql {
            text: String::new(),
            args: vec![Arg::Id(Id::from(org))],
        }
    }

    /// Adds a bind and returns its placeholder.
    pub(crate) fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// `AND <col> = <person>` and `AND <col> IN <team's members>`, leaving bots out (§8).
    pub(crate) fn who(&mut self, col: &str, scope: &Scope) {
        if let Some(p) = scope.person {
            let p = self.arg(Arg::Id(Id::from(p)));
            self.push(&format!(
                " AND {col} = {p} AND EXISTS (SELECT 1 FROM identities bi WHERE bi.org_id = $1 \
                 AND bi.id = {p} AND bi.is_bot = FALSE)"
            ));
        }
        if let Some(t) = scope.team {
            let t = self.arg(Arg::Id(Id::from(t)));
            self.push(&format!(
                " AND {col} IN (SELECT tm.identity_id FROM team_members tm JOIN identities ti \
                 ON ti.org_id = tm.org_id AND ti.id = tm.identity_id WHERE tm.org_id = $1 \
                 AND tm.team_id = {t} AND ti.is_bot = FALSE)"
            ));
        }
    }

    /// `AND <col> = <repo>` when the scope names a repository.
    pub(crate) fn repo(&mut self, col: &str, scope: &Scope) {
        if let Some(r) = scope.repo {
            let r = self.arg(Arg::Id(Id::from(r)));
            self.push(&format!(" AND {col} = {r}"));
        }
    }
}

/// Runs a built [`Sql`] with `fetch_all` into rows of `$row` on either backend.
macro_rules! fetch_built {
    ($conn:expr, $sql:expr, $row:ty) => {
        $crate::on_conn!($conn, c => {
            let mut q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe($sql.text.clone()));
            for a in &$sql.args {
                q = match *a {
                    $crate::analytics::metrics::Arg::Id(v) => q.bind(v),
                    $crate::analytics::metrics::Arg::Ts(v) => q.bind(v),
                };
            }
            q.fetch_all(&mut *c).await
        })
    };
}
pub(crate) use fetch_built;

/// Whether the repository exists in the org (a scope id of another org answers 404).
pub async fn repo_exists(conn: &mut Conn<'_>, org: OrgId, id: RepoId) -> Result<bool> {
    exists(
        conn,
        "SELECT COUNT(*) FROM repos WHERE org_id = $1 AND id = $2",
        org,
        id.into(),
    )
    .await
}

/// Whether the team exists in the org.
pub async fn team_exists(conn: &mut Conn<'_>, org: OrgId, id: TeamId) -> Result<bool> {
    exists(
        conn,
        "SELECT COUNT(*) FROM teams WHERE org_id = $1 AND id = $2",
        org,
        id.into(),
    )
    .await
}

/// Whether the identity exists in the org.
pub async fn identity_exists(conn: &mut Conn<'_>, org: OrgId, id: IdentityId) -> Result<bool> {
    exists(
        conn,
        "SELECT COUNT(*) FROM identities WHERE org_id = $1 AND id = $2",
        org,
        id.into(),
    )
    .await
}

async fn exists(conn: &mut Conn<'_>, sql: &'static str, org: OrgId, id: Id) -> Result<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(sql)
        .bind(Id::from(org)).bind(id).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}
