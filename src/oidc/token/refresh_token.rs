//! `grant_type=refresh_token` (RFC 6749 §6, OIDC Core §12). Refresh tokens rotate on every
//! use; presenting a used one means two parties hold it, so the whole family is revoked
//! (RFC 9700 §4.14.2).

use super::{facts_for_account, mint_for_family};
use crate::{
    access::clients::Client,
    audit::{self, Actor, AuditEvent},
    crypto::opaque::Purpose,
    oidc::{
        error::{ErrorCode, OAuthError},
        issue::TokenResponse,
        scope::Scope,
    },
    state::AppState,
    store,
    web::{context::RequestContext, params::Params},
};

pub async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("the request has no refresh_token"))?;
    let now = state.clock.now();
    let hash = state.tokens.hash(Purpose::RefreshToken, token);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid or has been revoked");
    // Everything is read and minted before the write; the group commit (`group_commit`) then
    // only spends the token (conditionally, so of two concurrent uses exactly one wins) and
    // stores its successor in the same transaction.
    let db = &state.reads;
    let store::tokens::RefreshChain {
        token: row,
        family,
        account,
        grants,
        session,
    } = store::tokens::find_refresh_chain(db, &hash)
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != client.client_id {
        return Err(invalid());
    }
    if family.revoked_at.is_some() {
        return Err(invalid());
    }
    if row.consumed_at.is_some() {
        return replayed(state, ctx, client, &family, now).await;
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let granted = Scope::from_stored(&family.scope);
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let access_scope = match params.get("scope") {
        None => granted.clone(),
        Some(s) => match Scope::parse(s, &granted.iter().collect::<Vec<_>>()) {
            Ok(req) if req.is_subset_of(&granted) && !req.is_empty() => req,
            _ => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds what was granted",
                ));
            }
        },
    };
    let facts = facts_for_account(db, state, client, account, &grants, now).await?;
    // OIDC Core §11: without offline_access a refresh token lives only as long as the
    // session it came from (ended, idle past its timeout, or past its absolute lifetime).
    // Using it is activity in that session, so an application in use keeps it alive.
    let session = if family.offline {
        None
    } else {
        match session {
            Some(s) if crate::authn::session::is_live(&s, &state.config.session, now) => Some(s),
            _ => {
                return Err(OAuthError::invalid_grant(
                    "the sign-in session this refresh token belongs to has ended",
                ));
            }
        }
    };
    let (response, successor) =
        mint_for_family(state, client, &family, &access_scope, None, &facts, now)?;

    let rotation = super::group_commit::Write::Rotate {
        token_hash: hash,
        successor,
        touch_session: session
            .filter(|s| crate::authn::session::needs_touch(s, now))
            .map(|s| s.id),
    };
    // Losing the race to a concurrent use is a reuse as well.
    if !state.token_writes.write(rotation, now).await? {
        return replayed(state, ctx, client, &family, now).await;
    }
    Ok(response)
}

/// A used refresh token presented again means two parties hold it: the whole family is
/// revoked (RFC 9700 §4.14.2), and the revocation is committed although the request fails.
async fn replayed(
    state: &AppState,
    ctx: &RequestContext,
    client: &Client,
    family: &entity::token_family::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TokenResponse, OAuthError> {
    let txn = state.begin_write().await?;
    store::tokens::revoke_family(&txn, &family.id, "refresh token reused", now).await?;
    audit::record(
        &txn,
        now,
        ctx,
        AuditEvent::RefreshTokenReplayed,
        Actor::Client(&client.client_id),
        Some(&family.account_id),
        serde_json::json!({ "family": family.id }),
    )
    .await?;
    txn.commit().await?;
    Err(OAuthError::invalid_grant(
        "the refresh token is invalid or has been revoked",
    ))
}
