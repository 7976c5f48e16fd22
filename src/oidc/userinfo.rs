//! The UserInfo endpoint (OIDC Core §5.3), GET and POST, with the access token as a bearer
//! token (RFC 6750 §2.1 header, or §2.2 form body on POST).

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    accounts::users::AccountStatus,
    oidc::{
        answer_cache::{Answer, AnswerCache},
        bearer,
        error::{ErrorCode, OAuthError},
        scope::{self, Scope},
    },
    state::AppState,
    store,
};

fn bearer_from_header(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
    match v.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(OAuthError::invalid_request(
            "the Authorization header must use the Bearer scheme",
        )),
    }
}

fn missing_token() -> OAuthError {
    // RFC 6750 §3.1: no token at all is answered with a bare challenge; we still send a
    // JSON body with invalid_token so clients get one shape.
    OAuthError::invalid_token("an access token is required")
}

pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = match bearer_from_header(&headers) {
        Ok(Some(t)) => t,
        Ok(None) => return missing_token().into_response(),
        Err(e) => return e.into_response(),
    };
    respond(userinfo(&state, &token).await)
}

pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_token = match bearer_from_header(&headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let body_token = if body.is_empty() {
        None
    } else {
        match super::token::parse_form(&headers, &body) {
            Ok(p) => p.get("access_token").map(str::to_owned),
            Err(e) => return e.into_response(),
        }
    };
    let token = match (header_token, body_token) {
        // RFC 6750 §2: a client MUST NOT use more than one method.
        (Some(_), Some(_)) => {
            return OAuthError::invalid_request("send the access token once").into_response();
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return missing_token().into_response(),
    };
    respond(userinfo(&state, &token).await)
}

fn respond(r: Result<Answer, OAuthError>) -> Response {
    match r {
        Ok(claims) => {
            let mut resp = Json(&*claims).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn userinfo(state: &AppState, token: &str) -> Result<Answer, OAuthError> {
    let now = state.clock.now();
    let key = AnswerCache::key(&["userinfo"], token);
    let claims = async {
        let (claims, exp) = claims_of(state, token, now).await?;
        Ok((claims, Some(exp)))
    };
    state.answers.get_or_compute(key, now, claims).await
}

/// The claims for a valid access token, from the database, and the token's expiry.
async fn claims_of(
    state: &AppState,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Map<String, Value>, i64), OAuthError> {
    let at = bearer::validate(state, token, now).await?.ok_or_else(|| {
        OAuthError::invalid_token("the access token is invalid, expired or revoked")
    })?;
    let granted = Scope::from_stored(&at.scope);
    if !granted.contains(scope::OPENID) {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token was not granted the openid scope",
        ));
    }
    let account = store::accounts::find_by_id(&state.reads, &at.sub)
        .await?
        .filter(|a| AccountStatus::parse(&a.status) == Some(AccountStatus::Active))
        .ok_or_else(|| OAuthError::invalid_token("the account is no longer active"))?;
    let mut claims = claims_for(&account, &granted);
    let client = state
        .clients
        .get(&state.db, &at.client_id)
        .await
        .map_err(OAuthError::server_error)?
        .ok_or_else(|| OAuthError::invalid_token("the application no longer exists"))?;
    let access =
        crate::access::grants::access_for(&state.reads, &state.clients, &client, &account.id, now)
            .await
            .map_err(OAuthError::server_error)?
            .ok_or_else(|| {
                OAuthError::invalid_token("the account no longer has access to this application")
            })?;
    crate::oidc::issue::AccessClaims {
        roles: &access.roles,
        apps: &access.apps,
        customer_id: crate::oidc::issue::customer_id_for(
            &account,
            &client.client_id,
            &state.config.registration.cardholder_app,
        ),
    }
    .insert_into(&mut claims);
    Ok((claims, at.exp))
}

/// The standard claims (OIDC Core §5.1) the granted scopes release (§5.4).
pub fn claims_for(account: &entity::account::Model, granted: &Scope) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(account.id));
    if granted.contains(scope::PROFILE) {
        let name = [
            account.given_name.as_deref(),
            account.family_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        if !name.is_empty() {
            c.insert("name".into(), json!(name));
        }
        if let Some(g) = &account.given_name {
            c.insert("given_name".into(), json!(g));
        }
        if let Some(f) = &account.family_name {
            c.insert("family_name".into(), json!(f));
        }
        c.insert("preferred_username".into(), json!(account.username));
        c.insert("updated_at".into(), json!(account.updated_at.timestamp()));
    }
    if granted.contains(scope::EMAIL) {
        c.insert("email".into(), json!(account.email));
        c.insert("email_verified".into(), json!(account.email_verified));
    }
    c
}
