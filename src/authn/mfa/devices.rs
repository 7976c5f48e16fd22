//! "Remember this device": a browser that completed a second factor for an account may skip
//! it for that account for a while. The browser holds one random token (a persistent,
//! HttpOnly, Strict cookie); the server stores a keyed hash of token and account together,
//! so the token is worth nothing for any other account, and nothing stored can be replayed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    crypto::opaque::{self, Purpose, TokenHasher},
    store,
};

fn key(hasher: &TokenHasher, token: &str, account_id: &str) -> String {
    hasher.hash(Purpose::RememberedDevice, &format!("{account_id}:{token}"))
}

/// Remembers this browser for the account; returns the token for the cookie (the browser's
/// existing one when it has one, so one browser can be remembered for several accounts).
pub async fn remember(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
    existing_token: Option<&str>,
    days: i64,
) -> Result<String, DbErr> {
    let token = existing_token
        .filter(|t| t.len() == 43)
        .map_or_else(opaque::generate, str::to_owned);
    let token_hash = key(hasher, &token, account_id);
    if store::mfa::find_device(c, &token_hash).await?.is_none() {
        store::mfa::insert_device(
            c,
            entity::remembered_device::Model {
                token_hash,
                account_id: account_id.to_owned(),
                created_at: now,
                expires_at: now + Duration::days(days),
            },
        )
        .await?;
    }
    Ok(token)
}

/// Whether this browser's token was remembered for the account and has not expired.
pub async fn is_remembered(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
    token: Option<&str>,
) -> Result<bool, DbErr> {
    let Some(token) = token else { return Ok(false) };
    Ok(store::mfa::find_device(c, &key(hasher, token, account_id))
        .await?
        .is_some_and(|d| d.account_id == account_id && d.expires_at > now))
}

/// Forgets every remembered browser of the account (password reset, factor change).
pub async fn forget_all(c: &impl ConnectionTrait, account_id: &str) -> Result<u64, DbErr> {
    store::mfa::delete_devices(c, account_id).await
}
