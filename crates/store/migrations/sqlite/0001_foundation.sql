-- Foundation schema: identity and tenancy (seed data model), RBAC catalogue, feature registry,
-- org feature overrides, the durable job queue, the email outbox and the clock high-water mark.
-- Kept in step with ../postgres/0001_foundation.sql (checked by store's schema parity test).
-- Portable types: uuid -> TEXT (hyphenated), timestamptz -> TEXT (fixed-width RFC 3339, UTC),
-- jsonb -> TEXT (validated JSON), boolean -> INTEGER 0/1. Tables are STRICT.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 63
                    AND slug NOT GLOB '*[^a-z0-9-]*' AND substr(slug, 1, 1) <> '-'),
    tier        TEXT NOT NULL DEFAULT 'community' CHECK (tier IN ('community', 'team', 'enterprise')),
    settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
) STRICT;

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL,
    email_norm          TEXT NOT NULL UNIQUE CHECK (length(email_norm) BETWEEN 3 AND 254),
    email_verified_at   TEXT,
    name                TEXT NOT NULL DEFAULT '',
    password_hash       TEXT,
    password_changed_at TEXT,
    auth_provider       TEXT NOT NULL DEFAULT 'local' CHECK (auth_provider IN ('local', 'oidc', 'saml')),
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_platform_admin   INTEGER NOT NULL DEFAULT 0 CHECK (is_platform_admin IN (0, 1)),
    session_epoch       INTEGER NOT NULL DEFAULT 0,
    last_org_id         TEXT REFERENCES organizations (id) ON DELETE SET NULL,
    last_login_at       TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    invited_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    joined_at   TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (org_id, user_id),
    UNIQUE (org_id, id)
) STRICT;
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE permissions (
    name          TEXT PRIMARY KEY,
    resource      TEXT NOT NULL,
    action        TEXT NOT NULL,
    category      TEXT NOT NULL,
    description   TEXT NOT NULL,
    platform_only INTEGER NOT NULL CHECK (platform_only IN (0, 1)),
    api_grantable INTEGER NOT NULL CHECK (api_grantable IN (0, 1))
) STRICT;

CREATE TABLE role_permissions (
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    permission TEXT NOT NULL REFERENCES permissions (name),
    PRIMARY KEY (role, permission)
) STRICT;

CREATE TABLE feature_flags (
    name        TEXT PRIMARY KEY,
    min_tier    TEXT NOT NULL CHECK (min_tier IN ('community', 'team', 'enterprise')),
    description TEXT NOT NULL,
    is_enabled  INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0, 1)),
    updated_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE org_feature_overrides (
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature_name TEXT NOT NULL REFERENCES feature_flags (name),
    enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    expires_at   TEXT,
    reason       TEXT NOT NULL CHECK (length(reason) > 0),
    created_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, feature_name)
) STRICT;

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    queue            TEXT NOT NULL DEFAULT 'default',
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL CHECK (json_valid(payload)),
    org_id           TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at           TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    last_error       TEXT,
    dedupe_key       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT
) STRICT;
CREATE INDEX jobs_ready_idx ON jobs (queue, status, run_at);
CREATE INDEX jobs_lease_idx ON jobs (status, lease_expires_at);
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');

CREATE TABLE job_attempts (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker_id   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IN ('succeeded', 'failed', 'released', 'lease_expired')),
    error       TEXT
) STRICT;
CREATE INDEX job_attempts_job_idx ON job_attempts (job_id, attempt);

CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    org_id          TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    to_norm         TEXT NOT NULL,
    template        TEXT NOT NULL,
    payload_enc     TEXT,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    sent_at         TEXT,
    last_error      TEXT
) STRICT;
CREATE INDEX email_outbox_due_idx ON email_outbox (sent_at, next_attempt_at);

CREATE TABLE license_clock (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    high_water_at TEXT NOT NULL,
    mac           TEXT,
    updated_at    TEXT NOT NULL
) STRICT;
