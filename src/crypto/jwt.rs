//! Issuing and verifying JWTs signed by the key ring (JWS compact serialisation, RFC 7515).

use josekit::{
    jws::{JwsHeader, JwsVerifier},
    jwt::{self, JwtPayload},
};
use serde_json::{Map, Value};

use super::{
    CryptoError,
    keyring::{Alg, KeyRing},
};

/// Signs `claims` with the active key for `alg`; `typ` goes in the header (`JWT`, `at+jwt`
/// per RFC 9068 §2.1, `logout+jwt`).
pub fn sign(
    ring: &KeyRing,
    alg: Alg,
    typ: &str,
    claims: Map<String, Value>,
) -> Result<String, CryptoError> {
    let (kid, signer) = ring
        .signer(alg)
        .ok_or_else(|| CryptoError::Invalid(format!("no active {} key", alg.as_str())))?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(kid);
    let payload = JwtPayload::from_map(claims)?;
    Ok(jwt::encode_with_signer(&payload, &header, signer)?)
}

/// A JWT whose signature checked out against one of our keys. Claim checks (issuer,
/// audience, expiry) are the caller's, because they differ per token kind.
#[derive(Debug)]
pub struct Verified {
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
}

impl Verified {
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    pub fn i64_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
}

/// Verifies the signature of `token` with the key named by its `kid`. The header's `alg`
/// must be the algorithm that key is bound to (RFC 8725 §3.1: never let the token choose).
pub fn verify(ring: &KeyRing, token: &str) -> Result<Verified, CryptoError> {
    let (payload, header) = jwt::decode_with_verifier_selector(token, |header| {
        let Some(kid) = header.key_id() else {
            return Ok(None);
        };
        Ok(ring
            .verifier(kid)
            .and_then(|(alg, v): (Alg, &dyn JwsVerifier)| {
                (header.algorithm() == Some(alg.as_str())).then_some(v)
            }))
    })?;
    Ok(Verified {
        typ: header.token_type().map(str::to_owned),
        claims: payload.claims_set().clone(),
    })
}
