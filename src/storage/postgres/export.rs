//! The history `replay` reads, copied out of PostgreSQL into a SQLite file.

use anyhow::Context as _;

use super::connect::pool;

/// The tables `replay` reads, in the order to copy them, with the order
/// of their rows. Webhooks go in the order they were received: that is
/// the order each entity's events were applied in (a replica applies an
/// entity's events one at a time, under its lock).
const HISTORY: [(&str, &str); 5] = [
    ("webhooks", "received_at, id"),
    ("outbox", "id"),
    ("silences", "id"),
    ("learned_pages", "page_id"),
    ("learned_components", "page_id, position"),
];

/// Copies the history `replay` reads from PostgreSQL at `url` into a new,
/// migrated SQLite file at `to` (one consistent snapshot: one repeatable
/// read transaction). Returns how many webhooks it holds.
pub async fn export_history(url: &str, to: &std::path::Path) -> anyhow::Result<u64> {
    use futures_util::TryStreamExt as _;
    use rusqlite::types::Value as Lite;
    use sqlx::{Column as _, Row as _, TypeInfo as _};

    crate::storage::sqlite::migrate_quietly(to)?;
    let lite = rusqlite::Connection::open(to)?;
    lite.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN")?;
    let pool = pool(url)?;
    let mut tx = pool
        .begin()
        .await
        .context("reading the history from PostgreSQL")?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut webhooks = 0u64;
    for (table, order) in HISTORY {
        let select = format!("SELECT * FROM {table} ORDER BY {order}");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut *tx);
        let mut insert: Option<String> = None;
        while let Some(row) = rows.try_next().await? {
            let columns = row.columns();
            let sql = insert.get_or_insert_with(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
                let marks = vec!["?"; names.len()].join(", ");
                format!(
                    "INSERT INTO {table} ({}) VALUES ({marks})",
                    names.join(", ")
                )
            });
            let mut values = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                values.push(match c.type_info().name() {
                    "INT8" | "INT4" | "INT2" => row
                        .try_get::<Option<i64>, _>(i)
                        .map(|v| v.map_or(Lite::Null, Lite::Integer))?,
                    // The body as the SQLite writer stores it: text when
                    // it is text.
                    "BYTEA" => match row.try_get::<Option<Vec<u8>>, _>(i)? {
                        None => Lite::Null,
                        Some(b) => match String::from_utf8(b) {
                            Ok(t) => Lite::Text(t),
                            Err(e) => Lite::Blob(e.into_bytes()),
                        },
                    },
                    _ => row
                        .try_get::<Option<String>, _>(i)
                        .map(|v| v.map_or(Lite::Null, Lite::Text))?,
                });
            }
            lite.prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values))?;
            if table == "webhooks" {
                webhooks += 1;
            }
        }
    }
    drop(tx);
    pool.close().await;
    lite.execute_batch("COMMIT")?;
    Ok(webhooks)
}
