//! What every routed request passes through on its way in and out, in order (a plain `GET`
//! of the discovery documents or the JWKS is answered before the router, by
//! `web::documents`, with the same headers and metrics):
//!
//! 1. a request id, echoed as `x-request-id`, shown on error pages, and carried by every log
//!    line of the request (a `request` span);
//! 2. the header-size limit (431);
//! 3. CORS preflights for the protocol APIs, answered here (`oidc::cors`);
//! 4. per-client-IP throttling of the guessable forms (429, `web::throttle`);
//! 5. the request timeout (408);
//! 6. on the way out: error pages rendered, CORS and security headers set, and the request
//!    counted and timed (`/metrics`); a request whose client goes away first is counted as
//!    abandoned (`metrics::InFlight`).
//!
//! One middleware rather than one per concern: axum's `from_fn` clones and boxes the whole
//! service stack beneath it for every request, so with seven nested layers each request paid
//! for seven clones of everything under them; in a profile of the discovery endpoint that
//! cloning and the allocations it made were about a fifth of the server's time.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use crate::{
    metrics,
    oidc::cors,
    state::AppState,
    web::{context::RequestId, headers, telemetry, throttle},
};

/// The route label of requests that matched no route (one series, whatever the path).
const UNMATCHED: &str = "unmatched";

pub async fn envelope(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = telemetry::new_request_id();
    let span = tracing::info_span!("request", request_id = %id);
    req.extensions_mut().insert(RequestId(id.clone()));
    // A clone of the router's `Arc<str>`, not a copy of the path.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let method = telemetry::method_label(req.method());
    let m = &state.metrics;
    async {
        let in_flight = metrics::InFlight::begin(m, method, route);
        let started = Instant::now();
        let resp = metrics::scoped(m.clone(), handle(&state, route, req, next)).await;
        // Rendered first: the page brings its own headers (its CSP among them).
        let mut resp = headers::render_error_page(&state.templates, &id, resp);
        let resp_headers = resp.headers_mut();
        headers::apply_security_headers(resp_headers, state.config.issuer.is_https());
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp_headers.insert("x-request-id", v);
        }
        in_flight.answered();
        telemetry::record(m, method, route, &resp, started.elapsed().as_secs_f64());
        resp
    }
    .instrument(span)
    .await
}

/// Steps 2 to 5, and the CORS headers of what the handler answered.
async fn handle(state: &AppState, route: &str, req: Request, next: Next) -> Response {
    let http = &state.config.http;
    if telemetry::header_bytes(req.headers()) > http.max_header_bytes {
        return telemetry::headers_too_large();
    }
    let cors = cors::is_resource(route);
    if cors && cors::is_preflight(req.method()) {
        return cors::preflight();
    }
    if let Some(refused) = throttle::refusal(state, &req) {
        return refused;
    }
    let timeout = Duration::from_secs(http.request_timeout_secs);
    let mut resp = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    };
    if cors {
        cors::allow(resp.headers_mut());
    }
    resp
}
