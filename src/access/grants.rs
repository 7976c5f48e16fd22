//! Access grants: one account may use one `grant_required` application, with optional roles
//! and an optional expiry. A revoked or expired grant takes effect at once: every check that
//! issues or accepts a token asks `roles_for` again.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    client_cache::ClientCache,
    clients::{AccessPolicy, Client},
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("no such account")]
    UnknownAccount,
    #[error("no such application")]
    UnknownClient,
    #[error("role names must be 1-64 characters of letters, digits, '.', '_', ':' or '-'")]
    InvalidRole,
    #[error("the expiry must be in the future")]
    ExpiryInPast,
    #[error("there is no active grant to revoke")]
    NothingToRevoke,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn valid_role(r: &str) -> bool {
    (1..=64).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub fn is_active(g: &entity::access_grant::Model, now: DateTime<Utc>) -> bool {
    g.revoked_at.is_none() && g.expires_at.is_none_or(|e| e > now)
}

fn roles_of(g: &entity::access_grant::Model) -> Vec<String> {
    serde_json::from_value(g.roles.clone()).unwrap_or_default()
}

/// The roles `grant` (the account's grant for a `grant_required` application, if any) gives
/// now; `None` when there is none or it is no longer active.
fn active_roles(
    grant: Option<&entity::access_grant::Model>,
    now: DateTime<Utc>,
) -> Option<Vec<String>> {
    grant.filter(|g| is_active(g, now)).map(roles_of)
}

/// Whether the account may use the application now, and with which roles: `Some(roles)` (empty
/// for open applications) or `None`.
pub async fn roles_for(
    c: &impl ConnectionTrait,
    client: &Client,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, sea_orm::DbErr> {
    match client.access_policy {
        AccessPolicy::Open => Ok(Some(Vec::new())),
        AccessPolicy::GrantRequired => {
            let grant = store::access::find_grant(c, account_id, &client.client_id).await?;
            Ok(active_roles(grant.as_ref(), now))
        }
    }
}

/// What a token for `client` says about the account's access.
#[derive(Debug, Clone)]
pub struct Access {
    /// Its roles at `client` (empty for an open application).
    pub roles: Vec<String>,
    /// `ally_apps`: the applications (sign-in clients) the account may use now, every open
    /// one and every one it holds an active grant for.
    pub apps: Vec<String>,
}

/// `roles_for` and `ally_apps` together, from one read of the account's grants (the
/// application list comes from the client cache). `None` when the account may not use
/// `client` now.
pub async fn access_for(
    c: &impl ConnectionTrait,
    clients: &ClientCache,
    client: &Client,
    account_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Access>> {
    let grants = store::access::list_grants(c, Some(account_id), None).await?;
    access_from(c, clients, client, &grants, now).await
}

/// `access_for` from the account's grants read already (the token grants read them with
/// the code or refresh token, in the same statement).
pub async fn access_from(
    c: &impl ConnectionTrait,
    clients: &ClientCache,
    client: &Client,
    grants: &[entity::access_grant::Model],
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Access>> {
    let grant_for = |id: &str| grants.iter().find(|g| g.client_id == id);
    let roles = match client.access_policy {
        AccessPolicy::Open => Vec::new(),
        AccessPolicy::GrantRequired => match active_roles(grant_for(&client.client_id), now) {
            Some(roles) => roles,
            None => return Ok(None),
        },
    };
    let apps = clients
        .sign_in_apps(c)
        .await?
        .iter()
        .filter(|a| match a.access_policy {
            AccessPolicy::Open => true,
            AccessPolicy::GrantRequired => {
                grant_for(&a.client_id).is_some_and(|g| is_active(g, now))
            }
        })
        .map(|a| a.client_id.clone())
        .collect();
    Ok(Some(Access { roles, apps }))
}

/// What to grant.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub account_id: String,
    pub client_id: String,
    pub roles: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Grants (or re-grants, replacing roles and expiry) access to an application.
pub async fn add(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    g: NewGrant,
) -> Result<(), GrantError> {
    if g.roles.iter().any(|r| !valid_role(r)) {
        return Err(GrantError::InvalidRole);
    }
    if g.expires_at.is_some_and(|e| e <= now) {
        return Err(GrantError::ExpiryInPast);
    }
    if store::accounts::find_by_id(c, &g.account_id)
        .await?
        .is_none()
    {
        return Err(GrantError::UnknownAccount);
    }
    if store::clients::find(c, &g.client_id).await?.is_none() {
        return Err(GrantError::UnknownClient);
    }
    let mut roles = g.roles.clone();
    roles.sort();
    roles.dedup();
    store::access::upsert_grant(
        c,
        entity::access_grant::Model {
            account_id: g.account_id.clone(),
            client_id: g.client_id.clone(),
            roles: serde_json::json!(roles),
            granted_by: actor.render(),
            granted_at: now,
            expires_at: g.expires_at,
            expiry_recorded: false,
            revoked_at: None,
            revoked_by: None,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::GrantAdded,
        actor,
        Some(&g.account_id),
        serde_json::json!({ "client_id": g.client_id, "roles": roles, "expires_at": g.expires_at }),
    )
    .await?;
    Ok(())
}

/// Revokes a grant. Tokens already issued stop working at once (refresh, introspection and
/// UserInfo all re-check the grant).
pub async fn revoke(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    account_id: &str,
    client_id: &str,
) -> Result<(), GrantError> {
    let by = actor.render().unwrap_or_default();
    if !store::access::revoke_grant(c, account_id, client_id, &by, now).await? {
        return Err(GrantError::NothingToRevoke);
    }
    // That application only: the person stays signed in to the others.
    crate::authn::logout::sign_out_of_app(c, now, account_id, client_id, "grant revoked").await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::GrantRevoked,
        actor,
        Some(account_id),
        serde_json::json!({ "client_id": client_id }),
    )
    .await?;
    Ok(())
}

/// Writes one `grant.expired` event per grant that has passed its expiry (run periodically;
/// access itself is refused from the moment of expiry regardless). Returns how many.
pub async fn record_expiries(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
) -> Result<usize, sea_orm::DbErr> {
    let mut n = 0;
    for g in store::access::unrecorded_expired_grants(c, now).await? {
        if store::access::mark_expiry_recorded(c, &g.account_id, &g.client_id).await? {
            crate::authn::logout::sign_out_of_app(
                c,
                now,
                &g.account_id,
                &g.client_id,
                "grant expired",
            )
            .await?;
            audit::record(
                c,
                now,
                ctx,
                AuditEvent::GrantExpired,
                Actor::System,
                Some(&g.account_id),
                serde_json::json!({ "client_id": g.client_id, "expired_at": g.expires_at }),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names() {
        assert!(super::valid_role("buyer"));
        assert!(super::valid_role("smartauction:seller"));
        assert!(!super::valid_role(""));
        assert!(!super::valid_role("has space"));
    }
}
