//! Group commit of refresh-token rotations.
//!
//! A rotation's write is small (spend the presented token, store its successor, now and
//! then record session activity), but it needs SQLite's single writer, and the time that
//! writer is held (BEGIN, UPDATE, INSERT, COMMIT: four round trips to the connection's
//! thread) capped refreshes near 2,000/s however fast the rest was. One task therefore
//! takes the rotations waiting at that moment and writes them together: one conditional
//! UPDATE for every presented token, one INSERT for every successor, one commit. On
//! PostgreSQL the same saves round trips per rotation.
//!
//! The rules of a single rotation hold for each one in a batch:
//! - a token is spent by a conditional update, so of two uses (in one batch, in two, or on
//!   two nodes) exactly one wins (RFC 9700 §4.14.2: the loser is treated as a replay);
//! - the successor is stored in the transaction that spends its predecessor, and nobody is
//!   told "won" unless that transaction committed.
//!
//! A batch fails as a whole only on a database error (connection lost, timeout), which
//! would have failed each rotation alone as well; every caller then gets that error.

use std::{
    collections::HashSet,
    sync::{Arc, atomic::AtomicU64},
};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::store;

/// The most rotations one transaction writes (a statement's bound values stay far below
/// SQLite's and PostgreSQL's limits).
const MAX_BATCH: usize = 64;

/// One refresh-token rotation.
pub struct Rotation {
    /// The presented token's hash: spent if still unused.
    pub token_hash: String,
    /// Stored if, and only if, the presented token was spent here.
    pub successor: Option<entity::refresh_token::Model>,
    /// A session whose activity to record (`authn::session::needs_touch`).
    pub touch_session: Option<String>,
    pub now: DateTime<Utc>,
}

struct Job {
    rotation: Rotation,
    done: oneshot::Sender<Result<bool, DbErr>>,
}

/// The handle requests use; the writer task runs while a handle exists.
pub struct Rotator {
    jobs: mpsc::Sender<Job>,
}

impl Rotator {
    /// Starts the writer task (on the current Tokio runtime). `commits` is advanced by every
    /// committed batch, as by any write transaction (see `oidc::answer_cache`).
    pub fn start(db: DatabaseConnection, commits: Arc<AtomicU64>) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, commits, rx));
        Self { jobs }
    }

    /// Writes `rotation`: true when it spent the token (and its successor is stored), false
    /// when the token had been spent already.
    pub async fn rotate(&self, rotation: Rotation) -> Result<bool, DbErr> {
        let stopped = || DbErr::Custom("the refresh-token writer has stopped".into());
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { rotation, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: DatabaseConnection, commits: Arc<AtomicU64>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rotations: Vec<&Rotation> = batch.iter().map(|j| &j.rotation).collect();
        match write(&db, &commits, &rotations).await {
            Ok(won) => {
                for (job, won) in batch.drain(..).zip(won) {
                    let _ = job.done.send(Ok(won));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, rotations = batch.len(), "refresh-token rotations failed");
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(copy_of(&e)));
                }
            }
        }
    }
}

/// `DbErr` is not `Clone`: each caller gets an error of the same kind (an unreachable
/// database stays a 503) with the same message.
fn copy_of(e: &DbErr) -> DbErr {
    if store::db::is_unavailable(e) {
        DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string()))
    } else {
        DbErr::Custom(e.to_string())
    }
}

/// Writes `rotations` in one transaction; returns, for each, whether it won.
async fn write(
    db: &DatabaseConnection,
    commits: &Arc<AtomicU64>,
    rotations: &[&Rotation],
) -> Result<Vec<bool>, DbErr> {
    let now = rotations
        .iter()
        .map(|r| r.now)
        .max()
        .unwrap_or_else(Utc::now);
    let hashes: Vec<&str> = rotations.iter().map(|r| r.token_hash.as_str()).collect();
    let txn = store::db::begin_write(db).await?.advancing(commits.clone());
    let spent = store::tokens::consume_refreshes(&txn, &hashes, now).await?;
    let won = winners(rotations, &spent);
    let successors = rotations
        .iter()
        .zip(&won)
        .filter(|(_, won)| **won)
        .filter_map(|(r, _)| r.successor.clone())
        .collect();
    store::tokens::insert_refreshes(&txn, successors).await?;
    let touched: Vec<&str> = rotations
        .iter()
        .zip(&won)
        .filter(|(_, won)| **won)
        .filter_map(|(r, _)| r.touch_session.as_deref())
        .collect();
    store::sessions::touch_many(&txn, &touched, now).await?;
    txn.commit().await?;
    Ok(won)
}

/// Which rotations spent their token: those whose token the update marked, and of two
/// presenting the same token in one batch only the first.
fn winners(rotations: &[&Rotation], spent: &HashSet<String>) -> Vec<bool> {
    let mut claimed = HashSet::new();
    rotations
        .iter()
        .map(|r| spent.contains(&r.token_hash) && claimed.insert(r.token_hash.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(hash: &str) -> Rotation {
        Rotation {
            token_hash: hash.to_owned(),
            successor: None,
            touch_session: None,
            now: Utc::now(),
        }
    }

    #[test]
    fn of_two_presenting_one_token_in_a_batch_only_the_first_wins() {
        let (a, b, c) = (rotation("a"), rotation("a"), rotation("b"));
        let spent = HashSet::from(["a".to_owned()]);
        assert_eq!(winners(&[&a, &b, &c], &spent), vec![true, false, false]);
    }
}
