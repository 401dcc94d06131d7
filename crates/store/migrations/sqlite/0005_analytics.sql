-- Analytics core: synced data and derived facts (analytics spec §2). Every table is scoped by
-- org_id (tenant isolation by construction). Kept in step with ../postgres/0005_analytics.sql
-- (checked by store's schema parity test).

CREATE TABLE integrations (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('github','gitlab','jira','linear','local')),
    base_url TEXT,
    auth_kind TEXT NOT NULL,
    secret_ct TEXT,
    secret_nonce TEXT,
    secret_key_id TEXT,
    token_hint TEXT,
    sync_interval_min INTEGER NOT NULL DEFAULT 60 CHECK (sync_interval_min >= 15),
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    last_tested_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE repos (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    integration_id TEXT,
    provider TEXT NOT NULL,
    external_id TEXT,
    full_name TEXT NOT NULL,
    default_branch TEXT,
    local_path TEXT,
    mirror_path TEXT,
    is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    excluded_paths TEXT NOT NULL CHECK (excluded_paths IS NULL OR json_valid(excluded_paths)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, full_name)
) STRICT;

CREATE TABLE identities (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    primary_email TEXT,
    is_bot INTEGER NOT NULL CHECK (is_bot IN (0, 1)),
    merged_into_id TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE identity_aliases (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email','github','gitlab','jira','linear','git_name')),
    value TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('observed','manual','mailmap')),
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, value),
    FOREIGN KEY (org_id, identity_id) REFERENCES identities (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE teams (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_team_id TEXT,
    project_keys TEXT NOT NULL CHECK (project_keys IS NULL OR json_valid(project_keys)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, slug)
) STRICT;

CREATE TABLE team_members (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (org_id, team_id, identity_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, identity_id) REFERENCES identities (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE commits (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_email TEXT NOT NULL,
    author_identity_id TEXT,
    authored_at TEXT NOT NULL,
    committer_name TEXT NOT NULL,
    committer_email TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    parent_count INTEGER NOT NULL,
    subject TEXT NOT NULL,
    additions INTEGER NOT NULL,
    deletions INTEGER NOT NULL,
    files_changed INTEGER NOT NULL,
    stats_state TEXT NOT NULL CHECK (stats_state IN ('complete','merge_skipped','missing_objects','partial')),
    PRIMARY KEY (org_id, repo_id, sha),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE commit_files (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    path TEXT NOT NULL,
    additions INTEGER NOT NULL,
    deletions INTEGER NOT NULL,
    is_binary INTEGER NOT NULL CHECK (is_binary IN (0, 1)),
    change TEXT NOT NULL CHECK (change IN ('A','M','D','T')),
    is_excluded INTEGER NOT NULL CHECK (is_excluded IN (0, 1)),
    PRIMARY KEY (org_id, repo_id, sha, path),
    FOREIGN KEY (org_id, repo_id, sha) REFERENCES commits (org_id, repo_id, sha) ON DELETE CASCADE
) STRICT;

CREATE TABLE pull_requests (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    provider TEXT NOT NULL,
    external_id TEXT,
    title TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open','closed','merged')),
    is_draft INTEGER NOT NULL CHECK (is_draft IN (0, 1)),
    author_login TEXT,
    author_identity_id TEXT,
    head_ref TEXT,
    base_ref TEXT,
    labels TEXT NOT NULL CHECK (labels IS NULL OR json_valid(labels)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    first_commit_at TEXT,
    first_review_at TEXT,
    first_comment_at TEXT,
    last_approval_at TEXT,
    merged_at TEXT,
    closed_at TEXT,
    merge_commit_sha TEXT,
    additions INTEGER,
    deletions INTEGER,
    changed_files INTEGER,
    commit_count INTEGER,
    size_state TEXT NOT NULL CHECK (size_state IN ('complete','partial','unknown')),
    PRIMARY KEY (org_id, repo_id, number),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE pull_request_commits (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    sha TEXT NOT NULL,
    authored_at TEXT NOT NULL,
    PRIMARY KEY (org_id, repo_id, number, sha),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
) STRICT;

CREATE TABLE reviews (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    review_id TEXT NOT NULL,
    reviewer_login TEXT,
    reviewer_identity_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('approved','changes_requested','commented','dismissed')),
    submitted_at TEXT NOT NULL,
    is_self INTEGER NOT NULL CHECK (is_self IN (0, 1)),
    PRIMARY KEY (org_id, repo_id, number, review_id),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
) STRICT;

CREATE TABLE work_items (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    provider TEXT NOT NULL,
    external_key TEXT NOT NULL,
    integration_id TEXT,
    repo_id TEXT,
    project_key TEXT,
    title TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('story','task','bug','epic','incident','chore','issue')),
    type_raw TEXT,
    status TEXT NOT NULL CHECK (status IN ('backlog','todo','in_progress','in_review','blocked','done','canceled')),
    status_raw TEXT,
    resolution_raw TEXT,
    labels TEXT NOT NULL CHECK (labels IS NULL OR json_valid(labels)),
    assignee_identity_id TEXT,
    reporter_identity_id TEXT,
    story_points REAL,
    parent_key TEXT,
    url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, external_key)
) STRICT;

CREATE TABLE work_item_transitions (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    work_item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    from_raw TEXT,
    to_raw TEXT,
    actor_identity_id TEXT,
    source TEXT NOT NULL CHECK (source IN ('changelog','history','event','synthetic')),
    PRIMARY KEY (org_id, work_item_id, seq),
    FOREIGN KEY (org_id, work_item_id) REFERENCES work_items (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE status_mappings (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    match_kind TEXT NOT NULL CHECK (match_kind IN ('status','label')),
    raw_value TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('backlog','todo','in_progress','in_review','blocked','done','canceled')),
    PRIMARY KEY (org_id, provider, match_kind, raw_value)
) STRICT;

CREATE TABLE sync_cursors (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    source_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    key TEXT NOT NULL,
    cursor TEXT,
    checkpoint TEXT CHECK (checkpoint IS NULL OR json_valid(checkpoint)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, source_id, dataset, key)
) STRICT;

CREATE TABLE http_etags (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    url_key TEXT NOT NULL,
    etag TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    PRIMARY KEY (org_id, integration_id, url_key)
) STRICT;

CREATE TABLE sync_runs (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    "trigger" TEXT NOT NULL CHECK ("trigger" IN ('schedule','manual','webhook','cli')),
    status TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','partial','failed','deferred','canceled')),
    started_at TEXT,
    finished_at TEXT,
    progress TEXT CHECK (progress IS NULL OR json_valid(progress)),
    counts TEXT CHECK (counts IS NULL OR json_valid(counts)),
    rate_limit_wait_s INTEGER NOT NULL DEFAULT 0,
    resume_at TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE deployments (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    id TEXT NOT NULL,
    environment TEXT NOT NULL,
    is_production INTEGER NOT NULL CHECK (is_production IN (0, 1)),
    status TEXT NOT NULL CHECK (status IN ('success','failure','canceled')),
    sha TEXT,
    started_at TEXT,
    finished_at TEXT,
    source TEXT NOT NULL CHECK (source IN ('github','gitlab','api')),
    PRIMARY KEY (org_id, repo_id, id),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE incidents (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    repo_id TEXT,
    work_item_id TEXT,
    deployment_id TEXT,
    started_at TEXT NOT NULL,
    resolved_at TEXT,
    source TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE pr_metrics (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    cycle_s REAL,
    lead_s REAL,
    coding_s REAL,
    pickup_s REAL,
    review_s REAL,
    merge_s REAL,
    review_latency_s REAL,
    size INTEGER,
    size_bucket TEXT,
    reviewed_before_merge INTEGER NOT NULL CHECK (reviewed_before_merge IN (0, 1)),
    merged_at TEXT,
    PRIMARY KEY (org_id, repo_id, number),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
) STRICT;

CREATE TABLE work_item_facts (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    work_item_id TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    canceled_at TEXT,
    cycle_s REAL,
    lead_s REAL,
    active_s REAL,
    wait_s REAL,
    team_ids TEXT NOT NULL CHECK (team_ids IS NULL OR json_valid(team_ids)),
    PRIMARY KEY (org_id, work_item_id),
    FOREIGN KEY (org_id, work_item_id) REFERENCES work_items (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE metrics_daily (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('org','repo','team','person')),
    scope_id TEXT NOT NULL,
    day TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (org_id, scope_kind, scope_id, day, metric)
) STRICT;

CREATE INDEX commits_by_time ON commits (org_id, repo_id, committed_at);
CREATE INDEX commits_by_author ON commits (org_id, author_identity_id, committed_at);
CREATE INDEX pull_requests_by_update ON pull_requests (org_id, repo_id, updated_at);
CREATE INDEX pr_metrics_by_merge ON pr_metrics (org_id, merged_at);
CREATE INDEX work_items_by_update ON work_items (org_id, updated_at);
CREATE INDEX work_item_facts_by_completion ON work_item_facts (org_id, completed_at);
CREATE INDEX work_item_transitions_by_time ON work_item_transitions (org_id, work_item_id, occurred_at);
CREATE INDEX identity_aliases_by_identity ON identity_aliases (org_id, identity_id);
CREATE INDEX sync_runs_by_source ON sync_runs (org_id, source_id, created_at);
