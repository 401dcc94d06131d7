-- Repository-scoped metrics (the dashboard's repo filter, GET /api/v1/metrics?scope=repo) read
-- one repository's merged PRs in a window; with only (org_id, merged_at) each such read walked
-- every repository's PRs of the window (10 repositories: 10x the rows). Kept in step with
-- ../sqlite/0008_pr_metrics_by_repo.sql.
CREATE INDEX pr_metrics_by_repo_merge ON pr_metrics (org_id, repo_id, merged_at);
