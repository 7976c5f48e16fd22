//! Connecting to SQLite or PostgreSQL and running the migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Connects and brings the schema up to date. For a SQLite file URL the parent directory is
/// created first, so `serve` works on a fresh machine.
pub async fn connect_and_migrate(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url, max_connections, acquire_timeout).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// `acquire_timeout` bounds how long a request waits for a connection; while the database is
/// unreachable that is how long a request takes to get its 503.
pub async fn connect(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false)
        // SQLite: WAL lets readers proceed while one writer commits (the server and the CLI
        // share the file), synchronous=NORMAL is durable across crashes in WAL mode, and a
        // busy timeout queues writers instead of failing them. Foreign keys are on.
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts).await
}

/// Whether `e` means the database cannot be reached right now (connection refused or lost,
/// the pool timed out, the server shutting down), as opposed to a fault in a query. Such
/// requests answer 503 and succeed again, untouched, once the database is back: the pool
/// drops broken connections and opens new ones by itself.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(r) | DbErr::Query(r) => runtime_unavailable(r),
        _ => false,
    }
}

fn runtime_unavailable(r: &sea_orm::RuntimeErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    let RuntimeErr::SqlxError(s) = r else {
        return false;
    };
    match &**s {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P (operator intervention: admin
        // shutdown, crash shutdown, cannot connect now).
        Sqlx::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// `is_unavailable` for an error anywhere in an `anyhow` chain. The pieces of a `DbErr`
/// are checked too: an `#[error(transparent)]` wrapper forwards its inner error's source,
/// not the inner error, so the `DbErr` itself may be missing from the chain.
pub fn is_unavailable_in(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<DbErr>().is_some_and(is_unavailable)
            || c.downcast_ref::<sea_orm::RuntimeErr>()
                .is_some_and(runtime_unavailable)
            || c.downcast_ref::<sea_orm::ConnAcquireErr>().is_some()
    })
}

/// Whether the schema is at the newest migration (for readiness checks and the CLI).
pub async fn is_current(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Begins a transaction that will write. On SQLite it starts as `BEGIN IMMEDIATE`: a
/// deferred transaction that reads first takes a snapshot, and if another connection
/// commits before its first write, that write fails at once with SQLITE_BUSY_SNAPSHOT
/// (the busy timeout cannot help). Taking the write lock up front makes such transactions
/// queue behind the busy timeout instead. PostgreSQL ignores the option.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_paths() {
        assert_eq!(
            super::sqlite_file("sqlite://./data/x.db?mode=rwc"),
            Some("./data/x.db")
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://h/db"), None);
    }
}
