//! Token introspection (RFC 7662). Only authenticated clients may ask, and only about their
//! own tokens; anything else is simply `{"active": false}` so nothing leaks.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    crypto::opaque::Purpose,
    oidc::{
        answer_cache::{Answer, AnswerCache},
        bearer, client_auth,
        error::OAuthError,
        token::parse_form,
    },
    state::AppState,
    store,
};

pub async fn introspect_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match introspect(&state, &headers, &body).await {
        Ok(v) => {
            let mut r = Json(&*v).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => e.into_response(),
    }
}

fn inactive() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("active".into(), json!(false));
    m
}

async fn introspect(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, OAuthError> {
    let params = parse_form(headers, body)?;
    let client = client_auth::authenticate(state, headers, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("the request has no token"))?;
    let now = state.clock.now();
    let key = AnswerCache::key(&["introspect", &client.client_id], token);
    let answer = async {
        let m = answer(state, &client.client_id, token, now).await?;
        // Only active answers carry `exp`, so only they are kept.
        let exp = m.get("exp").and_then(Value::as_i64);
        Ok((m, exp))
    };
    state.answers.get_or_compute(key, now, answer).await
}

/// What RFC 7662 §2.2 says about `token` to `client_id`, from the database.
async fn answer(
    state: &AppState,
    client_id: &str,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Map<String, Value>, OAuthError> {
    // The hint only orders the look-ups (RFC 7662 §2.1); both kinds are always tried.
    if let Some(at) = bearer::validate(state, token, now).await? {
        if at.client_id != client_id {
            return Ok(inactive());
        }
        let mut m = Map::new();
        m.insert("active".into(), json!(true));
        m.insert("token_type".into(), json!("Bearer"));
        for k in [
            "scope",
            "client_id",
            "sub",
            "aud",
            "iss",
            "exp",
            "iat",
            "jti",
            "auth_time",
            "acr",
            "sid",
        ] {
            if let Some(v) = at.claims.get(k) {
                m.insert(k.into(), v.clone());
            }
        }
        if let Some(a) = store::accounts::find_by_id(&state.reads, &at.sub).await? {
            m.insert("username".into(), json!(a.username));
        }
        return Ok(m);
    }

    let hash = state.tokens.hash(Purpose::RefreshToken, token);
    let Some(rt) = store::tokens::find_refresh(&state.reads, &hash).await? else {
        return Ok(inactive());
    };
    let Some(family) = store::tokens::find_family(&state.reads, &rt.family_id).await? else {
        return Ok(inactive());
    };
    let live = rt.consumed_at.is_none() && rt.expires_at > now && family.revoked_at.is_none();
    if !live || rt.client_id != client_id {
        return Ok(inactive());
    }
    let mut m = Map::new();
    m.insert("active".into(), json!(true));
    m.insert("token_type".into(), json!("refresh_token"));
    m.insert("scope".into(), json!(rt.scope));
    m.insert("client_id".into(), json!(rt.client_id));
    m.insert("sub".into(), json!(family.account_id));
    m.insert("iss".into(), json!(state.issuer()));
    m.insert("iat".into(), json!(rt.created_at.timestamp()));
    m.insert("exp".into(), json!(rt.expires_at.timestamp()));
    Ok(m)
}
