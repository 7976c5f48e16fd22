//! One-time codes sent by e-mail: 6 digits, short-lived, a few tries, bound to one pending
//! sign-in and stored only as a keyed hash. The message itself waits in the outbox sealed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::pending::PendingSignIn;
use crate::{
    config::Mfa,
    crypto::{
        opaque::{Purpose, TokenHasher},
        seal::Sealer,
    },
    mail, store,
};

/// Codes sent per account per hour: enough for honest retries, too few to flood a mailbox.
const SENDS_PER_HOUR: u32 = 5;

/// The window `SENDS_PER_HOUR` counts over (also how long `retention` keeps the counter).
pub const SENDS_WINDOW: Duration = Duration::hours(1);

fn hash(hasher: &TokenHasher, state_id: &str, code: &str) -> String {
    hasher.hash(Purpose::EmailCode, &format!("{state_id}:{code}"))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// Too many codes were sent to this account lately.
    TooMany,
}

/// Sends a new code for this pending sign-in (an earlier one stops working).
pub async fn send(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    sealer: &Sealer,
    cfg: &Mfa,
    now: DateTime<Utc>,
    state: &PendingSignIn,
    account: &entity::account::Model,
) -> Result<Sent, DbErr> {
    let key = format!("email-code:{}", account.id);
    if store::attempts::failures(c, &key, SENDS_WINDOW, now).await? >= SENDS_PER_HOUR {
        return Ok(Sent::TooMany);
    }
    store::attempts::add_failure(c, &key, SENDS_WINDOW, now).await?;
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let expires = now + Duration::seconds(cfg.email_code_ttl_secs);
    store::mfa::set_email_code(c, &state.id, &hash(hasher, &state.id, &code), expires).await?;
    mail::enqueue_sealed(
        c,
        sealer,
        now,
        &account.email,
        mail::Template::SignInCode,
        serde_json::json!({
            "name": crate::accounts::users::greeting_name(account),
            "username": account.username,
            "code": code,
            "minutes": cfg.email_code_ttl_secs / 60,
        }),
    )
    .await?;
    Ok(Sent::Sent)
}

/// Checks a code. A wrong one uses up a try; after the last try or past its expiry the code
/// is void and a new one must be sent.
pub async fn check(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    cfg: &Mfa,
    now: DateTime<Utc>,
    state: &PendingSignIn,
    code: &str,
) -> Result<bool, DbErr> {
    let (Some(stored), Some(expires)) = (&state.email_code_hash, state.email_code_expires_at)
    else {
        return Ok(false);
    };
    if expires <= now || state.email_code_attempts >= cfg.email_code_max_attempts {
        return Ok(false);
    }
    let code = code.trim();
    let ok = code.len() == 6
        && hasher.verify(Purpose::EmailCode, &format!("{}:{code}", state.id), stored);
    if !ok {
        store::mfa::add_email_code_attempt(c, &state.id).await?;
    }
    Ok(ok)
}
