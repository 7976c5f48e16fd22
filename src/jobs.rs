//! Periodic background work. Each job is idempotent and safe to run on every node at once
//! (it claims each item with a conditional update), so no leader election is needed.

use std::time::Duration;

use sea_orm::TransactionTrait;

use crate::{access::grants, audit::RequestContext, state::AppState};

/// How often the jobs run.
const PERIOD: Duration = Duration::from_secs(60);

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PERIOD, PERIOD);
    loop {
        tick.tick().await;
        if let Err(e) = record_grant_expiries(&state).await {
            tracing::warn!(error = %e, "recording grant expiries failed; will retry");
        }
    }
}

async fn record_grant_expiries(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let txn = state.db.begin().await?;
    let n = grants::record_expiries(&txn, state.clock.now(), &RequestContext::default()).await?;
    txn.commit().await?;
    if n > 0 {
        tracing::info!(count = n, "grants expired");
    }
    Ok(())
}
