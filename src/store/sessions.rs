use chrono::{DateTime, Utc};
use entity::sso_session::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn find_by_token_hash(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(c)
        .await
}

pub async fn find(c: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(c).await
}

/// Ends the session; false if it had already ended.
pub async fn end(c: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::EndedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The account's sessions that have not ended or expired.
pub async fn live_for_account(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::EndedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .order_by_desc(Column::LastSeenAt)
        .all(c)
        .await
}

/// Ends every live session of an account; returns how many.
pub async fn end_all_for_account(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::EndedAt, Expr::value(now))
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

pub async fn step_up(
    c: &impl ConnectionTrait,
    id: &str,
    amr: serde_json::Value,
    acr: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let r = Entity::update_many()
        .col_expr(Column::Amr, Expr::value(amr))
        .col_expr(Column::Acr, Expr::value(acr))
        .col_expr(Column::AuthTime, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}
