//! Changing a password, by whatever route (a reset link, two right challenge answers, a
//! temporary password from the help desk, the forced change after one). The policy applies
//! to every change, the last five passwords cannot come back, and the change ends what the
//! old password opened: SSO sessions, refresh-token families (so refresh and access tokens),
//! remembered browsers, sign-ins waiting for a second factor and older reset links.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};

use super::password_policy::{self, PolicyError};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    authn::mfa::devices,
    crypto::password::PasswordHasher,
    store,
};

/// Previous passwords kept besides the current one: together the last five.
pub const HISTORY: u64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("that password was used recently; choose one that is not among your last 5")]
    Reused,
    #[error("the two passwords do not match")]
    Mismatch,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for ChangeError {
    fn from(e: sea_orm::DbErr) -> Self {
        ChangeError::Internal(e.into())
    }
}

/// Checks a new password (and its confirmation) without changing anything: the policy,
/// then the current and previous passwords.
pub async fn check_new(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    account: &entity::account::Model,
    new: &SecretString,
    confirm: &SecretString,
    min_len: usize,
) -> Result<(), ChangeError> {
    if new.expose_secret() != confirm.expose_secret() {
        return Err(ChangeError::Mismatch);
    }
    password_policy::check(new.expose_secret(), &account.username, min_len)?;
    let mut previous = vec![account.password_hash.clone()];
    previous.extend(store::recovery::history(c, &account.id, HISTORY).await?);
    for old in &previous {
        if hasher
            .verify(new, Some(old))
            .await
            .map_err(|e| ChangeError::Internal(e.into()))?
        {
            return Err(ChangeError::Reused);
        }
    }
    Ok(())
}

/// What the new password is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Chosen by the account holder.
    Own,
    /// Set by the help desk: it must be changed at the next sign-in.
    Temporary,
}

/// Sets a checked password (see `check_new`) and ends what the old one opened. Audited as
/// `password.changed` with `how` (e.g. "email_link", "challenge", "helpdesk").
#[allow(clippy::too_many_arguments)]
pub async fn replace(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    account: &entity::account::Model,
    new: &SecretString,
    kind: Kind,
    how: &str,
) -> Result<(), ChangeError> {
    let hash = hasher
        .hash(new)
        .await
        .map_err(|e| ChangeError::Internal(e.into()))?;
    store::recovery::set_password(c, account, hash, kind == Kind::Temporary, now).await?;
    let sessions =
        crate::authn::session::end_all_for_account(c, now, &account.id, "password changed").await?;
    let families =
        store::tokens::revoke_families_of_account(c, &account.id, "password changed", now).await?;
    let devices = devices::forget_all(c, &account.id).await?;
    store::mfa::complete_states_of_account(c, &account.id, now).await?;
    store::recovery::void_resets(c, &account.id, now).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::PasswordChanged,
        actor,
        Some(&account.id),
        serde_json::json!({
            "how": how,
            "temporary": kind == Kind::Temporary,
            "sessions_ended": sessions,
            "token_families_revoked": families,
            "devices_forgotten": devices,
        }),
    )
    .await?;
    Ok(())
}
