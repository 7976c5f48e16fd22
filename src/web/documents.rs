//! The provider's public documents (OpenID Provider metadata, RFC 8414 metadata, the JWKS),
//! answered as soon as their request head arrives, before the router and `web::envelope`.
//!
//! They are the provider's most requested URLs (every relying party, API gateway and
//! resource server fetches them, and refetches the JWKS whenever it meets an unknown key
//! id) and they are the same bytes for everyone. Through the router each request paid for
//! routing, the envelope's setup (a span, the metrics scope, a timeout, the error-page check)
//! and a dozen header inserts around a handler that only clones `Bytes`. Here the headers
//! are built once, with the same functions the envelope and the handlers use, so the two
//! paths answer alike (a test compares them header by header); per request only the request
//! id is new, and the request is counted in the envelope's own series, through handles
//! resolved at start-up.
//!
//! Of the envelope's steps, the header-size limit is applied by leaving an oversized request
//! to the router (which answers 431), as is any request with a body (the body limit's 413),
//! a `HEAD` or a CORS preflight. The throttle guards forms and the request timeout bounds
//! waiting; neither has anything to do here.

use std::{sync::Arc, time::Instant};

use axum::{
    body::{Body, HttpBody},
    http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode},
};
use bytes::Bytes;

use crate::{
    crypto::keyring::LiveKeys,
    metrics::{Metrics, RouteSeries},
    oidc::{cors, discovery, endpoints},
    state::AppState,
    web::{headers, telemetry},
};

/// The documents and how to answer each.
pub struct Documents {
    discovery: Bytes,
    keys: Arc<LiveKeys>,
    max_header_bytes: usize,
    provider_metadata: Answer,
    server_metadata: Answer,
    jwks: Answer,
}

/// One route's finished headers and the series its 200s count in.
struct Answer {
    route: &'static str,
    headers: HeaderMap,
    series: RouteSeries,
}

impl Documents {
    pub fn new(state: &AppState) -> Self {
        let https = state.config.issuer.is_https();
        let discovery = state.discovery.clone();
        let jwks = state.keyring.ring().jwks();
        let m = &state.metrics;
        Self {
            provider_metadata: Answer::new(
                m,
                endpoints::DISCOVERY,
                discovery::discovery_response(discovery.clone()),
                https,
            ),
            server_metadata: Answer::new(
                m,
                endpoints::AS_METADATA,
                discovery::discovery_response(discovery.clone()),
                https,
            ),
            jwks: Answer::new(m, endpoints::JWKS, discovery::jwks_response(jwks), https),
            discovery,
            keys: state.keyring.clone(),
            max_header_bytes: state.config.http.max_header_bytes,
        }
    }

    /// The response to `req` when it is a plain `GET` of one of the documents; None sends
    /// it on to the router.
    pub fn answer<B: HttpBody>(&self, req: &Request<B>) -> Option<Response<Body>> {
        if req.method() != Method::GET {
            return None;
        }
        let (answer, body) = match req.uri().path() {
            endpoints::JWKS => (&self.jwks, self.keys.ring().jwks()),
            endpoints::DISCOVERY => (&self.provider_metadata, self.discovery.clone()),
            endpoints::AS_METADATA => (&self.server_metadata, self.discovery.clone()),
            _ => return None,
        };
        if !req.body().is_end_stream()
            || telemetry::header_bytes(req.headers()) > self.max_header_bytes
        {
            return None;
        }
        let started = Instant::now();
        let id = telemetry::new_request_id();
        let mut resp = Response::new(Body::from(body));
        let h = resp.headers_mut();
        h.clone_from(&answer.headers);
        if let Ok(v) = HeaderValue::from_str(&id) {
            h.insert("x-request-id", v);
        }
        let secs = started.elapsed().as_secs_f64();
        tracing::debug!(request_id = %id, method = "GET", route = answer.route, status = 200, secs, "request finished");
        answer.series.observe(secs);
        Some(resp)
    }
}

impl Answer {
    /// `resp` is what the route's handler answers; the envelope's headers are added to it
    /// here once, as `web::envelope` adds them to every routed response.
    fn new(m: &Metrics, route: &'static str, resp: Response<Body>, https: bool) -> Self {
        debug_assert_eq!(resp.status(), StatusCode::OK);
        let mut headers = resp.into_parts().0.headers;
        cors::allow(&mut headers);
        headers::apply_security_headers(&mut headers, https);
        Self {
            route,
            headers,
            series: m.route_series("GET", route, StatusCode::OK.as_u16()),
        }
    }
}
