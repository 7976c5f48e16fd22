use chrono::{DateTime, Utc};
use entity::sso_session::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Statement, sea_query::Expr,
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn find_by_token_hash(
    c: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(c)
        .await
}

pub async fn find(c: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(c).await
}

/// Ends the session; false if it had already ended.
pub async fn end(c: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::EndedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The account's sessions that have not ended or expired.
pub async fn live_for_account(
    c: &impl ConnectionTrait,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::EndedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .order_by_desc(Column::LastSeenAt)
        .all(c)
        .await
}

/// The ids of an account's sessions that have not been ended (expired ones included: ending
/// them still tells their applications).
pub async fn unended_ids_for_account(
    c: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::EndedAt.is_null())
        .into_tuple()
        .all(c)
        .await
}

/// Sessions past their absolute lifetime, or idle since before `idle_cutoff`, that nobody
/// has ended yet.
pub async fn expired_unended_ids(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    idle_cutoff: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    let mut ran_out = Condition::any().add(Column::ExpiresAt.lte(now));
    if let Some(t) = idle_cutoff {
        ran_out = ran_out.add(Column::LastSeenAt.lte(t));
    }
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::EndedAt.is_null())
        .filter(ran_out)
        .limit(limit)
        .into_tuple()
        .all(c)
        .await
}

/// Records activity in the sessions `ids` (one statement).
pub async fn touch_many(
    c: &impl ConnectionTrait,
    ids: &[&str],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if let Some(stmt) = touch_many_statement(c.get_database_backend(), ids, now) {
        c.execute_raw(stmt).await?;
    }
    Ok(())
}

/// The statement of `touch_many`, for a batch (`store::batch`); `None` for no sessions.
pub fn touch_many_statement(
    backend: DbBackend,
    ids: &[&str],
    now: DateTime<Utc>,
) -> Option<Statement> {
    if ids.is_empty() {
        return None;
    }
    let update = Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(now))
        .filter(Column::Id.is_in(super::bulk::padded(ids)))
        .filter(Column::LastSeenAt.lt(now));
    Some(backend.build(&update.into_query()))
}

/// The applications that received tokens in a session (through its token families).
pub async fn clients_of_session(
    c: &impl ConnectionTrait,
    session_id: &str,
) -> Result<Vec<String>, DbErr> {
    use entity::token_family::{Column as F, Entity as Families};
    Families::find()
        .select_only()
        .column(F::ClientId)
        .distinct()
        .filter(F::SessionId.eq(session_id))
        .into_tuple()
        .all(c)
        .await
}

/// The sessions of an account in which an application received tokens.
pub async fn session_ids_with_client(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
) -> Result<Vec<String>, DbErr> {
    use entity::token_family::{Column as F, Entity as Families};
    let ids: Vec<Option<String>> = Families::find()
        .select_only()
        .column(F::SessionId)
        .distinct()
        .filter(F::AccountId.eq(account_id))
        .filter(F::ClientId.eq(client_id))
        .filter(F::SessionId.is_not_null())
        .into_tuple()
        .all(c)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

pub async fn step_up(
    c: &impl ConnectionTrait,
    id: &str,
    amr: serde_json::Value,
    acr: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let r = Entity::update_many()
        .col_expr(Column::Amr, Expr::value(amr))
        .col_expr(Column::Acr, Expr::value(acr))
        .col_expr(Column::AuthTime, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}
