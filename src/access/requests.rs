//! Access requests: a person asks for an application; a reviewer (an admin, or the
//! dealership's dealer_admin) approves, which creates the grant, or rejects with a reason.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    grants::{self, GrantError, NewGrant},
    staff::Principal,
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

pub const KIND_ACCESS: &str = "access";

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no such request")]
    NotFound,
    #[error("the request was already decided")]
    AlreadyDecided,
    #[error("you may not decide requests of this dealership")]
    Forbidden,
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("the reason is too long (at most 500 characters)")]
    ReasonTooLong,
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

fn clean_reason(r: Option<&str>) -> Result<Option<String>, RequestError> {
    match r.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > 500 => Err(RequestError::ReasonTooLong),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Files a request for access, or returns the one already pending for the same account and
/// application (a double submission files nothing new).
pub async fn file(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    client_id: &str,
    reason: Option<&str>,
) -> Result<String, RequestError> {
    let reason = clean_reason(reason)?;
    if let Some(existing) =
        store::access::find_pending_request(c, KIND_ACCESS, account_id, client_id).await?
    {
        return Ok(existing.id);
    }
    let org_id = store::accounts::find_by_id(c, account_id)
        .await?
        .and_then(|a| a.org_id);
    let id = uuid::Uuid::new_v4().to_string();
    store::access::insert_request(
        c,
        entity::access_request::Model {
            id: id.clone(),
            kind: KIND_ACCESS.to_owned(),
            account_id: account_id.to_owned(),
            client_id: client_id.to_owned(),
            org_id,
            reason,
            status: "pending".to_owned(),
            filed_at: now,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccessRequestFiled,
        Actor::Account(account_id),
        Some(account_id),
        serde_json::json!({ "request": id, "client_id": client_id }),
    )
    .await?;
    Ok(id)
}

async fn pending_for(
    c: &impl ConnectionTrait,
    who: &Principal,
    id: &str,
) -> Result<entity::access_request::Model, RequestError> {
    let r = store::access::find_request(c, id)
        .await?
        .ok_or(RequestError::NotFound)?;
    if !who.can_decide_request(r.org_id.as_deref()) {
        // Outside a dealer_admin's dealership the request does not exist for them.
        return Err(if who.can_review_requests() {
            RequestError::NotFound
        } else {
            RequestError::Forbidden
        });
    }
    if r.status != "pending" {
        return Err(RequestError::AlreadyDecided);
    }
    Ok(r)
}

/// Tells the requester the decision by e-mail (queued in the same transaction).
async fn notify(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    r: &entity::access_request::Model,
    approved: bool,
    reason: Option<&str>,
) -> Result<(), RequestError> {
    let Some(account) = store::accounts::find_by_id(c, &r.account_id).await? else {
        return Ok(());
    };
    let application = store::clients::find(c, &r.client_id)
        .await?
        .map_or_else(|| r.client_id.clone(), |m| m.name);
    crate::mail::enqueue(
        c,
        now,
        &account.email,
        crate::mail::Template::AccessDecision,
        serde_json::json!({
            "name": account.given_name.unwrap_or_else(|| account.username.clone()),
            "username": account.username,
            "application": application,
            "approved": approved,
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}

/// Approves: the grant (with `roles`) is created in the same transaction.
pub async fn approve(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: &Principal,
    id: &str,
    roles: Vec<String>,
) -> Result<(), RequestError> {
    let r = pending_for(c, who, id).await?;
    let by = who.actor().render().unwrap_or_default();
    if !store::access::decide_request(c, id, "approved", &by, None, now).await? {
        return Err(RequestError::AlreadyDecided);
    }
    grants::add(
        c,
        now,
        ctx,
        who.actor(),
        NewGrant {
            account_id: r.account_id.clone(),
            client_id: r.client_id.clone(),
            roles,
            expires_at: None,
        },
    )
    .await?;
    notify(c, now, &r, true, None).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccessRequestApproved,
        who.actor(),
        Some(&r.account_id),
        serde_json::json!({ "request": id, "client_id": r.client_id }),
    )
    .await?;
    Ok(())
}

pub async fn reject(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: &Principal,
    id: &str,
    reason: Option<&str>,
) -> Result<(), RequestError> {
    let reason = clean_reason(reason)?.ok_or(RequestError::ReasonRequired)?;
    let r = pending_for(c, who, id).await?;
    let by = who.actor().render().unwrap_or_default();
    if !store::access::decide_request(c, id, "rejected", &by, Some(&reason), now).await? {
        return Err(RequestError::AlreadyDecided);
    }
    notify(c, now, &r, false, Some(&reason)).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccessRequestRejected,
        who.actor(),
        Some(&r.account_id),
        serde_json::json!({ "request": id, "client_id": r.client_id, "reason": reason }),
    )
    .await?;
    Ok(())
}
