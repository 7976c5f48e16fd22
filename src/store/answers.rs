//! Queries for security-question answers (hashes only).

use entity::security_answer::{ActiveModel, Column, Entity, Model};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

pub async fn upsert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am)
        .on_conflict(
            OnConflict::columns([Column::AccountId, Column::Slot])
                .update_columns([Column::Question, Column::AnswerHash, Column::SetAt])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn find(
    c: &impl ConnectionTrait,
    account_id: &str,
    slot: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id((account_id.to_owned(), slot.to_owned()))
        .one(c)
        .await
}
