//! The web UI in a real headless Chromium against a real `dev-health serve` (SQLite): first-run
//! setup → invite a member → the invite link from the mail (the log transport, as an install
//! without SMTP has) → accept in a second browser → the owner sees the member with the role.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/ensure-chromium`). Everything
//! stays on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;
use support::webdriver::Browser;

const PASSWORD: &str = "correct horse battery staple";
const WAIT: Duration = Duration::from_secs(30);

/// `dev-health serve` on a free port chosen up front, its JSON log lines kept for the test.
///
/// The public URL defaults to `http://<bind>`, and every form post is checked against its
/// origin, so the server must bind the port the browser will use (port 0 would leave
/// `http://127.0.0.1:0`). `support::Server` leaves the log on the test's stderr; this one keeps
/// the lines, which is where an install without SMTP writes its mails.
struct Serve {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl Serve {
    /// Starts the server; tries three ports in case another process takes the probed one.
    fn start(dir: &Path) -> Serve {
        for _ in 0..3 {
            if let Some(server) = Serve::try_start(dir) {
                return server;
            }
        }
        panic!("dev-health serve exited at start three times (see its log above)");
    }

    /// `None` when the process ends without listening.
    fn try_start(dir: &Path) -> Option<Serve> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = support::binary()
            .current_dir(dir)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            // The mail log line is at info; the rest of the server stays at warn.
            .env("DEV_HEALTH_LOG__LEVEL", "warn,app::identity::mail=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if v["level"] != "INFO" {
                            eprintln!("serve: {line}");
                        }
                        kept.lock().unwrap().push(v);
                    }
                    Err(_) => eprintln!("serve: {line}"),
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("dev-health listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Some(Serve { child, base, logs }),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.wait();
                None
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("dev-health serve did not start in 60 s: {:?}", child.wait());
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The link in the newest mail to `to` whose subject contains `subject`, once the worker
    /// has sent it (at most 30 s).
    async fn mailed_link(&self, to: &str, subject: &str) -> String {
        let mut link = None;
        support::eventually(30, &format!("a mail to {to} about {subject:?}"), || {
            let logs = self.logs.lock().unwrap();
            link = logs
                .iter()
                .rev()
                .filter(|v| v["to"] == to)
                .filter(|v| v["subject"].as_str().is_some_and(|s| s.contains(subject)))
                .find_map(|v| {
                    let body = v["body"].as_str()?;
                    body.split_whitespace()
                        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                        .map(str::to_owned)
                });
            std::future::ready(link.is_some())
        })
        .await;
        link.unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a URL (`http://host:port/a?b` → `/a`).
fn path_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after..];
    let rest = &rest[rest.find('/').unwrap_or(rest.len())..];
    rest.split(['?', '#']).next().unwrap_or("")
}

#[tokio::test]
async fn setup_invite_accept_in_a_second_browser_and_the_owner_sees_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(dir.path());
    let owner = Browser::start().await;
    let _owner_shot = owner.screenshot_on_failure("invite-flow-owner");

    // First run: the sign-in page points to setup; setup creates the owner and signs in.
    owner.goto(&server.url("/signin")).await;
    owner
        .wait_for(r#"a[href="/setup"]"#, WAIT)
        .await
        .click()
        .await;
    owner.wait_for("#org_name", WAIT).await;
    owner.find("#name").await.fill("Olive Owner").await;
    owner.find("#email").await.fill("owner@example.com").await;
    owner.find("#password").await.fill(PASSWORD).await;
    owner.find("#org_name").await.fill("Acme").await;
    owner
        .find(r#"form[action="/setup"] button[type="submit"]"#)
        .await
        .click()
        .await;
    owner.wait_for_url("/", WAIT, |u| path_of(u) == "/").await;
    owner.wait_for_text(".user-name", "Olive Owner", WAIT).await;
    assert_eq!(owner.find(".org-name").await.text().await, "Acme");

    // The members page (through the header link) lists the owner; invite an editor.
    owner
        .find(r#"nav a[href="/admin/members"]"#)
        .await
        .click()
        .await;
    owner.wait_for("#invite-email", WAIT).await;
    owner
        .wait_for_text("#members-heading", "People in Acme", WAIT)
        .await;
    owner
        .find("#invite-email")
        .await
        .fill("ed@example.com")
        .await;
    owner
        .find(r#"#invite-role option[value="editor"]"#)
        .await
        .click()
        .await;
    assert_eq!(
        owner.find("#invite-role").await.property("value").await,
        "editor"
    );
    owner
        .find(r#"form[action="/admin/invites"] button[type="submit"]"#)
        .await
        .click()
        .await;
    owner
        .wait_for_url("with done=invited", WAIT, |u| u.contains("done=invited"))
        .await;
    owner.wait_for_text("main", "Invitation sent.", WAIT).await;
    let pending = owner
        .wait_for_text(
            "section[aria-labelledby=invites-heading] tbody tr",
            "ed@example.com",
            WAIT,
        )
        .await;
    assert_eq!(pending.find("td").await.text().await, "editor");

    // The worker mails the link; without SMTP the mail goes to the server log.
    let link = server.mailed_link("ed@example.com", "invited you").await;
    assert!(
        link.starts_with(&server.url("/invite?token=")),
        "the invite link points at this server: {link}"
    );

    // A second browser (its own profile: no owner cookies) opens the link and joins.
    let ed = owner.new_context().await;
    let _ed_shot = ed.screenshot_on_failure("invite-flow-invitee");
    ed.goto(&link).await;
    ed.wait_for_text("h1", "Join Acme", WAIT).await;
    let facts = ed.find("table.facts").await.text().await;
    assert!(
        facts.contains("editor")
            && facts.contains("Olive Owner")
            && facts.contains("ed@example.com"),
        "{facts}"
    );
    assert!(
        ed.find_all(".user-name").await.is_empty(),
        "the second browser is not signed in as the owner"
    );
    ed.find("#name").await.fill("Ed Editor").await;
    ed.find("#password").await.fill(PASSWORD).await;
    ed.find(r#"form[action="/invite/accept"] button[type="submit"]"#)
        .await
        .click()
        .await;
    ed.wait_for_url("/", WAIT, |u| path_of(u) == "/").await;
    ed.wait_for_text(".user-name", "Ed Editor", WAIT).await;
    assert_eq!(ed.find(".org-name").await.text().await, "Acme");

    // The owner, reloading the members page, sees Ed as an editor and no pending invitation.
    owner.goto(&server.url("/admin/members")).await;
    let row = owner
        .wait_for_text(
            "section[aria-labelledby=members-heading] tbody tr",
            "ed@example.com",
            WAIT,
        )
        .await;
    assert_eq!(row.find("th").await.text().await, "Ed Editor");
    let cells = row.find_all("td").await;
    assert_eq!(cells[0].text().await, "ed@example.com");
    assert_eq!(cells[1].text().await, "editor", "the role column");
    assert_eq!(
        row.find("select[name=role]").await.property("value").await,
        "editor",
        "the role selector"
    );
    owner
        .wait_for_text("main", "No pending invitations.", WAIT)
        .await;
    // The owner is still listed, as owner.
    let me = owner
        .wait_for_text(
            "section[aria-labelledby=members-heading] tbody tr",
            "owner@example.com",
            WAIT,
        )
        .await;
    assert_eq!(me.find_all("td").await[1].text().await, "owner");
}
