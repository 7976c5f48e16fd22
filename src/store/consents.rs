use entity::consent::{ActiveModel, Column, Entity, Model};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

pub async fn upsert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am)
        .on_conflict(
            OnConflict::columns([Column::AccountId, Column::ClientId])
                .update_columns([Column::Scope, Column::GrantedAt])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}
