//! Token families (everything issued from one authorization code), refresh tokens, and the
//! deny-list of revoked access-token ids.

use chrono::{DateTime, Utc};
use entity::{refresh_token, revoked_access_token, token_family};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    sea_query::{Expr, OnConflict},
};

pub async fn find_family(
    c: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<token_family::Model>, DbErr> {
    token_family::Entity::find_by_id(id.to_owned()).one(c).await
}

/// Revokes a family (and so every access and refresh token in it). Idempotent.
pub async fn revoke_family(
    c: &impl ConnectionTrait,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = token_family::Entity::update_many()
        .col_expr(token_family::Column::RevokedAt, Expr::value(now))
        .col_expr(token_family::Column::RevokedReason, Expr::value(reason))
        .filter(token_family::Column::Id.eq(id))
        .filter(token_family::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Revokes the families bound to an SSO session that were not granted offline access
/// (OIDC Core §11: only offline_access outlives the session).
pub async fn revoke_online_families_of_session(
    c: &impl ConnectionTrait,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = token_family::Entity::update_many()
        .col_expr(token_family::Column::RevokedAt, Expr::value(now))
        .col_expr(
            token_family::Column::RevokedReason,
            Expr::value("session ended"),
        )
        .filter(token_family::Column::SessionId.eq(session_id))
        .filter(token_family::Column::Offline.eq(false))
        .filter(token_family::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

/// A refresh token with everything its use checks: its family, the family's account and its
/// grants, and (for a family bound to a sign-in) its session.
pub struct RefreshChain {
    pub token: refresh_token::Model,
    pub family: token_family::Model,
    pub account: Option<entity::account::Model>,
    pub grants: Vec<entity::access_grant::Model>,
    pub session: Option<entity::sso_session::Model>,
}

/// `find_refresh`, its family, account, grants and session in one read: a refresh is the
/// hottest write path, and on SQLite every statement is a round trip to the connection's
/// thread. The grants are joined, so there is one row per grant (at least one).
pub async fn find_refresh_chain(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<RefreshChain>, DbErr> {
    let rows = refresh_token::Entity::find_by_id(token_hash.to_owned())
        .find_also_related(token_family::Entity)
        .find_also(token_family::Entity, entity::account::Entity)
        .find_also(token_family::Entity, entity::sso_session::Entity)
        .find_also(entity::account::Entity, entity::access_grant::Entity)
        .all(c)
        .await?;
    let joined = rows
        .into_iter()
        .map(|(token, family, account, session, g)| ((token, family, account, session), g));
    Ok(super::access::with_grants(joined).and_then(
        |((token, family, account, session), grants)| {
            Some(RefreshChain {
                token,
                family: family?,
                account,
                grants,
                session,
            })
        },
    ))
}

pub async fn find_refresh(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find_by_id(token_hash.to_owned())
        .one(c)
        .await
}

/// The statement that marks unused refresh tokens among `hashes` used and returns the hashes
/// it marked (any other was used already: a replay or a race lost; `store::batch`); `None`
/// for none.
pub fn consume_refreshes(
    backend: DbBackend,
    hashes: &[&str],
    now: DateTime<Utc>,
) -> Option<Statement> {
    if hashes.is_empty() {
        return None;
    }
    let update = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ConsumedAt, Expr::value(now))
        .filter(refresh_token::Column::TokenHash.is_in(super::bulk::padded(hashes)))
        .filter(refresh_token::Column::ConsumedAt.is_null());
    Some(super::bulk::returning_keys(
        backend,
        update,
        refresh_token::Column::TokenHash,
    ))
}

pub async fn deny_access_token(
    c: &impl ConnectionTrait,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let am = revoked_access_token::ActiveModel {
        jti: sea_orm::ActiveValue::Set(jti.to_owned()),
        expires_at: sea_orm::ActiveValue::Set(expires_at),
    };
    revoked_access_token::Entity::insert(am)
        .on_conflict(
            OnConflict::column(revoked_access_token::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn is_access_token_denied(c: &impl ConnectionTrait, jti: &str) -> Result<bool, DbErr> {
    Ok(revoked_access_token::Entity::find_by_id(jti.to_owned())
        .one(c)
        .await?
        .is_some())
}

/// Revokes every live family of an account (a deactivated user ID keeps no token, offline or
/// not).
pub async fn revoke_families_of_account(
    c: &impl ConnectionTrait,
    account_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = token_family::Entity::update_many()
        .col_expr(token_family::Column::RevokedAt, Expr::value(now))
        .col_expr(token_family::Column::RevokedReason, Expr::value(reason))
        .filter(token_family::Column::AccountId.eq(account_id))
        .filter(token_family::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}
