//! The OpenID Connect / OAuth 2.0 protocol endpoints.

pub mod answer_cache;
pub mod authorize;
pub mod backchannel;
pub mod bearer;
pub mod client_auth;
pub mod consent;
pub mod cors;
pub mod discovery;
pub mod end_session;
pub mod endpoints;
pub mod error;
pub mod introspect;
pub mod issue;
pub mod pkce;
pub mod revoke;
pub mod scope;
pub mod token;
pub mod userinfo;

use axum::{Router, routing::get, routing::post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route(endpoints::DISCOVERY, get(discovery::discovery_get))
        .route(endpoints::AS_METADATA, get(discovery::discovery_get))
        .route(endpoints::JWKS, get(discovery::jwks_get))
        .route(endpoints::TOKEN, post(token::token_post))
        .route(
            endpoints::USERINFO,
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(endpoints::INTROSPECT, post(introspect::introspect_post))
        .route(endpoints::REVOKE, post(revoke::revoke_post));
    Router::new()
        .route(
            endpoints::AUTHORIZE,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(
            endpoints::CONSENT,
            get(consent::consent_get).post(consent::consent_post),
        )
        .route(
            endpoints::END_SESSION,
            get(end_session::end_session_get).post(end_session::end_session_post),
        )
        .merge(api)
}
