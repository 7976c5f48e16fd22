//! Queries for dealerships, staff roles, access grants and access requests.

use chrono::{DateTime, Utc};
use entity::{access_grant, access_request, organization, staff_role};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, OnConflict},
};

pub async fn insert_org(c: &impl ConnectionTrait, m: organization::Model) -> Result<(), DbErr> {
    let am: organization::ActiveModel = m.into();
    organization::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn find_org_by_pdn(
    c: &impl ConnectionTrait,
    pdn: &str,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find()
        .filter(organization::Column::Pdn.eq(pdn))
        .one(c)
        .await
}

pub async fn find_org(
    c: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(id.to_owned()).one(c).await
}

pub async fn list_orgs(c: &impl ConnectionTrait) -> Result<Vec<organization::Model>, DbErr> {
    organization::Entity::find()
        .order_by_asc(organization::Column::Pdn)
        .all(c)
        .await
}

pub async fn upsert_staff_role(
    c: &impl ConnectionTrait,
    m: staff_role::Model,
) -> Result<(), DbErr> {
    let am: staff_role::ActiveModel = m.into();
    staff_role::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([staff_role::Column::AccountId, staff_role::Column::Role])
                .update_columns([
                    staff_role::Column::OrgId,
                    staff_role::Column::GrantedBy,
                    staff_role::Column::GrantedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn staff_roles_of(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<staff_role::Model>, DbErr> {
    staff_role::Entity::find()
        .filter(staff_role::Column::AccountId.eq(account_id))
        .all(c)
        .await
}

pub async fn count_admins(c: &impl ConnectionTrait) -> Result<usize, DbErr> {
    Ok(staff_role::Entity::find()
        .filter(staff_role::Column::Role.eq("admin"))
        .all(c)
        .await?
        .len())
}

pub async fn find_grant(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
) -> Result<Option<access_grant::Model>, DbErr> {
    access_grant::Entity::find_by_id((account_id.to_owned(), client_id.to_owned()))
        .one(c)
        .await
}

/// Creates the grant, or replaces a revoked or older one for the same pair.
pub async fn upsert_grant(c: &impl ConnectionTrait, m: access_grant::Model) -> Result<(), DbErr> {
    let am: access_grant::ActiveModel = m.into();
    access_grant::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([
                access_grant::Column::AccountId,
                access_grant::Column::ClientId,
            ])
            .update_columns([
                access_grant::Column::Roles,
                access_grant::Column::GrantedBy,
                access_grant::Column::GrantedAt,
                access_grant::Column::ExpiresAt,
                access_grant::Column::ExpiryRecorded,
                access_grant::Column::RevokedAt,
                access_grant::Column::RevokedBy,
            ])
            .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Revokes an unrevoked grant; false if there was none.
pub async fn revoke_grant(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = access_grant::Entity::update_many()
        .col_expr(access_grant::Column::RevokedAt, Expr::value(now))
        .col_expr(access_grant::Column::RevokedBy, Expr::value(by))
        .filter(access_grant::Column::AccountId.eq(account_id))
        .filter(access_grant::Column::ClientId.eq(client_id))
        .filter(access_grant::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn list_grants(
    c: &impl ConnectionTrait,
    account_id: Option<&str>,
    client_id: Option<&str>,
) -> Result<Vec<access_grant::Model>, DbErr> {
    let mut q = access_grant::Entity::find();
    if let Some(a) = account_id {
        q = q.filter(access_grant::Column::AccountId.eq(a));
    }
    if let Some(cid) = client_id {
        q = q.filter(access_grant::Column::ClientId.eq(cid));
    }
    q.order_by_asc(access_grant::Column::ClientId)
        .order_by_asc(access_grant::Column::AccountId)
        .all(c)
        .await
}

/// Grants past their expiry whose expiry has not been recorded yet.
pub async fn unrecorded_expired_grants(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<access_grant::Model>, DbErr> {
    access_grant::Entity::find()
        .filter(access_grant::Column::ExpiresAt.lte(now))
        .filter(access_grant::Column::ExpiryRecorded.eq(false))
        .filter(access_grant::Column::RevokedAt.is_null())
        .all(c)
        .await
}

/// Marks one expiry recorded; false if another node did it first.
pub async fn mark_expiry_recorded(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
) -> Result<bool, DbErr> {
    let r = access_grant::Entity::update_many()
        .col_expr(access_grant::Column::ExpiryRecorded, Expr::value(true))
        .filter(access_grant::Column::AccountId.eq(account_id))
        .filter(access_grant::Column::ClientId.eq(client_id))
        .filter(access_grant::Column::ExpiryRecorded.eq(false))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn insert_request(
    c: &impl ConnectionTrait,
    m: access_request::Model,
) -> Result<(), DbErr> {
    let am: access_request::ActiveModel = m.into();
    access_request::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn find_request(
    c: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<access_request::Model>, DbErr> {
    access_request::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
}

pub async fn find_pending_request(
    c: &impl ConnectionTrait,
    kind: &str,
    account_id: &str,
    client_id: &str,
) -> Result<Option<access_request::Model>, DbErr> {
    access_request::Entity::find()
        .filter(access_request::Column::Kind.eq(kind))
        .filter(access_request::Column::AccountId.eq(account_id))
        .filter(access_request::Column::ClientId.eq(client_id))
        .filter(access_request::Column::Status.eq("pending"))
        .one(c)
        .await
}

/// Records a decision on a pending request; false if it was already decided.
pub async fn decide_request(
    c: &impl ConnectionTrait,
    id: &str,
    status: &str,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = access_request::Entity::update_many()
        .col_expr(access_request::Column::Status, Expr::value(status))
        .col_expr(access_request::Column::DecidedBy, Expr::value(by))
        .col_expr(access_request::Column::DecidedAt, Expr::value(now))
        .col_expr(
            access_request::Column::DecisionReason,
            Expr::value(reason.map(str::to_owned)),
        )
        .filter(access_request::Column::Id.eq(id))
        .filter(access_request::Column::Status.eq("pending"))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn list_requests(
    c: &impl ConnectionTrait,
    status: Option<&str>,
    org_id: Option<&str>,
) -> Result<Vec<access_request::Model>, DbErr> {
    let mut cond = Condition::all();
    if let Some(s) = status {
        cond = cond.add(access_request::Column::Status.eq(s));
    }
    if let Some(o) = org_id {
        cond = cond.add(access_request::Column::OrgId.eq(o));
    }
    access_request::Entity::find()
        .filter(cond)
        .order_by_asc(access_request::Column::FiledAt)
        .all(c)
        .await
}

/// The rows of a read that LEFT JOINs an account's grants (one row per grant, and one with
/// none when there are no grants): the rest of the first row, and every grant.
pub fn with_grants<H>(
    rows: impl IntoIterator<Item = (H, Option<access_grant::Model>)>,
) -> Option<(H, Vec<access_grant::Model>)> {
    let mut rows = rows.into_iter();
    let (head, first) = rows.next()?;
    let grants = first
        .into_iter()
        .chain(rows.filter_map(|(_, g)| g))
        .collect();
    Some((head, grants))
}
