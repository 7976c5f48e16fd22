//! Queries for the e-mail outbox.

use chrono::{DateTime, Utc};
use entity::email_outbox::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

fn claimable(stale: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::ClaimedAt.is_null())
        .add(Column::ClaimedAt.lt(stale))
}

/// Unsent messages that nobody is delivering right now, oldest first.
pub async fn due(
    c: &impl ConnectionTrait,
    stale: DateTime<Utc>,
    max_attempts: i32,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .filter(Column::Attempts.lt(max_attempts))
        .filter(claimable(stale))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .all(c)
        .await
}

/// Takes a message for delivery; false if another worker has it.
pub async fn claim(
    c: &impl ConnectionTrait,
    id: &str,
    stale: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = Entity::update_many()
        .col_expr(Column::ClaimedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::SentAt.is_null())
        .filter(claimable(stale))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn mark_sent(
    c: &impl ConnectionTrait,
    id: &str,
    subject: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::Subject, Expr::value(subject))
        .col_expr(Column::BodyText, Expr::value(text))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn mark_failed(c: &impl ConnectionTrait, id: &str, error: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            Column::LastError,
            Expr::value(error.chars().take(1000).collect::<String>()),
        )
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::CreatedAt).all(c).await
}
