//! The identity pages end to end through the real router, as a browser without JavaScript
//! drives them: plain form posts with the CSRF token rendered in the page and the `Origin` a
//! browser sends, cookies kept in a jar, 303 answers followed by hand.
//!
//! Covered: first-run setup, the pre-session token of anonymous forms (§8.2), the members page
//! and its invite form (with and without the session's CSRF token), sign out, sign-in errors
//! and throttling, sign-up with email verification, invitation acceptance by a new and by a
//! signed-in user, the org switcher, and the forgotten-password flow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use domain::ManualClock;
use server::ServerConfig;
use store::Backend;
use store::testing::TestDb;
use support::browser::{Browser, Page};
use support::{PASSWORD, PUBLIC};

struct Env {
    router: Router,
    app: app::App,
    clock: Arc<ManualClock>,
}

async fn env(db: &TestDb) -> Env {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = app::App::new(
        db.store.clone(),
        clock.clone(),
        app::identity::IdentityConfig::ephemeral(PUBLIC),
    )
    // Open sign-up (each creating an org) is the SaaS flow; self-hosted installs limit orgs.
    .with_entitlements(
        app::entitlements::EntitlementConfig::new(app::entitlements::Mode::Saas, "saas-test", None)
            .unwrap(),
    );
    let router = server::build(app.clone(), ServerConfig::default()).0;
    Env { router, app, clock }
}

impl Page {
    /// The `value` of the `<option>` whose label starts with `label`.
    fn option_value(&self, label: &str) -> String {
        let at = self
            .html
            .find(&format!(">{label}"))
            .unwrap_or_else(|| panic!("no option {label} in {}", self.html));
        let before = &self.html[..at];
        let start = before.rfind("value=\"").unwrap() + 7;
        let end = before[start..].find('"').unwrap() + start;
        before[start..end].to_owned()
    }
}

trait Submit {
    async fn submit(&mut self, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page;
}

impl Submit for Browser<'_> {
    /// Opens `page_path`, then posts its form (with the rendered token) to `action`.
    async fn submit(&mut self, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(page_path).await;
        assert_eq!(page.status, StatusCode::OK, "{page_path}: {}", page.html);
        let token = page.csrf();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

fn browser(env: &Env, n: u8) -> Browser<'_> {
    Browser::new(&env.router, [10, 0, 0, n])
}

/// The path and query of the newest `template` mail's link to `email`.
async fn mailed_link(env: &Env, email: &str, template: &str) -> String {
    let mails = env.app.pending_mail(email).await.unwrap();
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.template == template)
        .unwrap_or_else(|| panic!("no {template} mail to {email}: {mails:?}"));
    let link = mail.payload["link"].as_str().unwrap();
    link.strip_prefix(PUBLIC).unwrap().to_owned()
}

async fn set_up(browser: &mut Browser<'_>, email: &str) {
    let done = browser
        .submit(
            "/setup",
            "/setup",
            &[
                ("name", "Olive Owner"),
                ("email", email),
                ("password", PASSWORD),
                ("org_name", "Acme"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), "/");
}

#[tokio::test]
async fn setup_members_invites_sign_out_and_sign_in() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = env(&db).await;
    let mut owner = browser(&env, 1);

    // Before setup the sign-in page points to it; the setup page sets the pre-session cookie.
    let signin = owner.get("/signin").await;
    assert!(signin.has(r#"href="/setup""#), "{}", signin.html);
    let setup = owner.get("/setup").await;
    assert_eq!(setup.status, StatusCode::OK);
    assert!(owner.cookie("dh_pre").is_some(), "pre-session cookie set");
    assert_eq!(setup.header("cache-control"), "no-store");
    assert!(!setup.has("<script>"), "no inline scripts (CSP)");
    let token = setup.csrf();
    let fields = [
        ("name", "Olive Owner"),
        ("email", "owner@example.com"),
        ("password", PASSWORD),
        ("org_name", "Acme"),
    ];

    // Anonymous forms without the pre-session token, with a token of another browser, or from
    // another origin are refused with an HTML 403 and change nothing.
    let refused = owner.post("/setup", &fields).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert!(refused.header("content-type").starts_with("text/html"));
    assert!(refused.has("could not be verified"), "{}", refused.html);
    let mut stranger = browser(&env, 9);
    let mut with_token = vec![("csrf_token", token.as_str())];
    with_token.extend_from_slice(&fields);
    let foreign = stranger.post("/setup", &with_token).await;
    assert_eq!(
        foreign.status,
        StatusCode::FORBIDDEN,
        "no pre-session cookie"
    );
    let body = serde_urlencoded::to_string(&with_token).unwrap();
    let cross = owner
        .send(
            Method::POST,
            "/setup",
            Some(body),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "cross-origin");
    assert!(env.app.setup_open().await.unwrap(), "nothing was created");

    // A weak password shows the form again with the reason and the typed values.
    let weak = owner
        .submit(
            "/setup",
            "/setup",
            &[
                ("name", "Olive Owner"),
                ("email", "owner@example.com"),
                ("password", "short"),
                ("org_name", "Acme"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.has("Choose another password"), "{}", weak.html);
    assert!(weak.has(r#"value="owner@example.com""#));

    // Setup signs the owner in.
    set_up(&mut owner, "owner@example.com").await;
    assert!(owner.cookie("dh_at").is_some() && owner.cookie("dh_rt").is_some());
    assert_eq!(
        owner.get("/setup").await.location(),
        "/signin",
        "setup is closed"
    );
    let home = owner.get("/").await;
    assert!(home.has("Olive Owner") && home.has("Acme"), "{}", home.html);
    assert!(
        home.has(r#"action="/signout""#),
        "sign-out form in the header"
    );
    assert!(!home.has(r#"name="org_id""#), "one org: no select");

    // The members page lists the owner and offers the invite form.
    let members = owner.get("/admin/members").await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.html);
    assert!(members.has("owner@example.com") && members.has("No pending invitations."));
    let session_csrf = members.csrf();

    // Inviting with the session's token and our Origin works and mails a link.
    let invited = owner
        .post(
            "/admin/invites",
            &[
                ("csrf_token", session_csrf.as_str()),
                ("email", "ed@example.com"),
                ("role", "editor"),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.html);
    assert_eq!(invited.location(), "/admin/members?done=invited");
    let members = owner.get(invited.location()).await;
    assert!(members.has("Invitation sent.") && members.has("ed@example.com"));
    assert!(
        mailed_link(&env, "ed@example.com", "invite")
            .await
            .starts_with("/invite?token=")
    );

    // A refusal from the service shows the page again, with the message at the form.
    let again = owner
        .post(
            "/admin/invites",
            &[
                ("csrf_token", session_csrf.as_str()),
                ("email", "ed@example.com"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.has(r#"id="invite-error""#) && again.has("already has a pending invite"));
    assert!(
        again.has("<h1>Members</h1>"),
        "the page, not the error page"
    );

    // Without the CSRF token (or from another origin) a cookie-authenticated post is refused.
    let no_token = owner
        .post(
            "/admin/invites",
            &[("email", "x@example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(
        no_token.has("cross-site request check"),
        "{}",
        no_token.html
    );
    let body = serde_urlencoded::to_string([
        ("csrf_token", session_csrf.as_str()),
        ("email", "x@example.com"),
        ("role", "viewer"),
    ])
    .unwrap();
    let cross = owner
        .send(
            Method::POST,
            "/admin/invites",
            Some(body),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(
        env.app
            .pending_mail("x@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    // Revoking the invite.
    let members = owner.get("/admin/members").await;
    let revoke_at = members.html.find("/revoke\"").expect("a revoke form");
    let start = members.html[..revoke_at].rfind("action=\"").unwrap() + 8;
    let action = members.html[start..revoke_at + 7].to_owned();
    let revoked = owner
        .post(&action, &[("csrf_token", session_csrf.as_str())])
        .await;
    assert_eq!(
        revoked.location(),
        "/admin/members?done=revoked",
        "{}",
        revoked.html
    );
    assert!(
        owner
            .get("/admin/members")
            .await
            .has("No pending invitations.")
    );

    // Sign out ends the session and clears the cookies.
    let out = owner
        .post("/signout", &[("csrf_token", session_csrf.as_str())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.html);
    assert_eq!(out.location(), "/signin?done=signed_out");
    assert!(owner.cookie("dh_at").is_none() && owner.cookie("dh_rt").is_none());
    let gone = owner.get("/admin/members").await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert!(gone.has(r#"href="/signin""#));
    assert!(
        owner
            .get("/signin?done=signed_out")
            .await
            .has("You are signed out.")
    );

    // A wrong password: the generic sentence, the email kept, no cookies.
    let wrong = owner
        .submit(
            "/signin",
            "/signin",
            &[
                ("email", "owner@example.com"),
                ("password", "not the password at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.has("Email or password is incorrect."),
        "{}",
        wrong.html
    );
    assert!(wrong.has(r#"value="owner@example.com""#));
    assert!(owner.cookie("dh_at").is_none());

    // After five failures the account waits; the page says so in minutes.
    for _ in 0..4 {
        let page = owner
            .submit(
                "/signin",
                "/signin",
                &[
                    ("email", "owner@example.com"),
                    ("password", "wrong password again"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = owner
        .submit(
            "/signin",
            "/signin",
            &[("email", "owner@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        throttled.has("Too many attempts. Try again in 1 minute."),
        "{}",
        throttled.html
    );
    assert!(!throttled.header("retry-after").is_empty());

    // Signing in works once the wait is over, and goes to `next` (never to another site).
    env.clock.advance(chrono::Duration::seconds(10));
    let ok = owner
        .submit(
            "/signin?next=/admin/members",
            "/signin",
            &[
                ("email", "owner@example.com"),
                ("password", PASSWORD),
                ("next", "/admin/members"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    assert_eq!(ok.location(), "/admin/members");
    assert!(owner.cookie("dh_at").is_some());
    assert_eq!(owner.get("/admin/members").await.status, StatusCode::OK);
    assert_eq!(
        owner.get("/signin?next=//evil.example").await.location(),
        "/"
    );
}

#[tokio::test]
async fn sign_up_verify_invite_acceptance_and_org_switch() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = env(&db).await;
    let mut owner = browser(&env, 1);
    set_up(&mut owner, "owner@example.com").await;

    // Sign-up always ends on "Check your email"; sign-in needs the verified address.
    let mut bea = browser(&env, 2);
    let signed_up = bea
        .submit(
            "/signup",
            "/signup",
            &[
                ("name", "Bea"),
                ("email", "bea@example.com"),
                ("password", PASSWORD),
                ("org_name", "Beta"),
            ],
        )
        .await;
    assert_eq!(
        signed_up.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_up.html
    );
    let check = bea.get(signed_up.location()).await;
    assert!(check.has("Check your email"));
    let unverified = bea
        .submit(
            "/signin",
            "/signin",
            &[("email", "bea@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(unverified.status, StatusCode::FORBIDDEN);
    assert!(
        unverified.has(r#"action="/verify-email/resend""#),
        "{}",
        unverified.html
    );

    // The mailed link opens a confirm page (a GET uses nothing up); the button verifies.
    let link = mailed_link(&env, "bea@example.com", "verify_email").await;
    let confirm = bea.get(&link).await;
    assert_eq!(confirm.header("referrer-policy"), "no-referrer");
    assert!(confirm.has("Confirm my email address"));
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let verified = bea
        .post(
            "/verify-email",
            &[
                ("csrf_token", confirm.csrf().as_str()),
                ("token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(
        verified.location(),
        "/signin?done=verified",
        "{}",
        verified.html
    );
    let used = bea
        .post(
            "/verify-email",
            &[
                ("csrf_token", confirm.csrf().as_str()),
                ("token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(used.status, StatusCode::BAD_REQUEST);
    assert!(used.has("invalid, expired or already used"));
    let signed_in = bea
        .submit(
            "/signin",
            "/signin",
            &[("email", "bea@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.location(), "/", "{}", signed_in.html);

    // Bea invites the owner to Beta; the signed-in owner accepts with one button.
    let csrf = bea.get("/admin/members").await.csrf();
    let invited = bea
        .post(
            "/admin/invites",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "owner@example.com"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.html);
    let link = mailed_link(&env, "owner@example.com", "invite").await;
    let invite = owner.get(&link).await;
    assert_eq!(invite.status, StatusCode::OK, "{}", invite.html);
    assert_eq!(invite.header("referrer-policy"), "no-referrer");
    assert!(
        invite.has("Join Beta") && invite.has("admin") && invite.has("Bea"),
        "{}",
        invite.html
    );
    assert!(invite.has("Accept and join Beta"));
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let accepted = owner
        .post(
            "/invite/accept",
            &[
                ("csrf_token", invite.csrf().as_str()),
                ("token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.html);

    // Two orgs: the header has the switcher; switching goes back to the path, without its query.
    let home = owner.get("/").await;
    assert!(
        home.has(r#"action="/switch-org""#) && home.has(r#"name="org_id""#),
        "{}",
        home.html
    );
    let acme = home.option_value("Acme (owner)");
    let switched = owner
        .post(
            "/switch-org",
            &[
                ("csrf_token", home.csrf().as_str()),
                ("org_id", acme.as_str()),
                ("next", "/admin/members?team=1"),
            ],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.html);
    assert_eq!(switched.location(), "/admin/members");
    let members = owner.get("/admin/members").await;
    assert!(members.has("People in Acme"), "{}", members.html);

    // A new address: the invite page asks for a name and password; a weak one is refused
    // without using the invite up.
    let csrf = members.csrf();
    owner
        .post(
            "/admin/invites",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "new@example.com"),
                ("role", "viewer"),
            ],
        )
        .await;
    let link = mailed_link(&env, "new@example.com", "invite").await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mut newbie = browser(&env, 3);
    let invite = newbie.get(&link).await;
    assert!(invite.has("Create account and join"), "{}", invite.html);
    let weak = newbie
        .post(
            "/invite/accept",
            &[
                ("csrf_token", invite.csrf().as_str()),
                ("token", token.as_str()),
                ("name", "Nia"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.has("Choose another password") && weak.has(r#"value="Nia""#),
        "{}",
        weak.html
    );
    let joined = newbie
        .post(
            "/invite/accept",
            &[
                ("csrf_token", invite.csrf().as_str()),
                ("token", token.as_str()),
                ("name", "Nia"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(joined.location(), "/", "{}", joined.html);
    assert!(newbie.get("/").await.has("Nia"));
    let members = owner.get("/admin/members").await;
    assert!(members.has("new@example.com") && members.has("No pending invitations."));

    // A viewer may not open the admin page; a used or unknown token shows why.
    assert_eq!(
        newbie.get("/admin/members").await.status,
        StatusCode::FORBIDDEN
    );
    let stale = browser(&env, 4).get(&link).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert!(stale.has("invalid, expired or already used"));

    // Ownership moves to Nia once the owner confirms with the current password.
    let members = owner.get("/admin/members").await;
    let nia = members.option_value("Nia (new@example.com)");
    let csrf = members.csrf();
    let wrong = owner
        .post(
            "/admin/members/transfer",
            &[
                ("csrf_token", csrf.as_str()),
                ("new_owner_user_id", nia.as_str()),
                ("current_password", "not my password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.has(r#"id="transfer-error""#) && wrong.has("current password"),
        "{}",
        wrong.html
    );
    let moved = owner
        .post(
            "/admin/members/transfer",
            &[
                ("csrf_token", csrf.as_str()),
                ("new_owner_user_id", nia.as_str()),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        moved.location(),
        "/admin/members?done=transferred",
        "{}",
        moved.html
    );
    let after = owner.get(moved.location()).await;
    assert!(after.has("Ownership transferred."), "{}", after.html);
    assert!(!after.has("Transfer ownership"), "admins cannot transfer");
}

#[tokio::test]
async fn members_are_managed_from_the_page_and_passwords_reset_by_mail() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = env(&db).await;
    let mut owner = browser(&env, 1);
    set_up(&mut owner, "owner@example.com").await;
    let csrf = owner.get("/admin/members").await.csrf();
    owner
        .post(
            "/admin/invites",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "max@example.com"),
                ("role", "viewer"),
            ],
        )
        .await;
    let link = mailed_link(&env, "max@example.com", "invite").await;
    let mut max = browser(&env, 2);
    let invite = max.get(&link).await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let joined = max
        .post(
            "/invite/accept",
            &[
                ("csrf_token", invite.csrf().as_str()),
                ("token", token.as_str()),
                ("name", "Max"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(joined.location(), "/");

    // Change Max's role, then fail to demote the last owner.
    let members = owner.get("/admin/members").await;
    let row = members.html.find("max@example.com").unwrap();
    let start =
        members.html[row..].find("/admin/members/").unwrap() + row + "/admin/members/".len();
    let max_id = members.html[start..start + 36].to_owned();
    let changed = owner
        .post(
            &format!("/admin/members/{max_id}/role"),
            &[("csrf_token", csrf.as_str()), ("role", "editor")],
        )
        .await;
    assert_eq!(
        changed.location(),
        "/admin/members?done=role_changed",
        "{}",
        changed.html
    );
    assert!(owner.get(changed.location()).await.has("Role changed."));
    let me_at = members.html.find("(you)").unwrap();
    let start =
        members.html[me_at..].find("/admin/members/").unwrap() + me_at + "/admin/members/".len();
    let my_id = members.html[start..start + 36].to_owned();
    let last = owner
        .post(
            &format!("/admin/members/{my_id}/role"),
            &[("csrf_token", csrf.as_str()), ("role", "admin")],
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.html);
    assert!(last.has(r#"id="form-error""#) && last.has("at least one owner"));

    // Removal asks first, then removes.
    let confirm = owner.get(&format!("/admin/members/{max_id}/remove")).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.has("Remove Max?"));
    let removed = owner
        .post(
            &format!("/admin/members/{max_id}/remove"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(
        removed.location(),
        "/admin/members?done=removed",
        "{}",
        removed.html
    );
    assert!(!owner.get("/admin/members").await.has("max@example.com"));

    // Forgotten password: the same answer for any address; the mailed link sets a new one.
    let mut anon = browser(&env, 3);
    let unknown = anon
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "nobody@example.com")],
        )
        .await;
    let known = anon
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "owner@example.com")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::SEE_OTHER);
    assert_eq!(unknown.location(), known.location());
    let link = mailed_link(&env, "owner@example.com", "password_reset").await;
    let form = anon.get(&link).await;
    assert_eq!(form.header("referrer-policy"), "no-referrer");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let weak = anon
        .post(
            "/reset-password",
            &[
                ("csrf_token", form.csrf().as_str()),
                ("token", token.as_str()),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let new_password = "a different long passphrase";
    let reset = anon
        .post(
            "/reset-password",
            &[
                ("csrf_token", form.csrf().as_str()),
                ("token", token.as_str()),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(
        reset.location(),
        "/signin?done=password_reset",
        "{}",
        reset.html
    );
    let signed_in = anon
        .submit(
            "/signin",
            "/signin",
            &[("email", "owner@example.com"), ("password", new_password)],
        )
        .await;
    assert_eq!(signed_in.location(), "/", "{}", signed_in.html);
    // The reset ended the owner's other sessions.
    assert_eq!(
        owner.get("/admin/members").await.status,
        StatusCode::UNAUTHORIZED
    );
}
