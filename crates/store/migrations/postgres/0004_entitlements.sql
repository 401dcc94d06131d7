-- Entitlements and licensing (entitlements spec §18): the SaaS org entitlements, the installed
-- instance license, and the version rows whose bumps invalidate every replica's snapshots.
-- Kept in step with ../sqlite/0004_entitlements.sql (checked by store's schema parity test).

CREATE TABLE org_entitlements (
    org_id      uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    token       text NOT NULL,
    jti         text NOT NULL,
    tier        text NOT NULL CHECK (tier IN ('community', 'team', 'enterprise')),
    iat         timestamptz NOT NULL,
    exp         timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);

CREATE TABLE instance_license (
    id           integer PRIMARY KEY CHECK (id = 1),
    token        text NOT NULL,
    jti          text NOT NULL,
    source       text NOT NULL CHECK (source IN ('admin')),
    installed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    loaded_at    timestamptz NOT NULL
);

CREATE TABLE entitlement_versions (
    scope   text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO entitlement_versions (scope, version) VALUES ('global', 1);
