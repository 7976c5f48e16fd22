//! Parsing and validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
//!
//! The order matters (OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1): until `client_id` and
//! `redirect_uri` are verified, any error is rendered to the user and never redirected,
//! because sending it to an unverified URI would make us an open redirector.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    access::clients::{Client, GrantType},
    crypto::{jwt, keyring::KeyRing},
    oidc::{
        error::{ErrorCode, OAuthError},
        pkce,
        scope::{self, Scope, ScopeError},
    },
    web::params::Params,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request. Serialisable: it is kept server-side while the user
/// signs in and consents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The `sub` of a valid `id_token_hint`: the session must belong to this account.
    pub id_token_hint_sub: Option<String>,
    /// Requested Authentication Context Class References, in order of preference.
    #[serde(default)]
    pub acr_values: Vec<String>,
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown to the user; client or redirect_uri could not be trusted.
    Render(OAuthError),
    /// Sent back to the verified redirect_uri.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// The client and redirect URI, once both are known good.
pub fn verify_client_and_redirect<'a>(
    params: &Params,
    client: Option<&'a Client>,
) -> Result<(&'a Client, String), OAuthError> {
    if params.is_duplicated("client_id") || params.is_duplicated("redirect_uri") {
        return Err(OAuthError::invalid_request(
            "client_id and redirect_uri must each be sent once",
        ));
    }
    if params.get("client_id").is_none() {
        return Err(OAuthError::invalid_request("the request has no client_id"));
    }
    let client = client.ok_or_else(|| {
        OAuthError::invalid_request("the application (client_id) is not registered here")
    })?;
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED.
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("the request has no redirect_uri"))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(OAuthError::invalid_request(
            "the redirect_uri is not registered for this application",
        ));
    }
    Ok((client, redirect_uri.to_owned()))
}

pub fn validate(
    params: &Params,
    client: Option<&Client>,
    ring: &KeyRing,
    issuer: &str,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let (client, redirect_uri) =
        verify_client_and_redirect(params, client).map_err(AuthorizeError::Render)?;
    let state = params.get("state").map(str::to_owned);
    let fail = |code: ErrorCode, d: &'static str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: OAuthError::new(code, d),
    };

    if let Some(dup) = params.first_duplicate() {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error: OAuthError::invalid_request(format!(
                "parameter `{dup}` was sent more than once"
            )),
        });
    }
    // OIDC Core §6: request objects are not supported; say so with the dedicated codes.
    if params.get("request").is_some() {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "the request has no response_type",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this application may not use the authorization code flow",
        ));
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    let mut allowed: Vec<&str> = scope::USER_SCOPES.to_vec();
    allowed.extend(client.service_scopes.iter().map(String::as_str));
    let scope = match Scope::parse(params.get("scope").unwrap_or(""), &allowed) {
        Ok(s) if s.is_empty() => {
            return Err(fail(ErrorCode::InvalidScope, "the request has no scope"));
        }
        Ok(s) => s,
        Err(ScopeError::Malformed) => {
            return Err(fail(ErrorCode::InvalidScope, "the scope is malformed"));
        }
        Err(ScopeError::Unknown(_)) => {
            return Err(fail(
                ErrorCode::InvalidScope,
                "the request asks for a scope this provider does not offer",
            ));
        }
    };
    // OIDC Core §11: offline_access only makes sense if the client can use refresh tokens.
    let scope = if scope.contains(scope::OFFLINE_ACCESS) && !client.allows(GrantType::RefreshToken)
    {
        Scope::from_stored(
            &scope
                .iter()
                .filter(|s| *s != scope::OFFLINE_ACCESS)
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        scope
    };

    // PKCE (RFC 7636 §4.3): a missing method means `plain`, which we refuse.
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.public => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "public clients must use PKCE (code_challenge with S256)",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(_), None | Some("plain")) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256; plain is not accepted",
            ));
        }
        (Some(c), Some("S256")) if pkce::valid_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge is not a valid S256 challenge",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method",
            ));
        }
    };

    let mut prompt = Prompt::default();
    for p in params
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "prompt=select_account is not supported",
                ));
            }
            _ => return Err(fail(ErrorCode::InvalidRequest, "unknown prompt value")),
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };
    let id_token_hint_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(subject_of_id_token_hint(ring, issuer, hint).ok_or_else(|| {
            fail(
                ErrorCode::InvalidRequest,
                "id_token_hint is not an ID token issued by this provider",
            )
        })?),
    };

    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: params
            .get("login_hint")
            .map(|s| s.chars().take(64).collect()),
        id_token_hint_sub,
        // OIDC Core §3.1.2.1: space-separated, voluntary; unknown values are ignored.
        acr_values: params
            .get("acr_values")
            .unwrap_or("")
            .split(' ')
            .filter(|v| !v.is_empty())
            .take(8)
            .map(str::to_owned)
            .collect(),
    })
}

/// The subject of an ID token we issued. Expiry is deliberately not checked: OIDC Core
/// §3.1.2.1 allows an expired ID token as a hint.
pub fn subject_of_id_token_hint(ring: &KeyRing, issuer: &str, hint: &str) -> Option<String> {
    let v = jwt::verify(ring, hint).ok()?;
    if v.typ.as_deref().is_some_and(|t| t != "JWT") || v.str_claim("iss") != Some(issuer) {
        return None;
    }
    v.str_claim("sub").map(str::to_owned)
}

/// Seconds since the session authenticated (for `max_age`).
pub fn age_secs(auth_time: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - auth_time).num_seconds()
}
