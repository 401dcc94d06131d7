-- Identity and access (identity spec §1.2): sessions as refresh families, rotating refresh
-- tokens, API tokens, invites, one-time tokens, login throttling, rate buckets and per-org
-- security settings. Kept in step with ../postgres/0003_identity.sql (checked by store's schema parity test).

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id              TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    auth_method         TEXT NOT NULL CHECK (auth_method IN ('password', 'sso', 'social', 'break_glass', 'invite')),
    sso_provider_id     TEXT,
    sso_logout_ref      TEXT,
    epoch               INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    absolute_expires_at TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL,
    ip                  TEXT,
    user_agent          TEXT,
    revoked_at          TEXT,
    revoke_reason       TEXT
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id    TEXT UNIQUE REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT,
    successor_id TEXT
) STRICT;
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_tokens (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    display_prefix TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    scopes         TEXT NOT NULL CHECK (json_valid(scopes)),
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    last_used_at   TEXT,
    last_used_ip   TEXT,
    revoked_at     TEXT,
    revoked_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (org_id, id)
) STRICT;
CREATE UNIQUE INDEX api_tokens_active_name_idx ON api_tokens (org_id, user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE invites (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email_norm   TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash   TEXT NOT NULL UNIQUE,
    invited_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_sent_at TEXT NOT NULL,
    send_count   INTEGER NOT NULL DEFAULT 1,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    accepted_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    accepted_at  TEXT,
    revoked_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   TEXT,
    UNIQUE (org_id, id)
) STRICT;
CREATE UNIQUE INDEX invites_pending_email_idx ON invites (org_id, email_norm) WHERE status = 'pending';

CREATE TABLE one_time_tokens (
    id                  TEXT PRIMARY KEY,
    purpose             TEXT NOT NULL CHECK (purpose IN ('email_verify', 'password_reset')),
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email_norm_at_issue TEXT NOT NULL,
    token_hash          TEXT NOT NULL UNIQUE,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    used_at             TEXT
) STRICT;
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

CREATE TABLE login_throttle (
    key               TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL DEFAULT 0,
    window_started_at TEXT NOT NULL,
    last_failure_at   TEXT,
    next_allowed_at   TEXT NOT NULL,
    slot_until        TEXT NOT NULL
) STRICT;

CREATE TABLE rate_buckets (
    key        TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE org_security (
    org_id                   TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    sso_enforced             INTEGER NOT NULL DEFAULT 0 CHECK (sso_enforced IN (0, 1)),
    sso_enforced_provider_id TEXT,
    sso_enforce_scope        TEXT NOT NULL DEFAULT 'managed_domains'
                                 CHECK (sso_enforce_scope IN ('managed_domains', 'all_members')),
    ip_mode                  TEXT NOT NULL DEFAULT 'off' CHECK (ip_mode IN ('off', 'report_only', 'enforce')),
    updated_by               TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at               TEXT NOT NULL
) STRICT;
