//! Who is asking: the request id (assigned in `web::telemetry`, also shown on error pages) and the
//! `RequestContext` (request id, client IP, user agent) that domain code records.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub use crate::audit::RequestContext;
use crate::state::AppState;

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left were
/// written by the client and prove nothing).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// `client_ip` of a request.
pub fn client_ip_of(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_ip(headers, peer, trusted)
}

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let trusted = &state.config.http.trusted_proxies;
        let client_ip =
            client_ip_of(&parts.extensions, &parts.headers, trusted).map(|ip| ip.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        // Not from a proxy: the header is the client's word, ignored.
        assert_eq!(
            client_ip(&h, Some(ip("198.51.100.9")), &trusted),
            Some(ip("198.51.100.9"))
        );
        // From the proxy: the right-most address that is not a proxy.
        assert_eq!(
            client_ip(&h, Some(ip("10.0.0.1")), &trusted),
            Some(ip("203.0.113.7"))
        );
        // From a proxy without the header: the proxy.
        assert_eq!(
            client_ip(&HeaderMap::new(), Some(ip("10.0.0.1")), &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}
