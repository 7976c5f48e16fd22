//! Who is calling the console or the API, checked on the server for every route.
//!
//! - Console: the IdP's own SSO session (same sign-in and rules as everyone else), and the
//!   account must hold a staff role. No session: redirect to sign-in and back.
//! - API: a bearer access token from this provider with the `ally:admin` scope. A token
//!   obtained with client_credentials acts as a service administrator if the client is
//!   still allowed the scope; a person's token acts with that person's staff roles.

use axum::{
    Json,
    extract::{FromRequestParts, OriginalUri},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use serde_json::json;

use crate::{
    access::{clients, staff::Principal},
    authn::routes::current_session,
    error::{AppError, ErrorPage},
    oidc::{bearer, endpoints, scope},
    state::AppState,
};

/// A staff member signed in to the console.
pub struct Staff(pub Principal);

pub fn forbidden_page() -> Response {
    ErrorPage {
        status: StatusCode::FORBIDDEN,
        title: "You don't have access to this page".into(),
        message: "This page is for Ally staff. If you need access, ask an administrator.".into(),
    }
    .into_response()
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let session = current_session(state, &jar, state.clock.now())
            .await
            .map_err(|e| AppError::Internal(e.into()).into_response())?;
        let Some(session) = session else {
            let here = parts
                .extensions
                .get::<OriginalUri>()
                .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
            let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
            return Err(Redirect::to(&format!("{}?next={next}", endpoints::LOGIN)).into_response());
        };
        let principal = Principal::for_account(&state.db, &session.account_id)
            .await
            .map_err(|e| AppError::Internal(e.into()).into_response())?;
        if !principal.is_staff() {
            return Err(forbidden_page());
        }
        Ok(Staff(principal))
    }
}

/// An API error: a stable machine-readable `code` and a message.
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this",
        )
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such object")
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin api failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response();
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        // Only `From<DbErr>` answers 503: the database is unreachable.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            crate::web::telemetry::mark_database_unavailable(&mut r);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"ally-idp\", scope=\"ally:admin\""),
            );
        }
        r
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::store::db::is_unavailable(&e) {
            tracing::error!(error = %e, "admin api: database unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database cannot be reached; try again shortly",
            );
        }
        ApiError::internal(e)
    }
}

/// The caller of an admin API route.
pub struct ApiCaller(pub Principal);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthenticated = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a bearer access token with the ally:admin scope is required",
            )
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned())
            .ok_or_else(unauthenticated)?;
        let at = bearer::validate(state, &token, state.clock.now())
            .await?
            .ok_or_else(unauthenticated)?;
        if !at.scope.split(' ').any(|s| s == scope::ADMIN) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the token lacks the ally:admin scope",
            ));
        }
        let principal = if at.family_id.is_none() && at.sub == at.client_id {
            // client_credentials: the client must still be allowed the scope.
            let client = clients::find(&state.db, &at.client_id)
                .await
                .map_err(ApiError::internal)?;
            if !client.is_some_and(|c| c.service_scopes.iter().any(|s| s == scope::ADMIN)) {
                return Err(ApiError::forbidden());
            }
            Principal::Service {
                client_id: at.client_id,
            }
        } else {
            Principal::for_account(&state.db, &at.sub).await?
        };
        if !principal.is_staff() {
            return Err(ApiError::forbidden());
        }
        Ok(ApiCaller(principal))
    }
}
