//! Periodic background work. Each job is idempotent and safe to run on every node at once
//! (it claims each item with a conditional update), so no leader election is needed.

use std::time::Duration;

use crate::{access::grants, audit::RequestContext, state::AppState};

/// How often the slow jobs run.
const PERIOD: Duration = Duration::from_secs(60);
/// How often queued e-mail is delivered.
const MAIL_PERIOD: Duration = Duration::from_secs(5);

/// SQLite's log is copied into the database file in the background (`store::db::checkpoint`),
/// on its own schedule: a slow pass of the other jobs must not leave the log growing.
async fn checkpoints(db: sea_orm::DatabaseConnection) {
    use crate::store::db::{CHECKPOINT_PERIOD, RESTART_AT, checkpoint};
    // Not at once: start-up's own reads are still running, and a checkpoint beside them
    // would make the pool open one more connection (a thread and a page cache) for good.
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + CHECKPOINT_PERIOD,
        CHECKPOINT_PERIOD,
    );
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match checkpoint(&db, RESTART_AT).await {
            // PostgreSQL manages its own log.
            Ok(None) => return,
            Ok(Some(_)) => {}
            Err(e) => tracing::warn!(error = %e, "checkpointing the SQLite log failed; will retry"),
        }
        // A full period after this pass ended, not at once after a long one: a pass right
        // after the log was let start again, before any writer started it, would find it
        // still full and hold the writers a second time.
        every.reset();
    }
}

pub async fn run(state: AppState) {
    // Joined, not spawned: stopping the jobs stops the checkpoints too.
    tokio::join!(checkpoints(state.db.clone()), periodic(state));
}

async fn periodic(state: AppState) {
    let start = tokio::time::Instant::now();
    let mut slow = tokio::time::interval_at(start + PERIOD, PERIOD);
    let mut mail = tokio::time::interval_at(start + MAIL_PERIOD, MAIL_PERIOD);
    let reload_every = Duration::from_secs(state.config.keys.reload_secs.max(1));
    let mut keys = tokio::time::interval_at(start + reload_every, reload_every);
    loop {
        tokio::select! {
            _ = slow.tick() => {
                if let Err(e) = record_grant_expiries(&state).await {
                    tracing::warn!(error = %e, "recording grant expiries failed; will retry");
                }
                state.throttle.forget_idle();
                if let Err(e) = deactivate_idle(&state).await {
                    tracing::warn!(error = %e, "inactivity pass failed; will retry");
                }
                if let Err(e) = rotate_keys(&state).await {
                    tracing::warn!(error = %e, "scheduled key rotation failed; will retry");
                }
                if let Err(e) = end_expired_sessions(&state).await {
                    tracing::warn!(error = %e, "ending expired sessions failed; will retry");
                }
                // After the sessions that ran out are ended (and their applications told).
                match crate::retention::remove_expired(&state).await {
                    Ok(r) if r.total() > 0 => tracing::info!(removed = ?r.rows, "expired records removed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "removing expired records failed; will retry"),
                }
            }
            _ = keys.tick() => {
                let (db, sealer, now) = (&state.db, &state.sealer, state.clock.now());
                if let Err(e) = crate::crypto::keystore::reload(db, sealer, &state.keyring, now).await {
                    tracing::warn!(error = %e, "reloading signing keys failed; will retry");
                }
            }
            _ = mail.tick() => {
                if let Err(e) = state.mailer.deliver_due(&state.db, state.clock.now()).await {
                    tracing::warn!(error = %e, "e-mail delivery pass failed; will retry");
                }
            }
        }
    }
}

async fn deactivate_idle(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let txn = state.begin_write().await?;
    let pass =
        crate::accounts::inactivity::run(&txn, &state.config.inactivity, state.clock.now()).await?;
    txn.commit().await?;
    if pass.deactivated + pass.warned > 0 {
        tracing::info!(
            deactivated = pass.deactivated,
            warned = pass.warned,
            "inactivity pass"
        );
    }
    Ok(())
}

/// Scheduled key rotation and retirement (safe on every node at once), then this node's
/// ring is brought up to date.
async fn rotate_keys(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let txn = state.begin_write().await?;
    let (rotated, retired) =
        crate::crypto::keystore::scheduled(&txn, &state.sealer, now, &state.config).await?;
    txn.commit().await?;
    if rotated + retired > 0 {
        tracing::info!(rotated, retired, "signing keys rotated/retired");
    }
    crate::crypto::keystore::reload(&state.db, &state.sealer, &state.keyring, now).await?;
    Ok(())
}

/// Sessions that ran out (idle or absolute) are ended here, so their applications are told
/// by back-channel logout rather than finding out at the next refresh.
async fn end_expired_sessions(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let txn = state.begin_write().await?;
    let n =
        crate::authn::session::end_expired(&txn, &state.config.session, state.clock.now()).await?;
    txn.commit().await?;
    if n > 0 {
        tracing::info!(count = n, "expired sessions ended");
        state.backchannel.wake();
    }
    Ok(())
}

async fn record_grant_expiries(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let txn = state.begin_write().await?;
    let n = grants::record_expiries(&txn, state.clock.now(), &RequestContext::default()).await?;
    txn.commit().await?;
    if n > 0 {
        tracing::info!(count = n, "grants expired");
    }
    Ok(())
}
