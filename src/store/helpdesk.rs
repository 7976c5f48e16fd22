//! Help-desk caller verifications.

use chrono::{DateTime, Utc};
use entity::helpdesk_verification::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    Entity::insert(ActiveModel::from(m))
        .exec_without_returning(c)
        .await
        .map(|_| ())
}

/// Whether `agent` has a live verification for `account_id`.
pub async fn live(
    c: &impl ConnectionTrait,
    agent: &str,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(Column::AgentId.eq(agent))
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .is_some())
}
