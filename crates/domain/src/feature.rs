//! The closed feature registry of the entitlements spec (§3): 16 keys with compiled minimum tiers.

use crate::Tier;
use crate::vocab::closed_enum;

closed_enum! {
    /// A gated capability. The minimum tier of each key is compiled in; the `feature_flags`
    /// table mirrors it and only adds the global kill switch.
    pub enum Feature as "feature" {
        /// Commit, PR and cycle-time metrics.
        BasicAnalytics => "basic_analytics",
        /// GitHub, GitLab and local git sync.
        GitSync => "git_sync",
        /// Jira, Linear and GitHub Issues sync.
        WorkItemSync => "work_item_sync",
        /// Shipped Grafana provisioning and its export command.
        GrafanaDashboards => "grafana_dashboards",
        /// More than one organization.
        MultiOrg => "multi_org",
        /// API tokens and token-authenticated requests.
        ApiAccess => "api_access",
        /// Outgoing signed webhooks.
        Webhooks => "webhooks",
        /// Monte Carlo capacity forecasts.
        CapacityPlanning => "capacity_planning",
        /// Investment distribution view and classifier rules.
        InvestmentView => "investment_view",
        /// SAML single sign-on.
        SsoSaml => "sso_saml",
        /// OpenID Connect single sign-on.
        SsoOidc => "sso_oidc",
        /// Reading and exporting the audit log (events are always written).
        AuditLog => "audit_log",
        /// Custom per-org retention policies.
        DataRetention => "data_retention",
        /// Per-org CIDR allowlist.
        IpAllowlist => "ip_allowlist",
        /// Email support contact.
        EmailSupport => "email_support",
        /// SLA support contact.
        PrioritySupport => "priority_support",
    }
}

impl Feature {
    /// The lowest tier whose defaults include this feature.
    pub const fn min_tier(self) -> Tier {
        use Feature::*;
        match self {
            BasicAnalytics | GitSync | WorkItemSync | GrafanaDashboards => Tier::Community,
            MultiOrg | ApiAccess | Webhooks | CapacityPlanning | EmailSupport => Tier::Team,
            InvestmentView | SsoSaml | SsoOidc | AuditLog | DataRetention | IpAllowlist
            | PrioritySupport => Tier::Enterprise,
        }
    }

    /// Short description, seeded into `feature_flags.description`.
    pub const fn description(self) -> &'static str {
        use Feature::*;
        match self {
            BasicAnalytics => "Commit, pull request and cycle-time metrics",
            GitSync => "GitHub, GitLab and local git sync",
            WorkItemSync => "Jira, Linear and GitHub Issues sync",
            GrafanaDashboards => "Grafana dashboards",
            MultiOrg => "Multiple organizations",
            ApiAccess => "API access",
            Webhooks => "Outgoing webhooks",
            CapacityPlanning => "Capacity planning (Monte Carlo)",
            InvestmentView => "Investment distribution view",
            SsoSaml => "SSO with SAML",
            SsoOidc => "SSO with OIDC",
            AuditLog => "Audit logging",
            DataRetention => "Data retention policies",
            IpAllowlist => "IP allowlisting",
            EmailSupport => "Email support",
            PrioritySupport => "Priority support (SLA)",
        }
    }

    /// Whether the tier's defaults include this feature.
    pub fn included_in(self, tier: Tier) -> bool {
        tier >= self.min_tier()
    }

    /// Community features are a floor: no license or override can switch them off.
    pub fn is_community(self) -> bool {
        self.min_tier() == Tier::Community
    }
}

/// A type-level feature key, so a route or service can name the feature it needs in its type
/// (`RequireFeature<feature::AuditLog>`), checked by the compiler rather than by a string.
pub trait FeatureMarker: Send + Sync + 'static {
    /// The feature this marker stands for.
    const FEATURE: Feature;
}

macro_rules! feature_markers {
    ($($variant:ident),+ $(,)?) => {
        /// Zero-sized marker types, one per [`Feature`] variant.
        pub mod marker {
            $(
                #[doc = concat!("Marker for [`Feature::", stringify!($variant), "`](super::Feature::", stringify!($variant), ").")]
                #[derive(Debug, Clone, Copy, Default)]
                pub struct $variant;
                impl super::FeatureMarker for $variant {
                    const FEATURE: super::Feature = super::Feature::$variant;
                }
            )+
        }
    };
}

feature_markers!(
    BasicAnalytics,
    GitSync,
    WorkItemSync,
    GrafanaDashboards,
    MultiOrg,
    ApiAccess,
    Webhooks,
    CapacityPlanning,
    InvestmentView,
    SsoSaml,
    SsoOidc,
    AuditLog,
    DataRetention,
    IpAllowlist,
    EmailSupport,
    PrioritySupport,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's tier table, row by row: (feature, community, team, enterprise).
    const SEED_TABLE: &[(Feature, bool, bool, bool)] = &[
        (Feature::BasicAnalytics, true, true, true),
        (Feature::GitSync, true, true, true),
        (Feature::WorkItemSync, true, true, true),
        (Feature::GrafanaDashboards, true, true, true),
        (Feature::MultiOrg, false, true, true),
        (Feature::ApiAccess, false, true, true),
        (Feature::Webhooks, false, true, true),
        (Feature::CapacityPlanning, false, true, true),
        (Feature::InvestmentView, false, false, true),
        (Feature::SsoSaml, false, false, true),
        (Feature::SsoOidc, false, false, true),
        (Feature::AuditLog, false, false, true),
        (Feature::DataRetention, false, false, true),
        (Feature::IpAllowlist, false, false, true),
        (Feature::EmailSupport, false, true, true),
        (Feature::PrioritySupport, false, false, true),
    ];

    #[test]
    fn registry_matches_the_seed_tier_table() {
        assert_eq!(Feature::ALL.len(), 16);
        assert_eq!(SEED_TABLE.len(), Feature::ALL.len());
        for &(feature, community, team, enterprise) in SEED_TABLE {
            assert_eq!(feature.included_in(Tier::Community), community, "{feature}");
            assert_eq!(feature.included_in(Tier::Team), team, "{feature}");
            assert_eq!(
                feature.included_in(Tier::Enterprise),
                enterprise,
                "{feature}"
            );
        }
    }

    #[test]
    fn markers_name_their_variant() {
        assert_eq!(
            <marker::AuditLog as FeatureMarker>::FEATURE,
            Feature::AuditLog
        );
        assert_eq!(
            <marker::MultiOrg as FeatureMarker>::FEATURE.as_str(),
            "multi_org"
        );
    }
}
