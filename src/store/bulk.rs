//! Statements over many rows at once, for the group-committed token writes
//! (`oidc::token::group_commit`, run by `store::batch`): multi-row INSERTs, and conditional
//! UPDATEs that report which rows they changed.
//!
//! A statement's text depends on how many values it binds, and each new text is parsed and
//! planned again: sqlx keeps the last 100 prepared statements of each connection, and batches
//! of every size from 1 to 64 in three tables kept pushing each other (and the hot reads)
//! out of that cache. So every batch statement takes one of a few shapes: IN lists are padded
//! to a power of two (`padded`), and rows are inserted in chunks whose sizes are powers of
//! two on SQLite, and all in one statement of one shape per table on PostgreSQL, where each
//! statement is a round trip (`insert_as_json`).

use sea_orm::{
    ActiveModelTrait, DbBackend, EntityTrait, ModelTrait, QueryTrait, Statement, UpdateMany,
};

/// The statements that store `rows`. On SQLite, one per power of two in their count (13
/// rows: 8, 4 and 1); on PostgreSQL one in all (`insert_as_json`).
pub fn insert_all<M>(backend: DbBackend, rows: Vec<M>) -> Vec<Statement>
where
    M: ModelTrait,
    <M::Entity as EntityTrait>::ActiveModel: From<M> + ActiveModelTrait + Send,
{
    if backend == DbBackend::Postgres
        && let Some(statements) = insert_as_json(&rows)
    {
        return statements;
    }
    let mut rows = rows.into_iter();
    chunk_sizes(rows.len())
        .map(|size| {
            backend.build(
                &M::Entity::insert_many(
                    rows.by_ref()
                        .take(size)
                        .map(<M::Entity as EntityTrait>::ActiveModel::from),
                )
                .into_query(),
            )
        })
        .collect()
}

/// PostgreSQL: every row in one statement whose text depends only on the table. The rows go
/// as one JSON parameter, which `jsonb_populate_recordset` turns back into rows of the
/// table's own column types. PostgreSQL's extended protocol takes one statement per round
/// trip, and a batch's chunks by powers of two were up to six of them, each while the
/// 32 connections' writes of the benchmark waited on that batch. None when a column holds a
/// kind of value not converted here (the caller then chunks as on SQLite).
fn insert_as_json<M: ModelTrait>(rows: &[M]) -> Option<Vec<Statement>> {
    use sea_orm::{EntityName, IdenStatic, Iterable};
    if rows.is_empty() {
        return Some(Vec::new());
    }
    let columns: Vec<_> = <M::Entity as EntityTrait>::Column::iter().collect();
    let mut set = Vec::with_capacity(rows.len());
    for row in rows {
        let mut object = serde_json::Map::with_capacity(columns.len());
        for &column in &columns {
            object.insert(column.as_str().to_owned(), json_of(row.get(column))?);
        }
        set.push(serde_json::Value::Object(object));
    }
    // Names from the entity definitions, quoted; no value is ever part of the text.
    let table = M::Entity::default().table_name().to_owned();
    let names = columns
        .iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO \"{table}\" ({names}) SELECT {names} FROM jsonb_populate_recordset(NULL::\"{table}\", $1::jsonb)"
    );
    let set = sea_orm::Value::Json(Some(Box::new(serde_json::Value::Array(set))));
    Some(vec![Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [set],
    )])
}

/// A column's value as `jsonb_populate_recordset` reads it back into that column's type.
/// Times keep microseconds, as sqlx sends them (PostgreSQL keeps no finer).
fn json_of(value: sea_orm::Value) -> Option<serde_json::Value> {
    use sea_orm::Value as V;
    use serde_json::Value as J;
    Some(match value {
        V::Bool(b) => b.map_or(J::Null, J::Bool),
        V::Int(i) => i.map_or(J::Null, J::from),
        V::BigInt(i) => i.map_or(J::Null, J::from),
        V::String(s) => s.map_or(J::Null, J::String),
        V::Json(j) => j.map_or(J::Null, |j| *j),
        V::ChronoDateTimeUtc(t) => t.map_or(J::Null, |t| {
            J::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }),
        _ => return None,
    })
}

/// `n` as a sum of distinct powers of two, largest first.
fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS)
        .rev()
        .map(|bit| 1usize << bit)
        .filter(move |size| n & size != 0)
}

/// `items` with its last element repeated up to the next power of two in length, for an IN
/// list or a CASE (where a repeat changes nothing).
pub fn padded<T: Copy>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(&last) = items.last() {
        out.resize(items.len().next_power_of_two(), last);
    }
    out
}

/// `update`, returning the `key` (a text column) of each row it changes. With a condition
/// such as "not yet spent" in `update`, these are the rows this statement won: the database
/// decides, so of two concurrent spends exactly one sees its key (`store::batch`).
pub fn returning_keys<E: EntityTrait>(
    backend: DbBackend,
    update: UpdateMany<E>,
    key: E::Column,
) -> Statement {
    let mut stmt = update.into_query();
    stmt.returning_col(key);
    backend.build(&stmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_chunked_by_the_powers_of_two_in_their_count() {
        assert_eq!(chunk_sizes(0).collect::<Vec<_>>(), Vec::<usize>::new());
        assert_eq!(chunk_sizes(13).collect::<Vec<_>>(), vec![8, 4, 1]);
        assert_eq!(chunk_sizes(64).collect::<Vec<_>>(), vec![64]);
        assert_eq!(chunk_sizes(63).sum::<usize>(), 63);
    }

    #[test]
    fn lists_are_padded_with_their_last_item_to_a_power_of_two() {
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
        assert_eq!(padded(&[1]), vec![1]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]), vec![1, 2, 3, 4, 5, 5, 5, 5]);
    }
}
