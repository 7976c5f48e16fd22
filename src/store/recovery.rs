//! Password resets (one-time links and the step after two right challenge answers) and
//! password history.

use chrono::{DateTime, Utc};
use entity::{account, password_history, password_reset};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};

/// Accounts registered to an e-mail address (compared case-insensitively).
pub async fn accounts_by_email(
    c: &impl ConnectionTrait,
    email: &str,
) -> Result<Vec<account::Model>, DbErr> {
    account::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(account::Column::Email))).eq(email.to_lowercase()))
        .order_by_asc(account::Column::Username)
        .all(c)
        .await
}

pub async fn insert_reset(c: &impl ConnectionTrait, m: password_reset::Model) -> Result<(), DbErr> {
    password_reset::Entity::insert(password_reset::ActiveModel::from(m))
        .exec_without_returning(c)
        .await
        .map(|_| ())
}

/// A live (unused, unexpired) reset by the hash of its token.
pub async fn find_live_reset(
    c: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<password_reset::Model>, DbErr> {
    password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(c)
        .await
}

/// Marks a reset used, in one conditional statement: false if it was used (or expired)
/// meanwhile, so one link changes a password once even under concurrent posts.
pub async fn take_reset(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Voids every live reset of an account (a password change makes older links useless).
pub async fn void_resets(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::AccountId.eq(account_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(c)
        .await
        .map(|_| ())
}

/// The account's previous password hashes, newest first.
pub async fn history(
    c: &impl ConnectionTrait,
    account_id: &str,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    Ok(password_history::Entity::find()
        .filter(password_history::Column::AccountId.eq(account_id))
        .order_by_desc(password_history::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.password_hash)
        .collect())
}

/// Replaces the password hash, keeping the old one in the history.
pub async fn set_password(
    c: &impl ConnectionTrait,
    account: &account::Model,
    new_hash: String,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    password_history::Entity::insert(password_history::ActiveModel {
        account_id: Set(account.id.clone()),
        password_hash: Set(account.password_hash.clone()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(c)
    .await?;
    account::Entity::update(account::ActiveModel {
        id: Set(account.id.clone()),
        password_hash: Set(new_hash),
        password_changed_at: Set(Some(now)),
        must_change_password: Set(must_change),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(c)
    .await
    .map(|_| ())
}
