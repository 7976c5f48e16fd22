//! Fixed-window failure counters.

use chrono::{DateTime, Duration, Utc};
use entity::attempt_counter::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

/// Failures counted for `key` in the window that started after `now - window`.
pub async fn failures(
    c: &impl ConnectionTrait,
    key: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<u32, DbErr> {
    Ok(Entity::find_by_id(key.to_owned())
        .one(c)
        .await?
        .filter(|m| m.window_started_at > now - window)
        .map_or(0, |m| u32::try_from(m.failures).unwrap_or(0)))
}

/// Counts one failure: in the current window, or starting a new one. Each step is a single
/// statement, so concurrent failures are all counted.
pub async fn add_failure(
    c: &impl ConnectionTrait,
    key: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::Failures, Expr::col(Column::Failures).add(1))
        .filter(Column::Key.eq(key))
        .filter(Column::WindowStartedAt.gt(now - window))
        .exec(c)
        .await?;
    if r.rows_affected == 1 {
        return Ok(());
    }
    let am: ActiveModel = Model {
        key: key.to_owned(),
        failures: 1,
        window_started_at: now,
    }
    .into();
    Entity::insert(am)
        .on_conflict(
            OnConflict::column(Column::Key)
                .update_columns([Column::Failures, Column::WindowStartedAt])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn clear(c: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(key.to_owned()).exec(c).await?;
    Ok(())
}
