//! CORS for the endpoints browser-based applications call directly (discovery, JWKS, token,
//! UserInfo, revocation, introspection). They take credentials in headers or the body, never
//! cookies, so any origin may call them and credentialed CORS is never allowed. The pages
//! (authorize, login, consent, logout) are navigations and get no CORS at all.
//!
//! The answer never depends on the request's origin (always `*`), so it is a handful of
//! static headers applied by `web::envelope`, with no `Vary`: a cache may keep one copy of
//! the discovery document or the JWKS for every origin.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::Response,
};

use crate::oidc::endpoints;

/// The route patterns that are CORS resources.
const RESOURCES: &[&str] = &[
    endpoints::DISCOVERY,
    endpoints::AS_METADATA,
    endpoints::JWKS,
    endpoints::TOKEN,
    endpoints::USERINFO,
    endpoints::INTROSPECT,
    endpoints::REVOKE,
];

/// Whether requests matched to `route` (a route pattern) get CORS headers.
pub fn is_resource(route: &str) -> bool {
    RESOURCES.contains(&route)
}

/// The answer to a CORS preflight (an `OPTIONS` request to a resource): the methods and
/// request headers the endpoints accept, cacheable for an hour (Fetch standard, "CORS
/// protocol": a successful preflight is any 2xx with these headers).
pub fn preflight() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    allow(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization,content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    r
}

/// Whether `method` on a resource is a preflight rather than an actual request.
pub fn is_preflight(method: &Method) -> bool {
    method == Method::OPTIONS
}

/// Marks an actual response (errors included) as readable by any origin.
pub fn allow(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_protocol_apis_are_cors_resources() {
        assert!(is_resource(endpoints::TOKEN));
        assert!(is_resource(endpoints::JWKS));
        assert!(!is_resource(endpoints::AUTHORIZE));
        assert!(!is_resource(endpoints::LOGIN));
        assert!(!is_resource("unmatched"));
    }

    #[test]
    fn a_preflight_is_never_credentialed() {
        let r = preflight();
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            r.headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }
}
