//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole family, access
//! tokens included (§2.1); revoking an access token puts its `jti` on the deny-list. Unknown
//! tokens are answered with 200 like valid ones (§2.2), so the endpoint reveals nothing.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::DateTime;

use crate::{
    audit::{self, Actor, AuditEvent},
    crypto::opaque::Purpose,
    oidc::{
        bearer, client_auth,
        error::{ErrorCode, OAuthError},
        token::parse_form,
    },
    state::AppState,
    store,
    web::context::RequestContext,
};

pub async fn revoke_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke(&state, &ctx, &headers, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

fn not_yours() -> OAuthError {
    // RFC 7009 §2.1: the token was not issued to the requesting client.
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
}

async fn revoke(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let params = parse_form(headers, body)?;
    let client = client_auth::authenticate(state, headers, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("the request has no token"))?;
    let now = state.clock.now();
    let txn = state.begin_write().await?;

    let hash = state.tokens.hash(Purpose::RefreshToken, token);
    if let Some(rt) = store::tokens::find_refresh(&txn, &hash).await? {
        if rt.client_id != client.client_id {
            return Err(not_yours());
        }
        if store::tokens::revoke_family(&txn, &rt.family_id, "revoked by client", now).await? {
            audit::record(
                &txn,
                now,
                ctx,
                AuditEvent::TokenRevoked,
                Actor::Client(&client.client_id),
                None,
                serde_json::json!({ "kind": "refresh_token", "family": rt.family_id }),
            )
            .await?;
        }
    } else if let Some(at) = bearer::parse(&state.keyring.ring(), state.issuer(), token, now) {
        if at.client_id != client.client_id {
            return Err(not_yours());
        }
        let expires = DateTime::from_timestamp(at.exp, 0).unwrap_or(now);
        store::tokens::deny_access_token(&txn, &at.jti, expires).await?;
        audit::record(
            &txn,
            now,
            ctx,
            AuditEvent::TokenRevoked,
            Actor::Client(&client.client_id),
            None,
            serde_json::json!({ "kind": "access_token", "jti": at.jti }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
