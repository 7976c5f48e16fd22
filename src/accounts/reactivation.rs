//! Asking for a deactivated user ID back. Only someone who entered the right password at
//! sign-in gets here (with a ticket), and they must also answer both challenge questions;
//! wrong answers are counted like registration's guesses. The request then joins the
//! review queue like any User ID Request.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use super::{
    attempts::{Limiter, Record},
    questions::{self, Slot},
};
use crate::{
    access::requests::{self, Details, Kind, RequestError, UserIdRequest},
    audit::{self, Actor, AuditEvent, RequestContext},
    crypto::password::PasswordHasher,
};

pub const TICKET_PURPOSE: &str = "reactivate";
pub const TICKET_MINUTES: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum ReactivationError {
    #[error("This user ID has no challenge questions. Please call the help desk to reactivate it.")]
    NoQuestions,
    #[error(
        "Those answers do not match our records. After several unsuccessful tries, requests are paused for a while."
    )]
    WrongAnswers,
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for ReactivationError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

/// The account's two challenge questions, if both are set.
pub async fn questions_of(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Option<[String; 2]>, sea_orm::DbErr> {
    let q1 = questions::question(c, account_id, Slot::Challenge1).await?;
    let q2 = questions::question(c, account_id, Slot::Challenge2).await?;
    Ok(q1.zip(q2).map(|(a, b)| [a, b]))
}

/// Checks both answers and, if right, files the reactivation request. A failure is counted
/// and audited in `c`; the caller commits it.
#[allow(clippy::too_many_arguments)]
pub async fn request(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    limiter: &Limiter,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account: &entity::account::Model,
    answers: [&SecretString; 2],
    details: Details,
) -> Result<String, ReactivationError> {
    if questions_of(c, &account.id).await?.is_none() {
        return Err(ReactivationError::NoQuestions);
    }
    let ip = ctx.client_ip.as_deref();
    let record = Record::Answers(&account.id);
    let blocked =
        limiter.ip_blocked(c, ip, now).await? || limiter.record_blocked(c, record, now).await?;
    // Both answers are always checked, so timing does not say which one was wrong.
    let first = questions::verify(c, hasher, &account.id, Slot::Challenge1, answers[0])
        .await
        .map_err(anyhow::Error::new)?;
    let second = questions::verify(c, hasher, &account.id, Slot::Challenge2, answers[1])
        .await
        .map_err(anyhow::Error::new)?;
    if blocked || !(first && second) {
        limiter.fail(c, Some(record), ip, now).await?;
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::ChallengeFailed,
            Actor::Anonymous,
            Some(&account.id),
            serde_json::json!({ "purpose": "reactivation", "rate_limited": blocked }),
        )
        .await?;
        return Err(ReactivationError::WrongAnswers);
    }
    limiter.succeed(c, record).await?;
    Ok(requests::file_user_id_request(
        c,
        now,
        ctx,
        Actor::Account(&account.id),
        account,
        UserIdRequest {
            kind: Kind::Reactivate,
            client_id: None,
            reason: None,
            details,
        },
    )
    .await?)
}
