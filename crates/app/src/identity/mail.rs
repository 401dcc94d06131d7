//! Mail: templates, the outbox (identity spec §1.2) and the `email.send` job.
//!
//! A mail is written, encrypted, to `email_outbox` in the same transaction as the change that
//! causes it, together with the job that sends it, so it is sent if and only if the change
//! commits. The job decrypts the payload, renders the message and hands it to the configured
//! transport — SMTP (lettre) when configured, otherwise the server log, which is meant for local
//! installs only — then blanks the payload.

use auth::secrets::Place;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use store::Conn;
use store::identity::outbox;
use store::jobs::{self, NewJob};
use uuid::Uuid;

use crate::worker::{JobContext, JobError, JobHandler};
use crate::{App, Result};

/// The job kind that sends one outbox mail.
pub const SEND_KIND: &str = "email.send";

/// The mails the product sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Confirm your address (`link`).
    VerifyEmail,
    /// Someone tried to sign up with your address.
    AccountExists,
    /// Reset your password (`link`).
    PasswordReset,
    /// Your password was changed or reset.
    PasswordChanged,
    /// Join an org (`link`, `org_name`, `inviter_name`, `role`).
    Invite,
    /// A refresh token was reused; the session was ended.
    RefreshReuse,
    /// Ownership of an org moved (`org_name`, `new_owner`).
    OwnershipTransferred,
}

impl Template {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Template::VerifyEmail => "verify_email",
            Template::AccountExists => "account_exists",
            Template::PasswordReset => "password_reset",
            Template::PasswordChanged => "password_changed",
            Template::Invite => "invite",
            Template::RefreshReuse => "refresh_reuse",
            Template::OwnershipTransferred => "ownership_transferred",
        }
    }

    fn subject_and_body(self, p: &Value) -> (String, String) {
        let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match self {
            Template::VerifyEmail => (
                "Confirm your email for Dev Health".into(),
                format!("Confirm your email address by opening this link within 24 hours:\n\n{}\n\nIf you did not sign up, ignore this mail.", s("link")),
            ),
            Template::AccountExists => (
                "You already have a Dev Health account".into(),
                format!("Someone tried to sign up with this address, which already has an account.\nSign in: {}\nForgot your password? {}\n", s("signin_link"), s("forgot_link")),
            ),
            Template::PasswordReset => (
                "Reset your Dev Health password".into(),
                format!("Choose a new password within one hour:\n\n{}\n\nIf you did not ask for this, ignore this mail; your password is unchanged.", s("link")),
            ),
            Template::PasswordChanged => (
                "Your Dev Health password was changed".into(),
                "Your password was just changed and your other sessions were signed out. If this was not you, reset your password now.".into(),
            ),
            Template::Invite => (
                format!("{} invited you to {} on Dev Health", s("inviter_name"), s("org_name")),
                format!("{} invited you to join {} as {}.\nAccept within 72 hours:\n\n{}\n", s("inviter_name"), s("org_name"), s("role"), s("link")),
            ),
            Template::RefreshReuse => (
                "A Dev Health session was ended for your safety".into(),
                format!("A sign-in token of yours was used twice (last from {} / {}), so that session was ended. If this was not you, change your password.", s("ip"), s("user_agent")),
            ),
            Template::OwnershipTransferred => (
                format!("Ownership of {} was transferred", s("org_name")),
                format!("{} is now the owner of {}.", s("new_owner"), s("org_name")),
            ),
        }
    }

    fn parse(name: &str) -> Option<Template> {
        [
            Template::VerifyEmail,
            Template::AccountExists,
            Template::PasswordReset,
            Template::PasswordChanged,
            Template::Invite,
            Template::RefreshReuse,
            Template::OwnershipTransferred,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

/// How mail leaves the server.
#[derive(Debug, Clone, Default)]
pub enum Transport {
    /// Write the message, links included, to the server log (local installs only).
    #[default]
    Log,
    /// Send through an SMTP relay.
    Smtp {
        /// `smtp://host:port` (plain or STARTTLS when offered) or `smtps://host:port`, with
        /// optional `user:password@`.
        url: String,
        /// The From address.
        from: String,
    },
}

/// A rendered message (for the log transport, tests and `dev-health admin emails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Recipient.
    pub to: String,
    /// Template name.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// The payload fields (links included).
    pub payload: Value,
}

fn place(id: &str) -> Place<'_> {
    Place {
        table: "email_outbox",
        column: "payload_enc",
        row_id: id,
        org_id: "",
    }
}

impl App {
    /// Queues a mail in `conn`'s transaction, with the job that sends it.
    pub(crate) async fn queue_mail(
        &self,
        conn: &mut Conn<'_>,
        org: Option<domain::OrgId>,
        to_norm: &str,
        template: Template,
        payload: Value,
    ) -> Result<()> {
        let now = self.clock().now();
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let sealed = self
            .identity()
            .config
            .keys
            .secrets
            .encrypt(payload.to_string().as_bytes(), &place(&id_text));
        outbox::insert(conn, id, org, to_norm, template.as_str(), &sealed, now).await?;
        jobs::enqueue(
            conn,
            &NewJob {
                max_attempts: 8,
                dedupe_key: Some(format!("email:{id}")),
                ..NewJob::new(SEND_KIND, serde_json::json!({ "id": id }))
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// A link under the public URL.
    pub(crate) fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.identity().config.public_url)
    }

    /// The unsent mails to an address, rendered (tests, and operators of installs without
    /// SMTP: `dev-health admin emails`).
    pub async fn pending_mail(&self, to_norm: &str) -> Result<Vec<Message>> {
        let mut c = self.store().acquire().await?;
        let rows = outbox::to_address(&mut c.conn(), to_norm).await?;
        Ok(rows.iter().filter_map(|r| self.render(r).ok()).collect())
    }

    fn render(&self, row: &outbox::Email) -> std::result::Result<Message, String> {
        let sealed = row.payload_enc.as_deref().ok_or("already sent")?;
        let id = row.id.0.to_string();
        let plain = self
            .identity()
            .config
            .keys
            .secrets
            .decrypt(sealed, &place(&id))
            .map_err(|e| format!("payload does not decrypt: {e}"))?;
        let payload: Value =
            serde_json::from_slice(&plain).map_err(|e| format!("payload is not JSON: {e}"))?;
        let template = Template::parse(&row.template)
            .ok_or_else(|| format!("unknown template {:?}", row.template))?;
        let (subject, body) = template.subject_and_body(&payload);
        Ok(Message {
            to: row.to_norm.clone(),
            template: row.template.clone(),
            subject,
            body,
            payload,
        })
    }

    async fn send_outbox(&self, id: Uuid) -> std::result::Result<(), String> {
        let mut c = self.store().acquire().await.map_err(|e| e.to_string())?;
        let Some(row) = outbox::get(&mut c.conn(), id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if row.sent_at.is_some() {
            return Ok(());
        }
        let message = self.render(&row)?;
        let sent = match &self.identity().config.mail {
            Transport::Log => {
                tracing::info!(to = %message.to, subject = %message.subject, body = %message.body, "email (log transport; configure mail.smtp_url to send)");
                Ok(())
            }
            Transport::Smtp { url, from } => smtp::send(url, from, &message).await,
        };
        let now = self.clock().now();
        match sent {
            Ok(()) => outbox::mark_sent(&mut c.conn(), id, now)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => {
                let _ = outbox::mark_failed(&mut c.conn(), id, &e, now).await;
                Err(e)
            }
        }
    }
}

/// Sends queued mail.
#[derive(Debug, Clone, Copy)]
pub struct MailHandler;

impl JobHandler for MailHandler {
    fn kind(&self) -> &'static str {
        SEND_KIND
    }

    fn run(&self, ctx: JobContext) -> BoxFuture<'static, std::result::Result<(), JobError>> {
        async move {
            let id = ctx
                .job
                .payload
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| JobError::Failed("email.send payload has no id".into()))?;
            ctx.app.send_outbox(id).await.map_err(JobError::Failed)
        }
        .boxed()
    }
}

mod smtp {
    use lettre::message::Mailbox;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

    use super::Message;

    pub(super) async fn send(url: &str, from: &str, m: &Message) -> Result<(), String> {
        let from: Mailbox = from.parse().map_err(|e| format!("mail.from: {e}"))?;
        let to: Mailbox = m.to.parse().map_err(|e| format!("recipient: {e}"))?;
        let mail = Mail::builder()
            .from(from)
            .to(to)
            .subject(&m.subject)
            .body(m.body.clone())
            .map_err(|e| format!("building the message: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("mail.smtp_url: {e}"))?
            .build();
        transport
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}
