//! `grant_type=client_credentials` (RFC 6749 §4.4): an application acting for itself. No
//! person, no refresh token, no ID token, and nothing written to the database.

use crate::{
    access::clients::Client,
    oidc::{
        error::{ErrorCode, OAuthError},
        issue::{Subject, TokenResponse},
        scope::Scope,
    },
    state::AppState,
    web::params::Params,
};

pub fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    // Only the client's service scopes: user scopes (openid, profile, ...) make no sense
    // without a user.
    let allowed: Vec<&str> = client.service_scopes.iter().map(String::as_str).collect();
    let scope = Scope::parse(params.get("scope").unwrap_or(""), &allowed).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidScope,
            "this scope cannot be requested with client_credentials",
        )
    })?;
    let subject = Subject {
        sub: &client.client_id,
        client_id: &client.client_id,
        scope: &scope,
        auth: None,
        family_id: None,
        access: None,
    };
    let (access_token, expires_in) =
        super::minter(state).access_token(&subject, state.clock.now())?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        id_token: None,
        scope: scope.to_string(),
    })
}
