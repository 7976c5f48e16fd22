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
    crypto::seal::Sealer,
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
    /// A one-time sign-in code: sealed while it waits in the outbox, never kept after.
    SignInCode,
    /// "Forgot user ID": the user IDs registered to the address.
    UserIds,
    /// "Forgot password": a one-time link (sealed like a code).
    PasswordReset,
    /// The password was changed: if it was not you, call.
    PasswordChanged,
    /// The user ID will be deactivated soon for lack of use.
    InactivityWarning,
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::AccessDecision => "access_decision",
            Template::Registered => "registered",
            Template::RegistrationDecision => "registration_decision",
            Template::SignInCode => "sign_in_code",
            Template::UserIds => "user_ids",
            Template::PasswordReset => "password_reset",
            Template::PasswordChanged => "password_changed",
            Template::InactivityWarning => "inactivity_warning",
        }
    }

    /// Messages carrying a secret: their parameters are sealed in the outbox and their body is
    /// not kept once sent.
    fn sensitive(name: &str) -> bool {
        name == Template::SignInCode.name() || name == Template::PasswordReset.name()
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
    insert(
        c,
        now,
        to,
        template,
        params,
        uuid::Uuid::new_v4().to_string(),
    )
    .await
}

/// Queues a message whose parameters hold a secret (a one-time code): they are sealed with
/// the at-rest key, bound to the message id, and opened only to deliver it.
pub async fn enqueue_sealed(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    to: &str,
    template: Template,
    params: serde_json::Value,
) -> Result<(), DbErr> {
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = sealer
        .seal(params.to_string().as_bytes(), &format!("mail:{id}"))
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    insert(
        c,
        now,
        to,
        template,
        serde_json::json!({ SEALED: sealed }),
        id,
    )
    .await
}

const SEALED: &str = "sealed";

async fn insert(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    to: &str,
    template: Template,
    params: serde_json::Value,
    id: String,
) -> Result<(), DbErr> {
    store::mail::insert(
        c,
        entity::email_outbox::Model {
            id,
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
    sealer: Sealer,
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
    pub fn from_config(
        config: &Config,
        templates: Arc<Templates>,
        sealer: Sealer,
    ) -> anyhow::Result<Self> {
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
            sealer,
        })
    }

    fn render(&self, m: &entity::email_outbox::Model) -> anyhow::Result<(String, String, String)> {
        let template = m.template.as_str();
        let opened;
        let params = match m.params.get(SEALED).and_then(|v| v.as_str()) {
            Some(sealed) => {
                let bytes = self.sealer.open(sealed, &format!("mail:{}", m.id))?;
                opened = serde_json::from_slice::<serde_json::Value>(&bytes)?;
                &opened
            }
            None => &m.params,
        };
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
                // Messages carry sign-in codes and reset links: owner-only, like the
                // database (`private_files`).
                let name = format!("{}-{}.eml", m.created_at.format("%Y%m%dT%H%M%S"), m.id);
                let (path, bytes) = (dir.join(name), message.formatted());
                tokio::task::spawn_blocking(move || {
                    crate::private_files::write_creating_dirs(&path, &bytes)
                })
                .await??;
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
            let outcome = match self.render(&m) {
                Ok((subject, text, html)) => self
                    .deliver(&m, &subject, text.clone(), html)
                    .await
                    .map(|()| (subject, text)),
                Err(e) => Err(e),
            };
            match outcome {
                Ok((subject, text)) => {
                    let kept = if Template::sensitive(&m.template) {
                        "(withheld: it carried a one-time code)"
                    } else {
                        text.as_str()
                    };
                    store::mail::mark_sent(db, &m.id, &subject, kept, now).await?;
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
