//! Access requests: a person asks for an application; a reviewer (an admin, or the
//! dealership's dealer_admin) approves, which creates the grant, or rejects with a reason.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{
    grants::{self, GrantError, NewGrant},
    staff::Principal,
};
use crate::{
    accounts::{
        lifecycle::{self, LifecycleError},
        users::AccountStatus,
    },
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

pub const KIND_ACCESS: &str = "access";

/// What a request asks for: the four requests of the User ID Request form. `Access` is also
/// what the "no access" screen files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Access,
    RemoveAccess,
    Deactivate,
    Reactivate,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Access,
        Kind::RemoveAccess,
        Kind::Deactivate,
        Kind::Reactivate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => KIND_ACCESS,
            Kind::RemoveAccess => "remove_access",
            Kind::Deactivate => "deactivate",
            Kind::Reactivate => "reactivate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Whether the request names an application.
    pub fn needs_application(self) -> bool {
        matches!(self, Kind::Access | Kind::RemoveAccess)
    }
    /// How the request reads in the queue and in e-mails ("access to SmartCash").
    pub fn describe(self, application: &str, username: &str) -> String {
        match self {
            Kind::Access => format!("access to {application}"),
            Kind::RemoveAccess => format!("removal of access to {application}"),
            Kind::Deactivate => format!("deactivation of user ID {username}"),
            Kind::Reactivate => format!("reactivation of user ID {username}"),
        }
    }
}

/// The fields the User ID Request form requires (the dealer FAQ's list), kept with the
/// request for the reviewer.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Details {
    pub dealership_name: String,
    pub pdn: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub phone: String,
    pub job_role: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetailsError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{0} is too long (at most 100 characters)")]
    TooLong(&'static str),
    #[error("the PDN must be exactly 5 digits")]
    BadPdn,
    #[error("the PDN is not this user's dealership")]
    OtherDealership,
    #[error("enter a valid e-mail address")]
    BadEmail,
    #[error("enter a business phone number of 10 to 15 digits")]
    BadPhone,
}

/// A phone number as people type it: digits with optional `+`, spaces, dots, dashes and
/// parentheses; 10 to 15 digits (E.164's maximum).
pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (10..=15).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '.' | '-' | '(' | ')'))
}

impl Details {
    /// Trims every field and checks it; `dealership_pdn` is the PDN of the user's own
    /// dealership, which the form's PDN must match (None for users of no dealership, who
    /// leave the dealership fields empty).
    pub fn validate(mut self, dealership_pdn: Option<&str>) -> Result<Self, DetailsError> {
        for f in [
            &mut self.dealership_name,
            &mut self.pdn,
            &mut self.given_name,
            &mut self.family_name,
            &mut self.email,
            &mut self.phone,
            &mut self.job_role,
        ] {
            *f = f.trim().to_owned();
        }
        let mut required = vec![
            ("First name", &self.given_name),
            ("Last name", &self.family_name),
            ("E-mail", &self.email),
        ];
        // Dealer staff: the dealer FAQ's full list. Others have no dealership, phone or role.
        if dealership_pdn.is_some() {
            required.insert(0, ("Dealership name", &self.dealership_name));
            required.insert(1, ("PDN", &self.pdn));
            required.push(("Business phone", &self.phone));
            required.push(("Role", &self.job_role));
        }
        for (name, v) in required {
            if v.is_empty() {
                return Err(DetailsError::Missing(name));
            }
            if v.chars().count() > 100 {
                return Err(DetailsError::TooLong(name));
            }
        }
        if let Some(pdn) = dealership_pdn {
            if super::orgs::Pdn::parse(&self.pdn).is_none() {
                return Err(DetailsError::BadPdn);
            }
            if self.pdn != pdn {
                return Err(DetailsError::OtherDealership);
            }
        }
        if !crate::accounts::users::valid_email(&self.email) {
            return Err(DetailsError::BadEmail);
        }
        if (dealership_pdn.is_some() || !self.phone.is_empty()) && !valid_phone(&self.phone) {
            return Err(DetailsError::BadPhone);
        }
        Ok(self)
    }
}

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
    #[error("choose an application")]
    ApplicationRequired,
    #[error("the user already has access to that application")]
    AlreadyGranted,
    #[error("the user does not have access to that application")]
    NotGranted,
    #[error("the user ID is not active")]
    NotActive,
    #[error("the user ID is not deactivated")]
    NotDeactivated,
    #[error("this request is part of a registration; decide the registration as a whole")]
    PartOfRegistration,
    #[error(transparent)]
    Details(#[from] DetailsError),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
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
    insert(
        c,
        now,
        ctx,
        Actor::Account(account_id),
        account_id,
        Kind::Access,
        client_id,
        reason,
        None,
    )
    .await
}

/// A User ID Request form as submitted: by the user, or by a reviewer for their staff.
pub struct UserIdRequest {
    pub kind: Kind,
    /// The application, for `Access` and `RemoveAccess`.
    pub client_id: Option<String>,
    pub reason: Option<String>,
    pub details: Details,
}

/// Files a User ID Request after checking it makes sense for the account as it is now
/// (no access request for an application already granted, no reactivation of an active
/// user ID, ...). A double submission returns the pending request instead of filing another.
pub async fn file_user_id_request(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    filed_by: Actor<'_>,
    account: &entity::account::Model,
    r: UserIdRequest,
) -> Result<String, RequestError> {
    let reason = clean_reason(r.reason.as_deref())?;
    let pdn = match &account.org_id {
        Some(org) => store::access::find_org(c, org).await?.map(|o| o.pdn),
        None => None,
    };
    let details = r.details.validate(pdn.as_deref())?;
    let client_id = if r.kind.needs_application() {
        let id = r
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or(RequestError::ApplicationRequired)?;
        let client = store::clients::find(c, &id)
            .await?
            .ok_or(RequestError::Grant(GrantError::UnknownClient))?;
        let granted = store::access::find_grant(c, &account.id, &id)
            .await?
            .is_some_and(|g| grants::is_active(&g, now));
        match r.kind {
            Kind::Access if granted => return Err(RequestError::AlreadyGranted),
            Kind::RemoveAccess if !granted => return Err(RequestError::NotGranted),
            _ => {}
        }
        client.client_id
    } else {
        String::new()
    };
    let status = AccountStatus::parse(&account.status);
    match r.kind {
        Kind::Reactivate if status != Some(AccountStatus::Deactivated) => {
            return Err(RequestError::NotDeactivated);
        }
        Kind::Access | Kind::RemoveAccess | Kind::Deactivate
            if !matches!(
                status,
                Some(AccountStatus::Active) | Some(AccountStatus::Locked)
            ) =>
        {
            return Err(RequestError::NotActive);
        }
        _ => {}
    }
    let details = serde_json::to_value(details).map_err(|e| {
        RequestError::Db(sea_orm::DbErr::Custom(format!("serialising details: {e}")))
    })?;
    insert(
        c,
        now,
        ctx,
        filed_by,
        &account.id,
        r.kind,
        &client_id,
        reason,
        Some(details),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    filed_by: Actor<'_>,
    account_id: &str,
    kind: Kind,
    client_id: &str,
    reason: Option<String>,
    details: Option<serde_json::Value>,
) -> Result<String, RequestError> {
    if let Some(existing) =
        store::access::find_pending_request(c, kind.as_str(), account_id, client_id).await?
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
            kind: kind.as_str().to_owned(),
            account_id: account_id.to_owned(),
            client_id: client_id.to_owned(),
            org_id,
            reason,
            status: "pending".to_owned(),
            filed_at: now,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            details,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccessRequestFiled,
        filed_by,
        Some(account_id),
        serde_json::json!({ "request": id, "kind": kind.as_str(), "client_id": client_id }),
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
    let kind = Kind::parse(&r.kind).unwrap_or(Kind::Access);
    crate::mail::enqueue(
        c,
        now,
        &account.email,
        crate::mail::Template::AccessDecision,
        serde_json::json!({
            "name": account.given_name.unwrap_or_else(|| account.username.clone()),
            "kind": kind.as_str(),
            "what": kind.describe(&application, &account.username),
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
    let account_status = store::accounts::find_by_id(c, &r.account_id)
        .await?
        .and_then(|a| AccountStatus::parse(&a.status));
    if account_status == Some(AccountStatus::PendingApproval) {
        return Err(RequestError::PartOfRegistration);
    }
    let by = who.actor().render().unwrap_or_default();
    if !store::access::decide_request(c, id, "approved", &by, None, now).await? {
        return Err(RequestError::AlreadyDecided);
    }
    apply(c, now, ctx, who, &r, roles).await?;
    notify(c, now, &r, true, None).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccessRequestApproved,
        who.actor(),
        Some(&r.account_id),
        serde_json::json!({ "request": id, "kind": r.kind, "client_id": r.client_id }),
    )
    .await?;
    Ok(())
}

/// Carries out an approved request, in the caller's transaction.
async fn apply(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: &Principal,
    r: &entity::access_request::Model,
    roles: Vec<String>,
) -> Result<(), RequestError> {
    match Kind::parse(&r.kind) {
        Some(Kind::Access) | None => {
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
            .await?
        }
        Some(Kind::RemoveAccess) => {
            match grants::revoke(c, now, ctx, who.actor(), &r.account_id, &r.client_id).await {
                // Already gone (revoked or expired since filing): the outcome asked for holds.
                Ok(()) | Err(GrantError::NothingToRevoke) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Some(Kind::Deactivate) => {
            lifecycle::deactivate(c, now, ctx, who.actor(), &r.account_id, "user ID request")
                .await?
        }
        Some(Kind::Reactivate) => {
            lifecycle::reactivate(c, now, ctx, who.actor(), &r.account_id).await?
        }
    }
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
        serde_json::json!({ "request": id, "kind": r.kind, "client_id": r.client_id, "reason": reason }),
    )
    .await?;
    Ok(())
}
