//! Building and caching the per-org snapshot (entitlements spec §5.6).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use auth::keys::MacKey;
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::entitlement::{self as engine, Decision, Inputs, LimitSource, Override};
use domain::{Feature, Limit, LimitValue, OrgId, Tier};
use license::{Expect, Purpose, Rejected, Verified};
use serde::Serialize;
use store::{Conn, Store, entitlements as rows};

use super::clock::{self, ClockView};
use super::instance::{Applied, Instance, LicenseSource};
use super::{EntitlementConfig, Mode};

/// Without live invalidation (the `LISTEN` connection is down), a snapshot lives this long.
pub(crate) const UNLISTENED_TTL: StdDuration = StdDuration::from_secs(1);

/// The decision for one feature, with its inputs for explanations.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureState {
    /// The feature.
    pub feature: Feature,
    /// Its minimum tier.
    pub min_tier: Tier,
    /// Allowed or not.
    pub allowed: bool,
    /// Why.
    pub reason: &'static str,
    #[serde(skip)]
    pub(crate) decision: Decision,
    #[serde(skip)]
    pub(crate) kill_switch_on: bool,
    #[serde(skip)]
    pub(crate) override_: Option<rows::OverrideRow>,
}

/// The applied token as shown by status and explain (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// Token id.
    pub jti: Option<String>,
    /// Signing key id.
    pub kid: Option<String>,
    /// Customer or org id.
    pub sub: Option<String>,
    /// The token's tier.
    pub tier: Option<Tier>,
    /// `none`, `active`, `expiring`, `in_grace`, `expired`, `invalid`, `not_yet_valid`.
    pub state: &'static str,
    /// Issue time.
    pub iat: Option<DateTime<Utc>>,
    /// Not before.
    pub nbf: Option<DateTime<Utc>>,
    /// End of the paid period.
    pub exp: Option<DateTime<Utc>>,
    /// Grace length.
    pub grace_days: Option<i64>,
    /// `exp + grace_days`.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Deployments it is for.
    pub deployment_ids: Vec<String>,
    /// `sha256:<hex>` of the token.
    pub fingerprint: String,
    /// Explicit features.
    pub features: BTreeMap<String, bool>,
    /// Explicit limits.
    pub limits: BTreeMap<String, i64>,
    /// The refusal code when the token is not usable for a reason other than time.
    pub error: Option<&'static str>,
    /// Where it came from.
    pub source: LicenseSource,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// Everything gating needs for one org, at one evaluation time.
#[derive(Debug, Clone)]
pub struct OrgSnapshot {
    /// The org.
    pub org_id: OrgId,
    /// Instance mode.
    pub mode: Mode,
    /// The org's and the global version when built.
    pub versions: (i64, i64),
    /// Wall-clock build time.
    pub built_at: DateTime<Utc>,
    /// `t_eval` of spec §13.
    pub evaluated_at: DateTime<Utc>,
    /// The next time-based transition; rebuilt after it.
    pub valid_until: Option<DateTime<Utc>>,
    /// The applied token, if any.
    pub token: Option<TokenView>,
    /// The effective tier.
    pub effective_tier: Tier,
    /// One entry per feature, in registry order.
    pub features: Vec<FeatureState>,
    /// Each limit with its source.
    pub limits: Vec<(Limit, LimitValue, LimitSource)>,
    /// The clock as seen by this build.
    pub clock: ClockView,
    /// The inputs could not be read: paid features are denied (503).
    pub storage_error: bool,
    built: Instant,
    /// `t_eval - wall` at build, so validity is judged on the same time line.
    ahead: Duration,
}

impl OrgSnapshot {
    /// The state of `feature`.
    pub fn feature(&self, feature: Feature) -> &FeatureState {
        let i = Feature::ALL.iter().position(|f| *f == feature).unwrap_or(0);
        &self.features[i]
    }

    /// The resolved value of `limit`.
    pub fn limit(&self, limit: Limit) -> LimitValue {
        self.limits
            .iter()
            .find(|(l, _, _)| *l == limit)
            .map_or(LimitValue::Max(0), |(_, v, _)| *v)
    }

    fn fresh(&self, wall: DateTime<Utc>, listening: bool) -> bool {
        let on_time = self.valid_until.is_none_or(|u| wall + self.ahead < u);
        on_time && (listening || self.built.elapsed() < UNLISTENED_TTL)
    }

    /// The answer when nothing could be read (spec §5.7): community features follow the floor,
    /// paid ones are denied with `storage_error`.
    fn unavailable(org: OrgId, mode: Mode, wall: DateTime<Utc>) -> Self {
        let features = Feature::ALL
            .iter()
            .map(|&f| {
                let d = engine::decide_without_inputs(f, None);
                FeatureState {
                    feature: f,
                    min_tier: f.min_tier(),
                    allowed: d.allowed,
                    reason: d.reason.as_str(),
                    decision: d,
                    kill_switch_on: true,
                    override_: None,
                }
            })
            .collect();
        OrgSnapshot {
            org_id: org,
            mode,
            versions: (0, 0),
            built_at: wall,
            evaluated_at: wall,
            valid_until: None,
            token: None,
            effective_tier: Tier::Community,
            features,
            limits: Limit::ALL
                .iter()
                .map(|&l| (l, l.default_for(Tier::Community), LimitSource::TierDefault))
                .collect(),
            clock: ClockView {
                high_water_at: None,
                rollback_detected: false,
                behind_by_s: None,
                watermark_tampered: false,
            },
            storage_error: true,
            built: Instant::now(),
            ahead: Duration::zero(),
        }
    }
}

fn ts(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

/// The engine: settings, the env/file license and the snapshot cache.
pub(crate) struct Engine {
    pub(crate) config: EntitlementConfig,
    clock_key: MacKey,
    pub(crate) instance: Instance,
    cache: Mutex<HashMap<OrgId, Arc<OrgSnapshot>>>,
    /// Bumped on every invalidation; a build that raced one is not stored.
    generation: AtomicU64,
    /// Whether changes by other replicas reach this one (false while `LISTEN` is down).
    pub(crate) listening: AtomicBool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("mode", &self.config.mode)
            .field("deployment_id", &self.config.deployment_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) fn new(config: EntitlementConfig, clock_key: MacKey, now: DateTime<Utc>) -> Self {
        let instance = Instance::new(config.license.clone(), now);
        Self {
            config,
            clock_key,
            instance,
            cache: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(true),
        }
    }

    pub(crate) fn clock_key(&self) -> &MacKey {
        &self.clock_key
    }

    /// Drops the snapshot of `scope` (`global` drops all).
    pub(crate) fn invalidate(&self, scope: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if scope == rows::GLOBAL {
            cache.clear();
        } else if let Ok(id) = scope.parse::<uuid::Uuid>() {
            cache.remove(&OrgId::from_uuid(id));
        }
    }

    /// Verifies `token` for `org` at `at`.
    pub(crate) fn verify(
        &self,
        org: OrgId,
        token: &str,
        at: DateTime<Utc>,
    ) -> Result<Verified, Rejected> {
        let org_text = org.to_string();
        let (purpose, subject) = match self.config.mode {
            Mode::SelfHosted => (Purpose::License, None),
            Mode::Saas => (Purpose::Entitlement, Some(org_text.as_str())),
        };
        let expect = Expect {
            purpose,
            deployment_id: &self.config.deployment_id,
            subject,
            at: at.timestamp(),
        };
        license::verify(token, self.config.anchors, &[], &expect)
    }

    /// Verifies an instance license candidate (no org).
    pub(crate) fn verify_instance(
        &self,
        token: &str,
        at: DateTime<Utc>,
    ) -> Result<Verified, Rejected> {
        license::verify(
            token,
            self.config.anchors,
            &[],
            &Expect {
                purpose: Purpose::License,
                deployment_id: &self.config.deployment_id,
                subject: None,
                at: at.timestamp(),
            },
        )
    }

    /// The org's snapshot if a fresh one is cached (the synchronous fast path of every gate).
    pub(crate) fn cached(&self, wall: DateTime<Utc>, org: OrgId) -> Option<Arc<OrgSnapshot>> {
        let listening = self.listening.load(Ordering::SeqCst);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&org)
            .filter(|s| s.fresh(wall, listening))
            .cloned()
    }

    /// Rebuilds the org's snapshot (after [`Engine::cached`] missed); a storage error serves a
    /// still-valid cached snapshot, or the fail-safe answer.
    pub(crate) async fn rebuild(
        &self,
        store: &Store,
        wall: DateTime<Utc>,
        org: OrgId,
    ) -> Arc<OrgSnapshot> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&org)
            .cloned();
        let generation = self.generation.load(Ordering::SeqCst);
        match self.build(store, wall, org).await {
            Ok(s) => {
                let s = Arc::new(s);
                if self.generation.load(Ordering::SeqCst) == generation {
                    self.cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(org, Arc::clone(&s));
                }
                s
            }
            Err(e) => {
                tracing::warn!(error = %e, %org, "entitlements could not be read");
                match cached.filter(|s| s.valid_until.is_none_or(|u| wall + s.ahead < u)) {
                    Some(s) => s,
                    None => Arc::new(OrgSnapshot::unavailable(org, self.config.mode, wall)),
                }
            }
        }
    }

    /// The applied license for `org`: the org's pushed entitlement (SaaS), the env/file license,
    /// or the installed one.
    async fn applied(&self, conn: &mut Conn<'_>, org: OrgId) -> store::Result<Option<Applied>> {
        Ok(match self.config.mode {
            Mode::Saas => rows::org_entitlement(conn, org).await?.map(|e| Applied {
                token: e.token,
                source: LicenseSource::Push,
                loaded_at: e.received_at,
            }),
            Mode::SelfHosted if self.instance.managed_by_env() => self.instance.applied(),
            Mode::SelfHosted => rows::installed_license(conn).await?.map(|l| Applied {
                token: l.token,
                source: LicenseSource::Admin,
                loaded_at: l.loaded_at,
            }),
        })
    }

    /// Keeps the org's tier mirror (`organizations.tier`, shown in listings) equal to the
    /// effective tier, and records each change — a push, an install, an expiry — once.
    /// The mirror is read with the other inputs; a connection is taken only to change it.
    /// `mirrored` is the tier stored when the inputs were read (None: no such org).
    async fn mirror(
        &self,
        store: &Store,
        org: OrgId,
        mirrored: Option<Tier>,
        tier: Tier,
        wall: DateTime<Utc>,
    ) -> store::Result<()> {
        let Some(before) = mirrored.filter(|m| *m != tier) else {
            return Ok(());
        };
        let mut c = store.acquire().await?;
        rows::mirror_tier(&mut c.conn(), org, tier, wall).await?;
        tracing::info!(%org, %before, after = %tier, "audit: entitlement.updated");
        Ok(())
    }

    async fn build(
        &self,
        store: &Store,
        wall: DateTime<Utc>,
        org: OrgId,
    ) -> store::Result<OrgSnapshot> {
        let mut c = store.acquire().await?;
        let conn = &mut c.conn();
        let org_version = rows::version(conn, &org.to_string()).await?;
        let global_version = rows::version(conn, rows::GLOBAL).await?;
        let clock = clock::observe(conn, &self.clock_key, wall).await?;
        let kill: HashMap<String, bool> = store::catalog::feature_flags(conn)
            .await?
            .into_iter()
            .map(|f| (f.name, f.is_enabled))
            .collect();
        let overrides = rows::overrides(conn, org).await?;
        let applied = self.applied(conn, org).await?;
        let mirrored = store::identity::orgs::by_id(conn, org)
            .await?
            .map(|o| o.tier);
        drop(c);

        let floor = clock.floor(wall);
        let verified = applied.as_ref().map(|a| self.verify(org, &a.token, floor));
        // max_iat_seen: a token that passed every step moves the evaluation time to its iat.
        let t_eval = match &verified {
            Some(Ok(v)) => ts(v.claims.iat).map_or(floor, |iat| iat.max(floor)),
            _ => floor,
        };
        let token = verified
            .as_ref()
            .map(|r| license::engine_token(r, t_eval.timestamp()));
        let view = applied
            .as_ref()
            .zip(verified.as_ref())
            .map(|(a, r)| token_view(a, r, t_eval.timestamp()));

        let mut valid_until: Option<DateTime<Utc>> = match &verified {
            Some(Ok(v)) => {
                license::ladder::next_transition(&v.claims, t_eval.timestamp()).and_then(ts)
            }
            _ => None,
        };
        let features = Feature::ALL
            .iter()
            .map(|&f| {
                let o = overrides.iter().find(|o| o.feature == f.as_str()).cloned();
                let input = o.as_ref().map(|o| Override {
                    enabled: o.enabled,
                    expires_at: o.expires_at,
                });
                if let Some(at) = o
                    .as_ref()
                    .and_then(|o| o.expires_at)
                    .filter(|at| *at > t_eval)
                {
                    valid_until = Some(valid_until.map_or(at, |u| u.min(at)));
                }
                let kill_switch_on = kill.get(f.as_str()).copied().unwrap_or(true);
                let d = engine::decide(
                    f,
                    &Inputs {
                        kill_switch_on,
                        override_: input.as_ref(),
                        token: token.as_ref(),
                        now: t_eval,
                    },
                );
                FeatureState {
                    feature: f,
                    min_tier: f.min_tier(),
                    allowed: d.allowed,
                    reason: d.reason.as_str(),
                    decision: d,
                    kill_switch_on,
                    override_: o,
                }
            })
            .collect();
        let limits = Limit::ALL
            .iter()
            .map(|&l| {
                let (v, s) = engine::limit(l, token.as_ref());
                (l, v, s)
            })
            .collect();
        let effective_tier = engine::effective_tier(token.as_ref());
        self.mirror(store, org, mirrored, effective_tier, wall)
            .await?;
        Ok(OrgSnapshot {
            org_id: org,
            mode: self.config.mode,
            versions: (org_version, global_version),
            built_at: wall,
            evaluated_at: t_eval,
            valid_until,
            token: view,
            effective_tier,
            features,
            limits,
            clock,
            storage_error: false,
            built: Instant::now(),
            ahead: t_eval - wall,
        })
    }
}

/// The status view of an applied token.
pub(crate) fn token_view(a: &Applied, r: &Result<Verified, Rejected>, at: i64) -> TokenView {
    let (claims, kid) = match r {
        Ok(v) => (Some(&v.claims), Some(v.kid.clone())),
        Err(e) => (e.claims.as_deref(), e.kid.clone()),
    };
    let state = match r {
        Ok(v) => match license::ladder::state(&v.claims, at) {
            license::State::NotYetValid => "not_yet_valid",
            license::State::Active => "active",
            license::State::Expiring => "expiring",
            license::State::InGrace => "in_grace",
            license::State::Expired => "expired",
        },
        Err(e) if e.code == license::Code::Expired => "expired",
        Err(e) if e.code == license::Code::NotYetValid => "not_yet_valid",
        Err(_) => "invalid",
    };
    TokenView {
        jti: claims.map(|c| c.jti.clone()),
        kid,
        sub: claims.map(|c| c.sub.clone()),
        tier: claims.map(|c| c.tier),
        state,
        iat: claims.and_then(|c| ts(c.iat)),
        nbf: claims.and_then(|c| c.nbf).and_then(ts),
        exp: claims.and_then(|c| ts(c.exp)),
        grace_days: claims.map(|c| c.grace_days),
        grace_ends_at: claims.and_then(|c| ts(c.grace_ends_at())),
        deployment_ids: claims.map(|c| c.deployment_ids.clone()).unwrap_or_default(),
        fingerprint: format!("sha256:{}", license::token::fingerprint(&a.token)),
        features: claims.map(|c| c.features.clone()).unwrap_or_default(),
        limits: claims.map(|c| c.limits.clone()).unwrap_or_default(),
        error: match r {
            Err(e) if e.code != license::Code::Expired => Some(e.code.as_str()),
            _ => None,
        },
        source: a.source,
        loaded_at: a.loaded_at,
    }
}
