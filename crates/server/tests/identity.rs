//! Identity and access through the real router (identity spec §2, §3.2, §8.4), on SQLite and
//! PostgreSQL: accounts, refresh rotation and reuse, brute-force protection, invites and
//! members, API tokens, cross-org isolation.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use domain::{Role, Tier};
use serde_json::json;
use store::backend_tests;
use support::{Call, PASSWORD, digest, env, set_tier};

backend_tests! {
    async fn sign_up_verify_and_sign_in(db: &TestDb) {
        let e = env(db);
        let body = json!({"email": "Ann@Example.com", "password": PASSWORD, "name": "Ann"});
        let first = e.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{first:?}");
        let again = e.post("/api/v1/auth/register", None, body).await;
        assert_eq!((again.status, &again.body), (first.status, &first.body), "no enumeration");

        let login = json!({"email": "ann@example.com", "password": PASSWORD});
        let early = e.post("/api/v1/auth/login", None, login.clone()).await;
        assert_eq!((early.status, early.code()), (StatusCode::FORBIDDEN, "email_not_verified"));
        let wrong = e.post("/api/v1/auth/login", None, json!({"email": "ann@example.com", "password": "not the password at all"})).await;
        assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));

        let token = e.mailed_token("ann@example.com", "verify_email").await;
        let ok = e.post("/api/v1/auth/verify-email", None, json!({"token": token})).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        let reused = e.post("/api/v1/auth/verify-email", None, json!({"token": token})).await;
        assert_eq!((reused.status, reused.code()), (StatusCode::BAD_REQUEST, "invalid_or_expired_token"));

        let signed = e.post("/api/v1/auth/login", None, login).await;
        assert_eq!(signed.status, StatusCode::OK, "{signed:?}");
        assert_eq!(signed.body["expires_in"], 900);
        assert_eq!(signed.body["role"], "owner");
        assert_eq!(signed.header("cache-control"), "no-store");
        let me = e.get("/api/v1/auth/me", signed.body["access_token"].as_str()).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["role"], "owner");
        assert_eq!(me.body["user"]["is_platform_admin"], false);
        assert!(me.body["permissions"].as_array().unwrap().iter().any(|p| p == "ownership:transfer"));
    }

    async fn bad_input_is_refused_and_changes_nothing(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let before = digest(db).await;
        let cases = [
            (json!({"email": "no-at-sign", "password": PASSWORD, "name": "A"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            (json!({"email": "Ann <a@example.com>", "password": PASSWORD, "name": "A"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            (json!({"email": "a@example.com", "password": "short", "name": "A"}), StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
            (json!({"email": "a@example.com", "password": "password1234", "name": "A"}), StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
            (json!({"email": "a@example.com", "password": PASSWORD, "name": "A", "is_platform_admin": true}), StatusCode::BAD_REQUEST, "unknown_field"),
            (json!({"email": "a@example.com", "password": PASSWORD, "name": "bad\u{7}name"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ];
        for (body, status, code) in cases {
            let a = e.post("/api/v1/auth/register", None, body.clone()).await;
            assert_eq!((a.status, a.code()), (status, code), "{body}: {a:?}");
        }
        let weak = e.post("/api/v1/auth/register", None, json!({"email": "a@example.com", "password": "a@example.com", "name": "A"})).await;
        assert!(weak.body["reasons"].as_array().unwrap().iter().any(|r| r == "matches_email"), "{weak:?}");
        let malformed = e.call(Method::POST, "/api/v1/auth/login", Call { raw: Some(("application/json", "{not json")), ..Call::default() }).await;
        assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, "invalid_json"));
        let media = e.call(Method::POST, "/api/v1/auth/login", Call { raw: Some(("text/plain", "{}")), ..Call::default() }).await;
        assert_eq!(media.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let short = e.post("/api/v1/auth/login", None, json!({"email": "owner@example.com", "password": "x"})).await;
        assert_eq!((short.status, short.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
        // Org-scoped routes never take the org or platform flags from the body (guards 1, 4).
        let with_org = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "b@example.com", "role": "viewer", "org_id": owner.org_id})).await;
        assert_eq!((with_org.status, with_org.code()), (StatusCode::BAD_REQUEST, "unknown_field"));
        let flag = e.patch(&format!("/api/v1/org/members/{}", owner.user_id), Some(&owner.access), json!({"role": "owner", "is_platform_admin": true})).await;
        assert_eq!((flag.status, flag.code()), (StatusCode::BAD_REQUEST, "unknown_field"));
        let bad_id = e.delete("/api/v1/org/members/not-a-uuid", Some(&owner.access)).await;
        assert_eq!((bad_id.status, bad_id.code()), (StatusCode::BAD_REQUEST, "invalid_id"));
        let bad_query = e.get("/api/v1/org/members?limit=0", Some(&owner.access)).await;
        assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
        let unknown_query = e.get("/api/v1/org/members?org_id=x", Some(&owner.access)).await;
        assert_eq!(unknown_query.status, StatusCode::BAD_REQUEST);
        for token in ["garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."] {
            let a = e.get("/api/v1/auth/me", Some(token)).await;
            assert_eq!((a.status, a.code()), (StatusCode::UNAUTHORIZED, "invalid_token"));
            assert!(a.header("www-authenticate").contains("invalid_token"));
        }
        let access_as_refresh = e.post("/api/v1/auth/refresh", None, json!({"refresh_token": owner.access})).await;
        assert_eq!(access_as_refresh.code(), "invalid_refresh_token");
        let forged = format!("{}x", owner.refresh);
        assert_eq!(e.post("/api/v1/auth/refresh", None, json!({"refresh_token": forged})).await.code(), "invalid_refresh_token");
        assert_eq!(digest(db).await, before, "refused requests changed nothing");
    }

    async fn refresh_rotation_detects_reuse_of_any_ancestor(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let a = e.login("owner@example.com").await;
        let refresh = |t: &str| e.post("/api/v1/auth/refresh", None, json!({"refresh_token": t}));
        let b = refresh(&a.refresh).await;
        assert_eq!(b.status, StatusCode::OK);
        let b = b.body["refresh_token"].as_str().unwrap().to_owned();
        e.clock.advance(Duration::seconds(20));
        let c = refresh(&b).await;
        let c_access = c.body["access_token"].as_str().unwrap().to_owned();
        let c = c.body["refresh_token"].as_str().unwrap().to_owned();
        // A is the grandparent of the head: never within grace.
        let reuse = refresh(&a.refresh).await;
        assert_eq!((reuse.status, reuse.code()), (StatusCode::UNAUTHORIZED, "refresh_reuse_detected"));
        let head = refresh(&c).await;
        assert_eq!((head.status, head.code()), (StatusCode::UNAUTHORIZED, "session_revoked"));
        let me = e.get("/api/v1/auth/me", Some(&c_access)).await;
        assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "session_revoked"));
        assert!(e.app.pending_mail("owner@example.com").await.unwrap().iter().any(|m| m.template == "refresh_reuse"));
    }

    async fn the_immediate_predecessor_has_a_ten_second_grace(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let a = e.login("owner@example.com").await;
        let refresh = |t: String| e.post("/api/v1/auth/refresh", None, json!({"refresh_token": t}));
        let b = refresh(a.refresh.clone()).await.body["refresh_token"].as_str().unwrap().to_owned();
        e.clock.advance(Duration::seconds(9));
        let again = refresh(a.refresh.clone()).await;
        assert_eq!(again.status, StatusCode::OK, "{again:?}");
        assert_eq!(again.body["refresh_token"], b.as_str(), "the same successor, no new row");
        e.clock.advance(Duration::seconds(2));
        let late = refresh(a.refresh.clone()).await;
        assert_eq!(late.code(), "refresh_reuse_detected");
        assert_eq!(refresh(b).await.code(), "session_revoked");
    }

    async fn concurrent_refreshes_of_the_head_leave_one_chain(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let a = e.login("owner@example.com").await;
        let calls = (0..50).map(|_| e.post("/api/v1/auth/refresh", None, json!({"refresh_token": a.refresh})));
        let answers = futures::future::join_all(calls).await;
        let tokens: std::collections::BTreeSet<String> = answers
            .iter()
            .map(|x| {
                assert_eq!(x.status, StatusCode::OK, "{x:?}");
                x.body["refresh_token"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(tokens.len(), 1, "every concurrent refresh got the same successor");
        let mut c = db.store.acquire().await.unwrap();
        let rows: i64 = store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens").fetch_one(&mut *c).await).unwrap();
        // setup's session (1) + this login (1) + exactly one successor.
        assert_eq!(rows, 3);
    }

    async fn logout_and_logout_all_end_sessions_at_once(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let one = e.login("owner@example.com").await;
        let two = e.login("owner@example.com").await;
        let out = e.post("/api/v1/auth/logout", Some(&one.access), json!({})).await;
        assert_eq!(out.status, StatusCode::OK);
        assert_eq!(e.get("/api/v1/auth/me", Some(&one.access)).await.code(), "session_revoked");
        let again = e.post("/api/v1/auth/logout", Some(&one.access), json!({})).await;
        assert_eq!(again.status, StatusCode::OK, "idempotent");
        let all = e.post("/api/v1/auth/logout-all", Some(&two.access), json!({})).await;
        assert_eq!(all.status, StatusCode::OK);
        assert!(all.body["revoked_sessions"].as_u64().unwrap() >= 1);
        assert_eq!(e.get("/api/v1/auth/me", Some(&two.access)).await.code(), "session_revoked");
        let r = e.post("/api/v1/auth/refresh", None, json!({"refresh_token": two.refresh})).await;
        assert_eq!(r.code(), "session_revoked");
    }

    async fn parallel_wrong_passwords_get_one_check_each_or_429(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let calls = (0..50).map(|_| e.post("/api/v1/auth/login", None, json!({"email": "owner@example.com", "password": "wrong password guess"})));
        let answers = futures::future::join_all(calls).await;
        let checked = answers.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED).count();
        let throttled = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(checked + throttled, 50, "{answers:?}");
        assert!((1..=5).contains(&checked), "the slot and the 5-failure delay bound the checks: {checked}");
        assert!(answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).all(|a| a.header("retry-after").parse::<u64>().unwrap() >= 1));
        let mut c = db.store.acquire().await.unwrap();
        let failures: Vec<i32> = store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar("SELECT failures FROM login_throttle").fetch_all(&mut *c).await).unwrap();
        assert_eq!(failures, vec![i32::try_from(checked).unwrap()], "failures equal the password checks");
        // No lockout: after the delay, the right password works.
        e.clock.advance(Duration::seconds(61));
        e.login("owner@example.com").await;
    }

    async fn unknown_emails_are_throttled_like_known_ones(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        for email in ["owner@example.com", "nobody@example.com"] {
            for _ in 0..5 {
                let a = e.post("/api/v1/auth/login", None, json!({"email": email, "password": "wrong password guess"})).await;
                assert_eq!(a.code(), "invalid_credentials");
            }
            let sixth = e.post("/api/v1/auth/login", None, json!({"email": email, "password": "wrong password guess"})).await;
            assert_eq!((sixth.status, sixth.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{email}");
            assert_eq!(sixth.header("retry-after"), "5");
        }
        let mut c = db.store.acquire().await.unwrap();
        let rows: i64 = store::on_conn!(&mut c.conn(), c => store::sqlx::query_scalar("SELECT COUNT(*) FROM login_throttle WHERE failures = 5").fetch_one(&mut *c).await).unwrap();
        assert_eq!(rows, 2, "the same rows for an unknown address");
    }

    async fn invites_members_and_the_role_rules(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let admin = e.add_member(&owner, "admin@example.com", Role::Admin).await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        assert_eq!(e.get("/api/v1/org/members", Some(&viewer.access)).await.body["items"].as_array().unwrap().len(), 3);
        let denied = e.post("/api/v1/org/invites", Some(&viewer.access), json!({"email": "x@example.com", "role": "viewer"})).await;
        assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "forbidden"));
        assert_eq!(denied.body["permission"], "invites:manage");
        let owner_invite = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "x@example.com", "role": "owner"})).await;
        assert_eq!((owner_invite.status, owner_invite.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_role"));
        let member_again = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "viewer@example.com", "role": "viewer"})).await;
        assert_eq!((member_again.status, member_again.code()), (StatusCode::CONFLICT, "already_member"));
        // Community holds 3 seats: owner, admin and viewer already use them.
        let full = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "x@example.com", "role": "viewer"})).await;
        assert_eq!((full.status, full.code()), (StatusCode::PAYMENT_REQUIRED, "limit_exceeded"));
        assert_eq!((full.body["current"].as_u64(), full.body["maximum"].as_u64()), (Some(3), Some(3)));
        assert_eq!((full.body["current_tier"].as_str(), full.body["requested"].as_u64()), (Some("community"), Some(1)));
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let invited = e.post("/api/v1/org/invites", Some(&admin.access), json!({"email": "x@example.com", "role": "editor"})).await;
        assert_eq!(invited.status, StatusCode::CREATED);
        let dup = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "X@example.com", "role": "viewer"})).await;
        assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "invite_pending"));
        let id = invited.body["id"].as_str().unwrap();
        let soon = e.post(&format!("/api/v1/org/invites/{id}/resend"), Some(&owner.access), json!({})).await;
        assert_eq!(soon.status, StatusCode::TOO_MANY_REQUESTS, "{soon:?}");
        e.clock.advance(Duration::seconds(61));
        assert_eq!(e.post(&format!("/api/v1/org/invites/{id}/resend"), Some(&owner.access), json!({})).await.status, StatusCode::OK);
        assert_eq!(e.delete(&format!("/api/v1/org/invites/{id}"), Some(&owner.access)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(e.delete(&format!("/api/v1/org/invites/{id}"), Some(&owner.access)).await.code(), "invite_not_pending");
        let listed = e.get("/api/v1/org/invites?status=revoked", Some(&admin.access)).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

        // R1: admins never touch owners; R2: the last owner stays; R4: no self-escalation.
        let path = |u: domain::UserId| format!("/api/v1/org/members/{u}");
        let a = e.patch(&path(owner.user_id), Some(&admin.access), json!({"role": "viewer"})).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "owner_protected"));
        let a = e.patch(&path(viewer.user_id), Some(&admin.access), json!({"role": "owner"})).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "owner_protected"));
        let a = e.delete(&path(owner.user_id), Some(&admin.access)).await;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "owner_protected"));
        let a = e.patch(&path(owner.user_id), Some(&owner.access), json!({"role": "admin"})).await;
        assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "last_owner"));
        let a = e.post("/api/v1/org/leave", Some(&owner.access), json!({})).await;
        assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "last_owner"));
        let a = e.patch(&path(viewer.user_id), Some(&viewer.access), json!({"role": "admin"})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "viewers cannot assign roles at all");
        let a = e.patch(&path(viewer.user_id), Some(&admin.access), json!({"role": "bogus"})).await;
        assert_eq!((a.status, a.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_role"));
        let a = e.patch(&path(viewer.user_id), Some(&admin.access), json!({"role": "editor"})).await;
        assert_eq!((a.status, a.body["role"].as_str()), (StatusCode::OK, Some("editor")));
        // The demotion/promotion applies to the member's next request.
        assert_eq!(e.get("/api/v1/auth/me", Some(&viewer.access)).await.body["role"], "editor");

        // Ownership transfer: re-auth, not to self, then owner ↔ admin in one step.
        let t = |body| e.post("/api/v1/org/ownership/transfer", Some(&owner.access), body);
        assert_eq!(t(json!({"new_owner_user_id": admin.user_id})).await.code(), "reauth_required");
        assert_eq!(t(json!({"new_owner_user_id": admin.user_id, "current_password": "wrong password guess"})).await.code(), "reauth_required");
        assert_eq!(t(json!({"new_owner_user_id": owner.user_id, "current_password": PASSWORD})).await.code(), "cannot_transfer_to_self");
        let done = t(json!({"new_owner_user_id": admin.user_id, "current_password": PASSWORD})).await;
        assert_eq!(done.status, StatusCode::OK, "{done:?}");
        assert_eq!(e.get("/api/v1/auth/me", Some(&owner.access)).await.body["role"], "admin");
        assert_eq!(e.get("/api/v1/auth/me", Some(&admin.access)).await.body["role"], "owner");
    }

    async fn a_removed_member_loses_sessions_and_tokens_at_once(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let editor = e.add_member(&owner, "editor@example.com", Role::Editor).await;
        let token = e.token(&editor, "ci", &["analytics:read", "members:read"]).await;
        assert_eq!(e.get("/api/v1/org/members", Some(&token)).await.status, StatusCode::OK);
        assert_eq!(e.get("/api/v1/auth/me", Some(&editor.access)).await.status, StatusCode::OK);
        let removed = e.delete(&format!("/api/v1/org/members/{}", editor.user_id), Some(&owner.access)).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_eq!(e.get("/api/v1/auth/me", Some(&editor.access)).await.code(), "session_revoked");
        assert_eq!(e.get("/api/v1/org/members", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
        let r = e.post("/api/v1/auth/refresh", None, json!({"refresh_token": editor.refresh})).await;
        assert_eq!(r.code(), "session_revoked");
    }

    async fn api_tokens_are_scoped_gated_and_rate_limited(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let community = e.post("/api/v1/org/api-tokens", Some(&owner.access), json!({"name": "ci", "scopes": ["analytics:read"]})).await;
        assert_eq!((community.status, community.code()), (StatusCode::PAYMENT_REQUIRED, "feature_not_licensed"));
        assert_eq!((community.body["feature"].as_str(), community.body["required_tier"].as_str(), community.body["current_tier"].as_str()), (Some("api_access"), Some("team"), Some("community")));
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let viewer_access = viewer.access.clone();
        let create = |body| e.post("/api/v1/org/api-tokens", Some(&viewer_access), body);
        let cases = [
            (json!({"name": "x", "scopes": ["sync:run"]}), StatusCode::FORBIDDEN, "scope_exceeds_role"),
            (json!({"name": "x", "scopes": ["invites:manage"]}), StatusCode::UNPROCESSABLE_ENTITY, "scope_not_grantable"),
            (json!({"name": "x", "scopes": ["nope:nope"]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_scope"),
            (json!({"name": "x", "scopes": ["analytics:read"], "expires_in_days": 366}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_expiry"),
            (json!({"name": "x", "scopes": ["analytics:read"], "expires_in_days": null}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_expiry"),
            (json!({"name": "", "scopes": ["analytics:read"]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ];
        for (body, status, code) in cases {
            let a = create(body.clone()).await;
            assert_eq!((a.status, a.code()), (status, code), "{body}");
        }
        let made = create(json!({"name": "ci", "scopes": ["members:read"]})).await;
        assert_eq!(made.status, StatusCode::CREATED);
        let token = made.body["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("dhp_"));
        assert_eq!(create(json!({"name": "ci", "scopes": ["members:read"]})).await.code(), "name_taken");
        let listed = e.get("/api/v1/org/api-tokens", Some(&viewer.access)).await;
        assert!(!listed.body.to_string().contains(&token), "secrets are shown once");
        assert_eq!(e.get("/api/v1/org/api-tokens?all=true", Some(&viewer.access)).await.status, StatusCode::FORBIDDEN);

        let ok = e.get("/api/v1/org/members", Some(&token)).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.header("x-ratelimit-limit"), "1000");
        assert_eq!(ok.header("x-ratelimit-remaining"), "999");
        let no_scope = e.get("/api/v1/org/invites", Some(&token)).await;
        assert_eq!(no_scope.status, StatusCode::FORBIDDEN);
        let me = e.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(me.body["permissions"], json!(["members:read"]));
        assert_eq!(e.post("/api/v1/auth/logout-all", Some(&token), json!({})).await.status, StatusCode::UNAUTHORIZED, "sessions only");

        let id = made.body["id"].as_str().unwrap();
        let other = e.add_member(&owner, "other@example.com", Role::Editor).await;
        assert_eq!(e.delete(&format!("/api/v1/org/api-tokens/{id}"), Some(&other.access)).await.status, StatusCode::NOT_FOUND, "not the creator");
        assert_eq!(e.delete(&format!("/api/v1/org/api-tokens/{id}"), Some(&owner.access)).await.status, StatusCode::NO_CONTENT, "token admin");
        assert_eq!(e.get("/api/v1/org/members", Some(&token)).await.code(), "invalid_token");

        // The bucket: 1,000 requests a minute for the org, then 429 with Retry-After.
        let busy = e.token(&owner, "busy", &["members:read"]).await;
        let mut last = None;
        for _ in 0..1001 {
            last = Some(e.get("/api/v1/org/members", Some(&busy)).await);
        }
        let last = last.unwrap();
        assert_eq!((last.status, last.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
        assert_eq!((last.body["limit"].as_str(), last.body["maximum"].as_u64()), (Some("api_rate"), Some(1000)));
        assert!(last.header("retry-after").parse::<u64>().unwrap() >= 1);
    }

    async fn other_orgs_are_invisible(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        let viewer = e.add_member(&owner, "viewer@example.com", Role::Viewer).await;
        let invite = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "x@example.com", "role": "viewer"})).await;
        let invite_id = invite.body["id"].as_str().unwrap().to_owned();
        let stranger = e.other_org_owner(db, "stranger@example.com").await;
        let before = digest(db).await;
        let calls = [
            e.delete(&format!("/api/v1/org/members/{}", viewer.user_id), Some(&stranger.access)).await,
            e.patch(&format!("/api/v1/org/members/{}", viewer.user_id), Some(&stranger.access), json!({"role": "admin"})).await,
            e.delete(&format!("/api/v1/org/invites/{invite_id}"), Some(&stranger.access)).await,
            e.post(&format!("/api/v1/org/invites/{invite_id}/resend"), Some(&stranger.access), json!({})).await,
        ];
        for a in calls {
            assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"), "{a:?}");
        }
        let switch = e.post("/api/v1/auth/switch-org", Some(&stranger.access), json!({"org_id": owner.org_id})).await;
        assert_eq!(switch.status, StatusCode::NOT_FOUND);
        assert_eq!(digest(db).await, before);
        let members = e.get("/api/v1/org/members", Some(&stranger.access)).await;
        assert_eq!(members.body["items"].as_array().unwrap().len(), 1, "only their own org");
    }

    async fn switching_org_rescopes_the_session(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let stranger = e.other_org_owner(db, "stranger@example.com").await;
        // The stranger also joins the first org as a viewer (an existing account accepts).
        e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "stranger@example.com", "role": "viewer"})).await;
        let token = e.mailed_token("stranger@example.com", "invite").await;
        let no_session = e.post("/api/v1/invites/accept", None, json!({"token": token})).await;
        assert_eq!(no_session.code(), "account_exists_login_required");
        let preview = e.get(&format!("/api/v1/invites/preview?token={token}"), None).await;
        assert_eq!(preview.body["account_exists"], true);
        let joined = e.post("/api/v1/invites/accept", Some(&stranger.access), json!({"token": token})).await;
        assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
        let switched = e.post("/api/v1/auth/switch-org", Some(&stranger.access), json!({"org_id": owner.org_id})).await;
        assert_eq!(switched.status, StatusCode::OK, "{switched:?}");
        assert_eq!(switched.body["role"], "viewer");
        let access = switched.body["access_token"].as_str().unwrap();
        let me = e.get("/api/v1/auth/me", Some(access)).await;
        assert_eq!(me.body["org"]["id"], owner.org_id.unwrap().to_string());
        assert_eq!(me.body["memberships"].as_array().unwrap().len(), 2);
        let refreshed = e.post("/api/v1/auth/refresh", None, json!({"refresh_token": switched.body["refresh_token"]})).await;
        assert_eq!(refreshed.status, StatusCode::OK, "switch-org yields a refresh token that refreshes");
    }

    async fn password_change_and_reset_end_other_sessions(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let one = e.login("owner@example.com").await;
        let two = e.login("owner@example.com").await;
        let bad = e.post("/api/v1/auth/password/change", Some(&one.access), json!({"current_password": "wrong password guess", "new_password": "another long passphrase"})).await;
        assert_eq!(bad.code(), "invalid_credentials");
        let weak = e.post("/api/v1/auth/password/change", Some(&one.access), json!({"current_password": PASSWORD, "new_password": "short"})).await;
        assert_eq!(weak.code(), "weak_password");
        let ok = e.post("/api/v1/auth/password/change", Some(&one.access), json!({"current_password": PASSWORD, "new_password": "another long passphrase"})).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(e.get("/api/v1/auth/me", Some(&one.access)).await.status, StatusCode::OK, "the caller's session stays");
        assert_eq!(e.get("/api/v1/auth/me", Some(&two.access)).await.code(), "session_revoked");

        assert_eq!(e.post("/api/v1/auth/forgot-password", None, json!({"email": "nobody@example.com"})).await.status, StatusCode::ACCEPTED);
        assert_eq!(e.post("/api/v1/auth/forgot-password", None, json!({"email": "owner@example.com"})).await.status, StatusCode::ACCEPTED);
        let token = e.mailed_token("owner@example.com", "password_reset").await;
        let weak = e.post("/api/v1/auth/reset-password", None, json!({"token": token, "new_password": "short"})).await;
        assert_eq!(weak.code(), "weak_password");
        let ok = e.post("/api/v1/auth/reset-password", None, json!({"token": token, "new_password": "a third long passphrase"})).await;
        assert_eq!(ok.status, StatusCode::OK, "a weak attempt does not consume the token: {ok:?}");
        assert_eq!(e.get("/api/v1/auth/me", Some(&one.access)).await.code(), "session_revoked");
        let used = e.post("/api/v1/auth/reset-password", None, json!({"token": token, "new_password": "a fourth long passphrase"})).await;
        assert_eq!(used.code(), "invalid_or_expired_token");
        e.clock.advance(Duration::hours(2));
        e.post("/api/v1/auth/forgot-password", None, json!({"email": "owner@example.com"})).await;
        let token = e.mailed_token("owner@example.com", "password_reset").await;
        e.clock.advance(Duration::minutes(61));
        let expired = e.post("/api/v1/auth/reset-password", None, json!({"token": token, "new_password": "a fifth long passphrase"})).await;
        assert_eq!(expired.code(), "invalid_or_expired_token");
    }

    async fn setup_runs_once_and_makes_the_platform_admin(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let me = e.get("/api/v1/auth/me", Some(&owner.access)).await;
        assert_eq!(me.body["user"]["is_platform_admin"], true);
        let again = e.post("/api/v1/setup", None, json!({"email": "b@example.com", "password": PASSWORD, "name": "B", "org_name": "B"})).await;
        assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "setup_complete"));
    }
}

backend_tests! {
    async fn unknown_and_known_emails_cost_one_password_check_each(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        for email in ["owner@example.com", "nobody@example.com"] {
            let before = e.app.password_checks();
            let a = e.post("/api/v1/auth/login", None, json!({"email": email, "password": "wrong password guess"})).await;
            assert_eq!(a.code(), "invalid_credentials");
            assert_eq!(e.app.password_checks() - before, 1, "{email}");
        }
    }

    async fn the_remaining_account_answers(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let resend = e.post("/api/v1/auth/verify-email/resend", None, json!({"email": "nobody@example.com"})).await;
        assert_eq!(resend.status, StatusCode::ACCEPTED);
        let bad = e.post("/api/v1/auth/verify-email/resend", None, json!({"email": "nope"})).await;
        assert_eq!(bad.code(), "invalid_email");
        let stranger = e.other_org_owner(db, "stranger@example.com").await;
        let not_member = e.post("/api/v1/auth/login", None, json!({"email": "owner@example.com", "password": PASSWORD, "org_id": stranger.org_id})).await;
        assert_eq!((not_member.status, not_member.code()), (StatusCode::FORBIDDEN, "org_not_available"));
        // An invite for one address cannot be taken by a session of another.
        e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": "invited@example.com", "role": "viewer"})).await;
        let token = e.mailed_token("invited@example.com", "invite").await;
        let wrong = e.post("/api/v1/invites/accept", Some(&stranger.access), json!({"token": token})).await;
        assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "invite_email_mismatch"));
        let weak = e.post("/api/v1/invites/accept", None, json!({"token": token, "password": "short"})).await;
        assert_eq!((weak.status, weak.code()), (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"));
        let garbage = e.post("/api/v1/invites/accept", None, json!({"token": "garbage", "password": PASSWORD})).await;
        assert_eq!((garbage.status, garbage.code()), (StatusCode::BAD_REQUEST, "invalid_or_expired_token"));
        // A disabled account is told so only after a correct password.
        let mut c = db.store.acquire().await.unwrap();
        store::on_conn!(&mut c.conn(), c => store::sqlx::query("UPDATE users SET is_active = $1 WHERE email_norm = 'stranger@example.com'").bind(false).execute(&mut *c).await.map(|r| r.rows_affected())).unwrap();
        drop(c);
        let wrong_pw = e.post("/api/v1/auth/login", None, json!({"email": "stranger@example.com", "password": "wrong password guess"})).await;
        assert_eq!(wrong_pw.code(), "invalid_credentials");
        let disabled = e.post("/api/v1/auth/login", None, json!({"email": "stranger@example.com", "password": PASSWORD})).await;
        assert_eq!((disabled.status, disabled.code()), (StatusCode::FORBIDDEN, "account_disabled"));
    }

    async fn another_replica_honours_a_removal_within_a_second(db: &TestDb) {
        let one = env(db);
        let two = support::replica(&one, db);
        let owner = one.setup("owner@example.com").await;
        set_tier(&one, owner.org_id.unwrap(), Tier::Team).await;
        let editor = one.add_member(&owner, "editor@example.com", Role::Editor).await;
        let token = one.token(&editor, "ci", &["members:read"]).await;
        assert_eq!(two.get("/api/v1/auth/me", Some(&editor.access)).await.status, StatusCode::OK, "warms replica two's cache");
        assert_eq!(two.get("/api/v1/org/members", Some(&token)).await.status, StatusCode::OK);
        let removed = one.delete(&format!("/api/v1/org/members/{}", editor.user_id), Some(&owner.access)).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let start = std::time::Instant::now();
        loop {
            let session = two.get("/api/v1/auth/me", Some(&editor.access)).await.status;
            let api = two.get("/api/v1/org/members", Some(&token)).await.status;
            if session == StatusCode::UNAUTHORIZED && api == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(start.elapsed() < std::time::Duration::from_millis(1500), "still accepted after {:?}", start.elapsed());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

backend_tests! {
    async fn invite_only_registration_is_closed_before_any_lookup(db: &TestDb) {
        let mut config = app::identity::IdentityConfig::ephemeral(support::PUBLIC);
        config.registration = app::identity::Registration::InviteOnly;
        let app = app::App::new(db.store.clone(), std::sync::Arc::new(domain::SystemClock), config);
        let router = server::build(app, server::ServerConfig::default()).0;
        let request = axum::http::Request::post("/api/v1/auth/register")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({"email": "not-even-valid", "password": "x", "name": ""}).to_string()))
            .unwrap();
        let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("registration_closed"));
    }
}

backend_tests! {
    async fn browser_cookies_refresh_transparently_and_need_csrf(db: &TestDb) {
        let e = env(db);
        e.setup("owner@example.com").await;
        let s = e.login("owner@example.com").await;
        // Only the refresh cookie left (the access cookie expired): rotated on the way in.
        let a = e.call(Method::GET, "/api/v1/auth/me", Call { headers: vec![("cookie", format!("dh_rt={}", s.refresh))], ..Call::default() }).await;
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        let set: Vec<&str> = a.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(set.iter().any(|c| c.starts_with("dh_at=") && c.contains("HttpOnly") && c.contains("SameSite=Lax")), "{set:?}");
        assert!(set.iter().any(|c| c.starts_with("dh_rt=")), "{set:?}");
        let sid: uuid::Uuid = a.body["session"]["id"].as_str().unwrap().parse().unwrap();

        let cookie = ("cookie", format!("dh_at={}", s.access));
        let post = |headers: Vec<(&'static str, String)>| e.call(Method::POST, "/api/v1/auth/logout-all", Call { headers, body: Some(json!({})), ..Call::default() });
        let none = post(vec![cookie.clone()]).await;
        assert_eq!((none.status, none.code()), (StatusCode::FORBIDDEN, "csrf_failed"), "no Origin");
        let cross = post(vec![cookie.clone(), ("origin", "https://evil.example".into())]).await;
        assert_eq!(cross.code(), "csrf_failed");
        let no_token = post(vec![cookie.clone(), ("origin", support::PUBLIC.into())]).await;
        assert_eq!(no_token.code(), "csrf_failed");
        let wrong = post(vec![cookie.clone(), ("origin", support::PUBLIC.into()), ("x-csrf-token", "nope".into())]).await;
        assert_eq!(wrong.code(), "csrf_failed");
        let other = e.login("owner@example.com").await;
        let other_sid: uuid::Uuid = e.get("/api/v1/auth/me", Some(&other.access)).await.body["session"]["id"].as_str().unwrap().parse().unwrap();
        let token = e.app.identity_config().keys.csrf.sign(&[b"csrf", other_sid.as_bytes()]);
        let other_session = post(vec![cookie.clone(), ("origin", support::PUBLIC.into()), ("x-csrf-token", token)]).await;
        assert_eq!(other_session.code(), "csrf_failed", "a token of another session");
        let token = e.app.identity_config().keys.csrf.sign(&[b"csrf", sid.as_bytes()]);
        let ok = post(vec![cookie, ("origin", support::PUBLIC.into()), ("x-csrf-token", token)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        // A bearer header is exempt from CSRF.
        let s2 = e.login("owner@example.com").await;
        assert_eq!(e.post("/api/v1/auth/logout-all", Some(&s2.access), json!({})).await.status, StatusCode::OK);
    }
}

backend_tests! {
    async fn acceptance_over_the_users_limit_answers_402(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        set_tier(&e, owner.org_id.unwrap(), Tier::Team).await;
        for email in ["a@example.com", "b@example.com"] {
            e.add_member(&owner, email, Role::Viewer).await;
        }
        for email in ["c@example.com", "d@example.com"] {
            let a = e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": email, "role": "viewer"})).await;
            assert_eq!(a.status, StatusCode::CREATED);
        }
        // Back on community (3 seats): pending invites stay, accepting one works while the org
        // is under its limit and is refused once it is at it (entitlements spec §16, §17).
        set_tier(&e, owner.org_id.unwrap(), Tier::Community).await;
        let token = e.mailed_token("c@example.com", "invite").await;
        let a = e.post("/api/v1/invites/accept", None, json!({"token": token, "password": PASSWORD})).await;
        assert_eq!((a.status, a.code()), (StatusCode::PAYMENT_REQUIRED, "limit_exceeded"), "{a:?}");
        assert_eq!((a.body["current"].as_u64(), a.body["maximum"].as_u64()), (Some(3), Some(3)));
        let before = digest(db).await;
        let token = e.mailed_token("d@example.com", "invite").await;
        let again = e.post("/api/v1/invites/accept", None, json!({"token": token, "password": PASSWORD})).await;
        assert_eq!(again.code(), "limit_exceeded");
        assert_eq!(digest(db).await, before, "no account was created");
        // Removing a member frees a seat for the next acceptance.
        let b = e.login("b@example.com").await;
        assert_eq!(e.delete(&format!("/api/v1/org/members/{}", b.user_id), Some(&owner.access)).await.status, StatusCode::NO_CONTENT);
        let ok = e.post("/api/v1/invites/accept", None, json!({"token": token, "password": PASSWORD})).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    }
}

backend_tests! {
    async fn account_bodies_over_16_kib_answer_413(db: &TestDb) {
        let e = env(db);
        let big = "x".repeat(17 * 1024);
        let a = e.post("/api/v1/auth/login", None, json!({"email": big, "password": PASSWORD})).await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{a:?}");
        let ok = e.post("/api/v1/auth/login", None, json!({"email": "x".repeat(15 * 1024), "password": PASSWORD})).await;
        assert_eq!(ok.code(), "invalid_credentials", "under the limit the request is read");
    }
}

backend_tests! {
    async fn twenty_concurrent_invites_cannot_overshoot_the_limit(db: &TestDb) {
        let e = env(db);
        let owner = e.setup("owner@example.com").await;
        let emails: Vec<String> = (0..20).map(|i| format!("p{i}@example.com")).collect();
        let calls = emails.iter().map(|email| e.post("/api/v1/org/invites", Some(&owner.access), json!({"email": email, "role": "viewer"})));
        let answers = futures::future::join_all(calls).await;
        let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
        let refused = answers.iter().filter(|a| a.code() == "limit_exceeded").count();
        assert_eq!((created, refused), (2, 18), "owner + 2 pending = 3 seats: {answers:?}");
    }
}
