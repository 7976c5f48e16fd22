use chrono::{DateTime, Utc};
use entity::authorization_request::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::Expr,
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn find(c: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(c).await
}

pub async fn update_params(
    c: &impl ConnectionTrait,
    id: &str,
    params: serde_json::Value,
) -> Result<(), DbErr> {
    Entity::update(ActiveModel {
        id: Set(id.to_owned()),
        params: Set(params),
        ..Default::default()
    })
    .exec(c)
    .await?;
    Ok(())
}

/// Marks the request finished; false if it already was (a replayed form post).
pub async fn complete(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::CompletedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::CompletedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}
