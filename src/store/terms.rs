//! Queries for recorded acceptance of application terms.

use chrono::{DateTime, Utc};
use entity::terms_acceptance::{ActiveModel, Column, Entity};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

pub async fn exists(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
    version: &str,
) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id((
        account_id.to_owned(),
        client_id.to_owned(),
        version.to_owned(),
    ))
    .one(c)
    .await?
    .is_some())
}

/// Records an acceptance; false if it was already recorded.
pub async fn insert(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
    version: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    if exists(c, account_id, client_id, version).await? {
        return Ok(false);
    }
    let am = ActiveModel {
        account_id: Set(account_id.to_owned()),
        client_id: Set(client_id.to_owned()),
        version: Set(version.to_owned()),
        accepted_at: Set(now),
    };
    Entity::insert(am)
        .on_conflict(
            OnConflict::columns([Column::AccountId, Column::ClientId, Column::Version])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(true)
}
