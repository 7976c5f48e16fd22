use entity::client::{ActiveModel, Column, Entity, Model};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};

pub async fn find(c: &impl ConnectionTrait, client_id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(client_id.to_owned()).one(c).await
}

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::ClientId).all(c).await
}

pub async fn update(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    let am = sea_orm::ActiveModelTrait::reset_all(am);
    Entity::update(am).exec(c).await?;
    Ok(())
}
