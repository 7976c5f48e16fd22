//! E-mail through a transactional outbox. Domain code calls `enqueue` inside the transaction
//! of the change that causes the message, storing only the template name and its parameters;
//! the `Mailer` later renders and delivers each message exactly once (claimed with a
//! conditional update, so several nodes may run it), either to an SMTP server (lettre) or,
//! by default, as an `.eml` file under `<data_dir>/outbox/` that a person or a test can read.

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::authentication::Credentials,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use secrecy::ExposeSecret;

use crate::{
    config::{Config, MailTransport, SmtpSecurity},
    store,
    web::Templates,
};

/// The messages the provider sends. Each has `email/<name>.subject.txt`, `.txt` and `.html`.
#[derive(Clone, Copy, Debug)]
pub enum Template {
    AccessDecision,
    /// A new user ID: active (cardholders) or being reviewed (dealer staff).
    Registered,
    RegistrationDecision,
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::AccessDecision => "access_decision",
            Template::Registered => "registered",
            Template::RegistrationDecision => "registration_decision",
        }
    }
}

/// Queues a message in the caller's transaction.
pub async fn enqueue(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    to: &str,
    template: Template,
    params: serde_json::Value,
) -> Result<(), DbErr> {
    store::mail::insert(
        c,
        entity::email_outbox::Model {
            id: uuid::Uuid::new_v4().to_string(),
            to_addr: to.to_owned(),
            template: template.name().to_owned(),
            params,
            subject: None,
            body_text: None,
            created_at: now,
            claimed_at: None,
            sent_at: None,
            attempts: 0,
            last_error: None,
        },
    )
    .await
}

enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Arc<Templates>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Outbox(_) => "outbox",
            Transport::Smtp(_) => "smtp",
        };
        f.debug_struct("Mailer").field("transport", &kind).finish()
    }
}

/// A message that failed this many times is left for an operator (its last error is kept).
const MAX_ATTEMPTS: i32 = 5;
/// A claim older than this is considered abandoned (its node died mid-delivery).
const CLAIM_TIMEOUT_SECS: i64 = 300;

impl Mailer {
    pub fn from_config(config: &Config, templates: Arc<Templates>) -> anyhow::Result<Self> {
        let from: Mailbox = config.mail.from.parse().map_err(|e| {
            anyhow::anyhow!("mail.from `{}` is not an address: {e}", config.mail.from)
        })?;
        let transport = match config.mail.transport {
            MailTransport::Outbox => Transport::Outbox(config.data_dir.join("outbox")),
            MailTransport::Smtp => {
                let s = &config.mail.smtp;
                if s.host.is_empty() {
                    anyhow::bail!("mail.transport is smtp but mail.smtp.host is empty");
                }
                let builder = match s.security {
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
                    SmtpSecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?
                    }
                    SmtpSecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    }
                };
                let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(20)));
                if !s.username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        s.username.clone(),
                        s.password.expose_secret().to_owned(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self {
            transport,
            from,
            templates,
        })
    }

    fn render(
        &self,
        template: &str,
        params: &serde_json::Value,
    ) -> anyhow::Result<(String, String, String)> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(params));
        let subject = self
            .templates
            .render(&format!("email/{template}.subject.txt"), ctx.clone())?;
        let text = self
            .templates
            .render(&format!("email/{template}.txt"), ctx.clone())?;
        let html = self
            .templates
            .render(&format!("email/{template}.html"), ctx)?;
        Ok((subject.trim().to_owned(), text, html))
    }

    async fn deliver(
        &self,
        m: &entity::email_outbox::Model,
        subject: &str,
        text: String,
        html: String,
    ) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(m.to_addr.parse()?)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        match &self.transport {
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let name = format!("{}-{}.eml", m.created_at.format("%Y%m%dT%H%M%S"), m.id);
                tokio::fs::write(dir.join(name), message.formatted()).await?;
            }
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }

    /// Delivers every due message; returns how many were sent. Safe to run concurrently.
    pub async fn deliver_due(
        &self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> Result<usize, DbErr> {
        let stale = now - chrono::Duration::seconds(CLAIM_TIMEOUT_SECS);
        let mut sent = 0;
        for m in store::mail::due(db, stale, MAX_ATTEMPTS, 50).await? {
            if !store::mail::claim(db, &m.id, stale, now).await? {
                continue;
            }
            let outcome = match self.render(&m.template, &m.params) {
                Ok((subject, text, html)) => self
                    .deliver(&m, &subject, text.clone(), html)
                    .await
                    .map(|()| (subject, text)),
                Err(e) => Err(e),
            };
            match outcome {
                Ok((subject, text)) => {
                    store::mail::mark_sent(db, &m.id, &subject, &text, now).await?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(id = %m.id, error = %e, "e-mail delivery failed; will retry");
                    store::mail::mark_failed(db, &m.id, &e.to_string()).await?;
                }
            }
        }
        Ok(sent)
    }
}
