-- The license service's own database (billing spec §4). It shares no table with ops; versions
-- start at 1001 so that opening one service's database with the other is detected.
-- Kept in step with ../sqlite/1001_license_svc.sql (checked by store's schema parity test).

CREATE TABLE customers (
    id                 uuid PRIMARY KEY,
    stripe_customer_id text UNIQUE,
    kind               text NOT NULL CHECK (kind IN ('saas', 'self_hosted')),
    org_id             uuid UNIQUE,
    email              text NOT NULL,
    name               text NOT NULL,
    deployment_ids     text NOT NULL,
    trial_used_at      timestamptz,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE subscriptions (
    stripe_subscription_id text PRIMARY KEY,
    stripe_customer_id     text NOT NULL,
    org_id                 uuid,
    kind                   text NOT NULL CHECK (kind IN ('saas', 'self_hosted')),
    price_id               text NOT NULL,
    tier                   text CHECK (tier IN ('team', 'enterprise')),
    status                 text NOT NULL,
    cancel_at_period_end   boolean NOT NULL,
    current_period_end     timestamptz NOT NULL,
    trial_end              timestamptz,
    past_due_since         timestamptz,
    last_event_created     bigint NOT NULL,
    last_event_id          text NOT NULL,
    terminal               boolean NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX subscriptions_org ON subscriptions (org_id);

CREATE TABLE stripe_events (
    event_id        text PRIMARY KEY,
    type            text NOT NULL,
    created         bigint NOT NULL,
    livemode        boolean NOT NULL,
    object_id       text,
    subscription_id text,
    observed_status text,
    observation     text,
    received_at     timestamptz NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('pending', 'applied', 'no_change', 'stale', 'ignored',
                        'unhandled', 'unlinked', 'unknown_price', 'unknown_status', 'error')),
    detail          text,
    payload         text
);
CREATE INDEX stripe_events_subscription ON stripe_events (subscription_id, created);
CREATE INDEX stripe_events_outcome ON stripe_events (outcome, received_at);

CREATE TABLE entitlements (
    org_id      uuid PRIMARY KEY,
    tier        text NOT NULL CHECK (tier IN ('community', 'team', 'enterprise')),
    features    text NOT NULL,
    limits      text NOT NULL,
    exp         bigint NOT NULL,
    grace_days  bigint NOT NULL,
    billing     text NOT NULL,
    version     bigint NOT NULL,
    last_iat    bigint NOT NULL,
    last_jti    text NOT NULL,
    comp_tier   text CHECK (comp_tier IN ('team', 'enterprise')),
    comp_until  timestamptz,
    comp_reason text,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE licenses (
    jti             text PRIMARY KEY,
    customer_id     uuid NOT NULL REFERENCES customers (id),
    subscription_id text,
    kid             text NOT NULL,
    tier            text NOT NULL CHECK (tier IN ('team', 'enterprise')),
    features        text NOT NULL,
    limits          text NOT NULL,
    deployment_ids  text NOT NULL,
    iat             bigint NOT NULL,
    nbf             bigint,
    exp             bigint NOT NULL,
    grace_days      bigint NOT NULL,
    token           text NOT NULL,
    token_sha256    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
    revoked_at      timestamptz,
    revoked_reason  text,
    issued_by       text NOT NULL,
    created_at      timestamptz NOT NULL,
    UNIQUE (subscription_id, exp)
);
CREATE INDEX licenses_customer ON licenses (customer_id, created_at);

CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          uuid NOT NULL,
    deployment_id   text NOT NULL,
    jti             text NOT NULL,
    iat             bigint NOT NULL,
    token           text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'superseded', 'dead')),
    attempts        bigint NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_status     bigint,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_org ON outbox (org_id, status);

CREATE TABLE request_nonces (
    kid        text NOT NULL,
    nonce      text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kid, nonce)
);

CREATE TABLE admin_audit (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    before text,
    after  text
);

CREATE TABLE portal_logins (
    token_sha256 text PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- One scheduler leader among license-svc replicas (billing spec §8).
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
