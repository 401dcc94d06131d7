-- Entitlements and licensing (entitlements spec §18): the SaaS org entitlements, the installed
-- instance license, and the version rows whose bumps invalidate every replica's snapshots.
-- Kept in step with ../postgres/0004_entitlements.sql (checked by store's schema parity test).

CREATE TABLE org_entitlements (
    org_id      TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    token       TEXT NOT NULL,
    jti         TEXT NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('community', 'team', 'enterprise')),
    iat         TEXT NOT NULL,
    exp         TEXT NOT NULL,
    received_at TEXT NOT NULL
) STRICT;

CREATE TABLE instance_license (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    token        TEXT NOT NULL,
    jti          TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('admin')),
    installed_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    loaded_at    TEXT NOT NULL
) STRICT;

CREATE TABLE entitlement_versions (
    scope   TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) STRICT;
INSERT INTO entitlement_versions (scope, version) VALUES ('global', 1);
