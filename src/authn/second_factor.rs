//! Checking a second factor for a pending sign-in (or a session stepping up). Domain code:
//! no HTTP types. A wrong code counts toward the account's lockout; a right one ends the
//! pending state (single use) and says which methods were shown (RFC 8176 `amr`).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    lockout,
    mfa::{Factor, email_code, pending, pending::PendingSignIn, recovery, totp},
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    config::{Lockout, Mfa},
    crypto::{opaque::TokenHasher, seal::Sealer},
};

pub struct Deps<'a> {
    pub tokens: &'a TokenHasher,
    pub sealer: &'a Sealer,
    pub mfa: &'a Mfa,
    pub lockout: &'a Lockout,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The factor checked out: the methods of the whole sign-in, for the session.
    Verified { amr: Vec<String> },
    /// Wrong, replayed or expired code; `locked` if this failure locked the account.
    Wrong { locked: bool },
    /// The pending sign-in was already finished (a double submission).
    Finished,
}

pub async fn verify(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    state: &PendingSignIn,
    factor: Factor,
    code: &str,
) -> anyhow::Result<Outcome> {
    let account = state.account_id.as_str();
    let ok = match factor {
        Factor::Totp => totp::verify(c, d.sealer, now, account, code)
            .await
            .map_err(|e| anyhow::anyhow!(e))?,
        Factor::EmailCode => email_code::check(c, d.tokens, d.mfa, now, state, code).await?,
        Factor::RecoveryCode => recovery::redeem(c, d.tokens, now, account, code).await?,
    };
    let method = serde_json::json!({ "method": factor });
    if !ok {
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::MfaFailed,
            Actor::Anonymous,
            Some(account),
            method,
        )
        .await?;
        let locked = lockout::record_failure(c, now, ctx, d.lockout, account).await?;
        return Ok(Outcome::Wrong { locked });
    }
    if !crate::store::mfa::complete_state(c, &state.id, now).await? {
        return Ok(Outcome::Finished);
    }
    lockout::clear(c, account).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::MfaVerified,
        Actor::Account(account),
        Some(account),
        method,
    )
    .await?;
    let mut amr = pending::amr(state);
    for m in [factor.amr(), "mfa"] {
        if !amr.iter().any(|a| a == m) {
            amr.push(m.to_owned());
        }
    }
    Ok(Outcome::Verified { amr })
}
