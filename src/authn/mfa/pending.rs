//! A sign-in between its password and its second factor, or a signed-in session stepping
//! up: a server-side row keyed by the hash of a random cookie value (DESIGN: ceremonies are
//! state machines stored server-side). Single use: finishing it marks it completed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    crypto::opaque::{self, Purpose, TokenHasher},
    store,
};

pub type PendingSignIn = entity::sign_in_state::Model;

/// Starts waiting for a second factor; returns the cookie value and the new state.
pub async fn begin(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ttl: Duration,
    account_id: &str,
    session_id: Option<&str>,
    amr: &[String],
) -> Result<(String, PendingSignIn), DbErr> {
    let token = opaque::generate();
    let state = PendingSignIn {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: hasher.hash(Purpose::SignInState, &token),
        account_id: account_id.to_owned(),
        session_id: session_id.map(str::to_owned),
        amr: serde_json::json!(amr),
        email_code_hash: None,
        email_code_expires_at: None,
        email_code_attempts: 0,
        created_at: now,
        expires_at: now + ttl,
        completed_at: None,
    };
    store::mfa::insert_state(c, state.clone()).await?;
    Ok((token, state))
}

/// The live pending sign-in behind a cookie value.
pub async fn find(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    token: &str,
) -> Result<Option<PendingSignIn>, DbErr> {
    let hash = hasher.hash(Purpose::SignInState, token);
    Ok(store::mfa::find_state(c, &hash)
        .await?
        .filter(|s| s.completed_at.is_none() && s.expires_at > now))
}

/// The factors already shown in this sign-in (the password, usually).
pub fn amr(p: &PendingSignIn) -> Vec<String> {
    serde_json::from_value(p.amr.clone()).unwrap_or_default()
}
