use chrono::{DateTime, Utc};
use entity::audit_event::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am = ActiveModel {
        id: NotSet,
        at: Set(m.at),
        event: Set(m.event),
        actor: Set(m.actor),
        target: Set(m.target),
        client_ip: Set(m.client_ip),
        request_id: Set(m.request_id),
        detail: Set(m.detail),
    };
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Id).all(c).await
}

pub async fn list_since(
    c: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::At.gte(since))
        .order_by_asc(Column::Id)
        .all(c)
        .await
}

/// Audit events matching the filters, newest first, at most `limit`.
pub async fn search(
    c: &impl ConnectionTrait,
    event: Option<&str>,
    actor: Option<&str>,
    target: Option<&str>,
    since: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut q = Entity::find();
    if let Some(e) = event {
        q = q.filter(Column::Event.eq(e));
    }
    if let Some(a) = actor {
        q = q.filter(Column::Actor.eq(a));
    }
    if let Some(t) = target {
        q = q.filter(Column::Target.eq(t));
    }
    if let Some(s) = since {
        q = q.filter(Column::At.gte(s));
    }
    q.order_by_desc(Column::Id).limit(limit).all(c).await
}
