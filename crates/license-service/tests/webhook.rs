//! The Stripe webhook algorithm end to end inside license-svc (billing spec §7, §15.2 E6, E7,
//! E9, E10, E12, E15): signatures, tolerance, duplicates, reordering, every outcome, and what
//! reaches the outbox. Stripe is unreachable here, so `customer.subscription.*` events use their
//! own objects (§7.1 step 8) — the synthesized events of §15.1.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use axum::http::StatusCode;
use domain::Tier;
use serde_json::json;
use support::*;
use uuid::Uuid;

fn org() -> Uuid {
    Uuid::now_v7()
}

both! {
    async fn a_new_subscription_signs_one_entitlement_and_enqueues_it(h: &Harness) {
        let o = org();
        let sub = subscription("sub_1", o, "active", TEAM, h.now() + 30 * 86_400);
        let (status, body) = h.deliver(&event("evt_1", "customer.subscription.created", h.now(), &sub)).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"received": true})));
        assert_eq!(h.outcome("evt_1").await.as_deref(), Some("applied"));
        let e = h.entitlement(o).await.unwrap();
        assert_eq!((e.tier, e.grace_days, e.version), (Tier::Team, 14, 1));
        let rows = h.outbox().await;
        assert_eq!(rows.len(), 1);
        let claims = claims(&rows[0].token);
        assert_eq!(claims["sub"], o.to_string());
        assert_eq!(claims["tier"], "team");
        assert_eq!(claims["deployment_ids"], json!([DEPLOYMENT]));
        assert_eq!(claims["iat"], h.now());
    }

    async fn duplicates_store_one_event_and_push_once(h: &Harness) {
        let o = org();
        let sub = subscription("sub_1", o, "active", TEAM, h.now() + 30 * 86_400);
        let body = event("evt_dup", "customer.subscription.created", h.now(), &sub);
        let sig = h.signature(&body, h.now());
        // Three at once, then two more.
        let concurrent = futures::future::join_all((0..3).map(|_| h.deliver_raw(&body, Some(&sig)))).await;
        let mut answers: Vec<_> = concurrent.into_iter().collect();
        answers.push(h.deliver_raw(&body, Some(&sig)).await);
        answers.push(h.deliver_raw(&body, Some(&sig)).await);
        assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");
        let received = answers.iter().filter(|(_, b)| b == &json!({"received": true})).count();
        let duplicate = answers.iter().filter(|(_, b)| b == &json!({"duplicate": true})).count();
        assert_eq!((received, duplicate), (1, 4));
        assert_eq!(h.count("stripe_events").await, 1);
        assert_eq!(h.outbox().await.len(), 1);
        assert_eq!(h.entitlement(o).await.unwrap().version, 1);
    }

    async fn reordered_events_end_in_the_final_state_and_stale_ones_push_nothing(h: &Harness) {
        let o = org();
        let t = h.now();
        let created = event("evt_a", "customer.subscription.created", t - 20,
            &subscription("sub_1", o, "active", TEAM, t + 30 * 86_400));
        let updated = event("evt_b", "customer.subscription.updated", t - 10,
            &subscription("sub_1", o, "past_due", TEAM, t + 30 * 86_400));
        let deleted = event("evt_c", "customer.subscription.deleted", t,
            &subscription("sub_1", o, "canceled", TEAM, t + 30 * 86_400));
        for body in [&deleted, &updated, &created] {
            assert_eq!(h.deliver(body).await.0, StatusCode::OK);
        }
        assert_eq!(h.outcome("evt_c").await.as_deref(), Some("applied"));
        assert_eq!(h.outcome("evt_b").await.as_deref(), Some("stale"));
        assert_eq!(h.outcome("evt_a").await.as_deref(), Some("stale"));
        let e = h.entitlement(o).await.unwrap();
        // Community from the start: nothing to sign (ops is community without a push), and no
        // push for the stale events either.
        assert_eq!((e.tier, e.version), (Tier::Community, 0));
        assert!(h.outbox().await.is_empty());

        // Equal `created` values: the higher rank wins whatever the order.
        let o2 = org();
        let active = event("evt_d", "customer.subscription.updated", t,
            &subscription("sub_2", o2, "active", TEAM, t + 30 * 86_400));
        let unpaid = event("evt_e", "customer.subscription.updated", t,
            &subscription("sub_2", o2, "unpaid", TEAM, t + 30 * 86_400));
        h.deliver(&unpaid).await;
        h.deliver(&active).await;
        assert_eq!(h.outcome("evt_d").await.as_deref(), Some("stale"));
        assert_eq!(h.entitlement(o2).await.unwrap().tier, Tier::Community);
    }

    async fn forged_deliveries_are_refused_and_change_nothing(h: &Harness) {
        let o = org();
        let body = event("evt_f", "customer.subscription.created", h.now(),
            &subscription("sub_1", o, "active", TEAM, h.now() + 86_400));
        let wrong_secret = license_service::stripe_signature::sign(b"whsec_other", h.now(), &body);
        let mut changed = body.clone();
        let i = changed.len() / 2;
        changed[i] ^= 0x01;
        let good = h.signature(&body, h.now());
        let cases = [
            (body.clone(), Some(wrong_secret.clone()), "signature_mismatch"),
            (changed, Some(good.clone()), "signature_mismatch"),
            (body.clone(), None, "bad_signature_header"),
        ];
        for (b, sig, code) in cases {
            let (status, answer) = h.deliver_raw(&b, sig.as_deref()).await;
            assert_eq!((status, answer), (StatusCode::BAD_REQUEST, json!({"error": code})));
        }
        assert_eq!((h.count("stripe_events").await, h.outbox().await.len()), (0, 0));
        // Two v1 values during a rotation, one valid.
        let v1 = good.split(",v1=").nth(1).unwrap();
        let bad_v1 = wrong_secret.split(",v1=").nth(1).unwrap();
        let both = format!("t={},v1={bad_v1},v1={v1},v0=ignored", h.now());
        assert_eq!(h.deliver_raw(&body, Some(&both)).await.0, StatusCode::OK);
        assert_eq!(h.count("stripe_events").await, 1);
    }

    async fn the_timestamp_tolerance_is_300_seconds(h: &Harness) {
        let o = org();
        for (i, (offset, expected)) in [(-301, StatusCode::BAD_REQUEST), (-299, StatusCode::OK), (301, StatusCode::BAD_REQUEST)]
            .into_iter()
            .enumerate()
        {
            let body = event(&format!("evt_t{i}"), "customer.subscription.created", h.now(),
                &subscription(&format!("sub_t{i}"), o, "active", TEAM, h.now() + 86_400));
            let sig = h.signature(&body, h.now() + offset);
            let (status, answer) = h.deliver_raw(&body, Some(&sig)).await;
            assert_eq!(status, expected, "offset {offset}: {answer}");
            if status == StatusCode::BAD_REQUEST {
                assert_eq!(answer, json!({"error": "timestamp_out_of_tolerance"}));
            }
        }
        assert_eq!(h.count("stripe_events").await, 1);
    }

    async fn unhandled_ignored_unknown_price_and_unlinked_events_are_recorded(h: &Harness) {
        let o = org();
        let discount = event("evt_u", "customer.discount.created", h.now(), &json!({"id": "di_1"}));
        assert_eq!(h.deliver(&discount).await, (StatusCode::OK, json!({"received": true})));
        assert_eq!(h.outcome("evt_u").await.as_deref(), Some("unhandled"));
        let product = event("evt_p", "product.created", h.now(), &json!({"id": "prod_1"}));
        h.deliver(&product).await;
        assert_eq!(h.outcome("evt_p").await.as_deref(), Some("ignored"));

        let unmapped = event("evt_x", "customer.subscription.created", h.now(),
            &subscription("sub_x", o, "active", "price_nobody_knows", h.now() + 86_400));
        h.deliver(&unmapped).await;
        assert_eq!(h.outcome("evt_x").await.as_deref(), Some("unknown_price"));
        assert_eq!(h.entitlement(o).await.unwrap().tier, Tier::Community, "never team by default");

        let mut orphan = subscription("sub_o", o, "active", TEAM, h.now() + 86_400);
        orphan["metadata"] = json!({});
        h.deliver(&event("evt_o", "customer.subscription.created", h.now(), &orphan)).await;
        assert_eq!(h.outcome("evt_o").await.as_deref(), Some("unlinked"));

        let weird = event("evt_w", "customer.subscription.updated", h.now() + 1,
            &subscription("sub_x", o, "frobnicated", TEAM, h.now() + 86_400));
        h.deliver(&weird).await;
        assert_eq!(h.outcome("evt_w").await.as_deref(), Some("unknown_status"));
        assert_eq!(h.entitlement(o).await.unwrap().tier, Tier::Community);

        let (status, body) = h.deliver_raw(b"{\"id\":\"evt_bad\"}", Some(&h.signature(b"{\"id\":\"evt_bad\"}", h.now()))).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "bad_event"})));
    }

    async fn an_unchanged_recomputation_signs_nothing(h: &Harness) {
        let o = org();
        let end = h.now() + 30 * 86_400;
        h.deliver(&event("evt_1", "customer.subscription.created", h.now(),
            &subscription("sub_1", o, "active", TEAM, end))).await;
        h.deliver(&event("evt_2", "customer.subscription.updated", h.now() + 5,
            &subscription("sub_1", o, "active", TEAM, end))).await;
        assert_eq!(h.outcome("evt_2").await.as_deref(), Some("applied"));
        assert_eq!(h.outbox().await.len(), 1);
        assert_eq!(h.entitlement(o).await.unwrap().version, 1);
    }

    async fn cancel_at_period_end_and_dunning_carry_their_deadlines(h: &Harness) {
        let o = org();
        let t = h.now();
        let end = t + 30 * 86_400;
        let mut cancelling = subscription("sub_1", o, "active", TEAM, end);
        cancelling["cancel_at_period_end"] = json!(true);
        h.deliver(&event("evt_1", "customer.subscription.updated", t, &cancelling)).await;
        let e = h.entitlement(o).await.unwrap();
        assert_eq!((e.tier, e.exp, e.grace_days), (Tier::Team, end, 0));

        let o2 = org();
        h.deliver(&event("evt_2", "customer.subscription.created", t - 100,
            &subscription("sub_2", o2, "active", TEAM, end))).await;
        h.deliver(&event("evt_3", "customer.subscription.updated", t,
            &subscription("sub_2", o2, "past_due", TEAM, end))).await;
        let e = h.entitlement(o2).await.unwrap();
        assert_eq!((e.tier, e.exp, e.grace_days), (Tier::Team, t + 7 * 86_400, 0));
        assert!(e.billing["dunning_ends_at"].is_string(), "{}", e.billing);
        // The scheduler pushes community at the deadline, with no event from Stripe.
        h.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
        assert_eq!(h.svc.tick().await.unwrap(), 1);
        assert_eq!(h.entitlement(o2).await.unwrap().tier, Tier::Community);
        assert_eq!(h.outbox().await.last().unwrap().org_id, o2);
        // Recovery restores the tier with a normal grace.
        h.deliver(&event("evt_4", "customer.subscription.updated", t + 7 * 86_400 + 10,
            &subscription("sub_2", o2, "active", TEAM, end + 30 * 86_400))).await;
        let e = h.entitlement(o2).await.unwrap();
        assert_eq!((e.tier, e.grace_days), (Tier::Team, 14));
        assert!(e.billing["past_due_since"].is_null());
    }

    async fn payloads_are_purged_after_90_days_and_the_rows_stay(h: &Harness) {
        let o = org();
        h.deliver(&event("evt_old", "customer.subscription.created", h.now(),
            &subscription("sub_1", o, "active", TEAM, h.now() + 400 * 86_400))).await;
        h.clock.advance(chrono::Duration::days(89));
        h.svc.tick().await.unwrap();
        let mut c = h.db.store.acquire().await.unwrap();
        let kept = license_service::db::events::payload(&mut c.conn(), "evt_old").await.unwrap();
        assert!(kept.is_some());
        h.clock.advance(chrono::Duration::days(2));
        h.svc.tick().await.unwrap();
        let purged = license_service::db::events::payload(&mut c.conn(), "evt_old").await.unwrap();
        assert!(purged.is_none());
        assert_eq!(h.outcome("evt_old").await.as_deref(), Some("applied"));
    }

    async fn a_downgrade_signs_the_lower_tier_with_its_price_config(h: &Harness) {
        // E2 (synth `updated`): enterprise yearly (users unlimited by its price) → team monthly.
        let o = org();
        let end = h.now() + 300 * 86_400;
        h.deliver(&event("evt_1", "customer.subscription.created", h.now() - 10,
            &subscription("sub_1", o, "active", ENTERPRISE, end))).await;
        let e = h.entitlement(o).await.unwrap();
        assert_eq!((e.tier, e.limits.get("users").copied(), e.grace_days), (Tier::Enterprise, Some(-1), 30));
        h.deliver(&event("evt_2", "customer.subscription.updated", h.now(),
            &subscription("sub_1", o, "active", TEAM, h.now() + 30 * 86_400))).await;
        let e = h.entitlement(o).await.unwrap();
        assert_eq!((e.tier, e.limits.get("users"), e.grace_days, e.version), (Tier::Team, None, 14, 2));
        let last = claims(&h.outbox().await.last().unwrap().token);
        assert_eq!((last["tier"].as_str(), &last["limits"]), (Some("team"), &json!({})));
    }

    async fn customer_events_link_the_org_and_keep_stripes_contact_details(h: &Harness) {
        let o = org();
        let customer = |email: &str| json!({"id": "cus_c1", "object": "customer", "email": email,
            "name": "Acme", "metadata": {"org_id": o.to_string()}});
        h.deliver(&event("evt_c1", "customer.created", h.now(), &customer("a@acme.example"))).await;
        h.deliver(&event("evt_c2", "customer.updated", h.now() + 1, &customer("billing@acme.example"))).await;
        h.deliver(&event("evt_c3", "customer.updated", h.now() + 2, &customer("billing@acme.example"))).await;
        assert_eq!(h.outcome("evt_c2").await.as_deref(), Some("applied"));
        let mut c = h.db.store.acquire().await.unwrap();
        let row = license_service::db::customers::by_stripe_id(&mut c.conn(), "cus_c1").await.unwrap().unwrap();
        assert_eq!((row.org_id, row.email.as_str(), row.name.as_str()), (Some(o), "billing@acme.example", "Acme"));
    }
}
