//! Connections for the hot reads on SQLite (`/authorize`, the token endpoint), outside sqlx's
//! pool.
//!
//! Why: sqlx gives each SQLite connection a thread, so a statement is a hand-off to that
//! thread and back; and its pool "pings" every connection it gets back (`PoolConnection`'s
//! return to the pool: one more hand-off, on every release, not configurable). A read from the
//! pool therefore cost two hand-offs. These connections are opened with the pool's own options
//! and kept here, so a read costs one. Writes, and everything else, still use the pool (and on
//! PostgreSQL, where a read is a network round trip to the server anyway, everything does).
//!
//! A connection whose statement failed is dropped rather than put back (it may be broken);
//! the next read opens another.

use std::sync::{Arc, Mutex};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    sea_query::Values,
    sqlx::{self, ConnectOptions, SqliteConnection},
};
use tokio::sync::Semaphore;

/// How many connections the reads keep (besides the pool): the writer and the readers of
/// the pool's connections go on meanwhile; more only added memory in `bench/run.sh`.
const CONNECTIONS: usize = 2;

/// A `ConnectionTrait` for reads (see the module). Cheap to clone.
#[derive(Clone)]
pub struct Reads {
    db: DatabaseConnection,
    own: Option<Arc<Own>>,
}

struct Own {
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection, open or not yet opened.
    permits: Semaphore,
}

impl Reads {
    /// Reads for `db`: their own connections on SQLite, `db` itself otherwise.
    pub fn new(db: DatabaseConnection) -> Self {
        let own = (db.get_database_backend() == DbBackend::Sqlite).then(|| {
            Arc::new(Own {
                idle: Mutex::new(Vec::with_capacity(CONNECTIONS)),
                permits: Semaphore::new(CONNECTIONS),
            })
        });
        Self { db, own }
    }

    /// Runs `stmt` on one of the own connections (opening it first if need be).
    async fn fetch(
        &self,
        own: &Own,
        stmt: Statement,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, DbErr> {
        // The semaphore is never closed, so this only waits.
        let _permit = own
            .permits
            .acquire()
            .await
            .map_err(|_| DbErr::Custom("the read connections were closed".into()))?;
        let idle = own
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self
                .db
                .get_sqlite_connection_pool()
                .connect_options()
                .connect()
                .await
                .map_err(super::db::sqlx_err)?,
        };
        let values = stmt.values.unwrap_or(Values(Vec::new()));
        let rows = super::db::sqlite_query(stmt.sql, values)
            .fetch_all(&mut conn)
            .await
            .map_err(super::db::statement_err)?;
        // Only a connection that just worked goes back (an error dropped it above).
        own.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn);
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Reads {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.db.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.own {
            Some(own) => Ok(self
                .fetch(own, stmt)
                .await?
                .into_iter()
                .next()
                .map(Into::into)),
            None => self.db.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.own {
            Some(own) => Ok(self
                .fetch(own, stmt)
                .await?
                .into_iter()
                .map(Into::into)
                .collect()),
            None => self.db.query_all_raw(stmt).await,
        }
    }
}
