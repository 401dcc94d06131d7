-- Foundation schema: identity and tenancy (seed data model), RBAC catalogue, feature registry,
-- org feature overrides, the durable job queue, the email outbox and the clock high-water mark.
-- Kept in step with ../sqlite/0001_foundation.sql (checked by store's schema parity test).

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    tier        text NOT NULL DEFAULT 'community' CHECK (tier IN ('community', 'team', 'enterprise')),
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,
    email_norm          text NOT NULL UNIQUE CHECK (length(email_norm) BETWEEN 3 AND 254),
    email_verified_at   timestamptz,
    name                text NOT NULL DEFAULT '',
    password_hash       text,
    password_changed_at timestamptz,
    auth_provider       text NOT NULL DEFAULT 'local' CHECK (auth_provider IN ('local', 'oidc', 'saml')),
    is_active           boolean NOT NULL DEFAULT TRUE,
    is_platform_admin   boolean NOT NULL DEFAULT FALSE,
    session_epoch       bigint NOT NULL DEFAULT 0,
    last_org_id         uuid REFERENCES organizations (id) ON DELETE SET NULL,
    last_login_at       timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

CREATE TABLE memberships (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    joined_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (org_id, user_id),
    UNIQUE (org_id, id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE permissions (
    name          text PRIMARY KEY,
    resource      text NOT NULL,
    action        text NOT NULL,
    category      text NOT NULL,
    description   text NOT NULL,
    platform_only boolean NOT NULL,
    api_grantable boolean NOT NULL
);

CREATE TABLE role_permissions (
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    permission text NOT NULL REFERENCES permissions (name),
    PRIMARY KEY (role, permission)
);

CREATE TABLE feature_flags (
    name        text PRIMARY KEY,
    min_tier    text NOT NULL CHECK (min_tier IN ('community', 'team', 'enterprise')),
    description text NOT NULL,
    is_enabled  boolean NOT NULL DEFAULT TRUE,
    updated_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE org_feature_overrides (
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature_name text NOT NULL REFERENCES feature_flags (name),
    enabled      boolean NOT NULL,
    expires_at   timestamptz,
    reason       text NOT NULL CHECK (length(reason) > 0),
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, feature_name)
);

CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    queue            text NOT NULL DEFAULT 'default',
    kind             text NOT NULL,
    payload          jsonb NOT NULL,
    org_id           uuid REFERENCES organizations (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    run_at           timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    dedupe_key       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    finished_at      timestamptz
);
CREATE INDEX jobs_ready_idx ON jobs (queue, status, run_at);
CREATE INDEX jobs_lease_idx ON jobs (status, lease_expires_at);
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');

CREATE TABLE job_attempts (
    id          uuid PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker_id   text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text CHECK (outcome IN ('succeeded', 'failed', 'released', 'lease_expired')),
    error       text
);
CREATE INDEX job_attempts_job_idx ON job_attempts (job_id, attempt);

CREATE TABLE email_outbox (
    id              uuid PRIMARY KEY,
    org_id          uuid REFERENCES organizations (id) ON DELETE CASCADE,
    to_norm         text NOT NULL,
    template        text NOT NULL,
    payload_enc     text,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_due_idx ON email_outbox (sent_at, next_attempt_at);

CREATE TABLE license_clock (
    id            integer PRIMARY KEY CHECK (id = 1),
    high_water_at timestamptz NOT NULL,
    mac           text,
    updated_at    timestamptz NOT NULL
);
