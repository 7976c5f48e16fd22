use chrono::{DateTime, Utc};
use entity::account::{self, ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

pub async fn find_by_username(
    c: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Username.eq(username))
        .one(c)
        .await
}

pub async fn find_by_id(c: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(c).await
}

pub async fn exists_normalized(c: &impl ConnectionTrait, normalized: &str) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(Column::UsernameNormalized.eq(normalized))
        .one(c)
        .await?
        .is_some())
}

pub async fn insert(c: &impl ConnectionTrait, m: Model) -> Result<(), DbErr> {
    let am: ActiveModel = m.into();
    Entity::insert(am).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Username).all(c).await
}

pub async fn touch_last_login(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update(account::ActiveModel {
        id: Set(id.to_owned()),
        last_login_at: Set(Some(now)),
        // A successful sign-in: temporary locks start short again, and a new inactivity
        // warning may go out when this sign-in ages.
        lock_count: Set(0),
        inactivity_warned_at: Set(None),
        ..Default::default()
    })
    .exec(c)
    .await?;
    Ok(())
}

/// Accounts whose user ID, e-mail or name contains `q` (case-insensitive), optionally only
/// those of one dealership, at most `limit`.
pub async fn search(
    c: &impl ConnectionTrait,
    q: &str,
    org_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{
        Condition, QuerySelect,
        sea_query::{Expr, ExprTrait, Func},
    };
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let like = |col: Column| {
        Expr::expr(Func::lower(Expr::col(col)))
            .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
    };
    let mut cond = Condition::any()
        .add(like(Column::Username))
        .add(like(Column::Email))
        .add(like(Column::GivenName))
        .add(like(Column::FamilyName));
    if let Some(org) = super::access::find_org_by_pdn(c, q.trim()).await? {
        cond = cond.add(Column::OrgId.eq(org.id));
    }
    let mut query = Entity::find().filter(cond);
    if let Some(o) = org_id {
        query = query.filter(Column::OrgId.eq(o));
    }
    query
        .order_by_asc(Column::Username)
        .limit(limit)
        .all(c)
        .await
}

pub async fn find_by_customer(
    c: &impl ConnectionTrait,
    customer_id: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::CustomerId.eq(customer_id))
        .one(c)
        .await
}

/// Whether any account uses this e-mail address (compared case-insensitively).
pub async fn email_in_use(c: &impl ConnectionTrait, email: &str) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    Ok(Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(Column::Email))).eq(email.to_lowercase()))
        .one(c)
        .await?
        .is_some())
}

/// Moves an account from one status to another; false if it was not in `from` (so two
/// reviewers cannot both apply a change).
pub async fn change_status(
    c: &impl ConnectionTrait,
    id: &str,
    from: &[&str],
    to: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let r = Entity::update_many()
        .col_expr(Column::Status, Expr::value(to))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.is_in(from.iter().copied()))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The user ID became usable now (approval, reactivation): its inactivity clock restarts.
pub async fn set_activated(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::ActivatedAt, Expr::value(now))
        .col_expr(
            Column::InactivityWarnedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .exec(c)
        .await
        .map(|_| ())
}

/// Locks an active account (until `until`, or until staff unlock it when `None`) and counts
/// the lock; false if it was not active.
pub async fn lock(
    c: &impl ConnectionTrait,
    id: &str,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let r = Entity::update_many()
        .col_expr(Column::Status, Expr::value("locked"))
        .col_expr(Column::LockedUntil, Expr::value(until))
        .col_expr(Column::LockCount, Expr::col(Column::LockCount).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq("active"))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Unlocks a locked account; false if it was not locked. `expired_only` lifts only a
/// temporary lock whose time has come.
pub async fn unlock(
    c: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    expired_only: bool,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let mut q = Entity::update_many()
        .col_expr(Column::Status, Expr::value("active"))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq("locked"));
    if expired_only {
        q = q.filter(Column::LockedUntil.lte(now));
    }
    Ok(q.exec(c).await?.rows_affected == 1)
}

/// Accounts in any of these statuses, by user ID.
pub async fn with_status(c: &impl ConnectionTrait, statuses: &[&str]) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(Column::Username)
        .all(c)
        .await
}

/// Records the inactivity warning of the idle stretch that began at `idle_since`, once;
/// false if it was already recorded (say, by another node).
pub async fn mark_inactivity_warned(
    c: &impl ConnectionTrait,
    id: &str,
    idle_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Condition, Expr};
    let r = Entity::update_many()
        .col_expr(Column::InactivityWarnedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(Column::InactivityWarnedAt.is_null())
                .add(Column::InactivityWarnedAt.lt(idle_since)),
        )
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Replaces the hash of the same password (a parameter upgrade): no history, no effects.
pub async fn set_password_hash(
    c: &impl ConnectionTrait,
    id: &str,
    hash: &str,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::value(hash))
        .filter(Column::Id.eq(id))
        .exec(c)
        .await
        .map(|_| ())
}
