//! Jira connector against the fake server: nextPageToken/isLast paging, changelog paging,
//! status transitions, Done + Duplicate → canceled (§9.7), Retry-After on 429/503, deferral.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, HashMap};

use analytics::status_map::OrgMappings;
use analytics::work_item::Status;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use support::fake::{Canned, Fake};
use support::{TestClient, at, jc, t0};
use sync::providers::jira::{self, JiraSite};
use sync::providers::records::{TransitionSource, WorkItem};
use sync::providers::{Error, PassEnd, PassInput};

fn site(fake: &Fake) -> JiraSite {
    JiraSite {
        base: fake.base.clone(),
        projects: vec!["DEV".into()],
        story_points_field: Some("customfield_10016".into()),
        utc_offset: FixedOffset::east_opt(0).unwrap(),
    }
}

fn by_key(items: &[WorkItem]) -> BTreeMap<String, WorkItem> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.clone()))
        .collect()
}

fn stored(items: &[WorkItem]) -> HashMap<String, DateTime<Utc>> {
    items
        .iter()
        .map(|i| (i.external_key.clone(), i.updated_at))
        .collect()
}

async fn run(
    c: &TestClient,
    fake: &Fake,
    input: PassInput<'_>,
) -> Result<sync::providers::Pass<WorkItem>, Error> {
    jira::issues(&c.http, &site(fake), &OrgMappings::default(), input).await
}

#[tokio::test]
async fn pages_by_next_page_token_and_builds_transitions_from_changelogs() {
    let fake = Fake::start("jira").await;
    let c = jc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    let items = by_key(&pass.items);
    assert_eq!(
        items.keys().map(String::as_str).collect::<Vec<_>>(),
        ["DEV-1", "DEV-2", "DEV-3"]
    );
    // 2 search pages + 2 changelog pages of DEV-3 (its embedded changelog was cut).
    assert_eq!(c.http.requests(), 4);
    assert_eq!(
        fake.count(|h| h.query.contains("nextPageToken=CAEaAggD")),
        1
    );
    assert!(
        fake.hits()[0]
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(pass.cursor, Some(at("2024-03-07T09:00:00Z")));

    // §9.7: Done with resolution Duplicate is canceled, and so is the transition into it.
    let dup = &items["DEV-1"];
    assert_eq!(dup.status, Status::Canceled);
    assert_eq!(dup.resolution_raw.as_deref(), Some("Duplicate"));
    let to: Vec<Status> = dup.transitions.iter().map(|t| t.to_status).collect();
    assert_eq!(to, [Status::InProgress, Status::Canceled]);
    assert_eq!(dup.transitions[1].from_status, Some(Status::InProgress));
    assert_eq!(
        dup.transitions[0].occurred_at,
        at("2024-03-02T08:00:00Z"),
        "+0100 offsets are read"
    );

    let story = &items["DEV-2"];
    assert_eq!(
        (story.status, story.item_type.as_str()),
        (Status::InProgress, "story")
    );
    assert_eq!(story.story_points, Some(3.0));
    assert_eq!(story.parent_key.as_deref(), Some("DEV-40"));
    assert_eq!(
        story.transitions.len(),
        1,
        "the assignee change is no transition"
    );

    let long = &items["DEV-3"];
    assert_eq!(long.status, Status::Done);
    assert_eq!(long.story_points, Some(0.0), "0 is a real estimate");
    let path: Vec<(Option<&str>, Status)> = long
        .transitions
        .iter()
        .map(|t| (t.to_raw.as_deref(), t.to_status))
        .collect();
    assert_eq!(
        path,
        [
            (Some("In Progress"), Status::InProgress),
            (Some("In Review"), Status::InReview),
            (Some("Done"), Status::Done)
        ]
    );
    assert!(
        long.transitions
            .iter()
            .all(|t| t.source == TransitionSource::Changelog)
    );
    assert_eq!(
        long.transitions.iter().map(|t| t.seq).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(long.project_key, "DEV");
}

#[tokio::test]
async fn an_unchanged_site_costs_one_search_and_no_changelog() {
    let fake = Fake::start("jira").await;
    let c = jc();
    let (etags, none) = (HashMap::new(), HashMap::new());
    let full = run(&c, &fake, PassInput::fresh(&etags, &none))
        .await
        .unwrap();
    let known = stored(&full.items);
    fake.clear_log();
    let c2 = jc();
    let pass = run(
        &c2,
        &fake,
        PassInput {
            cursor: full.cursor,
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(c2.http.requests(), 1);
    assert!(pass.items.is_empty());
    assert_eq!(fake.count(|h| h.path.contains("/changelog")), 0);
    assert!(
        fake.hits()[0].query.contains("2024%2F03%2F07%2008%3A53"),
        "{}",
        fake.hits()[0].query
    );
    assert_eq!(pass.cursor, full.cursor);
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503_and_503_without_it_backs_off() {
    let fake = Fake::start("jira").await;
    fake.inject(
        "GET",
        "/rest/api/3/search/jql",
        1,
        Canned::retry_after(429, 5),
    );
    fake.inject(
        "GET",
        "/rest/api/3/issue/DEV-3/changelog",
        1,
        Canned::retry_after(503, 9),
    );
    let c = jc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    assert_eq!(pass.items.len(), 3);
    assert_eq!(c.waits_s(), [5, 9]);

    let fake = Fake::start("jira").await;
    fake.inject(
        "GET",
        "/rest/api/3/search/jql",
        2,
        Canned::server_error(503),
    );
    let c = jc();
    run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap();
    let waits = c.sleeper.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0].as_millis() <= 1000 && waits[1].as_millis() <= 2000);
}

#[tokio::test]
async fn a_403_is_not_retried() {
    let fake = Fake::start("jira").await;
    fake.inject(
        "GET",
        "/rest/api/3/search/jql",
        3,
        Canned::new(403, &[], serde_json::json!({"errorMessages": ["You do not have permission to browse issues in this project."], "errors": {}})),
    );
    let c = jc();
    let (etags, known) = (HashMap::new(), HashMap::new());
    let err = run(&c, &fake, PassInput::fresh(&etags, &known))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Permission { .. }), "{err}");
    assert_eq!(c.http.requests(), 1);
}

#[tokio::test]
async fn a_long_wait_defers_and_the_resumed_pass_finishes_exactly_once() {
    let (etags, none) = (HashMap::new(), HashMap::new());
    let fake = Fake::start("jira").await;
    let reference = by_key(
        &run(&jc(), &fake, PassInput::fresh(&etags, &none))
            .await
            .unwrap()
            .items,
    );
    // DEV-3's changelog, on the second search page, is limited for an hour.
    fake.inject(
        "GET",
        "/rest/api/3/issue/DEV-3/changelog",
        1,
        Canned::retry_after(429, 3600),
    );
    let c = jc();
    let first = run(&c, &fake, PassInput::fresh(&etags, &none))
        .await
        .unwrap();
    let PassEnd::Deferred {
        resume_at,
        checkpoint,
    } = first.end.clone()
    else {
        panic!("expected a deferral, got {:?}", first.end);
    };
    assert_eq!(resume_at, t0() + Duration::seconds(3600));
    assert!(
        checkpoint
            .next
            .as_deref()
            .unwrap()
            .contains("nextPageToken=CAEaAggD")
    );
    assert_eq!(
        first.cursor,
        Some(at("2024-03-06T07:30:00Z")),
        "the cursor advanced with page 1"
    );

    let known = stored(&first.items);
    let c2 = jc();
    let second = run(
        &c2,
        &fake,
        PassInput {
            cursor: first.cursor,
            checkpoint: Some(&checkpoint),
            ..PassInput::fresh(&etags, &known)
        },
    )
    .await
    .unwrap();
    assert_eq!(second.end, PassEnd::Complete);
    let (a, b) = (by_key(&first.items), by_key(&second.items));
    assert!(a.keys().all(|k| !b.contains_key(k)));
    let mut union = a;
    union.extend(b);
    assert_eq!(union, reference);
}

#[tokio::test]
async fn test_connection_reads_the_account_and_time_zone() {
    let fake = Fake::start("jira").await;
    let viewer = sync::providers::connection::test_connection(&jc().http, &fake.base)
        .await
        .unwrap();
    assert_eq!(viewer.id, "5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(viewer.time_zone.as_deref(), Some("Europe/Berlin"));
}
