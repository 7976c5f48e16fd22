use chrono::{DateTime, Utc};
use entity::authorization_code::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    sea_query::Expr,
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

/// A code with the account it was issued for and the account's grants, in one query (the
/// exchange needs all three; on SQLite each statement is a round trip to the connection's
/// thread). The grants are joined, so there is one row per grant (at least one).
pub async fn find_with_account(
    c: &impl ConnectionTrait,
    code_hash: &str,
) -> Result<
    Option<(
        Model,
        Option<entity::account::Model>,
        Vec<entity::access_grant::Model>,
    )>,
    DbErr,
> {
    let rows = Entity::find_by_id(code_hash.to_owned())
        .find_also_related(entity::account::Entity)
        .find_also(entity::account::Entity, entity::access_grant::Entity)
        .all(c)
        .await?;
    let joined = rows
        .into_iter()
        .map(|(code, account, g)| ((code, account), g));
    Ok(super::access::with_grants(joined).map(|((code, account), grants)| (code, account, grants)))
}

/// The statement that spends codes: each `(code hash, family id)` that was still unused is
/// marked used with its family, and its hash returned (`store::batch`); `None` for none.
pub fn consume_many(
    backend: DbBackend,
    spends: &[(&str, &str)],
    now: DateTime<Utc>,
) -> Option<Statement> {
    let spends = super::bulk::padded(spends);
    let ((h0, f0), rest) = spends.split_first()?;
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
    Some(super::bulk::returning_keys(
        backend,
        update,
        Column::CodeHash,
    ))
}
