use entity::audit_event::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait, QueryOrder,
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am = ActiveModel {
        id: NotSet,
        at: Set(m.at),
        event: Set(m.event),
        actor: Set(m.actor),
        target: Set(m.target),
        client_ip: Set(m.client_ip),
        request_id: Set(m.request_id),
        detail: Set(m.detail),
    };
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Id).all(c).await
}
