use entity::consent::{ActiveModel, Column, Entity, Model};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

pub async fn find(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id((account_id.to_owned(), client_id.to_owned()))
        .one(c)
        .await
}

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
