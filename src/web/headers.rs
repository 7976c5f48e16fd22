//! Security headers on every response, and the rendering of error pages.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use minijinja::context;

use crate::{
    error::ErrorPage,
    state::AppState,
    web::{Page, context::RequestId},
};

/// For API and JSON responses that set no policy of their own: nothing may load, nothing
/// may frame.
const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// RFC 6797: two years, subdomains included. Sent only when the issuer is https (over
/// plain http browsers ignore it, and a loopback development setup must not pin https).
const HSTS: &str = "max-age=63072000; includeSubDomains";

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if state.config.issuer.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    resp
}

/// Turns an `ErrorPage` attached by a handler into the rendered error template.
pub async fn render_error_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let resp = next.run(req).await;
    let Some(page) = resp.extensions().get::<ErrorPage>().cloned() else {
        return resp;
    };
    let (mut parts, _) = resp.into_parts();
    let rendered = Page::render(
        &state.templates,
        "error.html",
        context! { title => page.title.clone(), message => page.message.clone(), request_id => request_id },
    );
    match rendered {
        Ok(p) => {
            let mut r = p.status(page.status).into_response();
            // Keep headers the handler set (e.g. cookies), but not its empty body's type.
            for (k, v) in parts.headers.drain() {
                if let Some(k) = k
                    && k != header::CONTENT_TYPE
                    && k != header::CONTENT_LENGTH
                {
                    r.headers_mut().append(k, v);
                }
            }
            // Markers for the outer layers (e.g. `metrics::DatabaseUnavailable`).
            parts.extensions.remove::<ErrorPage>();
            r.extensions_mut().extend(parts.extensions);
            r
        }
        Err(_) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Response::from_parts(parts, axum::body::Body::from(page.title.into_owned()))
        }
    }
}
