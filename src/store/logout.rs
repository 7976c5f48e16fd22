//! Queries for the back-channel logout outbox.

use chrono::{DateTime, Utc};
use entity::logout_delivery::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

/// Deliveries whose next attempt is due, oldest first.
pub async fn due(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::DeliveredAt.is_null())
        .filter(Column::GivenUpAt.is_null())
        .filter(Column::NextAttemptAt.lte(now))
        .order_by_asc(Column::NextAttemptAt)
        .limit(limit)
        .all(c)
        .await
}

/// Takes a due delivery by moving its next attempt to `lease_until`; false if another
/// worker (or node) took it first. A worker that dies mid-attempt leaves it due again when
/// the lease ends.
pub async fn claim(
    c: &impl ConnectionTrait,
    d: &Model,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(lease_until))
        .filter(Column::Id.eq(&d.id))
        .filter(Column::NextAttemptAt.eq(d.next_attempt_at))
        .filter(Column::DeliveredAt.is_null())
        .filter(Column::GivenUpAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn mark_delivered(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::DeliveredAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `next`, or given up when `next` is None.
pub async fn mark_failed(
    c: &impl ConnectionTrait,
    id: &str,
    error: &str,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut q = Entity::update_many()
        .col_expr(
            Column::LastError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
    q = match next {
        Some(t) => q.col_expr(Column::NextAttemptAt, Expr::value(t)),
        None => q.col_expr(Column::GivenUpAt, Expr::value(now)),
    };
    q.filter(Column::Id.eq(id)).exec(c).await?;
    Ok(())
}

/// Deletes finished deliveries (delivered or given up) created before `before`.
pub async fn purge_finished(c: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let finished = sea_orm::Condition::any()
        .add(Column::DeliveredAt.is_not_null())
        .add(Column::GivenUpAt.is_not_null());
    let r = Entity::delete_many()
        .filter(Column::CreatedAt.lt(before))
        .filter(finished)
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::CreatedAt).all(c).await
}
