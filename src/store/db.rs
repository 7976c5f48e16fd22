//! Connecting to SQLite or PostgreSQL and running the migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Connects and brings the schema up to date. For a SQLite file URL the parent directory is
/// created first, so `serve` works on a fresh machine.
pub async fn connect_and_migrate(
    url: &str,
    max_connections: Option<u32>,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url, max_connections, acquire_timeout).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// How long a SQLite connection waits for another process's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache per SQLite connection, KiB.
const SQLITE_CACHE_KIB: u32 = 256;

/// Pool size when `database_max_connections` is unset. SQLite runs one writer at a time and
/// sqlx gives each connection its own thread, page cache, schema copy and statement cache
/// (and glibc a malloc arena per thread): in `bench/run.sh` 16 connections peaked 24 MiB
/// above 4 with no throughput gained. PostgreSQL serves readers and writers concurrently.
pub fn default_max_connections(url: &str) -> u32 {
    if is_sqlite(url) { 4 } else { 16 }
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Creates a SQLite database's missing directories (0700) and, when the URL lets SQLite
/// create it (`mode=rwc`), the file itself (0600), before SQLite would create it readable by
/// every local user: it holds password hashes and sealed keys (`private_files`).
fn create_private_sqlite_file(path: &std::path::Path, create: bool) -> Result<(), DbErr> {
    use crate::private_files;
    let failed = |what: &std::path::Path, e: std::io::Error| {
        DbErr::Custom(format!("creating {}: {e}", what.display()))
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        private_files::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    }
    if create {
        private_files::create_if_missing(path).map_err(|e| failed(path, e))?;
    }
    Ok(())
}

/// `acquire_timeout` bounds how long a request waits for a connection; while the database is
/// unreachable that is how long a request takes to get its 503.
pub async fn connect(
    url: &str,
    max_connections: Option<u32>,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_file(url) {
        create_private_sqlite_file(std::path::Path::new(path), url.contains("mode=rwc"))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections.unwrap_or_else(|| default_max_connections(url)))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(acquire_timeout)
        // A ping before every checkout is one more round trip per query (on SQLite a hand-off
        // to the connection's thread and back, which under load cost more than most queries);
        // only a connection idle long enough to have been dropped by the server or a
        // firewall is pinged. One broken otherwise fails its query (a 503) and is discarded.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .sqlx_logging(false)
        // SQLite: WAL lets readers proceed while one writer commits (the server and the CLI
        // share the file), synchronous=NORMAL is durable across crashes in WAL mode, and a
        // busy timeout queues writers instead of failing them. Foreign keys are on.
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true)
                // Each connection has its own page cache (2 MiB by default, so 32 MiB for
                // a full pool); the hot rows are few and the OS caches the file anyway.
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
                // No checkpoint at commit: by default the commit that takes the log past
                // 1,000 pages copies it into the database file and syncs it while holding
                // the single writer, so every write queued behind it waited too (a refresh's
                // p99 went from 13–16 ms to 18–21 ms with it). The server checkpoints in the
                // background instead (`checkpoint`); a short-lived process (the CLI) leaves
                // what it wrote in the log, and the last connection to close checkpoints it.
                .pragma("wal_autocheckpoint", "0")
                // Temporary tables and statement journals in memory: on disk, SQLite created
                // and deleted a file in the temp directory for one write batch in twenty
                // (some 120 a second under the code flow), each a metadata change for the
                // file system's journal to commit beside the log's syncs. What they hold is
                // a batch's worth of pages.
                .pragma("temp_store", "MEMORY")
                // After a burst, the log file is cut back to this size when it starts again.
                .pragma("journal_size_limit", LOG_LIMIT_BYTES.to_string())
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

/// How often the server runs `checkpoint`: often enough that each pass beside the writers is
/// short (under full load about 2,500 pages, 10 ms of one core), because a long one slowed
/// every request running beside it.
pub const CHECKPOINT_PERIOD: Duration = Duration::from_millis(100);

/// The size SQLite's log file is kept to: cut back to it (`journal_size_limit`) and started
/// again once it holds as much (`RESTART_AT`).
const LOG_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The log is let start again (see `checkpoint`) once it holds this many pages (of SQLite's
/// default 4 KiB, so `LOG_LIMIT_BYTES`): under full load about once a second. Every start
/// holds the writers for a few milliseconds, so starting it more often costs the slowest
/// requests: at 16 MiB (four times a second) the code flow's p99 was higher.
pub const RESTART_AT: i64 = LOG_LIMIT_BYTES / 4096;

/// What one checkpoint of SQLite's write-ahead log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Pages in the log.
    pub logged: i64,
    /// Pages of it now in the database file as well.
    pub copied: i64,
}

/// Copies what SQLite's write-ahead log holds into the database file, so that no commit has
/// to, and once the log holds `restart_at` pages or more, lets it start again from its
/// beginning. `None` on PostgreSQL, which manages its own log.
///
/// Copying runs beside the writers (`PASSIVE`). But the log only starts again (so the file
/// stops growing) when a writer finds all of it copied and no reader still using it, and
/// under steady writes new pages always arrived while a pass ran: the log passed 500 MB in a
/// minute of refresh load. So to start it again, passes beside the writers copy what arrived
/// during the pass before, until one copies only a few hundred pages; then this process's
/// writers wait at their gate (`begin_write`) while a last pass (`RESTART`) copies what is
/// left and waits for the readers of the log to finish: 1–4 ms under full load. A reader that
/// takes longer than `RESTART_WAIT` (a large export, say) is not waited for: the log then
/// starts again at a later call.
pub async fn checkpoint(
    db: &DatabaseConnection,
    restart_at: i64,
) -> Result<Option<Checkpoint>, DbErr> {
    use sea_orm::{DbBackend, sqlx};
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(None);
    }
    // One at a time in this process: a pass beside another finds SQLite's checkpoint lock
    // taken and does nothing (it reports -1 pages).
    static CHECKPOINTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = CHECKPOINTING.lock().await;
    let pool = db.get_sqlite_connection_pool();
    let passive = || async {
        let mut conn = pool.acquire().await.map_err(sqlx_err)?;
        Ok::<_, DbErr>(
            checkpoint_pass(&mut conn, "PRAGMA wal_checkpoint(PASSIVE)")
                .await?
                .1,
        )
    };
    let mut last = passive().await?;
    if last.logged < restart_at {
        return Ok(Some(last));
    }
    // Copying a page costs a read and a write, a few microseconds, and the writers wrote on
    // during the pass (under full load some 3,000 pages arrived during one that copied
    // 24,000, and copying them while the writers waited held them 20 ms).
    for _ in 0..MAX_EXTRA_PASSES {
        let next = passive().await?;
        // Fewer pages than before: another process let the log start again meanwhile.
        let arrived = if next.logged >= last.logged {
            next.logged - last.logged
        } else {
            next.logged
        };
        last = next;
        if arrived <= SMALL_PASS {
            break;
        }
    }
    // The passes beside the writers copied pages into the database file without syncing it:
    // SQLite syncs the file only after a pass that reaches the end of the log, and under
    // load the log grew during every pass. So the last pass, while the writers wait, would
    // flush all their copying (on a VM's disk that sync took 25-30 ms, and the code flow's
    // slowest requests were those that waited for it). Synced here, beside the writers; and
    // what arrived during that sync (a few hundred pages) is copied and synced beside them
    // too, so the last pass flushes only what arrives during the second, smaller sync.
    let options = pool.connect_options();
    sync_database_file(&options).await;
    passive().await?;
    sync_database_file(&options).await;
    let _writers_wait = hold_write_gate(db).await;
    let mut conn = pool.acquire().await.map_err(sqlx_err)?;
    // Numbers from constants: nothing from outside reaches these statements.
    let set_wait = |ms: u128| sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {ms}"));
    // No busy timeout for this pass: SQLite's busy handler sleeps 1, 2, 5, 10 … ms between
    // tries, so a reader that needed a few more microseconds would hold every writer for
    // milliseconds. Readers that start once all is copied read the database file, not the
    // log, so only those already reading are waited for, and they are short: the pass is
    // tried again, without sleeping, until they are gone or `RESTART_WAIT` has passed.
    sqlx::query(set_wait(0))
        .execute(&mut *conn)
        .await
        .map_err(sqlx_err)?;
    let started = std::time::Instant::now();
    let mut first_pass = Duration::ZERO;
    let mut tries = 0u32;
    let done = loop {
        let pass = checkpoint_pass(&mut conn, "PRAGMA wal_checkpoint(RESTART)").await;
        tries += 1;
        if tries == 1 {
            first_pass = started.elapsed();
        }
        match pass {
            Ok((true, _)) if started.elapsed() < RESTART_WAIT => tokio::task::yield_now().await,
            other => break other,
        }
    };
    if let Ok((busy, d)) = &done {
        // The first pass copies and syncs; the others only wait for readers of the log.
        tracing::debug!(restarted = !busy, ?d, writers_waited = ?started.elapsed(), ?first_pass, tries, "checkpointed the SQLite log");
    }
    let restored = sqlx::query(set_wait(BUSY_TIMEOUT.as_millis()))
        .execute(&mut *conn)
        .await;
    if restored.is_err() {
        // Not back in the pool with the short timeout.
        conn.close_on_drop();
    }
    done.map(|(_, d)| Some(d))
}

/// Flushes the database file's pages from the OS to the disk, as the checkpoint's own sync
/// would (`fdatasync`, on the file, whichever descriptor wrote them). A failure is only
/// logged: the last pass syncs the file in any case, and reports its own failure.
async fn sync_database_file(options: &sea_orm::sqlx::sqlite::SqliteConnectOptions) {
    let path = options.get_filename().to_owned();
    let synced = tokio::task::spawn_blocking(move || std::fs::File::open(&path)?.sync_data()).await;
    // A task that could not run or finish is an I/O failure like the others.
    if let Err(e) = synced.map_err(std::io::Error::from).and_then(|r| r) {
        tracing::warn!(error = %e, "could not sync the SQLite database file");
    }
}

/// A pass beside the writers that copies at most this many pages (about a millisecond's
/// work) is the last before the writers wait.
const SMALL_PASS: i64 = 256;

/// Passes beside the writers after the first, at most (under full load each copies about a
/// tenth of what the one before did).
const MAX_EXTRA_PASSES: usize = 3;

/// How long the last pass, while the writers wait, waits for readers of the log.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// One pass: whether it stopped short for a reader or another process's writer ("busy"),
/// and what it did.
async fn checkpoint_pass(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    pragma: &'static str,
) -> Result<(bool, Checkpoint), DbErr> {
    use sea_orm::sqlx::{self, Row};
    // One row: (busy, pages in the log, pages copied).
    let row = sqlx::query(pragma)
        .fetch_one(conn)
        .await
        .map_err(sqlx_err)?;
    let busy = row.try_get::<i64, _>(0).map_err(sqlx_err)? != 0;
    let done = Checkpoint {
        logged: row.try_get(1).map_err(sqlx_err)?,
        copied: row.try_get(2).map_err(sqlx_err)?,
    };
    tracing::trace!(pragma, busy, ?done, "checkpointed the SQLite log");
    Ok((busy, done))
}

/// `sql` with `values` bound, for a statement run on a SQLite connection below sea-orm
/// (`store::batch`, `store::reads`): the values are encoded as sea-orm encodes them, and the
/// text comes from sea-query or is fixed, so no value is ever part of it.
pub(super) fn sqlite_query(
    sql: String,
    values: sea_orm::sea_query::Values,
) -> sea_orm::sqlx::query::Query<'static, sea_orm::sqlx::Sqlite, sea_query_sqlx::SqlxValues> {
    sea_orm::sqlx::query_with(
        sea_orm::sqlx::AssertSqlSafe(sql),
        sea_query_sqlx::SqlxValues(values),
    )
}

/// A statement run below sea-orm that failed, as sea-orm reports one (`is_unavailable` then
/// tells a lost database from a fault in the statement: a 503 or a 500).
pub(super) fn statement_err(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

pub(super) fn sqlx_err(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

/// Whether the schema is at the newest migration (for readiness checks and the CLI).
pub async fn is_current(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

pub fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// A transaction that will write. On SQLite it starts as `BEGIN IMMEDIATE`: a deferred
/// transaction that reads first takes a snapshot, and if another connection commits before
/// its first write, that write fails at once with SQLITE_BUSY_SNAPSHOT (the busy timeout
/// cannot help). Taking the write lock up front makes such transactions queue behind the
/// busy timeout instead. PostgreSQL ignores the option.
///
/// SQLite has one writer at a time, so two more things keep the time a writer holds the
/// lock short, which is what bounds every writing flow's throughput:
///
/// - The transaction begins at its first write. Reads before it go to the pool, each seeing
///   the latest committed state, which is what they see inside a transaction on PostgreSQL
///   (READ COMMITTED), where every flow runs too; everything from the first write on is one
///   atomic transaction. Single-use things are spent by conditional updates, never by a
///   read followed by a write.
/// - A connection that finds the lock taken sleeps in SQLite's busy handler (1, 2, 5 … 100 ms
///   steps) before it tries again, so under load most of a writer's time went to sleeping
///   (p99 of a refresh was 340 ms). Writers of this process therefore queue on an async gate
///   per database file first; the busy timeout is left for other processes on the file.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    Ok(WriteTxn {
        db: db.clone(),
        begun: tokio::sync::OnceCell::new(),
        on_commit: None,
        reads: None,
    })
}

async fn begin_now(db: &DatabaseConnection) -> Result<Begun, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let gate = tokio::time::timeout(GATE_WAIT, hold_write_gate(db))
        .await
        .map_err(|_| DbErr::Custom("timed out waiting to write to SQLite".into()))?;
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(Begun { txn, _gate: gate })
}

/// As long as SQLite's own busy timeout (set in `connect`).
const GATE_WAIT: Duration = Duration::from_secs(10);

type Gate = std::sync::Arc<tokio::sync::Mutex<()>>;

/// Waits for this process's turn to write to `db`'s file and holds it until dropped; `None`
/// on PostgreSQL. Every writer takes the gate first and a connection after it: one holding a
/// connection while it waits at the gate could starve the writer that holds the gate of one.
pub(super) async fn hold_write_gate(
    db: &DatabaseConnection,
) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    match write_gate(db) {
        Some(g) => Some(g.lock_owned().await),
        None => None,
    }
}

/// The gate of `db`'s file: one per file per process (two pools on the same file, as the
/// tests' peer nodes are, share it); `None` for PostgreSQL, whose writers do not exclude
/// one another.
fn write_gate(db: &DatabaseConnection) -> Option<Gate> {
    use sea_orm::DbBackend;
    use std::{collections::HashMap, sync::Mutex};
    static GATES: Mutex<Option<HashMap<std::path::PathBuf, Gate>>> = Mutex::new(None);
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(
        gates
            .get_or_insert_default()
            .entry(file)
            .or_default()
            .clone(),
    )
}

/// A write transaction (see `begin_write`). Once begun, it holds this process's write gate
/// until it is committed, rolled back or dropped (which rolls back).
pub struct WriteTxn {
    db: DatabaseConnection,
    begun: tokio::sync::OnceCell<Begun>,
    on_commit: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Where the reads before the first write go (the pool when `None`).
    reads: Option<super::reads::Reads>,
}

struct Begun {
    // Declared first so it is dropped (rolled back) before the gate opens.
    txn: sea_orm::DatabaseTransaction,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Advances `counter` once this transaction has committed a write.
    pub fn advancing(mut self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.on_commit = Some(counter);
        self
    }

    /// Sends the reads before the first write to `reads` (`store::reads`).
    pub fn reading_through(mut self, reads: super::reads::Reads) -> Self {
        self.reads = Some(reads);
        self
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        let Some(begun) = self.begun.into_inner() else {
            return Ok(());
        };
        begun.txn.commit().await?;
        if let Some(c) = &self.on_commit {
            c.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        match self.begun.into_inner() {
            Some(begun) => begun.txn.rollback().await,
            None => Ok(()),
        }
    }

    async fn writer(&self) -> Result<&sea_orm::DatabaseTransaction, DbErr> {
        Ok(&self
            .begun
            .get_or_try_init(|| begin_now(&self.db))
            .await?
            .txn)
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.writer().await?.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.writer().await?.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        match self.begun.get() {
            Some(b) => b.txn.query_one_raw(stmt).await,
            // A statement that writes and returns rows (INSERT … RETURNING) begins it too.
            None if writes(&stmt) => self.writer().await?.query_one_raw(stmt).await,
            None => match &self.reads {
                Some(r) => r.query_one_raw(stmt).await,
                None => self.db.query_one_raw(stmt).await,
            },
        }
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        match self.begun.get() {
            Some(b) => b.txn.query_all_raw(stmt).await,
            None if writes(&stmt) => self.writer().await?.query_all_raw(stmt).await,
            None => match &self.reads {
                Some(r) => r.query_all_raw(stmt).await,
                None => self.db.query_all_raw(stmt).await,
            },
        }
    }
}

/// Whether a statement sent as a query may write: anything but a plain SELECT (sea-orm
/// sends INSERT/UPDATE/DELETE … RETURNING through the query methods).
fn writes(stmt: &sea_orm::Statement) -> bool {
    !stmt
        .sql
        .trim_start()
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_selects_may_skip_the_transaction() {
        let stmt = |sql: &str| sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql);
        assert!(!super::writes(&stmt("SELECT 1")));
        assert!(!super::writes(&stmt("  select * from t")));
        assert!(super::writes(&stmt(
            "INSERT INTO t VALUES (1) RETURNING id"
        )));
        assert!(super::writes(&stmt("UPDATE t SET a = 1 RETURNING a")));
        assert!(super::writes(&stmt("WITH x AS (SELECT 1) DELETE FROM t")));
        assert!(super::writes(&stmt("")));
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            super::sqlite_file("sqlite://./data/x.db?mode=rwc"),
            Some("./data/x.db")
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn the_pool_defaults_to_the_backend() {
        assert_eq!(
            super::default_max_connections("sqlite://./d.db?mode=rwc"),
            4
        );
        assert_eq!(super::default_max_connections("sqlite::memory:"), 4);
        assert_eq!(super::default_max_connections("postgres://h/db"), 16);
    }
}
