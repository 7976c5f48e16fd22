//! Reviewing dealer self-registrations. A registration is decided as a whole: approving
//! activates the pending account and grants the applications the reviewer chose (all or some
//! of those requested; the others are rejected); rejecting closes the account and every
//! request with the reviewer's reason. Either way the applicant is e-mailed, in the same
//! transaction.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    grants::{self, NewGrant},
    requests::{KIND_ACCESS, RequestError},
    staff::Principal,
};
use crate::{
    accounts::users::AccountStatus,
    audit::{self, AuditEvent, RequestContext},
    mail::{self, Template},
    store,
};

/// A pending registration as the queue shows it.
pub struct Pending {
    pub account: entity::account::Model,
    pub requests: Vec<entity::access_request::Model>,
}

/// The pending account and its open access requests, if `who` may decide it.
pub async fn pending(
    c: &impl ConnectionTrait,
    who: &Principal,
    account_id: &str,
) -> Result<Pending, RequestError> {
    let account = store::accounts::find_by_id(c, account_id)
        .await?
        .filter(|a| who.can_decide_request(a.org_id.as_deref()))
        .ok_or(RequestError::NotFound)?;
    if account.status != AccountStatus::PendingApproval.as_str() {
        return Err(RequestError::AlreadyDecided);
    }
    let requests = store::access::list_requests(c, Some("pending"), account.org_id.as_deref())
        .await?
        .into_iter()
        .filter(|r| r.account_id == account.id && r.kind == KIND_ACCESS)
        .collect();
    Ok(Pending { account, requests })
}

/// One application approved at registration, with the roles to grant.
pub struct Approved {
    pub client_id: String,
    pub roles: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
async fn notify(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    a: &entity::account::Model,
    approved: bool,
    granted: Vec<String>,
    refused: Vec<String>,
    reason: Option<&str>,
) -> Result<(), RequestError> {
    mail::enqueue(
        c,
        now,
        &a.email,
        Template::RegistrationDecision,
        serde_json::json!({
            "name": crate::accounts::users::greeting_name(a),
            "username": a.username,
            "approved": approved,
            "granted": granted,
            "refused": refused,
            "reason": reason,
        }),
    )
    .await?;
    Ok(())
}

async fn app_name(c: &impl ConnectionTrait, client_id: &str) -> Result<String, RequestError> {
    Ok(store::clients::find(c, client_id)
        .await?
        .map_or_else(|| client_id.to_owned(), |m| m.name))
}

pub async fn approve(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: &Principal,
    account_id: &str,
    approved: Vec<Approved>,
) -> Result<(), RequestError> {
    let p = pending(c, who, account_id).await?;
    if approved.is_empty() {
        return Err(RequestError::ApplicationRequired);
    }
    if approved
        .iter()
        .any(|a| !p.requests.iter().any(|r| r.client_id == a.client_id))
    {
        return Err(RequestError::Grant(
            super::grants::GrantError::UnknownClient,
        ));
    }
    if !store::accounts::change_status(
        c,
        account_id,
        &[AccountStatus::PendingApproval.as_str()],
        AccountStatus::Active.as_str(),
        now,
    )
    .await?
    {
        return Err(RequestError::AlreadyDecided);
    }
    // The inactivity clock of an account that never signs in counts from here.
    store::accounts::set_activated(c, account_id, now).await?;
    let by = who.actor().render().unwrap_or_default();
    let (mut granted, mut refused) = (Vec::new(), Vec::new());
    for r in &p.requests {
        let choice = approved.iter().find(|a| a.client_id == r.client_id);
        let name = app_name(c, &r.client_id).await?;
        match choice {
            Some(a) => {
                if !store::access::decide_request(c, &r.id, "approved", &by, None, now).await? {
                    return Err(RequestError::AlreadyDecided);
                }
                grants::add(
                    c,
                    now,
                    ctx,
                    who.actor(),
                    NewGrant {
                        account_id: account_id.to_owned(),
                        client_id: r.client_id.clone(),
                        roles: a.roles.clone(),
                        expires_at: None,
                    },
                )
                .await?;
                granted.push(name);
            }
            None => {
                let why = Some("not approved at registration");
                if !store::access::decide_request(c, &r.id, "rejected", &by, why, now).await? {
                    return Err(RequestError::AlreadyDecided);
                }
                refused.push(name);
            }
        }
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::RegistrationApproved,
        who.actor(),
        Some(account_id),
        serde_json::json!({
            "granted": approved.iter().map(|a| &a.client_id).collect::<Vec<_>>(),
        }),
    )
    .await?;
    notify(c, now, &p.account, true, granted, refused, None).await
}

pub async fn reject(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: &Principal,
    account_id: &str,
    reason: &str,
) -> Result<(), RequestError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(RequestError::ReasonRequired);
    }
    if reason.chars().count() > 500 {
        return Err(RequestError::ReasonTooLong);
    }
    let p = pending(c, who, account_id).await?;
    if !store::accounts::change_status(
        c,
        account_id,
        &[AccountStatus::PendingApproval.as_str()],
        AccountStatus::Rejected.as_str(),
        now,
    )
    .await?
    {
        return Err(RequestError::AlreadyDecided);
    }
    let by = who.actor().render().unwrap_or_default();
    for r in &p.requests {
        store::access::decide_request(c, &r.id, "rejected", &by, Some(reason), now).await?;
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::RegistrationRejected,
        who.actor(),
        Some(account_id),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    notify(c, now, &p.account, false, vec![], vec![], Some(reason)).await
}
