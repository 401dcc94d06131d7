-- The license service's own database (billing spec §4). It shares no table with ops; versions
-- start at 1001 so that opening one service's database with the other is detected.
-- Kept in step with ../postgres/1001_license_svc.sql (checked by store's schema parity test).

CREATE TABLE customers (
    id                 TEXT PRIMARY KEY,
    stripe_customer_id TEXT UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('saas', 'self_hosted')),
    org_id             TEXT UNIQUE,
    email              TEXT NOT NULL,
    name               TEXT NOT NULL,
    deployment_ids     TEXT NOT NULL,
    trial_used_at      TEXT,
    deleted_at         TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE TABLE subscriptions (
    stripe_subscription_id TEXT PRIMARY KEY,
    stripe_customer_id     TEXT NOT NULL,
    org_id                 TEXT,
    kind                   TEXT NOT NULL CHECK (kind IN ('saas', 'self_hosted')),
    price_id               TEXT NOT NULL,
    tier                   TEXT CHECK (tier IN ('team', 'enterprise')),
    status                 TEXT NOT NULL,
    cancel_at_period_end   INTEGER NOT NULL CHECK (cancel_at_period_end IN (0, 1)),
    current_period_end     TEXT NOT NULL,
    trial_end              TEXT,
    past_due_since         TEXT,
    last_event_created     INTEGER NOT NULL,
    last_event_id          TEXT NOT NULL,
    terminal               INTEGER NOT NULL CHECK (terminal IN (0, 1)),
    updated_at             TEXT NOT NULL
) STRICT;
CREATE INDEX subscriptions_org ON subscriptions (org_id);

CREATE TABLE stripe_events (
    event_id        TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    created         INTEGER NOT NULL,
    livemode        INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    object_id       TEXT,
    subscription_id TEXT,
    observed_status TEXT,
    observation     TEXT,
    received_at     TEXT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('pending', 'applied', 'no_change', 'stale', 'ignored',
                        'unhandled', 'unlinked', 'unknown_price', 'unknown_status', 'error')),
    detail          TEXT,
    payload         TEXT
) STRICT;
CREATE INDEX stripe_events_subscription ON stripe_events (subscription_id, created);
CREATE INDEX stripe_events_outcome ON stripe_events (outcome, received_at);

CREATE TABLE entitlements (
    org_id      TEXT PRIMARY KEY,
    tier        TEXT NOT NULL CHECK (tier IN ('community', 'team', 'enterprise')),
    features    TEXT NOT NULL,
    limits      TEXT NOT NULL,
    exp         INTEGER NOT NULL,
    grace_days  INTEGER NOT NULL,
    billing     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    last_iat    INTEGER NOT NULL,
    last_jti    TEXT NOT NULL,
    comp_tier   TEXT CHECK (comp_tier IN ('team', 'enterprise')),
    comp_until  TEXT,
    comp_reason TEXT,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE licenses (
    jti             TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    subscription_id TEXT,
    kid             TEXT NOT NULL,
    tier            TEXT NOT NULL CHECK (tier IN ('team', 'enterprise')),
    features        TEXT NOT NULL,
    limits          TEXT NOT NULL,
    deployment_ids  TEXT NOT NULL,
    iat             INTEGER NOT NULL,
    nbf             INTEGER,
    exp             INTEGER NOT NULL,
    grace_days      INTEGER NOT NULL,
    token           TEXT NOT NULL,
    token_sha256    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    revoked_at      TEXT,
    revoked_reason  TEXT,
    issued_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (subscription_id, exp)
) STRICT;
CREATE INDEX licenses_customer ON licenses (customer_id, created_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          TEXT NOT NULL,
    deployment_id   TEXT NOT NULL,
    jti             TEXT NOT NULL,
    iat             INTEGER NOT NULL,
    token           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'superseded', 'dead')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_org ON outbox (org_id, status);

CREATE TABLE request_nonces (
    kid        TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (kid, nonce)
) STRICT;

CREATE TABLE admin_audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after  TEXT
) STRICT;

CREATE TABLE portal_logins (
    token_sha256 TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    expires_at   TEXT NOT NULL,
    used_at      TEXT
) STRICT;

-- One scheduler leader among license-svc replicas (billing spec §8).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
