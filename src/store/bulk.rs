//! Statements over many rows at once, for the group-committed token writes
//! (`oidc::token::group_commit`): one multi-row INSERT, and one conditional UPDATE that
//! reports which rows it changed.

use std::collections::HashSet;

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, ModelTrait, QueryTrait,
    UpdateMany,
};

/// Stores `rows` in one statement (none: no statement).
pub async fn insert_all<M>(c: &impl ConnectionTrait, rows: Vec<M>) -> Result<(), DbErr>
where
    M: ModelTrait,
    <M::Entity as EntityTrait>::ActiveModel: From<M> + ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    M::Entity::insert_many(
        rows.into_iter()
            .map(<M::Entity as EntityTrait>::ActiveModel::from),
    )
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Runs `update` and returns the `key` (a text column) of each row it changed. With a
/// condition such as "not yet spent" in `update`, these are the rows this statement won:
/// the database decides, so of two concurrent spends exactly one sees its key.
pub async fn update_returning_keys<E: EntityTrait>(
    c: &impl ConnectionTrait,
    update: UpdateMany<E>,
    key: E::Column,
) -> Result<HashSet<String>, DbErr> {
    let mut stmt = update.into_query();
    stmt.returning_col(key);
    let rows = c.query_all(&stmt).await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", key.as_str()))
        .collect()
}
