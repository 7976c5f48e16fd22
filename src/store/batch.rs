//! One transaction in two steps, for the group-committed token writes
//! (`oidc::token::group_commit`): first spend (conditional `UPDATE … RETURNING` statements,
//! `store::bulk::returning_keys`), then write what the spends that won bought.
//!
//! On SQLite each statement is a hand-off to the connection's thread and back, and the
//! writer is held throughout: a batch of a few exchanges and code issues was about ten hand-offs
//! (BEGIN, the spend, each insert chunk, COMMIT), and every token request waiting on the
//! batch waited for all of them. Here the two steps are one hand-off each: `BEGIN IMMEDIATE`
//! and the spends go as one multi-statement text, and the writes and `COMMIT` as another
//! (sqlx runs a text's statements in order, binding each its own share of the parameters).
//! Those texts differ from batch to batch, so they are prepared once and not kept: the
//! connection's statement cache stays for the reads. On PostgreSQL, whose extended protocol
//! takes one statement at a time, the statements run one by one in a transaction.

use std::collections::HashSet;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
    sea_query::Values,
    sqlx::{self, Row},
};

/// Runs `spends`, then the statements `write` makes from the keys they returned, in one
/// transaction, and returns those keys. Nothing is written unless all of it is (an error
/// rolls everything back).
pub async fn spend_then_write(
    db: &DatabaseConnection,
    spends: Vec<Statement>,
    write: impl FnOnce(&HashSet<String>) -> Vec<Statement>,
) -> Result<HashSet<String>, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return one_by_one(db, spends, write).await;
    }
    // Writers of this process queue on the gate, as in `store::db::begin_write`.
    let _gate = super::db::hold_write_gate(db).await;
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(super::db::sqlx_err)?;
    let result = async {
        let rows = one_text("BEGIN IMMEDIATE", spends, None)
            .fetch_all(&mut *conn)
            .await
            .map_err(super::db::statement_err)?;
        let spent = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<HashSet<_>, _>>()
            .map_err(super::db::statement_err)?;
        one_text("", write(&spent), Some("COMMIT"))
            .execute(&mut *conn)
            .await
            .map_err(super::db::statement_err)?;
        Ok(spent)
    }
    .await;
    if result.is_err() {
        // The transaction may be open, with part of it done: closing the connection rolls it
        // back, and no other request gets the connection in that state.
        conn.close_on_drop();
    }
    result
}

/// `first`, `statements` and `last` as one text of statements with their parameters in
/// order, prepared for this once (not kept in the connection's statement cache).
fn one_text(
    first: &str,
    statements: Vec<Statement>,
    last: Option<&str>,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sea_query_sqlx::SqlxValues> {
    let mut sql = String::from(first);
    let mut values = Vec::new();
    for s in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&s.sql);
        values.extend(s.values.map(|v| v.0).unwrap_or_default());
    }
    if let Some(last) = last {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(last);
    }
    super::db::sqlite_query(sql, Values(values)).persistent(false)
}

async fn one_by_one(
    db: &DatabaseConnection,
    spends: Vec<Statement>,
    write: impl FnOnce(&HashSet<String>) -> Vec<Statement>,
) -> Result<HashSet<String>, DbErr> {
    let txn = super::db::begin_write(db).await?;
    let mut spent = HashSet::new();
    for s in spends {
        for row in txn.query_all_raw(s).await? {
            spent.insert(row.try_get_by_index::<String>(0)?);
        }
    }
    for s in write(&spent) {
        txn.execute_raw(s).await?;
    }
    txn.commit().await?;
    Ok(spent)
}
