//! The subscription state machine as a pure reducer (billing spec §7.1 step 10, §7.3, §7.7):
//! Stripe statuses with their ranks, the observation each subscription keeps, what a
//! subscription contributes to its org, and the org's entitlement from all its subscriptions.
//!
//! Keeping, per subscription, the observation with the greatest `(created, rank)` (a terminal
//! state is never left) makes the state a join over the set of delivered events: any order,
//! any duplicates, the same result. The webhook handler applies this under a row lock.

use chrono::{DateTime, Duration, Utc};
use domain::Tier;

/// A Stripe subscription status, with an arm for values Stripe may add later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Status {
    /// Waiting for the first payment (up to 23 h).
    Incomplete,
    /// In a trial.
    Trialing,
    /// Paid.
    Active,
    /// A renewal payment failed; Stripe retries.
    PastDue,
    /// Paused (e.g. a trial that ended without a payment method).
    Paused,
    /// Retries exhausted, left unpaid.
    Unpaid,
    /// Ended (terminal).
    Canceled,
    /// The first payment never came (terminal).
    IncompleteExpired,
    /// Anything else: recorded as `unknown_status`, never changes the tier.
    Unknown(String),
}

impl Status {
    /// Reads Stripe's status string (total: unknown strings become `Unknown`).
    pub fn parse(s: &str) -> Status {
        match s {
            "incomplete" => Status::Incomplete,
            "trialing" => Status::Trialing,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "paused" => Status::Paused,
            "unpaid" => Status::Unpaid,
            "canceled" => Status::Canceled,
            "incomplete_expired" => Status::IncompleteExpired,
            other => Status::Unknown(other.to_owned()),
        }
    }

    /// Stripe's name of the status.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Incomplete => "incomplete",
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Paused => "paused",
            Status::Unpaid => "unpaid",
            Status::Canceled => "canceled",
            Status::IncompleteExpired => "incomplete_expired",
            Status::Unknown(s) => s,
        }
    }

    /// The tie-break rank for observations with the same `created` (§7.1 step 10).
    pub fn rank(&self) -> u8 {
        match self {
            Status::Incomplete | Status::Unknown(_) => 0,
            Status::Trialing => 1,
            Status::Active => 2,
            Status::PastDue | Status::Paused => 3,
            Status::Unpaid => 4,
            Status::Canceled | Status::IncompleteExpired => 5,
        }
    }

    /// A state the subscription never leaves.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Status::Canceled | Status::IncompleteExpired)
    }
}

impl From<String> for Status {
    fn from(s: String) -> Status {
        Status::parse(&s)
    }
}

impl From<Status> for String {
    fn from(s: Status) -> String {
        s.as_str().to_owned()
    }
}

/// What one event says about a subscription. Stored with its event (`stripe_events.observation`),
/// so the subscription row can always be recomputed as the join of everything delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// The event's `created` (Unix seconds).
    pub created: i64,
    /// The subscription's status.
    pub status: Status,
    /// The tier of its price (None: unmapped price, contributes nothing).
    pub tier: Option<Tier>,
    /// Cancels at the end of the period.
    pub cancel_at_period_end: bool,
    /// End of the current period.
    pub current_period_end: DateTime<Utc>,
    /// End of the trial, if any.
    pub trial_end: Option<DateTime<Utc>>,
    /// When license-svc re-fetched this state from Stripe (Unix seconds); `None` when it comes
    /// from the event's own object. A re-fetched state wins a `created` tie (§7.1 step 10), and
    /// of two re-fetched states with the same `created` the later fetch is the more current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<i64>,
}

/// The order observations are kept by: a known status above an unknown one (an unknown status
/// never changes the state, §7.3), a terminal state above everything else (it is never left,
/// whenever it arrives), then `(created, rank)`. Being a total order, keeping the maximum is a
/// join: delivery order and duplicates cannot change the result (the property test found that
/// "never leave a terminal state" alone is not: a late-delivered `canceled` older than a kept
/// event was lost). Observations equal in all of these (a price change in the same second) are
/// ordered by their content, so even that tie does not depend on delivery order; the webhook
/// handler re-fetches the subscription, which makes such ties rare.
#[allow(clippy::type_complexity)]
fn key(
    o: &Observation,
) -> (
    bool,
    bool,
    i64,
    Option<i64>,
    u8,
    Option<u8>,
    DateTime<Utc>,
    bool,
    Option<DateTime<Utc>>,
    &str,
) {
    (
        !matches!(o.status, Status::Unknown(_)),
        o.status.is_terminal(),
        o.created,
        o.fetched_at,
        o.status.rank(),
        o.tier.map(Tier::rank),
        o.current_period_end,
        !o.cancel_at_period_end,
        o.trial_end,
        o.status.as_str(),
    )
}

/// Whether `new` replaces `kept` (the join of §7.1 step 10 and §15.3).
pub fn supersedes(kept: &Observation, new: &Observation) -> bool {
    key(new) > key(kept)
}

/// A subscription as stored: the kept observation and when it first went past due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The kept observation.
    pub state: Observation,
    /// Earliest `past_due` observation after the latest other one (order-independent, §7.1
    /// step 12).
    pub past_due_since: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Folds observations (any order, duplicates allowed) into the stored state.
    pub fn from_observations<'a>(all: impl IntoIterator<Item = &'a Observation>) -> Option<Self> {
        let all: Vec<&Observation> = all.into_iter().collect();
        let state = all
            .iter()
            .copied()
            .fold(None::<&Observation>, |kept, o| match kept {
                Some(k) if !supersedes(k, o) => Some(k),
                _ => Some(o),
            })?;
        let last_other = all
            .iter()
            .filter(|o| o.status != Status::PastDue)
            .map(|o| o.created)
            .max();
        let past_due_since = all
            .iter()
            .filter(|o| o.status == Status::PastDue && last_other.is_none_or(|l| o.created > l))
            .map(|o| o.created)
            .min()
            .and_then(|s| DateTime::from_timestamp(s, 0));
        Some(Subscription {
            state: state.clone(),
            past_due_since,
        })
    }
}

/// Grace settings (billing spec §3).
#[derive(Debug, Clone, Copy)]
pub struct Graces {
    /// Paid access kept while past due.
    pub dunning: Duration,
    /// `grace_days` of trialing entitlements.
    pub trial_days: i64,
}

impl Default for Graces {
    fn default() -> Self {
        Graces {
            dunning: Duration::days(7),
            trial_days: 1,
        }
    }
}

/// What a subscription contributes to its org (§7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contribution {
    /// A paid tier until `exp`, then `grace_days`.
    Paid {
        /// The price's tier.
        tier: Tier,
        /// Token `exp`.
        exp: DateTime<Utc>,
        /// Token `grace_days`.
        grace_days: i64,
        /// Tie-break between equal tiers: the later period end wins.
        period_end: DateTime<Utc>,
    },
    /// Nothing (no upgrade): incomplete, paused, unmapped price, or community states.
    Nothing,
    /// An unknown status: keep whatever the subscription contributed before.
    KeepPrevious,
}

/// The tier's normal grace after `exp`.
pub fn tier_grace_days(tier: Tier) -> i64 {
    match tier {
        Tier::Community => 0,
        Tier::Team => 14,
        Tier::Enterprise => 30,
    }
}

/// The contribution of a stored subscription at `now` (§7.3).
pub fn contribution(s: &Subscription, graces: Graces, now: DateTime<Utc>) -> Contribution {
    let o = &s.state;
    let Some(tier) = o.tier.filter(|t| *t != Tier::Community) else {
        return if matches!(o.status, Status::Unknown(_)) {
            Contribution::KeepPrevious
        } else {
            Contribution::Nothing
        };
    };
    let paid = |exp, grace_days| Contribution::Paid {
        tier,
        exp,
        grace_days,
        period_end: o.current_period_end,
    };
    match &o.status {
        Status::Trialing => paid(
            o.trial_end.unwrap_or(o.current_period_end),
            graces.trial_days,
        ),
        Status::Active if o.cancel_at_period_end => paid(o.current_period_end, 0),
        Status::Active => paid(o.current_period_end, tier_grace_days(tier)),
        Status::PastDue => {
            let since = s
                .past_due_since
                .or_else(|| DateTime::from_timestamp(o.created, 0))
                .unwrap_or(now);
            let deadline = since + graces.dunning;
            if now < deadline {
                paid(deadline, 0)
            } else {
                Contribution::Nothing
            }
        }
        Status::Unknown(_) => Contribution::KeepPrevious,
        Status::Incomplete
        | Status::Paused
        | Status::Unpaid
        | Status::Canceled
        | Status::IncompleteExpired => Contribution::Nothing,
    }
}

/// The org's entitlement from its subscriptions' contributions (§7.7): the highest paid tier,
/// ties to the later period end; with none, community.
pub fn best(contributions: &[Contribution]) -> Option<&Contribution> {
    contributions
        .iter()
        .filter(|c| matches!(c, Contribution::Paid { .. }))
        .max_by_key(|c| match c {
            Contribution::Paid {
                tier, period_end, ..
            } => (tier.rank(), *period_end),
            _ => unreachable!("filtered to paid contributions"),
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn obs(created: i64, status: &str) -> Observation {
        Observation {
            created: 1_800_000_000 + created,
            status: Status::parse(status),
            tier: Some(Tier::Team),
            cancel_at_period_end: false,
            current_period_end: at(30 * 86_400),
            trial_end: Some(at(14 * 86_400)),
            fetched_at: None,
        }
    }

    #[test]
    fn the_status_map_follows_the_spec_table() {
        let g = Graces::default();
        let now = at(100);
        let one =
            |o: Observation| contribution(&Subscription::from_observations([&o]).unwrap(), g, now);
        let paid = |exp, grace_days| Contribution::Paid {
            tier: Tier::Team,
            exp,
            grace_days,
            period_end: at(30 * 86_400),
        };
        assert_eq!(one(obs(0, "trialing")), paid(at(14 * 86_400), 1));
        assert_eq!(one(obs(0, "active")), paid(at(30 * 86_400), 14));
        let mut cancelling = obs(0, "active");
        cancelling.cancel_at_period_end = true;
        assert_eq!(one(cancelling), paid(at(30 * 86_400), 0));
        assert_eq!(one(obs(0, "past_due")), paid(at(7 * 86_400), 0));
        for s in [
            "unpaid",
            "canceled",
            "incomplete_expired",
            "incomplete",
            "paused",
        ] {
            assert_eq!(one(obs(0, s)), Contribution::Nothing, "{s}");
        }
        assert_eq!(one(obs(0, "something_new")), Contribution::KeepPrevious);
        let mut unmapped = obs(0, "active");
        unmapped.tier = None;
        assert_eq!(
            one(unmapped),
            Contribution::Nothing,
            "no tier is ever assumed"
        );
        // Past due beyond the dunning grace: community.
        let late = contribution(
            &Subscription::from_observations([&obs(0, "past_due")]).unwrap(),
            g,
            at(7 * 86_400),
        );
        assert_eq!(late, Contribution::Nothing);
    }

    #[test]
    fn ties_and_terminal_states() {
        let kept = obs(10, "active");
        assert!(
            supersedes(&kept, &obs(10, "past_due")),
            "same second: higher rank wins"
        );
        assert!(!supersedes(&kept, &obs(10, "trialing")));
        assert!(
            !supersedes(&kept, &obs(9, "past_due")),
            "older events are stale"
        );
        assert!(
            !supersedes(&obs(10, "canceled"), &obs(20, "active")),
            "terminal is sticky"
        );
        assert!(
            supersedes(&obs(20, "active"), &obs(10, "canceled")),
            "even when it arrives late"
        );
        // past_due_since: the earliest past_due after the latest other observation.
        let s = Subscription::from_observations(&[
            obs(5, "past_due"),
            obs(1, "past_due"),
            obs(3, "active"),
            obs(8, "past_due"),
        ])
        .unwrap();
        assert_eq!(s.past_due_since, Some(at(5)));
        assert_eq!(s.state.created, 1_800_000_008);
    }

    #[test]
    fn the_best_contribution_wins() {
        let team = Contribution::Paid {
            tier: Tier::Team,
            exp: at(1),
            grace_days: 14,
            period_end: at(50),
        };
        let ent = Contribution::Paid {
            tier: Tier::Enterprise,
            exp: at(1),
            grace_days: 30,
            period_end: at(10),
        };
        let later_team = Contribution::Paid {
            tier: Tier::Team,
            exp: at(2),
            grace_days: 14,
            period_end: at(60),
        };
        assert_eq!(
            best(&[team.clone(), Contribution::Nothing, ent.clone()]),
            Some(&ent)
        );
        assert_eq!(best(&[team, later_team.clone()]), Some(&later_team));
        assert_eq!(
            best(&[Contribution::Nothing, Contribution::KeepPrevious]),
            None
        );
    }

    const STATUSES: [&str; 9] = [
        "incomplete",
        "trialing",
        "active",
        "past_due",
        "paused",
        "unpaid",
        "canceled",
        "incomplete_expired",
        "brand_new",
    ];

    fn observation() -> impl Strategy<Value = Observation> {
        (
            0i64..20,
            0usize..STATUSES.len(),
            any::<bool>(),
            prop::option::of(prop_oneof![Just(Tier::Team), Just(Tier::Enterprise)]),
        )
            .prop_map(|(created, s, cancel, tier)| Observation {
                tier,
                cancel_at_period_end: cancel,
                ..obs(created, STATUSES[s])
            })
    }

    proptest! {
        /// P1–P3 for the reducer: any permutation with duplicates gives the same state, the
        /// same past-due start and the same contribution as the in-order stream.
        #[test]
        fn any_order_and_duplicates_converge(
            events in prop::collection::vec(observation(), 1..12),
            order in prop::collection::vec(0usize..1000, 1..36),
        ) {
            let mut in_order = events.clone();
            in_order.sort_by_key(|o| (o.created, o.status.rank()));
            // In-order delivery: the latest event last (a canceled subscription gets no later
            // events from Stripe, so the reference keeps terminal states as the handler does).
            let reference = Subscription::from_observations(&in_order).unwrap();
            let shuffled: Vec<&Observation> = order.iter().map(|i| &events[i % events.len()]).chain(events.iter()).collect();
            let got = Subscription::from_observations(shuffled.iter().copied()).unwrap();
            let now = at(3 * 86_400);
            prop_assert_eq!((got.state.created, got.state.status.rank(), got.past_due_since), (reference.state.created, reference.state.status.rank(), reference.past_due_since));
            prop_assert_eq!(contribution(&got, Graces::default(), now), contribution(&reference, Graces::default(), now));
        }

        /// P6: every string maps, and an unknown status never changes the tier.
        #[test]
        fn unknown_statuses_keep_the_previous_contribution(s in "[a-z_]{1,20}") {
            let st = Status::parse(&s);
            prop_assert_eq!(matches!(st, Status::Unknown(_)), !STATUSES[..8].contains(&s.as_str()));
            if matches!(st, Status::Unknown(_)) {
                let sub = Subscription::from_observations([&obs(0, &s)]).unwrap();
                prop_assert_eq!(contribution(&sub, Graces::default(), at(0)), Contribution::KeepPrevious);
            }
        }
    }
}
