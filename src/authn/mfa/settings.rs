//! Changing an account's factors from its settings. Every change is audited, and any change
//! to the factors forgets the browsers remembered for the account (a remembered browser
//! stood in for the old factors, not for whatever replaces them).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{devices, recovery, totp};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    crypto::{opaque::TokenHasher, seal::Sealer},
    store,
};

async fn record(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    event: AuditEvent,
    account_id: &str,
    details: serde_json::Value,
) -> Result<(), sea_orm::DbErr> {
    audit::record(
        c,
        now,
        ctx,
        event,
        Actor::Account(account_id),
        Some(account_id),
        details,
    )
    .await
}

/// A factor was added or removed: remembered browsers no longer count.
async fn factors_changed(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let forgotten = devices::forget_all(c, account_id).await?;
    if forgotten > 0 {
        record(
            c,
            now,
            ctx,
            AuditEvent::DevicesForgotten,
            account_id,
            serde_json::json!({ "devices": forgotten, "why": "factor_change" }),
        )
        .await?;
    }
    Ok(())
}

/// Confirms an authenticator app with one code. On success returns the account's new
/// recovery codes (to show once); `None` for a wrong code.
pub async fn enable_totp(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    code: &str,
) -> Result<Option<Vec<String>>, totp::TotpError> {
    if !totp::confirm(c, sealer, now, account_id, code).await? {
        return Ok(None);
    }
    record(
        c,
        now,
        ctx,
        AuditEvent::TotpEnabled,
        account_id,
        serde_json::json!({}),
    )
    .await?;
    factors_changed(c, now, ctx, account_id).await?;
    Ok(Some(
        regenerate_recovery(c, hasher, now, ctx, account_id).await?,
    ))
}

/// Removes the authenticator app (the caller has re-checked the password).
pub async fn remove_totp(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    if !store::mfa::delete_totp(c, account_id).await? {
        return Ok(false);
    }
    record(
        c,
        now,
        ctx,
        AuditEvent::TotpRemoved,
        account_id,
        serde_json::json!({}),
    )
    .await?;
    factors_changed(c, now, ctx, account_id).await?;
    Ok(true)
}

/// A new set of recovery codes; the old set stops working.
pub async fn regenerate_recovery(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let codes = recovery::regenerate(c, hasher, now, account_id).await?;
    record(
        c,
        now,
        ctx,
        AuditEvent::RecoveryCodesGenerated,
        account_id,
        serde_json::json!({ "count": codes.len() }),
    )
    .await?;
    Ok(codes)
}

/// "Forget all remembered browsers", asked for by the person.
pub async fn forget_devices(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
) -> Result<u64, sea_orm::DbErr> {
    let n = devices::forget_all(c, account_id).await?;
    record(
        c,
        now,
        ctx,
        AuditEvent::DevicesForgotten,
        account_id,
        serde_json::json!({ "devices": n, "why": "user" }),
    )
    .await?;
    Ok(n)
}

/// Records a passkey just added (see `passkeys::finish_registration`). Returns recovery
/// codes to show once if the account had none: a passkey can be lost like a phone.
pub async fn passkey_added(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    passkey: &entity::passkey::Model,
) -> Result<Option<Vec<String>>, sea_orm::DbErr> {
    record(
        c,
        now,
        ctx,
        AuditEvent::PasskeyAdded,
        account_id,
        serde_json::json!({ "passkey": passkey.id, "name": passkey.name }),
    )
    .await?;
    factors_changed(c, now, ctx, account_id).await?;
    if store::mfa::unused_recovery_codes(c, account_id).await? > 0 {
        return Ok(None);
    }
    Ok(Some(
        regenerate_recovery(c, hasher, now, ctx, account_id).await?,
    ))
}

/// Removes one of the account's passkeys (the caller has re-checked the password).
pub async fn remove_passkey(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    passkey_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    if !store::passkeys::delete(c, account_id, passkey_id).await? {
        return Ok(false);
    }
    record(
        c,
        now,
        ctx,
        AuditEvent::PasskeyRemoved,
        account_id,
        serde_json::json!({ "passkey": passkey_id }),
    )
    .await?;
    factors_changed(c, now, ctx, account_id).await?;
    Ok(true)
}
