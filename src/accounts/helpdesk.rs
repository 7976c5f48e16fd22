//! The help desk's side of account recovery. An agent first verifies the caller: they type
//! the answer the caller gives to the account's help-desk secret question and learn only
//! "match" or "no match" (the stored answer is an Argon2id hash; nothing can show it). A few
//! wrong tries lock verification for that account for a while. Only after a match, and only
//! for the agent who got it and for a short time, may the agent unlock the account, e-mail a
//! reset link, set a temporary password (changed at the next sign-in) or reactivate the user
//! ID. Every step is audited with the agent as actor.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::{ConnectionTrait, DbErr};
use secrecy::SecretString;

use super::{
    lifecycle, passwords,
    questions::{self, Slot},
    recovery,
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    authn::lockout,
    config::Config,
    crypto::{opaque::TokenHasher, password::PasswordHasher, seal::Sealer},
    store,
};

/// How long a match lets the agent act.
pub const VERIFIED_MINUTES: i64 = 15;
/// Wrong answers per account within `TRIES_WINDOW` before verification is locked.
pub const MAX_TRIES: u32 = 3;
pub const TRIES_WINDOW_MINUTES: i64 = 60;

fn tries_key(account_id: &str) -> String {
    format!("helpdesk-verify:{account_id}")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Match,
    NoMatch {
        tries_left: u32,
    },
    /// Too many wrong answers lately: no more tries for now.
    Locked,
    /// The account has no help-desk question (e.g. made with `user add`).
    NoQuestion,
}

pub async fn verify_caller(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    agent: &str,
    account_id: &str,
    answer: &SecretString,
) -> anyhow::Result<Verification> {
    let window = Duration::minutes(TRIES_WINDOW_MINUTES);
    let key = tries_key(account_id);
    if store::attempts::failures(c, &key, window, now).await? >= MAX_TRIES {
        return Ok(Verification::Locked);
    }
    if questions::question(c, account_id, Slot::Helpdesk)
        .await?
        .is_none()
    {
        return Ok(Verification::NoQuestion);
    }
    let ok = questions::verify(c, hasher, account_id, Slot::Helpdesk, answer)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let record = |event, details| {
        audit::record(
            c,
            now,
            ctx,
            event,
            Actor::Account(agent),
            Some(account_id),
            details,
        )
    };
    if !ok {
        store::attempts::add_failure(c, &key, window, now).await?;
        let used = store::attempts::failures(c, &key, window, now).await?;
        let tries_left = MAX_TRIES.saturating_sub(used);
        record(
            AuditEvent::HelpdeskVerificationFailed,
            serde_json::json!({ "tries_left": tries_left }),
        )
        .await?;
        return Ok(if tries_left == 0 {
            Verification::Locked
        } else {
            Verification::NoMatch { tries_left }
        });
    }
    store::attempts::clear(c, &key).await?;
    store::helpdesk::insert(
        c,
        entity::helpdesk_verification::Model {
            id: uuid::Uuid::new_v4().to_string(),
            agent_id: agent.to_owned(),
            account_id: account_id.to_owned(),
            verified_at: now,
            expires_at: now + Duration::minutes(VERIFIED_MINUTES),
        },
    )
    .await?;
    record(AuditEvent::HelpdeskCallerVerified, serde_json::json!({})).await?;
    Ok(Verification::Match)
}

/// Whether `agent` verified the caller of `account_id` within the last few minutes.
pub async fn is_verified(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    agent: &str,
    account_id: &str,
) -> Result<bool, DbErr> {
    store::helpdesk::live(c, agent, account_id, now).await
}

/// What the agent may do after a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Unlock,
    SendResetLink,
    TemporaryPassword,
    Reactivate,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unlock" => Action::Unlock,
            "reset-link" => Action::SendResetLink,
            "temporary-password" => Action::TemporaryPassword,
            "reactivate" => Action::Reactivate,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("verify the caller first: their answer to the help-desk question must match")]
    NotVerified,
    #[error("the user ID is not in a state where that applies")]
    NotApplicable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for ActionError {
    fn from(e: DbErr) -> Self {
        ActionError::Internal(e.into())
    }
}

pub struct Deps<'a> {
    pub config: &'a Config,
    pub passwords: &'a PasswordHasher,
    pub tokens: &'a TokenHasher,
    pub sealer: &'a Sealer,
}

/// Carries out `action` for a verified caller; a temporary password is returned to be read
/// to the caller (shown once, never stored in clear).
pub async fn act(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    agent: &str,
    account_id: &str,
    action: Action,
) -> Result<Option<String>, ActionError> {
    if !is_verified(c, now, agent, account_id).await? {
        return Err(ActionError::NotVerified);
    }
    let Some(account) = store::accounts::find_by_id(c, account_id).await? else {
        return Err(ActionError::NotApplicable);
    };
    let actor = Actor::Account(agent);
    match action {
        Action::Unlock => {
            if !lockout::unlock(c, now, ctx, actor, account_id, "helpdesk").await? {
                return Err(ActionError::NotApplicable);
            }
            Ok(None)
        }
        Action::Reactivate => match lifecycle::reactivate(c, now, ctx, actor, account_id).await {
            Ok(()) => Ok(None),
            Err(lifecycle::LifecycleError::Db(e)) => Err(e.into()),
            Err(_) => Err(ActionError::NotApplicable),
        },
        Action::SendResetLink => {
            recovery::send_reset_link(c, d.tokens, d.sealer, d.config, now, ctx, &account.username)
                .await?;
            audit::record(
                c,
                now,
                ctx,
                AuditEvent::HelpdeskResetLinkSent,
                actor,
                Some(account_id),
                serde_json::json!({}),
            )
            .await?;
            Ok(None)
        }
        Action::TemporaryPassword => {
            let temp = temporary_password();
            let secret = SecretString::from(temp.clone());
            passwords::replace(
                c,
                d.passwords,
                now,
                ctx,
                actor,
                &account,
                &secret,
                passwords::Kind::Temporary,
                "helpdesk",
            )
            .await
            .map_err(|e| ActionError::Internal(anyhow::anyhow!(e)))?;
            Ok(Some(temp))
        }
    }
}

/// A temporary password easy to read over the phone: four groups of four from an alphabet
/// without look-alikes (about 75 bits).
fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}
