//! Checking a second factor for a pending sign-in (or a session stepping up). Domain code:
//! no HTTP types. A wrong code counts toward the account's lockout; a right one ends the
//! pending state (single use) and says which methods were shown (RFC 8176 `amr`).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use webauthn_rs::prelude::PublicKeyCredential;

use super::{
    lockout,
    mfa::{Factor, email_code, pending, pending::PendingSignIn, recovery, totp},
    passkeys::{self, PasskeyError, RelyingParty},
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
    /// `None` when passkeys are off (an issuer on an IP address).
    pub passkeys: Option<&'a RelyingParty>,
}

/// What the person showed.
pub enum Proof<'a> {
    /// A typed code (authenticator app, e-mailed code, recovery code).
    Code(Factor, &'a str),
    /// A passkey's answer to the ceremony `ceremony`.
    Passkey {
        ceremony: &'a str,
        credential: &'a PublicKeyCredential,
    },
}

impl Proof<'_> {
    pub fn factor(&self) -> Factor {
        match self {
            Proof::Code(f, _) => *f,
            Proof::Passkey { .. } => Factor::Passkey,
        }
    }
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
    proof: Proof<'_>,
) -> anyhow::Result<Outcome> {
    let account = state.account_id.as_str();
    let factor = proof.factor();
    // RFC 8176 methods this factor adds; `None` when it did not check out.
    let otp = |ok: bool| ok.then(|| vec!["otp".to_owned()]);
    let shown = match proof {
        Proof::Code(Factor::Totp, code) => otp(totp::verify(c, d.sealer, now, account, code)
            .await
            .map_err(|e| anyhow::anyhow!(e))?),
        Proof::Code(Factor::EmailCode, code) => {
            otp(email_code::check(c, d.tokens, d.mfa, now, state, code).await?)
        }
        Proof::Code(Factor::RecoveryCode, code) => {
            otp(recovery::redeem(c, d.tokens, now, account, code).await?)
        }
        Proof::Code(Factor::Passkey, _) => None,
        Proof::Passkey {
            ceremony,
            credential,
        } => match d.passkeys {
            None => None,
            Some(rp) => {
                // Only a passkey of this very account may finish its sign-in.
                match passkeys::finish_authentication(
                    c,
                    rp,
                    now,
                    ceremony,
                    credential,
                    Some(account),
                )
                .await
                {
                    Ok(p) => Some(p.amr),
                    Err(PasskeyError::Expired | PasskeyError::Rejected) => None,
                    Err(PasskeyError::Internal(e)) => return Err(e),
                }
            }
        },
    };
    let method = serde_json::json!({ "method": factor });
    let Some(shown) = shown else {
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
    };
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
    for m in shown.into_iter().chain(["mfa".to_owned()]) {
        if !amr.contains(&m) {
            amr.push(m);
        }
    }
    Ok(Outcome::Verified { amr })
}
