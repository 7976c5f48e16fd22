//! The pieces of `web::envelope` that observe requests: request ids, the header-size limit
//! and the request metrics; plus the `/metrics` endpoint that exposes them.

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::{metrics, state::AppState};

pub const METRICS: &str = "/metrics";

/// What a 503 for a lost database tells clients to wait before retrying (RFC 9110 §10.2.3).
const RETRY_AFTER_SECS: &str = "5";

/// Marks a response that failed because the database could not be reached: `Retry-After`
/// for the client, and the marker `record` counts (`ally_database_unavailable_total`). The
/// one place every error type (OAuth, pages, admin API) calls for its 503.
pub fn mark_database_unavailable(resp: &mut Response) {
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    resp.extensions_mut().insert(metrics::DatabaseUnavailable);
}

pub fn routes() -> Router<AppState> {
    Router::new().route(METRICS, get(metrics_get))
}

/// A request id: 72 random bits, 12 URL-safe characters. It only has to be unique enough to
/// find one request's log lines; it proves nothing, so it is not a secret.
pub fn new_request_id() -> String {
    crate::crypto::opaque::random_base64url::<9>()
}

/// Total size of the header lines as a server reads them (`name: value\r\n`).
pub fn header_bytes(h: &HeaderMap) -> usize {
    h.iter()
        .map(|(k, v)| k.as_str().len() + v.as_bytes().len() + 4)
        .sum()
}

/// RFC 6585 §5: 431 when the header section is larger than `http.max_header_bytes`,
/// before any handler (or cookie parser) sees it.
pub fn headers_too_large() -> Response {
    (
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request header fields too large",
    )
        .into_response()
}

/// Counts a finished request by method, route pattern and status, with its time to the
/// response head (bodies here are small and complete).
pub fn record(
    m: &metrics::Metrics,
    method: &'static str,
    route: &str,
    resp: &Response,
    elapsed: f64,
) {
    let status = resp.status().as_u16();
    if resp
        .extensions()
        .get::<metrics::DatabaseUnavailable>()
        .is_some()
    {
        m.database_unavailable.inc();
    }
    // Inside the request span, so the line carries the request id (an access log at debug
    // level: at tens of thousands of requests a second it is off by default).
    tracing::debug!(method, route, status, secs = elapsed, "request finished");
    m.route_series(method, route, status).observe(elapsed);
}

/// Methods outside the known set share one label, so a client inventing methods cannot
/// create series.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn metrics_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cfg = &state.config.metrics;
    if !cfg.enabled {
        return crate::error::AppError::NotFound.into_response();
    }
    let want = cfg.bearer_token.expose_secret();
    if !want.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(want.as_bytes())) {
            let mut r = (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ally-idp metrics\""),
            );
            return r;
        }
    }
    let mut r = state.metrics.render().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_bytes_counts_names_values_and_separators() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-a", axum::http::HeaderValue::from_static("12345"));
        assert_eq!(super::header_bytes(&h), 3 + 5 + 4);
    }
}
