//! The license page and the licensing banners end to end through the real router, as a browser
//! without JavaScript drives them (cookies in a jar, the CSRF token rendered in the page, our
//! `Origin`, 303 answers followed by hand).
//!
//! Covered: `/settings/license` for owners and admins (state, tier, licensee, dates, the
//! deployment ids, the 16-row feature grid, limits with usage) and the 403 page for editors and
//! viewers; the page in SaaS mode (plans come from billing); the expiring, in-grace, expired and
//! refused-key banners, shown to owners and admins and never to editors or viewers; the License
//! navigation entry; the install form (owners only, CSRF required) installing a valid key and
//! showing the refusal code of bad ones, and refusing while `DEV_HEALTH_LICENSE` decides.
//!
//! The UpgradeGate itself (text by reason × role × mode, the 402 page and the htmx fragment) is
//! covered by the unit tests in `src/web/gate.rs`: no web page is gated by a paid feature yet.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use domain::{Clock, Role, Tier};
use store::Backend;
use store::testing::TestDb;
use support::browser::{Browser, Page};
use support::{Env, env, env_with, self_hosted, test_license};

const DAY: i64 = 86_400;

impl Page {
    /// The row of `feature` in the feature grid.
    fn feature_row(&self, feature: &str) -> &str {
        let start = self
            .html
            .find(&format!(r#"<tr id="feature-{feature}""#))
            .unwrap_or_else(|| panic!("no row for {feature} in {}", self.html));
        let end = self.html[start..].find("</tr>").unwrap() + start;
        &self.html[start..end]
    }

    /// The licensing banners (their `data-banner` codes).
    fn banners(&self) -> Vec<&str> {
        self.html
            .match_indices(r#"data-banner=""#)
            .map(|(i, m)| {
                let rest = &self.html[i + m.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect()
    }
}

/// Signs `email` in through the sign-in form.
async fn signed_in<'a>(env: &'a Env, email: &str, n: u8) -> Browser<'a> {
    Browser::signed_in(&env.router, [10, 1, 0, n], email).await
}

trait Install {
    async fn install(&mut self, key: &str) -> Page;
}

impl Install for Browser<'_> {
    /// Posts a key to the install form with the token rendered in the license page.
    async fn install(&mut self, key: &str) -> Page {
        let page = self.get("/settings/license").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let csrf = page.csrf();
        self.post(
            "/settings/license",
            &[("csrf_token", csrf.as_str()), ("token", key)],
        )
        .await
    }
}

/// An org with an owner, an admin, a viewer and, when the users limit leaves a seat (community
/// allows 3), an editor — each signed in as a browser.
struct Org<'a> {
    owner: Browser<'a>,
    admin: Browser<'a>,
    viewer: Browser<'a>,
    editor: Option<Browser<'a>>,
}

impl<'a> Org<'a> {
    /// The members who must never see licensing banners or the license page.
    fn others(&mut self) -> Vec<&mut Browser<'a>> {
        let mut out = vec![&mut self.viewer];
        if let Some(e) = self.editor.as_mut() {
            out.push(e);
        }
        out
    }
}

async fn org(env: &Env) -> Org<'_> {
    let owner = env.setup("owner@example.com").await;
    env.add_member(&owner, "admin@example.com", Role::Admin)
        .await;
    env.add_member(&owner, "viewer@example.com", Role::Viewer)
        .await;
    let tier = env
        .app
        .entitlements_of(owner.org_id.unwrap())
        .await
        .effective_tier;
    let editor = if tier == Tier::Community {
        None
    } else {
        env.add_member(&owner, "editor@example.com", Role::Editor)
            .await;
        Some(signed_in(env, "editor@example.com", 4).await)
    };
    Org {
        owner: signed_in(env, "owner@example.com", 1).await,
        admin: signed_in(env, "admin@example.com", 2).await,
        viewer: signed_in(env, "viewer@example.com", 3).await,
        editor,
    }
}

/// A self-hosted server whose `DEV_HEALTH_LICENSE` holds a `tier` key issued 300 days ago and
/// ending `exp_in_days` from now (negative: in the past), with `grace_days`.
fn licensed(db: &TestDb, tier: Tier, exp_in_days: i64, grace_days: i64) -> Env {
    let now = chrono::Utc::now().timestamp();
    let key = test_license(
        tier,
        now - 300 * DAY,
        now + exp_in_days * DAY,
        grace_days,
        "self-hosted",
    );
    env_with(db, self_hosted(Some(key)))
}

#[tokio::test]
async fn owners_see_state_tier_dates_deployment_ids_features_and_limits() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = licensed(&db, Tier::Team, 200, 14);
    let mut o = org(&env).await;

    let page = o.owner.get("/settings/license").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(
        page.has(r#"data-state="active""#) && page.has(">Active<"),
        "{}",
        page.html
    );
    assert!(page.has("<th scope=\"row\">Effective tier</th><td>Team</td>"));
    assert!(page.has("<th scope=\"row\">Licensee</th><td>cus_test</td>"));
    assert!(page.has("License id") && page.has("Key fingerprint") && page.has("sha256:"));
    assert!(
        page.has("Expires in 199 days") || page.has("Expires in 200 days"),
        "{}",
        page.html
    );
    assert!(page.has("(14 days of grace)"));
    assert!(page.has("DEV_HEALTH_LICENSE (value)"));
    // The instance deployment id next to the licensed ids, which match.
    assert!(
        page.has("This instance&#39;s deployment id") || page.has("This instance's deployment id")
    );
    assert!(page.has("<code>self-hosted</code>"));
    assert!(!page.has(r#"id="deployment-mismatch""#));

    // The feature grid: all 16 features with their value and reason.
    assert_eq!(page.html.matches(r#"<tr id="feature-"#).count(), 16);
    let row = page.feature_row("basic_analytics");
    assert!(row.contains(r#"data-allowed="true""#) && row.contains("community_floor"));
    let row = page.feature_row("capacity_planning");
    assert!(
        row.contains(r#"data-allowed="true""#) && row.contains("tier_default"),
        "{row}"
    );
    let row = page.feature_row("audit_log");
    assert!(
        row.contains(r#"data-allowed="false""#) && row.contains("not_licensed"),
        "{row}"
    );
    assert!(row.contains("Not included in the license"));

    // Limits with usage: four users on a Team key (unlimited).
    assert!(page.has("<li>users 4 / unlimited</li>"), "{}", page.html);
    assert!(page.has("<li>orgs 1 / unlimited</li>"));
    assert!(page.has("api_rate 1000 requests per minute"));

    // An active key raises no banner; the navigation has the License entry.
    assert!(page.banners().is_empty(), "{:?}", page.banners());
    assert!(page.has(r#"<a href="/settings/license">License</a>"#));

    // Owners get the install steps and the upload form; `?feature=` marks the asked-for row.
    assert!(page.has(r#"id="install""#) && page.has("DEV_HEALTH_LICENSE"));
    assert!(page.has(r#"action="/settings/license""#) && page.has(r#"name="token""#));
    let asked = o.owner.get("/settings/license?feature=audit_log").await;
    assert!(asked.feature_row("audit_log").contains("(asked for)"));

    // Admins read the page without the upload form.
    let page = o.admin.get("/settings/license").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has(">Active<") && page.has(r#"<tr id="feature-audit_log""#));
    assert!(!page.has(r#"name="token""#) && page.has("Only owners can install a key."));
    assert!(page.has(r#"<a href="/settings/license">License</a>"#));

    // Editors and viewers get the 403 page, and no License entry.
    assert!(o.editor.is_some());
    for b in o.others() {
        let refused = b.get("/settings/license").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
        assert!(
            refused.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            refused.has("You do not have access to this page"),
            "{}",
            refused.html
        );
        assert!(!refused.has("cus_test"));
        let home = b.get("/").await;
        assert!(!home.has(r#"href="/settings/license""#), "{}", home.html);
    }

    // DEV_HEALTH_LICENSE decides: an install is refused with its code (and nothing changes).
    let key = test_license(
        Tier::Enterprise,
        env.clock.now().timestamp() - 60,
        env.clock.now().timestamp() + 365 * DAY,
        30,
        "self-hosted",
    );
    let refused = o.owner.install(&key).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(
        refused.has(r#"id="install-error""#) && refused.has("<code>license_managed_by_env</code>")
    );
    assert!(
        refused.has("<h1>License</h1>"),
        "the page, not the error page"
    );
    assert!(refused.has("<th scope=\"row\">Effective tier</th><td>Team</td>"));
}

#[tokio::test]
async fn expiring_in_grace_and_expired_banners_show_to_owners_and_admins_only() {
    // (days until exp, grace days, state, banner code, banner text)
    let cases = [
        (
            10,
            14,
            "expiring",
            "license_expiring",
            "Your Team license expires on ",
        ),
        (
            -2,
            14,
            "in_grace",
            "license_in_grace",
            "paid features stay on until ",
        ),
        (
            -30,
            14,
            "expired",
            "license_expired",
            "Paid features are off; your data is kept.",
        ),
    ];
    for (exp_in_days, grace, state, code, text) in cases {
        let db = TestDb::new(Backend::Sqlite).await;
        let env = licensed(&db, Tier::Team, exp_in_days, grace);
        let exp =
            chrono::DateTime::from_timestamp(env.clock.now().timestamp() + exp_in_days * DAY, 0)
                .unwrap();
        let exp_day = exp.format("%-d %b %Y").to_string();
        let mut o = org(&env).await;

        for b in [&mut o.owner, &mut o.admin] {
            for path in ["/", "/settings/license", "/admin/members"] {
                let page = b.get(path).await;
                assert_eq!(page.status, StatusCode::OK, "{state} {path}: {}", page.html);
                assert_eq!(page.banners(), vec![code], "{state} {path}: {}", page.html);
                assert!(page.has(text), "{state} {path}: {}", page.html);
                assert!(page.has(r#"<a href="/settings/license">View license</a>"#));
            }
            let license = b.get("/settings/license").await;
            assert!(
                license.has(&format!(r#"data-state="{state}""#)),
                "{}",
                license.html
            );
        }
        let owner_home = o.owner.get("/").await;
        match state {
            "expiring" => assert!(owner_home.has(&format!("expires on {exp_day}."))),
            "in_grace" => {
                let end = (exp + chrono::Duration::days(grace)).format("%-d %b %Y");
                assert!(
                    owner_home.has(&format!(
                        "Your Team license expired on {exp_day}; paid features stay on until {end}."
                    )),
                    "{}",
                    owner_home.html
                );
            }
            _ => {
                let license = o.owner.get("/settings/license").await;
                assert!(license.has("Expired 30 days ago"), "{}", license.html);
                let row = license.feature_row("capacity_planning");
                assert!(row.contains(r#"data-allowed="false""#) && row.contains("license_expired"));
            }
        }

        // Editors and viewers never see licensing banners.
        for b in o.others() {
            let home = b.get("/").await;
            assert_eq!(home.status, StatusCode::OK);
            assert!(home.banners().is_empty(), "{state}: {}", home.html);
            assert!(!home.has(text), "{state}: {}", home.html);
        }
    }
}

#[tokio::test]
async fn a_key_for_another_deployment_is_shown_as_refused_with_the_mismatch() {
    let db = TestDb::new(Backend::Sqlite).await;
    let now = chrono::Utc::now().timestamp();
    let key = test_license(
        Tier::Enterprise,
        now - DAY,
        now + 365 * DAY,
        30,
        "acme-prod",
    );
    let env = env_with(&db, self_hosted(Some(key)));
    let mut o = org(&env).await;

    let page = o.owner.get("/settings/license").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has(r#"data-state="invalid""#), "{}", page.html);
    assert!(page.has("<th scope=\"row\">Effective tier</th><td>Community</td>"));
    assert!(page.has("license_wrong_deployment"));
    assert!(page.has("<code>acme-prod</code>") && page.has(r#"id="deployment-mismatch""#));
    assert_eq!(page.banners(), vec!["license_invalid"]);
    assert!(page.has("this deployment is not listed in the key"));
    let viewer_home = o.viewer.get("/").await;
    assert!(viewer_home.banners().is_empty());
}

#[tokio::test]
async fn owners_install_a_valid_key_and_see_the_refusal_code_of_a_bad_one() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = env_with(&db, self_hosted(None));
    let mut o = org(&env).await;

    let page = o.owner.get("/settings/license").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has(r#"data-state="none""#) && page.has("None (community)"));
    assert!(page.has("No license key is installed"));
    assert!(page.has("<li>users 3 / 3</li>"), "{}", page.html);
    let csrf = page.csrf();
    let now = env.clock.now().timestamp();
    let good = test_license(Tier::Team, now - 60, now + 365 * DAY, 14, "self-hosted");

    // Without the CSRF token, or from another origin, the post is refused and changes nothing.
    let no_token = o
        .owner
        .post("/settings/license", &[("token", good.as_str())])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "{}", no_token.html);
    assert!(
        no_token.has("cross-site request check"),
        "{}",
        no_token.html
    );
    let body =
        serde_urlencoded::to_string([("csrf_token", csrf.as_str()), ("token", good.as_str())])
            .unwrap();
    let cross = o
        .owner
        .send(
            Method::POST,
            "/settings/license",
            Some(body),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let wrong = o
        .owner
        .post(
            "/settings/license",
            &[("csrf_token", "not-the-token"), ("token", good.as_str())],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let page = o.owner.get("/settings/license").await;
    assert!(page.has(r#"data-state="none""#), "nothing installed");

    // Admins may read but not install (license:manage is the owner's).
    let admin_page = o.admin.get("/settings/license").await;
    let admin_csrf = admin_page.csrf();
    let refused = o
        .admin
        .post(
            "/settings/license",
            &[
                ("csrf_token", admin_csrf.as_str()),
                ("token", good.as_str()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    // Bad keys: the page again with the refusal code; nothing is installed.
    // A character inside the signature, not the last one: the last base64 character can carry
    // padding bits, and setting them makes the key malformed rather than wrongly signed.
    let mut tampered = good.clone().into_bytes();
    let i = good.rfind('.').unwrap() + 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other_deployment = test_license(Tier::Team, now - 60, now + 365 * DAY, 14, "acme-prod");
    for (key, code) in [
        ("not a license", "license_malformed"),
        (tampered.as_str(), "license_bad_signature"),
        (other_deployment.as_str(), "license_wrong_deployment"),
    ] {
        let bad = o.owner.install(key).await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code}: {}",
            bad.html
        );
        assert!(bad.has(r#"id="install-error""#), "{code}: {}", bad.html);
        assert!(
            bad.has(&format!("Refusal code: <code>{code}</code>")),
            "{code}: {}",
            bad.html
        );
        assert!(bad.has("<h1>License</h1>") && bad.has(r#"data-state="none""#));
    }

    // A valid key: 303 back to the page, which shows it in force.
    let done = o.owner.install(&good).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), "/settings/license?done=installed");
    let page = o.owner.get(done.location()).await;
    assert!(page.has("License installed."), "{}", page.html);
    assert!(page.has(r#"data-state="active""#), "{}", page.html);
    assert!(page.has("<th scope=\"row\">Effective tier</th><td>Team</td>"));
    assert!(page.has("Installed key"));
    assert!(
        page.feature_row("webhooks")
            .contains(r#"data-allowed="true""#)
    );
    assert!(page.has("<li>users 3 / unlimited</li>"), "{}", page.html);
    assert_eq!(
        env.app
            .license_status(None)
            .await
            .unwrap()
            .license
            .unwrap()
            .tier,
        Some(Tier::Team)
    );
}

#[tokio::test]
async fn in_saas_mode_the_page_points_to_billing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = env(&db);
    let mut o = org(&env).await;

    let page = o.owner.get("/settings/license").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has("Plans come from billing"), "{}", page.html);
    assert!(page.has(r#"href="/settings/billing""#));
    assert!(!page.has(r#"name="token""#), "no key upload in SaaS mode");
    assert!(
        !page.has(r#"<a href="/settings/license">License</a>"#),
        "no License entry in SaaS"
    );
    assert_eq!(page.html.matches(r#"<tr id="feature-"#).count(), 16);
    let refused = o.viewer.get("/settings/license").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
