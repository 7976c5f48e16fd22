//! OAuth 2.0 error responses (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1): one type with
//! one `IntoResponse`, so every endpoint answers with the same shape and headers.

use std::borrow::Cow;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    InvalidToken,
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }
}

#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// What went wrong inside; logged, never sent to the client.
    pub source: Option<anyhow::Error>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            source: None,
        }
    }
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    /// An internal failure: 500 `server_error`, or 503 `temporarily_unavailable` when the
    /// cause is that the database cannot be reached (RFC 6749 §4.1.2.1 names the code; a
    /// client may simply retry).
    pub fn server_error(source: impl Into<anyhow::Error>) -> Self {
        let source = source.into();
        if crate::store::db::is_unavailable_in(&source) {
            return Self {
                code: ErrorCode::TemporarilyUnavailable,
                description: "the service is temporarily unavailable; try again shortly".into(),
                source: Some(source),
            };
        }
        Self {
            code: ErrorCode::ServerError,
            description: "the server could not complete the request".into(),
            source: Some(source),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<sea_orm::DbErr> for OAuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::server_error(e)
    }
}

impl From<crate::crypto::CryptoError> for OAuthError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::server_error(e)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// Quotes a value for an HTTP auth-param (RFC 9110 §11.2); descriptions are our own ASCII
/// text, but quotes and backslashes are escaped anyway.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if let Some(src) = &self.source {
            tracing::error!(error = %src, code = self.code.as_str(), "request failed");
        }
        let status = self.status();
        let mut resp = (
            status,
            Json(Body {
                error: self.code.as_str(),
                error_description: &self.description,
            }),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        // RFC 6749 §5.2: a 401 for client authentication names the scheme; RFC 6750 §3: a
        // bearer-token failure answers with a Bearer challenge carrying the error.
        let challenge = match self.code {
            ErrorCode::InvalidClient => Some("Basic realm=\"ally-idp\"".to_owned()),
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => Some(format!(
                "Bearer realm=\"ally-idp\", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                quoted(&self.description)
            )),
            _ => None,
        };
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, c);
        }
        // `temporarily_unavailable` is only ever the database being unreachable.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            crate::web::telemetry::mark_database_unavailable(&mut resp);
        }
        resp
    }
}
