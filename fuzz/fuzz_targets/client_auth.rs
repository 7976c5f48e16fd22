//! Client credentials as presented (RFC 6749 §2.3.1): an arbitrary Authorization header
//! (Basic, form-encoded id and secret) and an arbitrary body. Never panics, and a request
//! that uses two methods at once is always refused (RFC 6749 §2.3).
#![no_main]

use ally_idp::{oidc::client_auth::presented, web::params::Params};
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the Authorization header value; the rest: the form body.
    let (auth, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let Ok(params) = Params::parse(body) else {
        return;
    };
    let result = presented(&headers, &params);
    if headers.contains_key(header::AUTHORIZATION) && params.get("client_secret").is_some() {
        assert!(result.is_err(), "two authentication methods were accepted");
    }
});
