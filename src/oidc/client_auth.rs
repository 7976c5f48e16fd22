//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1): `client_secret_basic`, `client_secret_post`, or `none` for public clients.
//! Secrets are checked by keyed hash in constant time; unknown clients cost the same.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{
    access::clients::Client, crypto::opaque::Purpose, oidc::error::OAuthError, state::AppState,
    web::params::Params,
};

/// How the client identified itself.
#[derive(Debug)]
pub enum Presented {
    Secret { client_id: String, secret: String },
    Public { client_id: String },
}

fn failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// RFC 6749 §2.3.1: the Basic credentials are form-urlencoded before base64.
fn form_decode(s: &str) -> Option<String> {
    let plus_as_space = s.replace('+', " ");
    percent_decode(&plus_as_space)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The credentials a request presents (the parsing half of client authentication, free of
/// storage; public for the fuzz target).
pub fn presented(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| failed())?;
            let (scheme, rest) = v.split_once(' ').ok_or_else(failed)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(failed());
            }
            let decoded = STANDARD.decode(rest.trim()).map_err(|_| failed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| failed())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(failed)?;
            Some((
                form_decode(id).ok_or_else(failed)?,
                form_decode(secret).ok_or_else(failed)?,
            ))
        }
    };
    match (basic, params.get("client_id"), params.get("client_secret")) {
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "use only one client authentication method",
        )),
        (Some((id, _)), Some(body_id), None) if id != body_id => Err(OAuthError::invalid_request(
            "client_id does not match the authenticated client",
        )),
        (Some((client_id, secret)), _, None) => Ok(Presented::Secret { client_id, secret }),
        (None, Some(id), Some(secret)) => Ok(Presented::Secret {
            client_id: id.to_owned(),
            secret: secret.to_owned(),
        }),
        (None, Some(id), None) => Ok(Presented::Public {
            client_id: id.to_owned(),
        }),
        (None, None, _) => Err(failed()),
    }
}

pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, params)?;
    let client_id = match &presented {
        Presented::Secret { client_id, .. } | Presented::Public { client_id } => client_id,
    };
    let client = state
        .clients
        .get(&state.db, client_id)
        .await
        .map_err(OAuthError::server_error)?;
    let secret_ok = |c: &Client, secret: &str| {
        !c.public
            && c.secret_hash
                .as_deref()
                .is_some_and(|h| state.tokens.verify(Purpose::ClientSecret, secret, h))
    };
    match (presented, client) {
        (Presented::Secret { secret, client_id }, Some(c)) => {
            if secret_ok(&c, &secret) {
                return Ok(c);
            }
            // The cached entry may predate a secret rotation elsewhere: ask the database
            // before refusing (see `access::client_cache`).
            let fresh = state
                .clients
                .reload(&state.db, &client_id)
                .await
                .map_err(OAuthError::server_error)?;
            match fresh {
                Some(c) if secret_ok(&c, &secret) => Ok(c),
                _ => Err(failed()),
            }
        }
        (Presented::Secret { secret, .. }, None) => {
            // Same work as a known client, so timing does not reveal which ids exist.
            let _ = state.tokens.verify(Purpose::ClientSecret, &secret, "");
            Err(failed())
        }
        (Presented::Public { .. }, Some(c)) if c.public => Ok(c),
        (Presented::Public { .. }, _) => Err(failed()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(super::form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(super::form_decode("%zz"), None);
    }
}
