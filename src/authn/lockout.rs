//! Failed sign-in attempts per account, whether the password or the second factor was
//! wrong. At `lockout.max_failures` within the window the account locks, by the policy of
//! its kind: a **temporary** lock (cardholders) ends by itself after a period that doubles
//! with each lock since the last successful sign-in, or at a verified password reset; an
//! **until unlocked** lock (dealer staff, as their FAQ says) ends only when the help desk or
//! an administrator unlocks it. Counting happens only for accounts that exist, and the
//! sign-in page answers a locked account's wrong password exactly like any wrong password,
//! so nothing here reveals whether a user ID exists.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    accounts::users::{AccountKind, AccountStatus},
    audit::{self, Actor, AuditEvent, RequestContext},
    config::{Config, LockPolicy, Lockout},
    store,
};

fn key(account_id: &str) -> String {
    format!("sign-in:{account_id}")
}

pub fn policy(cfg: &Lockout, kind: AccountKind) -> LockPolicy {
    match kind {
        AccountKind::Cardholder => cfg.cardholder,
        AccountKind::Dealer => cfg.dealer,
        AccountKind::Other => cfg.other,
    }
}

/// How long the next temporary lock lasts after `previous_locks` locks.
pub fn temporary_period(cfg: &Lockout, previous_locks: i32) -> Duration {
    let doublings = u32::try_from(previous_locks.clamp(0, 20)).unwrap_or(0);
    let secs = cfg
        .temporary_secs
        .saturating_mul(1_i64 << doublings)
        .min(cfg.temporary_max_secs);
    Duration::seconds(secs)
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
    let details = serde_json::json!({ "failures": cfg.max_failures });
    lock(c, now, ctx, cfg, account_id, Actor::System, details).await
}

/// Locks an active account by its kind's policy (audited as `account.locked`); false if it
/// was not active.
pub async fn lock(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    cfg: &Lockout,
    account_id: &str,
    actor: Actor<'_>,
    mut details: serde_json::Value,
) -> Result<bool, DbErr> {
    let Some(account) = store::accounts::find_by_id(c, account_id).await? else {
        return Ok(false);
    };
    let until = match policy(cfg, AccountKind::of(&account)) {
        LockPolicy::Temporary => Some(now + temporary_period(cfg, account.lock_count)),
        LockPolicy::UntilUnlocked => None,
    };
    if !store::accounts::lock(c, account_id, until, now).await? {
        return Ok(false);
    }
    store::attempts::clear(c, &key(account_id)).await?;
    // A lock may mean someone else has the password: the applications are told too.
    let sessions =
        super::session::end_all_for_account(c, now, account_id, "account locked").await?;
    if let Some(d) = details.as_object_mut() {
        d.insert("until".into(), serde_json::json!(until));
        d.insert("sessions_ended".into(), serde_json::json!(sessions));
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccountLocked,
        actor,
        Some(account_id),
        details,
    )
    .await?;
    Ok(true)
}

/// The account's status now, with the time-based rules applied first (each audited), so
/// they hold whether or not the periodic job ran: a user ID unused for too long is
/// deactivated, and a temporary lock whose time has come is lifted.
pub async fn current_status(
    c: &impl ConnectionTrait,
    cfg: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account: &mut entity::account::Model,
) -> Result<Option<AccountStatus>, DbErr> {
    if crate::accounts::inactivity::enforce(c, &cfg.inactivity, now, ctx, account).await? {
        return Ok(Some(AccountStatus::Deactivated));
    }
    let status = AccountStatus::parse(&account.status);
    let expired = account.locked_until.is_some_and(|t| t <= now);
    if status == Some(AccountStatus::Locked)
        && expired
        && store::accounts::unlock(c, &account.id, now, true).await?
    {
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::AccountUnlocked,
            Actor::System,
            Some(&account.id),
            serde_json::json!({ "why": "lock_expired" }),
        )
        .await?;
        account.status = AccountStatus::Active.as_str().to_owned();
        account.locked_until = None;
        return Ok(Some(AccountStatus::Active));
    }
    Ok(status)
}

/// Unlocks a locked account (staff, or a verified password reset of a temporary lock).
pub async fn unlock(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    account_id: &str,
    why: &str,
) -> Result<bool, DbErr> {
    if !store::accounts::unlock(c, account_id, now, false).await? {
        return Ok(false);
    }
    store::attempts::clear(c, &key(account_id)).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccountUnlocked,
        actor,
        Some(account_id),
        serde_json::json!({ "why": why }),
    )
    .await?;
    Ok(true)
}

/// A successful sign-in starts the count again.
pub async fn clear(c: &impl ConnectionTrait, account_id: &str) -> Result<(), DbErr> {
    store::attempts::clear(c, &key(account_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_locks_double_up_to_the_cap() {
        let cfg = Lockout {
            max_failures: 5,
            window_secs: 3600,
            cardholder: LockPolicy::Temporary,
            dealer: LockPolicy::UntilUnlocked,
            other: LockPolicy::UntilUnlocked,
            temporary_secs: 900,
            temporary_max_secs: 86_400,
        };
        assert_eq!(temporary_period(&cfg, 0), Duration::minutes(15));
        assert_eq!(temporary_period(&cfg, 1), Duration::minutes(30));
        assert_eq!(temporary_period(&cfg, 3), Duration::hours(2));
        assert_eq!(temporary_period(&cfg, 7), Duration::days(1));
        assert_eq!(temporary_period(&cfg, 1000), Duration::days(1));
        assert_eq!(policy(&cfg, AccountKind::Dealer), LockPolicy::UntilUnlocked);
        assert_eq!(policy(&cfg, AccountKind::Cardholder), LockPolicy::Temporary);
    }
}
