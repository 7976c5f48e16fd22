//! Minting the tokens a grant buys: RFC 9068 JWT access tokens, OIDC ID tokens, and opaque
//! rotating refresh tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::{
    config::Tokens,
    crypto::{
        CryptoError, jwt,
        keyring::{Alg, KeyRing},
    },
    oidc::scope::Scope,
};

/// Access tokens are always ES256: fast to sign and verify, and not a per-client choice.
pub const ACCESS_TOKEN_ALG: Alg = Alg::Es256;
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// What an access or ID token is about.
#[derive(Debug)]
pub struct Subject<'a> {
    /// The account id, or the client id for client_credentials.
    pub sub: &'a str,
    pub client_id: &'a str,
    pub scope: &'a Scope,
    pub auth: Option<AuthFacts<'a>>,
    /// The token family for revocation checks (absent for client_credentials).
    pub family_id: Option<&'a str>,
    /// The account's roles in this application (from its grant) and the applications it
    /// may use; absent for client_credentials.
    pub access: Option<AccessClaims<'a>>,
}

/// `roles` (this application only), `ally_apps`, and for the card portal only the
/// cardholder's stable `customer_id`.
#[derive(Debug, Clone, Copy)]
pub struct AccessClaims<'a> {
    pub roles: &'a [String],
    pub apps: &'a [String],
    pub customer_id: Option<&'a str>,
}

impl AccessClaims<'_> {
    pub fn insert_into(&self, c: &mut Map<String, Value>) {
        if !self.roles.is_empty() {
            c.insert("roles".into(), json!(self.roles));
        }
        c.insert("ally_apps".into(), json!(self.apps));
        if let Some(id) = self.customer_id {
            c.insert("customer_id".into(), json!(id));
        }
    }
}

/// The customer record id, released only to the configured cardholder application: other
/// applications have no business linking a person to their card account.
pub fn customer_id_for<'a>(
    account: &'a entity::account::Model,
    client_id: &str,
    cardholder_app: &str,
) -> Option<&'a str> {
    account
        .customer_id
        .as_deref()
        .filter(|_| client_id == cardholder_app)
}

/// How and when the person authenticated.
#[derive(Debug, Clone, Copy)]
pub struct AuthFacts<'a> {
    pub auth_time: DateTime<Utc>,
    pub amr: &'a [String],
    pub acr: &'a str,
    pub sid: Option<&'a str>,
}

pub struct Minter<'a> {
    pub ring: std::sync::Arc<KeyRing>,
    pub issuer: &'a str,
    pub cfg: &'a Tokens,
}

/// The token endpoint's success body (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

impl Minter<'_> {
    /// An RFC 9068 access token; returns it and its lifetime in seconds.
    pub fn access_token(
        &self,
        s: &Subject<'_>,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), CryptoError> {
        let ttl = self.cfg.access_token_ttl_secs;
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.issuer));
        c.insert("sub".into(), json!(s.sub));
        c.insert("aud".into(), json!(s.client_id));
        c.insert("client_id".into(), json!(s.client_id));
        c.insert("iat".into(), json!(now.timestamp()));
        c.insert(
            "exp".into(),
            json!((now + Duration::seconds(ttl)).timestamp()),
        );
        c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        if !s.scope.is_empty() {
            c.insert("scope".into(), json!(s.scope.to_string()));
        }
        if let Some(a) = s.auth {
            // RFC 9068 §2.2.1: authentication information claims.
            c.insert("auth_time".into(), json!(a.auth_time.timestamp()));
            c.insert("acr".into(), json!(a.acr));
            c.insert("amr".into(), json!(a.amr));
            if let Some(sid) = a.sid {
                c.insert("sid".into(), json!(sid));
            }
        }
        if let Some(f) = s.family_id {
            c.insert("fid".into(), json!(f));
        }
        if let Some(a) = s.access {
            a.insert_into(&mut c);
        }
        Ok((
            jwt::sign(&self.ring, ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, c)?,
            ttl,
        ))
    }

    /// An ID token (OIDC Core §2). Profile and e-mail claims are served by UserInfo (OIDC
    /// Core §5.4: with an access token issued, they come from the UserInfo endpoint).
    pub fn id_token(
        &self,
        s: &Subject<'_>,
        alg: Alg,
        nonce: Option<&str>,
        access_token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, CryptoError> {
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.issuer));
        c.insert("sub".into(), json!(s.sub));
        c.insert("aud".into(), json!(s.client_id));
        c.insert("azp".into(), json!(s.client_id));
        c.insert("iat".into(), json!(now.timestamp()));
        c.insert(
            "exp".into(),
            json!((now + Duration::seconds(self.cfg.id_token_ttl_secs)).timestamp()),
        );
        if let Some(a) = s.auth {
            c.insert("auth_time".into(), json!(a.auth_time.timestamp()));
            c.insert("acr".into(), json!(a.acr));
            c.insert("amr".into(), json!(a.amr));
            if let Some(sid) = a.sid {
                c.insert("sid".into(), json!(sid));
            }
        }
        if let Some(n) = nonce {
            c.insert("nonce".into(), json!(n));
        }
        if let Some(a) = s.access {
            a.insert_into(&mut c);
        }
        c.insert(
            "at_hash".into(),
            Value::String(left_half_hash(alg, access_token)),
        );
        jwt::sign(&self.ring, alg, "JWT", c)
    }
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash of the token, with the hash
/// of the ID token's `alg` (SHA-256 for ES256/RS256; SHA-512 for EdDSA with Ed25519).
pub fn left_half_hash(alg: Alg, value: &str) -> String {
    match alg {
        Alg::Es256 | Alg::Rs256 => {
            let d = Sha256::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(&d[..16])
        }
        Alg::EdDsa => {
            let d = Sha512::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(&d[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core appendix A.3 example: access token and its at_hash (RS256).
        assert_eq!(
            left_half_hash(Alg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
