//! OpenID Provider metadata (OIDC Discovery 1.0 §3) and OAuth 2.0 Authorization Server
//! metadata (RFC 8414), built once at start-up and served as bytes. It lists only what is
//! implemented.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::json;

use super::{endpoints, scope};
use crate::{authn::acr, config::Issuer, crypto::keyring::Alg, state::AppState};

pub fn document(issuer: &Issuer) -> Bytes {
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let doc = json!({
        "issuer": issuer.as_str(),
        "authorization_endpoint": issuer.url(endpoints::AUTHORIZE),
        "token_endpoint": issuer.url(endpoints::TOKEN),
        "userinfo_endpoint": issuer.url(endpoints::USERINFO),
        "jwks_uri": issuer.url(endpoints::JWKS),
        "end_session_endpoint": issuer.url(endpoints::END_SESSION),
        "revocation_endpoint": issuer.url(endpoints::REVOKE),
        "introspection_endpoint": issuer.url(endpoints::INTROSPECT),
        "scopes_supported": scope::USER_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": Alg::ALL.map(Alg::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": acr::SUPPORTED,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        // Back-Channel Logout 1.0 §2.1 and Front-Channel Logout 1.0 §3: logout tokens and
        // front-channel URLs always carry `sid` (and ID tokens carry it to match).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
    });
    Bytes::from(doc.to_string())
}

/// The metadata documents' response (before the envelope's headers): public and cacheable.
pub fn discovery_response(body: Bytes) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The JWKS response (RFC 7517 §8.5.1 media type), cacheable like the metadata.
pub fn jwks_response(body: Bytes) -> Response {
    let mut r = discovery_response(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    r
}

// Requests for these reach the handlers only when `web::documents` leaves them to the router
// (a HEAD, say).
pub async fn discovery_get(State(state): State<AppState>) -> Response {
    discovery_response(state.discovery.clone())
}

pub async fn jwks_get(State(state): State<AppState>) -> Response {
    jwks_response(state.keyring.ring().jwks())
}
