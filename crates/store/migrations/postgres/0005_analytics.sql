-- Analytics core: synced data and derived facts (analytics spec §2). Every table is scoped by
-- org_id (tenant isolation by construction). Kept in step with ../sqlite/0005_analytics.sql
-- (checked by store's schema parity test).

CREATE TABLE integrations (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    provider text NOT NULL CHECK (provider IN ('github','gitlab','jira','linear','local')),
    base_url text,
    auth_kind text NOT NULL,
    secret_ct text,
    secret_nonce text,
    secret_key_id text,
    token_hint text,
    sync_interval_min bigint NOT NULL DEFAULT 60 CHECK (sync_interval_min >= 15),
    enabled boolean NOT NULL,
    last_tested_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE repos (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    integration_id uuid,
    provider text NOT NULL,
    external_id text,
    full_name text NOT NULL,
    default_branch text,
    local_path text,
    mirror_path text,
    is_active boolean NOT NULL,
    excluded_paths jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, full_name)
);

CREATE TABLE identities (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    display_name text NOT NULL,
    primary_email text,
    is_bot boolean NOT NULL,
    merged_into_id uuid,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE identity_aliases (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('email','github','gitlab','jira','linear','git_name')),
    value text NOT NULL,
    identity_id uuid NOT NULL,
    source text NOT NULL CHECK (source IN ('observed','manual','mailmap')),
    first_seen_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, kind, value),
    FOREIGN KEY (org_id, identity_id) REFERENCES identities (org_id, id) ON DELETE CASCADE
);

CREATE TABLE teams (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    parent_team_id uuid,
    project_keys jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, slug)
);

CREATE TABLE team_members (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id uuid NOT NULL,
    identity_id uuid NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, team_id, identity_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, identity_id) REFERENCES identities (org_id, id) ON DELETE CASCADE
);

CREATE TABLE commits (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    sha text NOT NULL,
    author_name text NOT NULL,
    author_email text NOT NULL,
    author_identity_id uuid,
    authored_at timestamptz NOT NULL,
    committer_name text NOT NULL,
    committer_email text NOT NULL,
    committed_at timestamptz NOT NULL,
    parent_count bigint NOT NULL,
    subject text NOT NULL,
    additions bigint NOT NULL,
    deletions bigint NOT NULL,
    files_changed bigint NOT NULL,
    stats_state text NOT NULL CHECK (stats_state IN ('complete','merge_skipped','missing_objects','partial')),
    PRIMARY KEY (org_id, repo_id, sha),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
);

CREATE TABLE commit_files (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    sha text NOT NULL,
    path text NOT NULL,
    additions bigint NOT NULL,
    deletions bigint NOT NULL,
    is_binary boolean NOT NULL,
    change text NOT NULL CHECK (change IN ('A','M','D','T')),
    is_excluded boolean NOT NULL,
    PRIMARY KEY (org_id, repo_id, sha, path),
    FOREIGN KEY (org_id, repo_id, sha) REFERENCES commits (org_id, repo_id, sha) ON DELETE CASCADE
);

CREATE TABLE pull_requests (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    number bigint NOT NULL,
    provider text NOT NULL,
    external_id text,
    title text NOT NULL,
    state text NOT NULL CHECK (state IN ('open','closed','merged')),
    is_draft boolean NOT NULL,
    author_login text,
    author_identity_id uuid,
    head_ref text,
    base_ref text,
    labels jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    first_commit_at timestamptz,
    first_review_at timestamptz,
    first_comment_at timestamptz,
    last_approval_at timestamptz,
    merged_at timestamptz,
    closed_at timestamptz,
    merge_commit_sha text,
    additions bigint,
    deletions bigint,
    changed_files bigint,
    commit_count bigint,
    size_state text NOT NULL CHECK (size_state IN ('complete','partial','unknown')),
    PRIMARY KEY (org_id, repo_id, number),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
);

CREATE TABLE pull_request_commits (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    number bigint NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, repo_id, number, sha),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
);

CREATE TABLE reviews (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    number bigint NOT NULL,
    review_id text NOT NULL,
    reviewer_login text,
    reviewer_identity_id uuid,
    state text NOT NULL CHECK (state IN ('approved','changes_requested','commented','dismissed')),
    submitted_at timestamptz NOT NULL,
    is_self boolean NOT NULL,
    PRIMARY KEY (org_id, repo_id, number, review_id),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
);

CREATE TABLE work_items (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    provider text NOT NULL,
    external_key text NOT NULL,
    integration_id uuid,
    repo_id uuid,
    project_key text,
    title text NOT NULL,
    type text NOT NULL CHECK (type IN ('story','task','bug','epic','incident','chore','issue')),
    type_raw text,
    status text NOT NULL CHECK (status IN ('backlog','todo','in_progress','in_review','blocked','done','canceled')),
    status_raw text,
    resolution_raw text,
    labels jsonb NOT NULL,
    assignee_identity_id uuid,
    reporter_identity_id uuid,
    story_points double precision,
    parent_key text,
    url text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, external_key)
);

CREATE TABLE work_item_transitions (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    work_item_id uuid NOT NULL,
    seq bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    from_status text,
    to_status text NOT NULL,
    from_raw text,
    to_raw text,
    actor_identity_id uuid,
    source text NOT NULL CHECK (source IN ('changelog','history','event','synthetic')),
    PRIMARY KEY (org_id, work_item_id, seq),
    FOREIGN KEY (org_id, work_item_id) REFERENCES work_items (org_id, id) ON DELETE CASCADE
);

CREATE TABLE status_mappings (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider text NOT NULL,
    match_kind text NOT NULL CHECK (match_kind IN ('status','label')),
    raw_value text NOT NULL,
    status text NOT NULL CHECK (status IN ('backlog','todo','in_progress','in_review','blocked','done','canceled')),
    PRIMARY KEY (org_id, provider, match_kind, raw_value)
);

CREATE TABLE sync_cursors (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    source_id uuid NOT NULL,
    dataset text NOT NULL,
    key text NOT NULL,
    cursor text,
    checkpoint jsonb,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, source_id, dataset, key)
);

CREATE TABLE http_etags (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    integration_id uuid NOT NULL,
    url_key text NOT NULL,
    etag text NOT NULL,
    stored_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, integration_id, url_key)
);

CREATE TABLE sync_runs (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    source_id uuid NOT NULL,
    dataset text NOT NULL,
    "trigger" text NOT NULL CHECK ("trigger" IN ('schedule','manual','webhook','cli')),
    status text NOT NULL CHECK (status IN ('queued','running','succeeded','partial','failed','deferred','canceled')),
    started_at timestamptz,
    finished_at timestamptz,
    progress jsonb,
    counts jsonb,
    rate_limit_wait_s bigint NOT NULL DEFAULT 0,
    resume_at timestamptz,
    error_code text,
    error_message text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE deployments (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    id text NOT NULL,
    environment text NOT NULL,
    is_production boolean NOT NULL,
    status text NOT NULL CHECK (status IN ('success','failure','canceled')),
    sha text,
    started_at timestamptz,
    finished_at timestamptz,
    source text NOT NULL CHECK (source IN ('github','gitlab','api')),
    PRIMARY KEY (org_id, repo_id, id),
    FOREIGN KEY (org_id, repo_id) REFERENCES repos (org_id, id) ON DELETE CASCADE
);

CREATE TABLE incidents (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    repo_id uuid,
    work_item_id uuid,
    deployment_id text,
    started_at timestamptz NOT NULL,
    resolved_at timestamptz,
    source text NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE pr_metrics (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    repo_id uuid NOT NULL,
    number bigint NOT NULL,
    cycle_s double precision,
    lead_s double precision,
    coding_s double precision,
    pickup_s double precision,
    review_s double precision,
    merge_s double precision,
    review_latency_s double precision,
    size bigint,
    size_bucket text,
    reviewed_before_merge boolean NOT NULL,
    merged_at timestamptz,
    PRIMARY KEY (org_id, repo_id, number),
    FOREIGN KEY (org_id, repo_id, number) REFERENCES pull_requests (org_id, repo_id, number) ON DELETE CASCADE
);

CREATE TABLE work_item_facts (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    work_item_id uuid NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    canceled_at timestamptz,
    cycle_s double precision,
    lead_s double precision,
    active_s double precision,
    wait_s double precision,
    team_ids jsonb NOT NULL,
    PRIMARY KEY (org_id, work_item_id),
    FOREIGN KEY (org_id, work_item_id) REFERENCES work_items (org_id, id) ON DELETE CASCADE
);

CREATE TABLE metrics_daily (
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope_kind text NOT NULL CHECK (scope_kind IN ('org','repo','team','person')),
    scope_id text NOT NULL,
    day text NOT NULL,
    metric text NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (org_id, scope_kind, scope_id, day, metric)
);

CREATE INDEX commits_by_time ON commits (org_id, repo_id, committed_at);
CREATE INDEX commits_by_author ON commits (org_id, author_identity_id, committed_at);
CREATE INDEX pull_requests_by_update ON pull_requests (org_id, repo_id, updated_at);
CREATE INDEX pr_metrics_by_merge ON pr_metrics (org_id, merged_at);
CREATE INDEX work_items_by_update ON work_items (org_id, updated_at);
CREATE INDEX work_item_facts_by_completion ON work_item_facts (org_id, completed_at);
CREATE INDEX work_item_transitions_by_time ON work_item_transitions (org_id, work_item_id, occurred_at);
CREATE INDEX identity_aliases_by_identity ON identity_aliases (org_id, identity_id);
CREATE INDEX sync_runs_by_source ON sync_runs (org_id, source_id, created_at);
