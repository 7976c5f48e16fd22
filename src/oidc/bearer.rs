//! Validating our own access tokens (RFC 9068 §4) for UserInfo and introspection: signature
//! by one of our keys, `typ` at+jwt, our issuer, not expired, and not revoked (its token
//! family, or its `jti` on the deny-list).

use chrono::{DateTime, Utc};

use crate::{
    crypto::{jwt, keyring::KeyRing},
    oidc::issue::ACCESS_TOKEN_TYP,
    store,
};

#[derive(Debug)]
pub struct AccessToken {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub family_id: Option<String>,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Signature and claims only; no database.
pub fn parse(ring: &KeyRing, issuer: &str, token: &str, now: DateTime<Utc>) -> Option<AccessToken> {
    let v = jwt::verify(ring, token).ok()?;
    // RFC 9068 §4: reject tokens whose typ is not at+jwt (an ID token is not an access token).
    if v.typ.as_deref() != Some(ACCESS_TOKEN_TYP) || v.str_claim("iss") != Some(issuer) {
        return None;
    }
    let exp = v.i64_claim("exp")?;
    if exp <= now.timestamp() {
        return None;
    }
    Some(AccessToken {
        sub: v.str_claim("sub")?.to_owned(),
        client_id: v.str_claim("client_id")?.to_owned(),
        scope: v.str_claim("scope").unwrap_or("").to_owned(),
        jti: v.str_claim("jti")?.to_owned(),
        iat: v.i64_claim("iat")?,
        exp,
        family_id: v.str_claim("fid").map(str::to_owned),
        claims: v.claims,
    })
}

/// A valid, unrevoked access token, checked with this node's keys, database and client
/// cache (every caller is a request handler of this node).
pub async fn validate(
    state: &crate::state::AppState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<AccessToken>, sea_orm::DbErr> {
    let (c, clients) = (&state.reads, &state.clients);
    let Some(at) = parse(&state.keyring.ring(), state.issuer(), token, now) else {
        return Ok(None);
    };
    if let Some(fid) = &at.family_id {
        let Some(family) = store::tokens::find_family(c, fid)
            .await?
            .filter(|f| f.revoked_at.is_none())
        else {
            return Ok(None);
        };
        // The grant is checked on every use, so revoking or expiring it deactivates tokens
        // already out there.
        let client = match clients.get(c, &family.client_id).await.map_err(|e| {
            // Keep a database error as it is (an outage must stay a 503).
            e.downcast::<sea_orm::DbErr>()
                .unwrap_or_else(|e| sea_orm::DbErr::Custom(e.to_string()))
        })? {
            Some(client) => client,
            None => return Ok(None),
        };
        if crate::access::grants::roles_for(c, &client, &family.account_id, now)
            .await?
            .is_none()
        {
            return Ok(None);
        }
    }
    if store::tokens::is_access_token_denied(c, &at.jti).await? {
        return Ok(None);
    }
    Ok(Some(at))
}
