//! Group commit of the token flows' writes: issuing an authorization code, exchanging one
//! for a token family, rotating a refresh token.
//!
//! Each of these writes is small, but it needs SQLite's single writer, and the time that
//! writer is held (BEGIN, the statements, COMMIT: each a round trip to the connection's
//! thread) capped refreshes near 2,000/s and the code flow near 1,000/s however fast the
//! rest was. One task therefore takes the writes waiting at that moment and makes them
//! together: one conditional UPDATE spends every presented refresh token, one spends every
//! presented code, one INSERT each stores the codes, families and refresh tokens, and one
//! commit ends it. On SQLite the statements go to the connection's thread in two hand-offs,
//! not one each (`store::batch`). On PostgreSQL the same saves round trips per request.
//!
//! The rules of a single write hold for each one in a batch:
//! - a code or refresh token is spent by a conditional update, so of two uses (in one batch,
//!   in two, or on two nodes) exactly one wins (RFC 6749 §4.1.2, RFC 9700 §4.14.2: the
//!   loser is treated as a replay);
//! - what a spent token buys is stored in the transaction that spends it, and nobody is told
//!   "done" unless that transaction committed.
//!
//! A batch fails as a whole only on a database error (connection lost, timeout), which
//! would have failed each write alone as well; every caller then gets that error.

use std::{
    collections::HashSet,
    sync::{Arc, atomic::AtomicU64},
};

use chrono::{DateTime, Utc};
use entity::{authorization_code, refresh_token, token_family};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::store;

/// The most writes one transaction makes (a statement's bound values stay far below
/// SQLite's and PostgreSQL's limits).
const MAX_BATCH: usize = 64;

/// One flow's write.
pub enum Write {
    /// Store a new authorization code.
    IssueCode(authorization_code::Model),
    /// Spend the code with this hash for `family`, then store the family and its first
    /// refresh token.
    Exchange {
        code_hash: String,
        family: token_family::Model,
        refresh: Option<refresh_token::Model>,
    },
    /// Spend the refresh token with this hash, then store its successor and record the
    /// session's activity (`authn::session::needs_touch`).
    Rotate {
        token_hash: String,
        successor: Option<refresh_token::Model>,
        touch_session: Option<String>,
    },
}

struct Job {
    write: Write,
    now: DateTime<Utc>,
    done: oneshot::Sender<Result<bool, DbErr>>,
}

/// The handle requests use; the writer task runs while a handle exists.
pub struct TokenWriter {
    jobs: mpsc::Sender<Job>,
}

impl TokenWriter {
    /// Starts the writer task (on the current Tokio runtime). `commits` is advanced by every
    /// committed batch, as by any write transaction (see `oidc::answer_cache`).
    pub fn start(db: DatabaseConnection, commits: Arc<AtomicU64>) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, commits, rx));
        Self { jobs }
    }

    /// Makes `write`: true when it was made, false when the code or refresh token it spends
    /// had been spent already (nothing is then written).
    pub async fn write(&self, write: Write, now: DateTime<Utc>) -> Result<bool, DbErr> {
        let stopped = || DbErr::Custom("the token writer has stopped".into());
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, now, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: DatabaseConnection, commits: Arc<AtomicU64>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &commits, &batch).await {
            Ok(made) => {
                for (job, made) in batch.drain(..).zip(made) {
                    let _ = job.done.send(Ok(made));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "token writes failed");
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

/// Makes `jobs`' writes in one transaction (`store::batch`); returns, for each, whether it
/// was made.
async fn commit(
    db: &DatabaseConnection,
    commits: &Arc<AtomicU64>,
    jobs: &[Job],
) -> Result<Vec<bool>, DbErr> {
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_else(Utc::now);
    let writes: Vec<&Write> = jobs.iter().map(|j| &j.write).collect();
    let backend = db.get_database_backend();

    let refreshes: Vec<&str> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Rotate { token_hash, .. } => Some(token_hash.as_str()),
            _ => None,
        })
        .collect();
    let codes: Vec<(&str, &str)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Exchange {
                code_hash, family, ..
            } => Some((code_hash.as_str(), family.id.as_str())),
            _ => None,
        })
        .collect();
    let spends = [
        store::tokens::consume_refreshes(backend, &refreshes, now),
        store::codes::consume_many(backend, &codes, now),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut made = Vec::new();
    store::batch::spend_then_write(db, spends, |spent| {
        made = winners(&writes, spent);
        let mut new_codes = Vec::new();
        let mut families = Vec::new();
        let mut new_refreshes = Vec::new();
        let mut touched = Vec::new();
        for (w, _) in writes.iter().zip(&made).filter(|(_, m)| **m) {
            match w {
                Write::IssueCode(code) => new_codes.push(code.clone()),
                Write::Exchange {
                    family, refresh, ..
                } => {
                    families.push(family.clone());
                    new_refreshes.extend(refresh.clone());
                }
                Write::Rotate {
                    successor,
                    touch_session,
                    ..
                } => {
                    new_refreshes.extend(successor.clone());
                    touched.extend(touch_session.as_deref());
                }
            }
        }
        let mut statements = store::bulk::insert_all(backend, new_codes);
        // Families before the refresh tokens that refer to them.
        statements.extend(store::bulk::insert_all(backend, families));
        statements.extend(store::bulk::insert_all(backend, new_refreshes));
        statements.extend(store::sessions::touch_many_statement(
            backend, &touched, now,
        ));
        statements
    })
    .await?;
    commits.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    Ok(made)
}

/// Which writes are made: a code issue always; an exchange or rotation when the update
/// marked its code or token spent (`spent` holds both kinds: their hashes are keyed by
/// purpose, so they never collide), and of two presenting the same one in a batch only the
/// first.
fn winners(writes: &[&Write], spent: &HashSet<String>) -> Vec<bool> {
    let mut claimed = HashSet::new();
    writes
        .iter()
        .map(|w| match w {
            Write::IssueCode(_) => true,
            Write::Exchange { code_hash: h, .. } | Write::Rotate { token_hash: h, .. } => {
                spent.contains(h) && claimed.insert(h.as_str())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotate(hash: &str) -> Write {
        Write::Rotate {
            token_hash: hash.to_owned(),
            successor: None,
            touch_session: None,
        }
    }

    #[test]
    fn of_two_presenting_one_token_in_a_batch_only_the_first_is_made() {
        let (a, b, c) = (rotate("a"), rotate("a"), rotate("b"));
        let spent = HashSet::from(["a".to_owned()]);
        assert_eq!(winners(&[&a, &b, &c], &spent), vec![true, false, false]);
    }
}
