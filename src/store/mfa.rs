//! Second factors: TOTP authenticators, recovery codes, remembered devices, and sign-ins
//! waiting for their second factor.

use chrono::{DateTime, Utc};
use entity::{recovery_code, remembered_device, sign_in_state, totp_factor};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

/// Whether the account has a factor it chose to set up: a passkey or a confirmed
/// authenticator app (`authn::mfa::Enrolled::any`), as an expression for a statement that
/// asks it with other questions (`store::standing`); `account` is the account id's value or
/// a column of the outer statement.
pub fn chosen_factor(account: Expr) -> Expr {
    use entity::passkey;
    use sea_orm::sea_query::Query;
    let passkey = Query::select()
        .expr(Expr::val(1))
        .from(passkey::Entity)
        .and_where(Expr::col((passkey::Entity, passkey::Column::AccountId)).eq(account.clone()))
        .to_owned();
    let totp = Query::select()
        .expr(Expr::val(1))
        .from(totp_factor::Entity)
        .and_where(Expr::col((totp_factor::Entity, totp_factor::Column::AccountId)).eq(account))
        .and_where(totp_factor::Column::ConfirmedAt.is_not_null())
        .to_owned();
    Expr::exists(passkey).or(Expr::exists(totp))
}

// ----- TOTP -----

pub async fn find_totp(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Option<totp_factor::Model>, DbErr> {
    totp_factor::Entity::find_by_id(account_id.to_owned())
        .one(c)
        .await
}

/// Replaces the account's authenticator (an unconfirmed one is simply overwritten).
pub async fn replace_totp(c: &impl ConnectionTrait, m: totp_factor::Model) -> Result<(), DbErr> {
    delete_totp(c, &m.account_id).await?;
    totp_factor::Entity::insert(totp_factor::ActiveModel::from(m))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn delete_totp(c: &impl ConnectionTrait, account_id: &str) -> Result<bool, DbErr> {
    let r = totp_factor::Entity::delete_by_id(account_id.to_owned())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Records `step` as used, only if it is later than every step used before: one conditional
/// update, so two requests racing with the same code cannot both pass (RFC 6238 §5.2).
pub async fn use_totp_step(
    c: &impl ConnectionTrait,
    account_id: &str,
    step: i64,
    confirm_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let mut q = totp_factor::Entity::update_many()
        .col_expr(totp_factor::Column::LastStep, Expr::value(step))
        .filter(totp_factor::Column::AccountId.eq(account_id))
        .filter(
            Condition::any()
                .add(totp_factor::Column::LastStep.is_null())
                .add(totp_factor::Column::LastStep.lt(step)),
        );
    match confirm_at {
        Some(now) => {
            q = q
                .col_expr(totp_factor::Column::ConfirmedAt, Expr::value(now))
                .filter(totp_factor::Column::ConfirmedAt.is_null());
        }
        None => q = q.filter(totp_factor::Column::ConfirmedAt.is_not_null()),
    }
    Ok(q.exec(c).await?.rows_affected == 1)
}

// ----- recovery codes -----

pub async fn replace_recovery_codes(
    c: &impl ConnectionTrait,
    account_id: &str,
    hashes: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    delete_recovery_codes(c, account_id).await?;
    recovery_code::Entity::insert_many(hashes.into_iter().map(|h| recovery_code::ActiveModel {
        code_hash: Set(h),
        account_id: Set(account_id.to_owned()),
        created_at: Set(now),
        used_at: Set(None),
    }))
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn delete_recovery_codes(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .exec(c)
        .await?;
    Ok(())
}

/// Spends an unused code of this account; false if there is none with that hash.
pub async fn use_recovery_code(
    c: &impl ConnectionTrait,
    account_id: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::CodeHash.eq(hash))
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn unused_recovery_codes(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<u64, DbErr> {
    recovery_code::Entity::find()
        .filter(recovery_code::Column::AccountId.eq(account_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(c)
        .await
}

// ----- remembered devices -----

pub async fn insert_device(
    c: &impl ConnectionTrait,
    m: remembered_device::Model,
) -> Result<(), DbErr> {
    remembered_device::Entity::insert(remembered_device::ActiveModel::from(m))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn find_device(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<remembered_device::Model>, DbErr> {
    remembered_device::Entity::find_by_id(token_hash.to_owned())
        .one(c)
        .await
}

pub async fn delete_devices(c: &impl ConnectionTrait, account_id: &str) -> Result<u64, DbErr> {
    let r = remembered_device::Entity::delete_many()
        .filter(remembered_device::Column::AccountId.eq(account_id))
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

pub async fn count_devices(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    remembered_device::Entity::find()
        .filter(remembered_device::Column::AccountId.eq(account_id))
        .filter(remembered_device::Column::ExpiresAt.gt(now))
        .count(c)
        .await
}

// ----- sign-ins waiting for a second factor -----

pub async fn insert_state(c: &impl ConnectionTrait, m: sign_in_state::Model) -> Result<(), DbErr> {
    sign_in_state::Entity::insert(sign_in_state::ActiveModel::from(m))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn find_state(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<sign_in_state::Model>, DbErr> {
    sign_in_state::Entity::find()
        .filter(sign_in_state::Column::TokenHash.eq(token_hash))
        .one(c)
        .await
}

/// Stores a newly sent e-mail code (replacing any earlier one, with a fresh try count).
pub async fn set_email_code(
    c: &impl ConnectionTrait,
    id: &str,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    sign_in_state::Entity::update_many()
        .col_expr(sign_in_state::Column::EmailCodeHash, Expr::value(code_hash))
        .col_expr(
            sign_in_state::Column::EmailCodeExpiresAt,
            Expr::value(expires_at),
        )
        .col_expr(sign_in_state::Column::EmailCodeAttempts, Expr::value(0))
        .filter(sign_in_state::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn add_email_code_attempt(c: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    sign_in_state::Entity::update_many()
        .col_expr(
            sign_in_state::Column::EmailCodeAttempts,
            Expr::col(sign_in_state::Column::EmailCodeAttempts).add(1),
        )
        .filter(sign_in_state::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Ends a waiting sign-in; true only for the request that ended it (single use).
pub async fn complete_state(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = sign_in_state::Entity::update_many()
        .col_expr(sign_in_state::Column::CompletedAt, Expr::value(now))
        .filter(sign_in_state::Column::Id.eq(id))
        .filter(sign_in_state::Column::CompletedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Ends every waiting sign-in of an account (its password or factors changed).
pub async fn complete_states_of_account(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    sign_in_state::Entity::update_many()
        .col_expr(sign_in_state::Column::CompletedAt, Expr::value(now))
        .filter(sign_in_state::Column::AccountId.eq(account_id))
        .filter(sign_in_state::Column::CompletedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}
