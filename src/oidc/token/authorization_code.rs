//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

use super::{facts_for_account, mint_for_family};
use crate::{
    access::clients::Client,
    audit::{self, Actor, AuditEvent},
    crypto::opaque::Purpose,
    oidc::{
        error::OAuthError,
        issue::TokenResponse,
        pkce,
        scope::{self, Scope},
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
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("the request has no code"))?;
    let now = state.clock.now();
    let hash = state.tokens.hash(Purpose::AuthorizationCode, code);
    // Read and minted before the write; the group commit (`group_commit`) then only spends
    // the code (conditionally: of two concurrent exchanges one wins) and stores the family.
    let db = &state.reads;
    let (row, account, grants) = store::codes::find_with_account(db, &hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid"))?;
    // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code is invalid",
        ));
    }
    if row.consumed_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice means it leaked; revoke everything it bought.
        // Committed despite the error, so the revocation sticks.
        let txn = state.begin_write().await?;
        if let Some(fid) = &row.family_id {
            store::tokens::revoke_family(&txn, fid, "authorization code replayed", now).await?;
        }
        audit::record(
            &txn,
            now,
            ctx,
            AuditEvent::AuthorizationCodeReplayed,
            Actor::Client(&client.client_id),
            Some(&row.account_id),
            serde_json::json!({}),
        )
        .await?;
        txn.commit().await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri must repeat the one from the authorization request.
    if params.get("redirect_uri") != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (row.code_challenge.as_deref(), params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !pkce::verify_s256(verifier, challenge) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "no code_challenge was sent with the authorization request",
            ));
        }
        (None, None) => {}
    }
    let facts = facts_for_account(db, state, client, account, &grants, now).await?;
    let granted = Scope::from_stored(&row.scope);
    let mut family = entity::token_family::Model {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client.client_id.clone(),
        account_id: row.account_id.clone(),
        session_id: Some(row.session_id.clone()),
        scope: row.scope.clone(),
        offline: granted.contains(scope::OFFLINE_ACCESS),
        auth_time: row.auth_time,
        amr: row.amr.clone(),
        acr: row.acr.clone(),
        created_at: now,
        revoked_at: None,
        revoked_reason: None,
        expires_at: None,
    };
    let (response, refresh) = mint_for_family(
        state,
        client,
        &family,
        &granted,
        row.nonce.as_deref(),
        &facts,
        now,
    )?;
    // Without a refresh token the family is over when its access token is (`retention`).
    if refresh.is_none() {
        family.expires_at = Some(now + chrono::Duration::seconds(response.expires_in));
    }

    let exchange = super::group_commit::Write::Exchange {
        code_hash: hash,
        family,
        refresh,
    };
    if !state.token_writes.write(exchange, now).await? {
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used",
        ));
    }
    Ok(response)
}
