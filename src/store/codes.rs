use chrono::{DateTime, Utc};
use entity::authorization_code::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn find_by_hash(
    c: &impl ConnectionTrait,
    code_hash: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(code_hash.to_owned()).one(c).await
}

/// Consumes the code exactly once, recording the token family it buys. Returns false when
/// another request consumed it first.
pub async fn consume(
    c: &impl ConnectionTrait,
    code_hash: &str,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::value(now))
        .col_expr(Column::FamilyId, Expr::value(family_id))
        .filter(Column::CodeHash.eq(code_hash))
        .filter(Column::ConsumedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}
