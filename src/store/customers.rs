//! Queries for customer records (looked up only by keyed hash).

use entity::customer::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

pub async fn find_by_card(c: &impl ConnectionTrait, hash: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::CardHash.eq(hash))
        .one(c)
        .await
}

pub async fn find_by_account(c: &impl ConnectionTrait, hash: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::AccountHash.eq(hash))
        .one(c)
        .await
}

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn update(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am = sea_orm::ActiveModelTrait::reset_all(ActiveModel::from(m));
    Entity::update(am).exec(c).await?;
    Ok(())
}

pub async fn count(c: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    Entity::find().count(c).await
}

pub async fn find(c: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(c).await
}
