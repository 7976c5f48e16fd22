//! Who is asking: assigns the request id (also shown on error pages) and extracts the
//! `RequestContext` (request id, client IP, user agent) that domain code records.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request},
    http::{HeaderValue, header, request::Parts},
    middleware::Next,
    response::Response,
};

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Gives every request an id (kept in extensions and echoed as `x-request-id`).
pub async fn assign_request_id(mut req: Request, next: Next) -> Response {
    let id = crate::crypto::opaque::generate()[..12].to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

pub use crate::audit::RequestContext;

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The peer address only: forwarded headers are trusted only behind a configured
        // proxy, which this version does not support.
        let client_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(Self {
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            client_ip,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        })
    }
}
