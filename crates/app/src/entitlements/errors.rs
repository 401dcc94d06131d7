//! The gates' refusals (entitlements spec §6), one constructor per body.

use domain::entitlement::{Decision, Reason};
use domain::{Feature, Limit, Tier};

use crate::{AppError, ErrorKind};

/// The refusal for a denied decision: 402 for licensing, 403 for a kill switch or a deny
/// override, 503 when the inputs could not be read.
pub(crate) fn denied(feature: Feature, decision: Decision, current_tier: Tier) -> AppError {
    match decision.reason {
        Reason::KillSwitch | Reason::OrgOverride => AppError::new(
            ErrorKind::Forbidden,
            "feature_disabled",
            format!(
                "{} is turned off{}.",
                feature.description(),
                if decision.reason == Reason::KillSwitch {
                    " on this instance"
                } else {
                    " for this organization"
                }
            ),
        )
        .with("feature", feature.as_str())
        .with("reason", decision.reason.as_str()),
        Reason::StorageError => unavailable(),
        reason => AppError::new(
            ErrorKind::PaymentRequired,
            "feature_not_licensed",
            format!(
                "{} requires the {} tier.",
                feature.description(),
                feature.min_tier()
            ),
        )
        .with("feature", feature.as_str())
        .with("required_tier", feature.min_tier().as_str())
        .with("current_tier", current_tier.as_str())
        .with("reason", reason.as_str())
        .with(
            "upgrade_url",
            format!("/settings/billing?feature={}", feature.as_str()),
        ),
    }
}

/// 503 `entitlements_unavailable` with `Retry-After: 5`.
pub(crate) fn unavailable() -> AppError {
    AppError::new(
        ErrorKind::Unavailable,
        "entitlements_unavailable",
        "Licensing could not be checked right now; try again in a few seconds.",
    )
    .with("retry_after_s", 5)
}

/// 402 `limit_exceeded`: `current` is usage before the action, which asked for `requested` more.
pub(crate) fn limit_exceeded(
    limit: Limit,
    current: u64,
    maximum: u64,
    requested: u64,
    tier: Tier,
) -> AppError {
    let message = match limit {
        Limit::Orgs => format!(
            "This installation has reached its organization limit ({current} of {maximum}); a license with more organizations lifts it."
        ),
        Limit::Users => format!(
            "This organization has reached its member limit ({current} of {maximum}); remove members or upgrade to add more."
        ),
        Limit::Repos => format!(
            "This organization has reached its repository limit ({current} of {maximum}); remove some or upgrade to add more."
        ),
        Limit::ApiRate | Limit::RetentionDaysMax => format!(
            "This is above the {limit} limit of the current plan ({maximum}); upgrade to raise it."
        ),
    };
    AppError::new(ErrorKind::PaymentRequired, "limit_exceeded", message)
        .with("limit", limit.as_str())
        .with("current", current)
        .with("maximum", maximum)
        .with("requested", requested)
        .with("current_tier", tier.as_str())
}
