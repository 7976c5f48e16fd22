//! Failed sign-in attempts per account, whether the password or the second factor was
//! wrong. At `lockout.max_failures` within the window the account locks; only staff unlock
//! it. Counting happens only for accounts that exist, and the sign-in page answers a locked
//! account's wrong password exactly like any wrong password, so nothing here reveals
//! whether a user ID exists.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    accounts::users::AccountStatus,
    audit::{self, Actor, AuditEvent, RequestContext},
    config::Lockout,
    store,
};

fn key(account_id: &str) -> String {
    format!("sign-in:{account_id}")
}

/// Counts a failure; returns true if this one locked the account.
pub async fn record_failure(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    cfg: &Lockout,
    account_id: &str,
) -> Result<bool, DbErr> {
    let window = Duration::seconds(cfg.window_secs);
    let key = key(account_id);
    store::attempts::add_failure(c, &key, window, now).await?;
    if store::attempts::failures(c, &key, window, now).await? < cfg.max_failures {
        return Ok(false);
    }
    let locked = store::accounts::change_status(
        c,
        account_id,
        &[AccountStatus::Active.as_str()],
        AccountStatus::Locked.as_str(),
        now,
    )
    .await?;
    if locked {
        store::attempts::clear(c, &key).await?;
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::AccountLocked,
            Actor::System,
            Some(account_id),
            serde_json::json!({ "failures": cfg.max_failures }),
        )
        .await?;
    }
    Ok(locked)
}

/// A successful sign-in starts the count again.
pub async fn clear(c: &impl ConnectionTrait, account_id: &str) -> Result<(), DbErr> {
    store::attempts::clear(c, &key(account_id)).await
}
