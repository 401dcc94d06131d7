-- Identity and access (identity spec §1.2): sessions as refresh families, rotating refresh
-- tokens, API tokens, invites, one-time tokens, login throttling, rate buckets and per-org
-- security settings. Kept in step with ../sqlite/0003_identity.sql (checked by store's schema parity test).

CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id              uuid REFERENCES organizations (id) ON DELETE CASCADE,
    auth_method         text NOT NULL CHECK (auth_method IN ('password', 'sso', 'social', 'break_glass', 'invite')),
    sso_provider_id     uuid,
    sso_logout_ref      text,
    epoch               bigint NOT NULL,
    created_at          timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    ip                  text,
    user_agent          text,
    revoked_at          timestamptz,
    revoke_reason       text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id    uuid UNIQUE REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE,
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    successor_id uuid
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_tokens (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    display_prefix text NOT NULL,
    token_hash     text NOT NULL UNIQUE,
    scopes         jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    last_used_at   timestamptz,
    last_used_ip   text,
    revoked_at     timestamptz,
    revoked_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX api_tokens_active_name_idx ON api_tokens (org_id, user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE invites (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email_norm   text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash   text NOT NULL UNIQUE,
    invited_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_sent_at timestamptz NOT NULL,
    send_count   integer NOT NULL DEFAULT 1,
    status       text NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    accepted_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    accepted_at  timestamptz,
    revoked_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   timestamptz,
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX invites_pending_email_idx ON invites (org_id, email_norm) WHERE status = 'pending';

CREATE TABLE one_time_tokens (
    id                  uuid PRIMARY KEY,
    purpose             text NOT NULL CHECK (purpose IN ('email_verify', 'password_reset')),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email_norm_at_issue text NOT NULL,
    token_hash          text NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

CREATE TABLE login_throttle (
    key               text PRIMARY KEY,
    failures          integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL,
    last_failure_at   timestamptz,
    next_allowed_at   timestamptz NOT NULL,
    slot_until        timestamptz NOT NULL
);

CREATE TABLE rate_buckets (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE org_security (
    org_id                   uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    sso_enforced             boolean NOT NULL DEFAULT FALSE,
    sso_enforced_provider_id uuid,
    sso_enforce_scope        text NOT NULL DEFAULT 'managed_domains'
                                 CHECK (sso_enforce_scope IN ('managed_domains', 'all_members')),
    ip_mode                  text NOT NULL DEFAULT 'off' CHECK (ip_mode IN ('off', 'report_only', 'enforce')),
    updated_by               uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at               timestamptz NOT NULL
);
