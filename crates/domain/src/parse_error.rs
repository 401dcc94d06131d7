//! The one error type for parsing closed vocabularies (tiers, features, roles, ...).

/// A string that is not a member of a closed vocabulary.
///
/// Carries the kind of value and the offending input so the message can name both, e.g.
/// `unknown tier "gold" (expected one of: community, team, enterprise)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of: {expected})")]
pub struct UnknownValue {
    /// What was being parsed, e.g. `tier`.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
    /// Comma-separated list of accepted values.
    pub expected: String,
}

impl UnknownValue {
    pub(crate) fn new<'a>(
        kind: &'static str,
        value: &str,
        expected: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            kind,
            value: value.to_owned(),
            expected: expected.into_iter().collect::<Vec<_>>().join(", "),
        }
    }
}
