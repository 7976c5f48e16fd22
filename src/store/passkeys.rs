//! Passkeys and WebAuthn ceremony state.

use chrono::{DateTime, Utc};
use entity::{passkey, webauthn_ceremony};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

pub async fn insert(c: &impl ConnectionTrait, m: passkey::Model) -> Result<(), DbErr> {
    passkey::Entity::insert(passkey::ActiveModel::from(m))
        .exec_without_returning(c)
        .await
        .map(|_| ())
}

pub async fn of_account(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<passkey::Model>, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::AccountId.eq(account_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .all(c)
        .await
}

pub async fn count_of_account(c: &impl ConnectionTrait, account_id: &str) -> Result<u64, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::AccountId.eq(account_id))
        .count(c)
        .await
}

pub async fn find_by_credential_id(
    c: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Option<passkey::Model>, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_id))
        .one(c)
        .await
}

/// Records a use: the new counter/backup state and when.
pub async fn used(
    c: &impl ConnectionTrait,
    id: &str,
    credential: String,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    passkey::Entity::update_many()
        .filter(passkey::Column::Id.eq(id))
        .set(passkey::ActiveModel {
            credential: Set(credential),
            last_used_at: Set(Some(now)),
            ..Default::default()
        })
        .exec(c)
        .await
        .map(|_| ())
}

pub async fn delete(c: &impl ConnectionTrait, account_id: &str, id: &str) -> Result<bool, DbErr> {
    let r = passkey::Entity::delete_many()
        .filter(passkey::Column::AccountId.eq(account_id))
        .filter(passkey::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn insert_ceremony(
    c: &impl ConnectionTrait,
    m: webauthn_ceremony::Model,
) -> Result<(), DbErr> {
    webauthn_ceremony::Entity::insert(webauthn_ceremony::ActiveModel::from(m))
        .exec_without_returning(c)
        .await
        .map(|_| ())
}

/// Takes a live ceremony of this kind, marking it used in the same statement: a ceremony
/// state is good for one response only, even under concurrent submissions.
pub async fn take_ceremony(
    c: &impl ConnectionTrait,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<webauthn_ceremony::Model>, DbErr> {
    let taken = webauthn_ceremony::Entity::update_many()
        .filter(webauthn_ceremony::Column::Id.eq(id))
        .filter(webauthn_ceremony::Column::Kind.eq(kind))
        .filter(webauthn_ceremony::Column::UsedAt.is_null())
        .filter(webauthn_ceremony::Column::ExpiresAt.gt(now))
        .set(webauthn_ceremony::ActiveModel {
            used_at: Set(Some(now)),
            ..Default::default()
        })
        .exec(c)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(None);
    }
    webauthn_ceremony::Entity::find_by_id(id).one(c).await
}

/// Deletes finished and expired ceremonies (they are worthless after `expires_at`).
pub async fn purge_ceremonies(c: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    webauthn_ceremony::Entity::delete_many()
        .filter(webauthn_ceremony::Column::ExpiresAt.lte(now))
        .exec(c)
        .await
        .map(|r| r.rows_affected)
}
