use chrono::{DateTime, Utc};
use entity::authorization_code::{ActiveModel, Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

/// A code with the account it was issued for, in one query (the exchange needs both; on
/// SQLite each statement is a round trip to the connection's thread).
pub async fn find_with_account(
    c: &impl ConnectionTrait,
    code_hash: &str,
) -> Result<Option<(Model, Option<entity::account::Model>)>, DbErr> {
    Entity::find_by_id(code_hash.to_owned())
        .find_also_related(entity::account::Entity)
        .one(c)
        .await
}

/// Spends codes in one statement: each `(code hash, family id)` that was
/// still unused is marked used with its family; returns the hashes it marked.
pub async fn consume_many(
    c: &impl ConnectionTrait,
    spends: &[(&str, &str)],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<String>, DbErr> {
    let Some(((h0, f0), rest)) = spends.split_first() else {
        return Ok(Default::default());
    };
    let family = rest
        .iter()
        .fold(Expr::case(Column::CodeHash.eq(*h0), *f0), |case, (h, f)| {
            case.case(Column::CodeHash.eq(*h), *f)
        })
        .finally(Expr::col(Column::FamilyId));
    let update = Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::value(now))
        .col_expr(Column::FamilyId, family.into())
        .filter(Column::CodeHash.is_in(spends.iter().map(|(h, _)| *h)))
        .filter(Column::ConsumedAt.is_null());
    super::bulk::update_returning_keys(c, update, Column::CodeHash).await
}
