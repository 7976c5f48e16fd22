//! Deactivating and reactivating a user ID. Deactivation takes effect at once: every SSO
//! session ends and every token family (so every refresh and access token) is revoked in the
//! same transaction as the status change.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::users::AccountStatus;
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("the user ID is not active")]
    NotActive,
    #[error("the user ID is not deactivated")]
    NotDeactivated,
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub async fn deactivate(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    account_id: &str,
    reason: &str,
) -> Result<(), LifecycleError> {
    let from = [
        AccountStatus::Active.as_str(),
        AccountStatus::Locked.as_str(),
    ];
    if !store::accounts::change_status(
        c,
        account_id,
        &from,
        AccountStatus::Deactivated.as_str(),
        now,
    )
    .await?
    {
        return Err(LifecycleError::NotActive);
    }
    let sessions =
        crate::authn::session::end_all_for_account(c, now, account_id, "account deactivated")
            .await?;
    let families =
        store::tokens::revoke_families_of_account(c, account_id, "account deactivated", now)
            .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccountDeactivated,
        actor,
        Some(account_id),
        serde_json::json!({
            "reason": reason,
            "sessions_ended": sessions,
            "token_families_revoked": families,
        }),
    )
    .await?;
    Ok(())
}

pub async fn reactivate(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    account_id: &str,
) -> Result<(), LifecycleError> {
    if !store::accounts::change_status(
        c,
        account_id,
        &[AccountStatus::Deactivated.as_str()],
        AccountStatus::Active.as_str(),
        now,
    )
    .await?
    {
        return Err(LifecycleError::NotDeactivated);
    }
    // The inactivity clock counts from the reactivation.
    store::accounts::set_activated(c, account_id, now).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccountReactivated,
        actor,
        Some(account_id),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}
