//! The token endpoint (RFC 6749 §3.2): form-encoded POST, client authentication, then one
//! handler per grant type.

mod authorization_code;
mod client_credentials;
pub mod group_commit;
mod refresh_token;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{
    access::clients::GrantType,
    oidc::{
        client_auth,
        error::{ErrorCode, OAuthError},
        issue::{Minter, TokenResponse},
    },
    state::AppState,
    web::{context::RequestContext, params::Params},
};

pub async fn token_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token(&state, &ctx, &headers, &body).await {
        Ok(r) => {
            let mut resp = Json(r).into_response();
            // RFC 6749 §5.1: token responses must not be cached.
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Parses a form-encoded protocol request body; duplicates are refused (RFC 6749 §3.2).
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    if let Some(d) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter `{d}` was sent more than once"
        )));
    }
    Ok(params)
}

pub fn minter(state: &AppState) -> Minter<'_> {
    Minter {
        ring: state.keyring.ring(),
        issuer: state.issuer(),
        cfg: &state.config.tokens,
    }
}

async fn token(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let params = parse_form(headers, body)?;
    let client = client_auth::authenticate(state, headers, &params).await?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("the request has no grant_type"))?;
    let grant_type = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        )
    })?;
    if !client.allows(grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this application may not use this grant type",
        ));
    }
    let issued = match grant_type {
        GrantType::AuthorizationCode => {
            authorization_code::exchange(state, ctx, &client, &params).await
        }
        GrantType::RefreshToken => refresh_token::exchange(state, ctx, &client, &params).await,
        GrantType::ClientCredentials => client_credentials::exchange(state, &client, &params),
    }?;
    state
        .metrics
        .tokens_issued
        .get_or_create(&crate::metrics::GrantLabels {
            grant_type: grant_type.as_str(),
        })
        .inc();
    Ok(issued)
}

/// What the database says a family's tokens may carry now. It is read before the write
/// transaction starts, so SQLite's single writer is held only for the writes; a grant
/// revoked or an account locked in between is caught by the next use of the tokens, which
/// checks both again (and the family, which every ending of access revokes).
pub struct FamilyFacts {
    access: crate::access::grants::Access,
    account: entity::account::Model,
}

/// The facts for `account` and its `grants`, read together with the code or refresh token
/// that names them (one query); `None` (the account is gone) is refused like an inactive
/// one.
pub async fn facts_for_account(
    c: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    client: &crate::access::clients::Client,
    account: Option<entity::account::Model>,
    grants: &[entity::access_grant::Model],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<FamilyFacts, OAuthError> {
    let account = active(account)?;
    // A revoked or expired grant ends the family's usefulness at once.
    let access = crate::access::grants::access_from(c, &state.clients, client, grants, now)
        .await
        .map_err(OAuthError::server_error)?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the account no longer has access to this application")
        })?;
    Ok(FamilyFacts { access, account })
}

/// What a token family buys at this moment: an access token for `access_scope`, a rotated
/// refresh token (when the client may refresh) carrying `family.scope`, and an ID token when
/// `openid` was granted. Nothing is stored: the caller inserts the returned refresh-token
/// row in its transaction.
pub fn mint_for_family(
    state: &AppState,
    client: &crate::access::clients::Client,
    family: &entity::token_family::Model,
    access_scope: &crate::oidc::scope::Scope,
    nonce: Option<&str>,
    facts: &FamilyFacts,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(TokenResponse, Option<entity::refresh_token::Model>), OAuthError> {
    use crate::{
        crypto::opaque::{self, Purpose},
        oidc::{
            issue::{AccessClaims, AuthFacts, Subject},
            scope,
        },
    };
    let amr: Vec<String> = serde_json::from_value(family.amr.clone()).unwrap_or_default();
    let cardholder_app = &state.config.registration.cardholder_app;
    let subject = Subject {
        sub: &family.account_id,
        client_id: &client.client_id,
        scope: access_scope,
        auth: Some(AuthFacts {
            auth_time: family.auth_time,
            amr: &amr,
            acr: &family.acr,
            sid: family.session_id.as_deref(),
        }),
        family_id: Some(&family.id),
        access: Some(AccessClaims {
            roles: &facts.access.roles,
            apps: &facts.access.apps,
            customer_id: crate::oidc::issue::customer_id_for(
                &facts.account,
                &client.client_id,
                cardholder_app,
            ),
        }),
    };
    let m = minter(state);
    let (access_token, expires_in) = m.access_token(&subject, now)?;
    let (refresh_token, row) = if client.allows(GrantType::RefreshToken) {
        let value = opaque::generate();
        let row = entity::refresh_token::Model {
            token_hash: state.tokens.hash(Purpose::RefreshToken, &value),
            family_id: family.id.clone(),
            client_id: client.client_id.clone(),
            scope: family.scope.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::seconds(state.config.tokens.refresh_token_ttl_secs),
            consumed_at: None,
        };
        (Some(value), Some(row))
    } else {
        (None, None)
    };
    let id_token = if access_scope.contains(scope::OPENID) {
        Some(m.id_token(&subject, client.id_token_alg, nonce, &access_token, now)?)
    } else {
        None
    };
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        id_token,
        scope: access_scope.to_string(),
    };
    Ok((response, row))
}

/// The account behind a grant, which must still be allowed in.
fn active(account: Option<entity::account::Model>) -> Result<entity::account::Model, OAuthError> {
    use crate::accounts::users::AccountStatus;
    match account {
        Some(a) if AccountStatus::parse(&a.status) == Some(AccountStatus::Active) => Ok(a),
        _ => Err(OAuthError::invalid_grant("the account is no longer active")),
    }
}
