use entity::signing_key::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

/// Keys not yet retired, oldest first (the key ring treats the newest per algorithm as active).
pub async fn list_published(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .order_by_asc(Column::CreatedAt)
        .all(c)
        .await
}

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

/// Marks a key as replaced; false if it already was (another rotation won).
pub async fn supersede(
    c: &impl ConnectionTrait,
    kid: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::SupersededAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Kid.eq(kid))
        .filter(Column::SupersededAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Takes a key out of the JWKS for good; false if it already was.
pub async fn retire(
    c: &impl ConnectionTrait,
    kid: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::RetiredAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Kid.eq(kid))
        .filter(Column::RetiredAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Every key, retired ones included, oldest first (for `keys list`).
pub async fn list_all(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::CreatedAt).all(c).await
}
