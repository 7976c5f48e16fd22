//! Security headers on every response, and the rendering of error pages.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use minijinja::context;

use crate::{
    error::ErrorPage,
    web::{Page, Templates},
};

/// For API and JSON responses that set no policy of their own: nothing may load, nothing
/// may frame.
const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// RFC 6797: two years, subdomains included. Sent only when the issuer is https (over
/// plain http browsers ignore it, and a loopback development setup must not pin https).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Sets the security headers on a response: `nosniff`, no referrer, no framing, HSTS when
/// the issuer is https, and the default CSP unless the page set its own (pages with scripts
/// set one with their nonce).
pub fn apply_security_headers(h: &mut HeaderMap, https: bool) {
    if https {
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
}

/// Turns an `ErrorPage` attached by a handler (or by the throttle) into the rendered error
/// template, which shows the request id; any other response passes unchanged.
pub fn render_error_page(templates: &Templates, request_id: &str, resp: Response) -> Response {
    let Some(page) = resp.extensions().get::<ErrorPage>().cloned() else {
        return resp;
    };
    let (mut parts, _) = resp.into_parts();
    let rendered = Page::render(
        templates,
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
