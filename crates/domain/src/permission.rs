//! The permission catalogue and the role → permission matrix (identity spec §3.1) as data.
//!
//! This table is the source of truth: a migration seeds `permissions` and `role_permissions`
//! from it, and the server compares those tables with it at startup.

use crate::Role;

macro_rules! permissions {
    (
        $(
            $variant:ident => $name:literal, $category:literal,
            roles [$($role:ident)*], token $tok:literal, $desc:literal;
        )+
    ) => {
        /// A `resource:action` permission. Platform permissions are never granted to an org
        /// role; they belong to platform admins only.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $(
                #[doc = $desc]
                $variant
            ),+
        }

        impl Permission {
            /// Every permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            /// The `resource:action` name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name),+ }
            }

            /// Grouping shown in the roles page and stored in `permissions.category`.
            pub const fn category(self) -> &'static str {
                match self { $(Permission::$variant => $category),+ }
            }

            /// What the permission covers.
            pub const fn description(self) -> &'static str {
                match self { $(Permission::$variant => $desc),+ }
            }

            /// Whether an API token may carry this permission as a scope.
            pub const fn api_grantable(self) -> bool {
                match self { $(Permission::$variant => $tok),+ }
            }

            /// The org roles holding this permission.
            pub const fn roles(self) -> &'static [Role] {
                match self { $(Permission::$variant => &[$(Role::$role),*]),+ }
            }
        }

        /// Zero-sized marker types, one per [`Permission`] variant, so a route or a service can
        /// name the permission it needs in its type.
        pub mod marker {
            $(
                #[doc = concat!("Marker for `", $name, "`.")]
                #[derive(Debug, Clone, Copy, Default)]
                pub struct $variant;
                impl super::PermissionMarker for $variant {
                    const PERMISSION: super::Permission = super::Permission::$variant;
                }
            )+
        }
    };
}

permissions! {
    AnalyticsRead => "analytics:read", "analytics", roles [Owner Admin Editor Viewer], token true,
        "Dashboards, metrics, pull requests, work items, forecasts, investment view";
    AnalyticsExport => "analytics:export", "analytics", roles [Owner Admin Editor Viewer], token true,
        "CSV/JSON export of analytics data (never license-gated)";
    SyncRun => "sync:run", "sync", roles [Owner Admin Editor], token true,
        "Trigger sync and backfill";
    SyncConfigure => "sync:configure", "sync", roles [Owner Admin Editor], token true,
        "Integrations, repos, credentials, schedules, status maps, identity aliases";
    TeamsRead => "teams:read", "teams", roles [Owner Admin Editor Viewer], token true,
        "Teams and their people";
    TeamsWrite => "teams:write", "teams", roles [Owner Admin Editor], token true,
        "Create and edit teams and assignments";
    InvestmentConfigure => "investment:configure", "analytics", roles [Owner Admin Editor], token true,
        "Classifier rules per org";
    OrgRead => "org:read", "organization", roles [Owner Admin Editor Viewer], token true,
        "Org profile and settings";
    OrgUpdate => "org:update", "organization", roles [Owner Admin], token false,
        "Name, slug, settings";
    OrgDelete => "org:delete", "organization", roles [Owner], token false,
        "Delete the org";
    OrgCreate => "org:create", "organization", roles [Owner Admin Editor Viewer], token false,
        "Create another org";
    MembersRead => "members:read", "members", roles [Owner Admin Editor Viewer], token true,
        "Member list";
    MembersRemove => "members:remove", "members", roles [Owner Admin], token false,
        "Remove members";
    RolesRead => "roles:read", "members", roles [Owner Admin], token false,
        "Roles and the permission matrix";
    RolesAssign => "roles:assign", "members", roles [Owner Admin], token false,
        "Change roles";
    OwnershipTransfer => "ownership:transfer", "members", roles [Owner], token false,
        "Transfer ownership";
    InvitesRead => "invites:read", "members", roles [Owner Admin], token false,
        "List invites";
    InvitesManage => "invites:manage", "members", roles [Owner Admin], token false,
        "Create, resend and revoke invites";
    EntitlementsRead => "entitlements:read", "licensing", roles [Owner Admin Editor Viewer], token true,
        "Features, limits and explain for the org";
    BillingRead => "billing:read", "licensing", roles [Owner Admin], token false,
        "Plan, invoices, subscription state";
    BillingManage => "billing:manage", "licensing", roles [Owner], token false,
        "Checkout, portal, plan change";
    LicenseRead => "license:read", "licensing", roles [Owner Admin], token false,
        "License status and explain (self-hosted)";
    LicenseManage => "license:manage", "licensing", roles [Owner], token false,
        "Install or replace the license key";
    ApiTokensOwn => "api_tokens:own", "api", roles [Owner Admin Editor Viewer], token false,
        "Create, list and revoke one's own API tokens";
    ApiTokensAdmin => "api_tokens:admin", "api", roles [Owner Admin], token false,
        "List and revoke every API token of the org";
    WebhooksRead => "webhooks:read", "webhooks", roles [Owner Admin], token true,
        "Webhook endpoints and delivery log";
    WebhooksManage => "webhooks:manage", "webhooks", roles [Owner Admin], token true,
        "Create, update, delete endpoints; rotate secrets; redeliver";
    SsoRead => "sso:read", "security", roles [Owner Admin], token false,
        "SSO providers, domains, enforcement";
    SsoManage => "sso:manage", "security", roles [Owner Admin], token false,
        "Manage SSO providers, group roles, domains, enforcement";
    SsoRecoveryCodes => "sso:recovery_codes", "security", roles [Owner], token false,
        "Generate one's own break-glass recovery codes";
    AuditRead => "audit:read", "audit", roles [Owner Admin], token true,
        "List and view audit events";
    AuditExport => "audit:export", "audit", roles [Owner Admin], token true,
        "Export and verify the audit log";
    IpAllowlistRead => "ip_allowlist:read", "security", roles [Owner Admin], token false,
        "IP allowlist entries, mode, check";
    IpAllowlistManage => "ip_allowlist:manage", "security", roles [Owner Admin], token false,
        "Edit IP allowlist entries and mode";
    RetentionRead => "retention:read", "retention", roles [Owner Admin], token false,
        "Retention policies, preview, runs";
    RetentionManage => "retention:manage", "retention", roles [Owner Admin], token false,
        "Edit retention policies, accept tier defaults";
    LegalHoldManage => "legal_hold:manage", "retention", roles [Owner Admin], token false,
        "Create and release legal holds";
    PlatformOrgs => "platform:orgs", "platform", roles [], token false,
        "List orgs, set a manual tier, suspend";
    PlatformFeatureOverrides => "platform:feature_overrides", "platform", roles [], token false,
        "Set and clear org feature overrides";
    PlatformFeatureFlags => "platform:feature_flags", "platform", roles [], token false,
        "Global feature kill switch";
    PlatformUsers => "platform:users", "platform", roles [], token false,
        "Deactivate and reactivate users, end their sessions";
    PlatformAudit => "platform:audit", "platform", roles [], token false,
        "Platform audit chain and any org's audit events";
    PlatformDomains => "platform:domains", "platform", roles [], token false,
        "Attest a domain for an org";
}

/// A type-level permission, so a route or a service states the permission it needs in its type
/// (`Authorized<permission::marker::MembersRead>`), checked by the compiler.
pub trait PermissionMarker: Send + Sync + 'static {
    /// The permission this marker stands for.
    const PERMISSION: Permission;
}

impl Permission {
    /// The resource part of the name (`members` in `members:read`).
    pub fn resource(self) -> &'static str {
        self.as_str().split_once(':').map_or("", |(r, _)| r)
    }

    /// The action part of the name (`read` in `members:read`).
    pub fn action(self) -> &'static str {
        self.as_str().split_once(':').map_or("", |(_, a)| a)
    }

    /// Platform permissions are held by platform admins only, never by an org role.
    pub fn platform_only(self) -> bool {
        self.resource() == "platform"
    }

    /// Whether `role` holds this permission.
    pub fn granted_to(self, role: Role) -> bool {
        self.roles().contains(&role)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Permission {
    type Err = crate::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                crate::UnknownValue::new(
                    "permission",
                    s,
                    Permission::ALL.iter().map(|p| p.as_str()),
                )
            })
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn catalogue_has_the_43_permissions_of_the_identity_spec() {
        assert_eq!(Permission::ALL.len(), 43);
        let names: BTreeSet<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), 43, "names are unique");
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
            assert!(!p.resource().is_empty() && !p.action().is_empty(), "{p}");
        }
    }

    #[test]
    fn platform_permissions_belong_to_no_role_and_no_token() {
        let platform: Vec<_> = Permission::ALL
            .iter()
            .filter(|p| p.platform_only())
            .collect();
        assert_eq!(platform.len(), 6);
        for p in platform {
            assert!(p.roles().is_empty(), "{p}");
            assert!(!p.api_grantable(), "{p}");
        }
    }

    #[test]
    fn role_sets_are_nested_owner_admin_editor_viewer() {
        let set = |r: Role| r.permissions().collect::<BTreeSet<_>>();
        let (o, a, e, v) = (
            set(Role::Owner),
            set(Role::Admin),
            set(Role::Editor),
            set(Role::Viewer),
        );
        assert!(v.is_subset(&e) && e.is_subset(&a) && a.is_subset(&o));
        assert_eq!((o.len(), a.len(), e.len(), v.len()), (37, 32, 12, 8));
        for p in [
            Permission::OrgDelete,
            Permission::OwnershipTransfer,
            Permission::BillingManage,
            Permission::LicenseManage,
            Permission::SsoRecoveryCodes,
        ] {
            assert!(o.contains(&p) && !a.contains(&p), "{p} is owner-only");
        }
    }
}
