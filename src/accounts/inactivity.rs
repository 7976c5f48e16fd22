//! Deactivating user IDs nobody uses: no successful sign-in for `inactivity.<kind>_days`
//! (an account that never signed in since it became usable counts from its activation or
//! reactivation). A periodic job deactivates and warns ahead; sign-in checks the same rule,
//! so it holds even if the job did not run. Reactivation goes through the user-ID request
//! or the help desk, and restarts the clock.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::{
    lifecycle,
    users::{AccountKind, AccountStatus},
};
use crate::{
    audit::{Actor, RequestContext},
    config::Inactivity,
    mail, store,
};

/// The allowed idle time for an account of this kind; `None` for never.
pub fn limit(cfg: &Inactivity, kind: AccountKind) -> Option<Duration> {
    let days = match kind {
        AccountKind::Cardholder => cfg.cardholder_days,
        AccountKind::Dealer => cfg.dealer_days,
        AccountKind::Other => cfg.other_days,
    };
    (days > 0).then(|| Duration::days(days))
}

/// Since when the account counts as unused: its last sign-in, or its (re)activation if
/// that came later.
pub fn idle_since(a: &entity::account::Model) -> DateTime<Utc> {
    let activated = a.activated_at.unwrap_or(a.created_at);
    a.last_login_at.map_or(activated, |l| l.max(activated))
}

/// When the account is (or was) due for deactivation; `None` if never.
pub fn due_at(cfg: &Inactivity, a: &entity::account::Model) -> Option<DateTime<Utc>> {
    limit(cfg, AccountKind::of(a)).map(|d| idle_since(a) + d)
}

fn may_idle_out(a: &entity::account::Model) -> bool {
    matches!(
        AccountStatus::parse(&a.status),
        Some(AccountStatus::Active | AccountStatus::Locked)
    )
}

/// Deactivates the account now if it is past due; true if it did.
pub async fn enforce(
    c: &impl ConnectionTrait,
    cfg: &Inactivity,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    a: &mut entity::account::Model,
) -> Result<bool, DbErr> {
    if !may_idle_out(a) || due_at(cfg, a).is_none_or(|due| due > now) {
        return Ok(false);
    }
    let days = limit(cfg, AccountKind::of(a)).map_or(0, |d| d.num_days());
    match lifecycle::deactivate(
        c,
        now,
        ctx,
        Actor::System,
        &a.id,
        &format!("inactive for {days} days"),
    )
    .await
    {
        Ok(()) => {
            a.status = AccountStatus::Deactivated.as_str().to_owned();
            Ok(true)
        }
        Err(lifecycle::LifecycleError::Db(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// What one pass of the job did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub deactivated: u64,
    pub warned: u64,
}

/// The periodic pass: deactivates what is past due, warns what is due within
/// `warn_days_before` (once per idle stretch).
pub async fn run(
    c: &impl ConnectionTrait,
    cfg: &Inactivity,
    now: DateTime<Utc>,
) -> Result<Pass, DbErr> {
    let ctx = RequestContext::default();
    let warn = Duration::days(cfg.warn_days_before.max(0));
    let mut pass = Pass::default();
    for mut a in store::accounts::with_status(c, &["active", "locked"]).await? {
        let Some(due) = due_at(cfg, &a) else {
            continue;
        };
        if due <= now {
            if enforce(c, cfg, now, &ctx, &mut a).await? {
                pass.deactivated += 1;
            }
        } else if cfg.warn_days_before > 0
            && due - warn <= now
            && a.inactivity_warned_at.is_none_or(|w| w < idle_since(&a))
            && store::accounts::mark_inactivity_warned(c, &a.id, idle_since(&a), now).await?
        {
            mail::enqueue(
                c,
                now,
                &a.email,
                mail::Template::InactivityWarning,
                serde_json::json!({
                    "name": crate::accounts::users::greeting_name(&a),
                    "username": a.username,
                    "date": due.format("%-d %B %Y").to_string(),
                }),
            )
            .await?;
            pass.warned += 1;
        }
    }
    Ok(pass)
}

/// A line of the inactivity and lock reports.
#[derive(Debug, serde::Serialize)]
pub struct ReportRow {
    pub username: String,
    pub kind: &'static str,
    pub status: String,
    pub last_sign_in: Option<DateTime<Utc>>,
    pub idle_since: DateTime<Utc>,
    /// When it is (or was) due for deactivation.
    pub due: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// Deactivated user IDs, and active ones due within the warning period.
    Inactive,
    /// Locked user IDs.
    Locked,
}

pub async fn report(
    c: &impl ConnectionTrait,
    cfg: &Inactivity,
    now: DateTime<Utc>,
    which: Report,
) -> Result<Vec<ReportRow>, DbErr> {
    let statuses: &[&str] = match which {
        Report::Inactive => &["active", "locked", "deactivated"],
        Report::Locked => &["locked"],
    };
    let soon = now + Duration::days(cfg.warn_days_before.max(0));
    Ok(store::accounts::with_status(c, statuses)
        .await?
        .into_iter()
        .filter(|a| {
            which == Report::Locked
                || a.status == "deactivated"
                || due_at(cfg, a).is_some_and(|d| d <= soon)
        })
        .map(|a| ReportRow {
            kind: AccountKind::of(&a).as_str(),
            idle_since: idle_since(&a),
            due: due_at(cfg, &a),
            last_sign_in: a.last_login_at,
            locked_until: a.locked_until,
            status: a.status,
            username: a.username,
        })
        .collect())
}
