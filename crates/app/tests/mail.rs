//! The mail outbox end to end: a sign-up queues its verification mail in the same transaction,
//! the `email.send` job delivers it over SMTP (to a minimal SMTP server in this test) and blanks
//! the stored payload; with SMTP unreachable the job fails and the mail stays queued.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::App;
use app::identity::mail::Transport;
use app::identity::{Client, IdentityConfig, RegisterInput};
use app::worker::{Backoff, Registry, Worker, WorkerConfig};
use domain::SystemClock;
use store::backend_tests;
use store::testing::TestDb;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Accepts SMTP sessions and records each message's DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            sink.lock().unwrap().push(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

fn app_with(db: &TestDb, transport: Transport) -> App {
    let mut config = IdentityConfig::ephemeral("http://127.0.0.1:8000");
    config.mail = transport;
    App::new(db.store.clone(), Arc::new(SystemClock), config)
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(100),
        },
        ..WorkerConfig::default()
    }
}

async fn sign_up(app: &App) {
    app.register(
        RegisterInput {
            email: "new@example.com".into(),
            password: "correct horse battery staple".into(),
            name: "New".into(),
            org_name: None,
        },
        &Client::default(),
    )
    .await
    .unwrap();
}

backend_tests! {
    async fn a_verification_mail_is_delivered_over_smtp_and_blanked(db: &TestDb) {
        let (port, got) = smtp_sink().await;
        let app = app_with(db, Transport::Smtp {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "Dev Health <no-reply@example.com>".into(),
        });
        sign_up(&app).await;
        let queued = app.pending_mail("new@example.com").await.unwrap();
        assert_eq!(queued.len(), 1);
        let link = queued[0].payload["link"].as_str().unwrap().to_owned();
        assert!(link.starts_with("http://127.0.0.1:8000/verify-email?token="));

        let stop = CancellationToken::new();
        let worker = tokio::spawn(Worker::new(app.clone(), Registry::builtin(), worker_config()).run(stop.clone()));
        for _ in 0..200 {
            if !got.lock().unwrap().is_empty() && app.pending_mail("new@example.com").await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
        worker.await.unwrap();
        let messages = got.lock().unwrap().clone();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("Subject: Confirm your email"), "{}", messages[0]);
        assert!(messages[0].contains(&link[..40]), "the link is in the body");
        assert!(app.pending_mail("new@example.com").await.unwrap().is_empty(), "the payload is blanked once sent");
    }

    async fn an_unreachable_relay_keeps_the_mail_queued(db: &TestDb) {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let app = app_with(db, Transport::Smtp {
            url: format!("smtp://127.0.0.1:{closed}"),
            from: "no-reply@example.com".into(),
        });
        sign_up(&app).await;
        let stop = CancellationToken::new();
        let worker = tokio::spawn(Worker::new(app.clone(), Registry::builtin(), worker_config()).run(stop.clone()));
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.cancel();
        worker.await.unwrap();
        assert_eq!(app.pending_mail("new@example.com").await.unwrap().len(), 1, "not lost");
        let dead_or_queued = app.job_counts().await.unwrap();
        assert!(!dead_or_queued.is_empty());
    }
}
