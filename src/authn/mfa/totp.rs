//! Authenticator apps (RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30-second steps, the settings
//! every app understands). The seed is sealed at rest; a code is accepted once (the last
//! accepted time step is stored and only later steps pass); one step of clock drift either
//! way is tolerated.

use chrono::{DateTime, Utc};
use qrcode::{QrCode, render::svg};
use sea_orm::{ConnectionTrait, DbErr};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::{crypto::seal::Sealer, store};

const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
/// Steps of drift accepted on each side (RFC 6238 §5.2 recommends at most one).
const SKEW: i64 = 1;
/// 160-bit seeds (RFC 4226 §4 recommends at least 128, 160 preferred).
const SEED_BYTES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("an authenticator app is already set up; remove it first")]
    AlreadyEnrolled,
    #[error("no authenticator app is being set up")]
    NotStarted,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for TotpError {
    fn from(e: DbErr) -> Self {
        TotpError::Internal(e.into())
    }
}

/// What the set-up page shows: the QR code and the same secret as text.
#[derive(Debug, serde::Serialize)]
pub struct Enrollment {
    pub secret_base32: String,
    pub otpauth_url: String,
    /// An inline SVG (no external service sees the secret).
    pub qr_svg: String,
}

fn aad(account_id: &str) -> String {
    format!("totp:{account_id}")
}

fn totp(seed: Vec<u8>, issuer: &str, username: &str) -> anyhow::Result<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        seed,
        Some(issuer.replace(':', " ")),
        username.replace(':', " "),
    )
    .map_err(|e| anyhow::anyhow!("totp: {e}"))
}

fn enrollment(t: &TOTP) -> anyhow::Result<Enrollment> {
    let url = t.get_url();
    let svg = QrCode::new(url.as_bytes())?
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in the page: drop the XML declaration and label it for screen readers.
    let svg = svg
        .trim_start_matches(|c| c != '<')
        .split_once("?>")
        .map_or(svg.as_str(), |(_, rest)| rest)
        .replacen(
            "<svg ",
            "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
            1,
        );
    Ok(Enrollment {
        secret_base32: t.get_secret_base32(),
        otpauth_url: url,
        qr_svg: svg,
    })
}

async fn load(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    account_id: &str,
) -> Result<Option<(entity::totp_factor::Model, Vec<u8>)>, TotpError> {
    let Some(m) = store::mfa::find_totp(c, account_id).await? else {
        return Ok(None);
    };
    let seed = sealer
        .open(&m.sealed_secret, &aad(account_id))
        .map_err(anyhow::Error::from)?;
    Ok(Some((m, seed)))
}

/// Starts setting up an authenticator app (or restarts an unfinished set-up).
pub async fn begin(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    account_id: &str,
    issuer: &str,
    username: &str,
) -> Result<Enrollment, TotpError> {
    if let Some(m) = store::mfa::find_totp(c, account_id).await?
        && m.confirmed_at.is_some()
    {
        return Err(TotpError::AlreadyEnrolled);
    }
    let seed: [u8; SEED_BYTES] = rand::random();
    let sealed = sealer
        .seal(&seed, &aad(account_id))
        .map_err(anyhow::Error::from)?;
    store::mfa::replace_totp(
        c,
        entity::totp_factor::Model {
            account_id: account_id.to_owned(),
            sealed_secret: sealed,
            created_at: now,
            confirmed_at: None,
            last_step: None,
        },
    )
    .await?;
    Ok(enrollment(&totp(seed.to_vec(), issuer, username)?)?)
}

/// The unfinished set-up, to show again (e.g. after a wrong confirmation code).
pub async fn pending(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    account_id: &str,
    issuer: &str,
    username: &str,
) -> Result<Option<Enrollment>, TotpError> {
    match load(c, sealer, account_id).await? {
        Some((m, seed)) if m.confirmed_at.is_none() => {
            Ok(Some(enrollment(&totp(seed, issuer, username)?)?))
        }
        _ => Ok(None),
    }
}

/// The time step a code belongs to, if it is valid within the allowed drift.
fn matching_step(seed: &[u8], code: &str, now: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(seed.to_vec(), "x", "x")?;
    let current = now.timestamp().max(0) / STEP_SECS as i64;
    let mut found = None;
    for step in current - SKEW..=current + SKEW {
        let expected = t.generate((step.max(0) as u64) * STEP_SECS);
        // Constant time, and no early exit, so timing does not tell which step matched.
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    Ok(found)
}

/// Finishes the set-up with one valid code. False for a wrong or replayed code.
pub async fn confirm(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    account_id: &str,
    code: &str,
) -> Result<bool, TotpError> {
    let Some((m, seed)) = load(c, sealer, account_id).await? else {
        return Err(TotpError::NotStarted);
    };
    if m.confirmed_at.is_some() {
        return Err(TotpError::AlreadyEnrolled);
    }
    match matching_step(&seed, code, now)? {
        Some(step) => Ok(store::mfa::use_totp_step(c, account_id, step, Some(now)).await?),
        None => Ok(false),
    }
}

/// Checks a sign-in code against the account's confirmed authenticator. A code is accepted
/// once: its step is recorded, and neither it nor an earlier step passes again.
pub async fn verify(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    account_id: &str,
    code: &str,
) -> Result<bool, TotpError> {
    let Some((m, seed)) = load(c, sealer, account_id).await? else {
        return Ok(false);
    };
    if m.confirmed_at.is_none() {
        return Ok(false);
    }
    match matching_step(&seed, code, now)? {
        Some(step) => Ok(store::mfa::use_totp_step(c, account_id, step, None).await?),
        None => Ok(false),
    }
}

/// The code an authenticator shows at `now` for a seed (tests compute codes with it).
pub fn code_at(seed: &[u8], now: DateTime<Utc>) -> anyhow::Result<String> {
    Ok(totp(seed.to_vec(), "x", "x")?.generate(now.timestamp().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector_and_drift() {
        // RFC 6238 Appendix B, SHA-1 seed, T = 59 s -> 94287082 (8 digits); 6 digits: 287082.
        let seed = b"12345678901234567890";
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        assert_eq!(code_at(seed, at(59)).unwrap_or_default(), "287082");
        assert_eq!(
            matching_step(seed, "287082", at(59)).ok().flatten(),
            Some(1)
        );
        // One step late still matches the same step; two steps late does not.
        assert_eq!(
            matching_step(seed, "287082", at(89)).ok().flatten(),
            Some(1)
        );
        assert_eq!(matching_step(seed, "287082", at(119)).ok().flatten(), None);
        assert_eq!(matching_step(seed, "28708", at(59)).ok().flatten(), None);
        assert_eq!(matching_step(seed, "28708a", at(59)).ok().flatten(), None);
    }
}
