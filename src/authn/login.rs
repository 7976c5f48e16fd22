//! Password sign-in. "No such user" and "wrong password" are one error that takes the same
//! time (the password is checked against a dummy hash when the user does not exist), so the
//! sign-in form cannot be used to find out which user IDs exist.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use crate::{
    accounts::users::AccountStatus,
    audit::{self, Actor, AuditEvent, RequestContext},
    config::Config,
    crypto::password::PasswordHasher,
    store,
};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user ID or wrong password: indistinguishable on purpose.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right but the account cannot sign in now. Only said after the
    /// password checked out, so it reveals nothing to someone guessing.
    #[error("account is {0:?}")]
    NotActive(AccountStatus, Box<entity::account::Model>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The password checked against the stored hash, before any write transaction begins:
/// Argon2 takes tens of milliseconds, and holding a write transaction (on SQLite, the one
/// write lock) through it made every sign-in wait for the one before.
#[derive(Debug)]
pub struct PasswordCheck {
    /// The hash the password was checked against (None: no such user ID).
    hash: Option<String>,
    ok: bool,
}

/// Checks `password` for `username` (against the dummy hash when there is no such user,
/// so both take the same time). Reads only.
#[tracing::instrument(skip_all)]
pub async fn check_password(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    username: &str,
    password: &SecretString,
) -> anyhow::Result<PasswordCheck> {
    let account = store::accounts::find_by_username(c, username).await?;
    let hash = account.map(|a| a.password_hash);
    let ok = hasher.verify(password, hash.as_deref()).await?;
    Ok(PasswordCheck { hash, ok })
}

/// Applies a `check_password` result in the sign-in's transaction and records the outcome in
/// the audit log. The account is read again here: if its password changed since the check,
/// the check counts for nothing.
#[tracing::instrument(skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn authenticate(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    cfg: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    username: &str,
    password: &SecretString,
    checked: PasswordCheck,
) -> Result<entity::account::Model, LoginError> {
    let mut account = store::accounts::find_by_username(c, username)
        .await
        .map_err(anyhow::Error::from)?;
    // A temporary lock whose time has come is lifted first, so that new failures count
    // toward the next (longer) lock.
    let mut status = None;
    if let Some(a) = account.as_mut() {
        status = super::lockout::current_status(c, cfg, now, ctx, a)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let ok = checked.ok
        && account
            .as_ref()
            .is_some_and(|a| checked.hash.as_deref() == Some(a.password_hash.as_str()));
    if let Some(a) = account.as_ref().filter(|_| !ok) {
        // A wrong password for a real account counts toward its lockout.
        super::lockout::record_failure(c, now, ctx, &cfg.lockout, &a.id)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let Some(account) = account.filter(|_| ok) else {
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::LoginFailed,
            Actor::Anonymous,
            None,
            // The typed user ID helps investigations; the password never goes anywhere.
            serde_json::json!({ "username": username.chars().take(64).collect::<String>() }),
        )
        .await
        .map_err(anyhow::Error::from)?;
        return Err(LoginError::InvalidCredentials);
    };
    let status =
        status.ok_or_else(|| anyhow::anyhow!("account {} has unknown status", account.id))?;
    if status != AccountStatus::Active {
        return Err(LoginError::NotActive(status, Box::new(account)));
    }
    if hasher.needs_rehash(&account.password_hash) {
        // The configured Argon2 cost was raised (or the hash is older): store a new hash of
        // the same password now that we hold it.
        let upgraded = hasher.hash(password).await.map_err(anyhow::Error::from)?;
        store::accounts::set_password_hash(c, &account.id, &upgraded)
            .await
            .map_err(anyhow::Error::from)?;
        tracing::info!(account = %account.id, "password hash upgraded to the configured parameters");
    }
    Ok(account)
}

/// Records a finished sign-in: the account's last sign-in time (inactivity counts from it)
/// and the audit event with the methods shown. Called only once every factor the sign-in
/// needed was shown, so a password alone never counts as a sign-in when a second factor
/// was due.
pub async fn record_success(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    amr: &[String],
) -> Result<(), sea_orm::DbErr> {
    store::accounts::touch_last_login(c, account_id, now).await?;
    super::lockout::clear(c, account_id).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::LoginSucceeded,
        Actor::Account(account_id),
        Some(account_id),
        serde_json::json!({ "amr": amr }),
    )
    .await
}
