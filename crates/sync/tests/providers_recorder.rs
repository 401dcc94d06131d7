//! The fixture recorder (`support/recorder.rs`, run as `examples/record_fixtures.rs` against a
//! live provider): recording a provider and replaying the recording gives the connector the
//! same answers. Here the "provider" is the fake server, so the round trip is checkable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::HashMap;
use std::path::Path;

use analytics::status_map::OrgMappings;
use chrono::FixedOffset;
use support::fake::Fake;
use support::recorder::Recorder;
use support::{JIRA_TOKEN, LINEAR_KEY, jc, lc};
use sync::providers::jira::{self, JiraSite};
use sync::providers::linear::{self, LinearWorkspace};
use sync::providers::records::WorkItem;
use sync::providers::{PassEnd, PassInput};

async fn jira_pass(base: &str) -> Vec<WorkItem> {
    let site = JiraSite {
        base: base.to_owned(),
        projects: vec!["DEV".into()],
        story_points_field: Some("customfield_10016".into()),
        utc_offset: FixedOffset::east_opt(0).unwrap(),
    };
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = jira::issues(
        &jc().http,
        &site,
        &OrgMappings::default(),
        PassInput::fresh(&etags, &known),
    )
    .await
    .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    portable(pass.items, base)
}

/// Web links name the server that answered; `{base}` stands for it so passes compare.
fn portable(mut items: Vec<WorkItem>, base: &str) -> Vec<WorkItem> {
    for i in &mut items {
        i.url = i.url.take().map(|u| u.replace(base, "{base}"));
    }
    items
}

async fn linear_pass(base: &str) -> Vec<WorkItem> {
    let ws = LinearWorkspace {
        endpoint: format!("{base}/graphql"),
    };
    let (etags, known) = (HashMap::new(), HashMap::new());
    let pass = linear::issues(
        &lc().http,
        &ws,
        &OrgMappings::default(),
        PassInput::fresh(&etags, &known),
    )
    .await
    .unwrap();
    assert_eq!(pass.end, PassEnd::Complete);
    portable(pass.items, base)
}

/// Every file the recorder wrote, as text.
fn written(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_recorded_jira_site_replays_to_the_same_work_items_and_keeps_no_secret() {
    let live = Fake::start("jira").await;
    let reference = jira_pass(&live.base).await;
    let out = tempfile::tempdir().unwrap();
    let rec = Recorder::start("127.0.0.1:0", &live.base, out.path())
        .await
        .unwrap();
    assert_eq!(
        jira_pass(&rec.base).await,
        reference,
        "the proxy is transparent"
    );
    drop(rec);

    let files = written(out.path());
    // One fixture per request the connector made, plus routes.json.
    let requests = live.hits().len() / 2;
    assert_eq!(
        files.len(),
        requests + 1,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, text) in &files {
        assert!(!text.contains(JIRA_TOKEN), "{name} holds the token");
        assert!(
            !text.contains(&live.base),
            "{name} names the upstream origin"
        );
        assert!(
            !text.to_lowercase().contains("authorization"),
            "{name} holds a request header"
        );
    }

    let replay = Fake::start_dir(out.path().to_owned()).await;
    assert_eq!(jira_pass(&replay.base).await, reference);
}

#[tokio::test]
async fn a_recorded_linear_workspace_replays_graphql_by_request_body() {
    let live = Fake::start("linear").await;
    let reference = linear_pass(&live.base).await;
    let out = tempfile::tempdir().unwrap();
    let rec = Recorder::start("127.0.0.1:0", &live.base, out.path())
        .await
        .unwrap();
    assert_eq!(linear_pass(&rec.base).await, reference);
    drop(rec);
    for (name, text) in written(out.path()) {
        assert!(!text.contains(LINEAR_KEY), "{name} holds the key");
    }

    let replay = Fake::start_dir(out.path().to_owned()).await;
    assert_eq!(linear_pass(&replay.base).await, reference);
}
