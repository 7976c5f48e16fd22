//! `grant_type=refresh_token` (RFC 6749 §6, OIDC Core §12). Refresh tokens rotate on every
//! use; presenting a used one means two parties hold it, so the whole family is revoked
//! (RFC 9700 §4.14.2).

use super::{issue_for_family, require_active_account};
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
    let txn = crate::store::db::begin_write(&state.db).await?;
    let row = store::tokens::find_refresh(&txn, &hash)
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != client.client_id {
        return Err(invalid());
    }
    let family = store::tokens::find_family(&txn, &row.family_id)
        .await?
        .ok_or_else(invalid)?;
    if family.revoked_at.is_some() {
        return Err(invalid());
    }
    let reused = row.consumed_at.is_some() || {
        // Consume first; losing the race to a concurrent use is a reuse as well.
        row.expires_at > now && !store::tokens::consume_refresh(&txn, &hash, now).await?
    };
    if reused {
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
        return Err(invalid());
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
    require_active_account(&txn, &family.account_id).await?;
    // OIDC Core §11: without offline_access a refresh token lives only as long as the
    // session it came from (ended, idle past its timeout, or past its absolute lifetime).
    // Using it is activity in that session, so an application in use keeps it alive.
    if !family.offline {
        let session = match &family.session_id {
            Some(sid) => store::sessions::find(&txn, sid).await?,
            None => None,
        };
        match session {
            Some(s) if crate::authn::session::is_live(&s, &state.config.session, now) => {
                crate::authn::session::touch(&txn, &s, now).await?;
            }
            _ => {
                return Err(OAuthError::invalid_grant(
                    "the sign-in session this refresh token belongs to has ended",
                ));
            }
        }
    }
    let response = issue_for_family(&txn, state, client, &family, &access_scope, None, now).await?;
    txn.commit().await?;
    Ok(response)
}
