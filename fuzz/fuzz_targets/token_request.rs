//! The token request body: form parsing with duplicate detection (RFC 6749 §3.2), the
//! grant type and the scope grammar (RFC 6749 §3.3). Never panics; a parsed scope only
//! holds tokens of the allowed set.
#![no_main]

use ally_idp::{access::clients::GrantType, oidc::scope::Scope, oidc::token::parse_form};
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let Ok(params) = parse_form(&headers, data) else {
        return;
    };
    let _ = params.get("grant_type").and_then(GrantType::parse);
    let allowed = ["openid", "profile", "email", "offline_access"];
    if let Ok(scope) = Scope::parse(params.get("scope").unwrap_or(""), &allowed) {
        for s in scope.to_string().split(' ').filter(|s| !s.is_empty()) {
            assert!(allowed.contains(&s), "scope {s} was not allowed");
        }
    }
});
