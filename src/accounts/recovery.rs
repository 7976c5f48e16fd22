//! "Forgot user ID" and "Forgot password". Every answer a stranger can see is the same
//! whether or not the user ID or e-mail address exists: the user IDs go only to the
//! registered address, a reset link only to the account's address, and an unknown user ID
//! is shown two plausible challenge questions (picked by a keyed hash of what was typed, so
//! the same ones each time) whose answers never match.
//!
//! Two right challenge answers, or the e-mailed link (30 minutes, once), lead to a new
//! password; a wrong answer locks online access, as the dealer FAQ says, and sends the
//! person to the help desk. A reset also lifts a temporary lock; a lock only staff lift
//! stays (the person is told to call).

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use super::{
    passwords::{self, ChangeError, Kind},
    questions::{self, Slot},
    users::AccountStatus,
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    authn::lockout,
    config::{Config, Questions},
    crypto::{
        opaque::{self, Purpose, TokenHasher},
        password::PasswordHasher,
    },
    mail, store,
};

/// How long an e-mailed reset link works.
pub const LINK_MINUTES: i64 = 30;
/// How long the new-password page works after two right answers.
pub const CHALLENGE_MINUTES: i64 = 15;

/// The path of the page a reset token opens.
pub const RESET_PATH: &str = "/reset";

fn db(e: sea_orm::DbErr) -> anyhow::Error {
    e.into()
}

/// Forgot user ID: e-mails the user IDs registered to `email`, if there are any.
pub async fn remind_user_ids(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    email: &str,
) -> anyhow::Result<()> {
    let email = email.trim();
    let accounts: Vec<_> = store::recovery::accounts_by_email(c, email)
        .await
        .map_err(db)?
        .into_iter()
        .filter(|a| AccountStatus::parse(&a.status) != Some(AccountStatus::Rejected))
        .collect();
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::UserIdReminderRequested,
        Actor::Anonymous,
        None,
        serde_json::json!({ "found": accounts.len() }),
    )
    .await
    .map_err(db)?;
    let Some(first) = accounts.first() else {
        return Ok(());
    };
    let usernames: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    mail::enqueue(
        c,
        now,
        &first.email,
        mail::Template::UserIds,
        serde_json::json!({
            "name": crate::accounts::users::greeting_name(first),
            "usernames": usernames,
        }),
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Accounts that may reset their password: active, or locked (a temporary lock is lifted by
/// the reset; a staff-only lock stays, and the person is told so).
fn may_reset(a: &entity::account::Model) -> bool {
    matches!(
        AccountStatus::parse(&a.status),
        Some(AccountStatus::Active | AccountStatus::Locked)
    )
}

async fn new_reset(
    c: &impl ConnectionTrait,
    tokens: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
    method: &str,
    minutes: i64,
) -> anyhow::Result<String> {
    let token = opaque::generate();
    store::recovery::insert_reset(
        c,
        entity::password_reset::Model {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: tokens.hash(Purpose::PasswordReset, &token),
            account_id: account_id.to_owned(),
            method: method.to_owned(),
            created_at: now,
            expires_at: now + Duration::minutes(minutes),
            used_at: None,
        },
    )
    .await
    .map_err(db)?;
    Ok(token)
}

/// Forgot password, by e-mail: a one-time link to the account's registered address.
pub async fn send_reset_link(
    c: &impl ConnectionTrait,
    tokens: &TokenHasher,
    sealer: &crate::crypto::seal::Sealer,
    cfg: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    username: &str,
) -> anyhow::Result<()> {
    let account = store::accounts::find_by_username(c, username.trim())
        .await
        .map_err(db)?
        .filter(may_reset);
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::PasswordResetRequested,
        Actor::Anonymous,
        account.as_ref().map(|a| a.id.as_str()),
        serde_json::json!({ "method": "email_link", "sent": account.is_some() }),
    )
    .await
    .map_err(db)?;
    let Some(account) = account else {
        return Ok(());
    };
    let token = new_reset(c, tokens, now, &account.id, "email_link", LINK_MINUTES).await?;
    let link = format!("{}?token={token}", cfg.issuer.url(RESET_PATH));
    // The link is a secret: sealed while it waits in the outbox, not kept once sent.
    mail::enqueue_sealed(
        c,
        sealer,
        now,
        &account.email,
        mail::Template::PasswordReset,
        serde_json::json!({
            "name": crate::accounts::users::greeting_name(&account),
            "username": account.username,
            "link": link,
            "minutes": LINK_MINUTES,
            "helpdesk": format!("{} at {}", cfg.helpdesk.name, cfg.helpdesk.phone),
        }),
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// The two challenge questions to show for `username`: the account's own, or, for a user ID
/// that does not exist (or has none), two from the configured list chosen by a keyed hash of
/// what was typed, so the page looks the same and stays the same on a second try.
pub async fn challenge_questions(
    c: &impl ConnectionTrait,
    tokens: &TokenHasher,
    q: &Questions,
    username: &str,
) -> anyhow::Result<[String; 2]> {
    if let Some(a) = store::accounts::find_by_username(c, username.trim())
        .await
        .map_err(db)?
    {
        let q1 = questions::question(c, &a.id, Slot::Challenge1)
            .await
            .map_err(db)?;
        let q2 = questions::question(c, &a.id, Slot::Challenge2)
            .await
            .map_err(db)?;
        if let (Some(q1), Some(q2)) = (q1, q2) {
            return Ok([q1, q2]);
        }
    }
    let n = q.challenge.len();
    if n < 2 {
        anyhow::bail!("fewer than two challenge questions configured");
    }
    let h = tokens.hash(
        Purpose::PasswordReset,
        &format!("decoy:{}", username.trim().to_lowercase()),
    );
    let b = h.as_bytes();
    let i = usize::from(b[0]) % n;
    let j = (i + 1 + usize::from(b[1]) % (n - 1)) % n;
    Ok([q.challenge[i].clone(), q.challenge[j].clone()])
}

/// What two challenge answers led to.
#[derive(Debug)]
pub enum AnswersOutcome {
    /// Both right: the token of the new-password page.
    Reset(String),
    /// Wrong (or no such user ID): online access is locked; call the help desk.
    Locked,
}

/// Checks two challenge answers for `username`. Both are always checked (an unknown user
/// ID costs the same hashing), and one wrong answer locks the account.
#[allow(clippy::too_many_arguments)]
pub async fn check_answers(
    c: &impl ConnectionTrait,
    passwords_hasher: &PasswordHasher,
    tokens: &TokenHasher,
    cfg: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    username: &str,
    answers: [&SecretString; 2],
) -> anyhow::Result<AnswersOutcome> {
    let account = store::accounts::find_by_username(c, username.trim())
        .await
        .map_err(db)?;
    let id = account.as_ref().map_or("", |a| a.id.as_str());
    let mut right = account.is_some();
    for (slot, answer) in [
        (Slot::Challenge1, answers[0]),
        (Slot::Challenge2, answers[1]),
    ] {
        let ok = questions::verify(c, passwords_hasher, id, slot, answer)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        right &= ok;
    }
    let account = match account {
        Some(a) if right => a,
        account => {
            audit::record(
                c,
                now,
                ctx,
                AuditEvent::ChallengeFailed,
                Actor::Anonymous,
                account.as_ref().map(|a| a.id.as_str()),
                serde_json::json!({ "during": "password_reset" }),
            )
            .await
            .map_err(db)?;
            if let Some(a) = &account {
                let why = serde_json::json!({ "why": "wrong_challenge_answer" });
                lockout::lock(c, now, ctx, &cfg.lockout, &a.id, Actor::Anonymous, why)
                    .await
                    .map_err(db)?;
            }
            return Ok(AnswersOutcome::Locked);
        }
    };
    if !may_reset(&account) {
        return Ok(AnswersOutcome::Locked);
    }
    let token = new_reset(c, tokens, now, &account.id, "challenge", CHALLENGE_MINUTES).await?;
    Ok(AnswersOutcome::Reset(token))
}

/// A password the help desk set must be replaced before anything else: the sign-in leads
/// to the new-password page instead of a session.
pub async fn forced_change(
    c: &impl ConnectionTrait,
    tokens: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
) -> anyhow::Result<String> {
    new_reset(
        c,
        tokens,
        now,
        account_id,
        "forced_change",
        CHALLENGE_MINUTES,
    )
    .await
}

/// The account a live reset token is for.
pub async fn reset_account(
    c: &impl ConnectionTrait,
    tokens: &TokenHasher,
    now: DateTime<Utc>,
    token: &str,
) -> anyhow::Result<Option<(entity::password_reset::Model, entity::account::Model)>> {
    let hash = tokens.hash(Purpose::PasswordReset, token);
    let Some(reset) = store::recovery::find_live_reset(c, &hash, now)
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let account = store::accounts::find_by_id(c, &reset.account_id)
        .await
        .map_err(db)?
        .filter(may_reset);
    Ok(account.map(|a| (reset, a)))
}

/// What a finished reset leaves.
#[derive(Debug, PartialEq, Eq)]
pub enum ResetDone {
    /// Signed-in again with the new password works.
    Ready,
    /// The password changed, but a lock only staff lift is still on.
    StillLocked,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("this link has expired or was already used")]
    Expired,
    #[error(transparent)]
    Change(#[from] ChangeError),
}

/// Sets the new password behind a live reset token (once), then notifies the account.
#[allow(clippy::too_many_arguments)]
pub async fn reset_password(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    tokens: &TokenHasher,
    cfg: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    token: &str,
    new: &SecretString,
    confirm: &SecretString,
) -> Result<ResetDone, ResetError> {
    let live = reset_account(c, tokens, now, token)
        .await
        .map_err(ChangeError::Internal)?;
    let Some((reset, account)) = live else {
        return Err(ResetError::Expired);
    };
    // A refused password leaves the link usable for a better one.
    let min = cfg.accounts.password_min_length;
    passwords::check_new(c, hasher, &account, new, confirm, min).await?;
    if !store::recovery::take_reset(c, &reset.id, now)
        .await
        .map_err(|e| ChangeError::Internal(e.into()))?
    {
        return Err(ResetError::Expired);
    }
    let actor = Actor::Account(&account.id);
    passwords::replace(
        c,
        hasher,
        now,
        ctx,
        actor,
        &account,
        new,
        Kind::Own,
        &reset.method,
    )
    .await?;
    let mut done = ResetDone::Ready;
    if AccountStatus::parse(&account.status) == Some(AccountStatus::Locked) {
        if account.locked_until.is_some() {
            lockout::unlock(c, now, ctx, actor, &account.id, "password_reset")
                .await
                .map_err(|e| ChangeError::Internal(e.into()))?;
        } else {
            done = ResetDone::StillLocked;
        }
    }
    mail::enqueue(
        c,
        now,
        &account.email,
        mail::Template::PasswordChanged,
        serde_json::json!({
            "name": crate::accounts::users::greeting_name(&account),
            "username": account.username,
            "helpdesk": cfg.helpdesk.contact(),
        }),
    )
    .await
    .map_err(|e| ChangeError::Internal(e.into()))?;
    Ok(done)
}
