//! A PostgreSQL transaction as the statement files see it ([`Tx`]), driven
//! from a blocking thread, and its rows ([`RawRow`]).

use std::cell::RefCell;

use sqlx::postgres::PgRow;
use sqlx::{Column as _, Postgres as Pg, Row as _, TypeInfo as _};
use tokio::runtime::Runtime;

use super::Postgres;
use crate::storage::engine::Engine;
use crate::storage::sql::{self, Arg, RawRow, Row, Table, Tx, Ty, args, bind_all};

/// A PostgreSQL transaction that a synchronous job drives from its lane's
/// thread, on the lane's own runtime and connection: a statement's round
/// trip wakes no other thread.
pub struct PgTx<'c> {
    rt: &'c Runtime,
    tx: RefCell<sqlx::Transaction<'c, Pg>>,
    /// A statement lost a deadlock or serialisation race.
    raced: std::cell::Cell<bool>,
    /// A statement failed in a way that leaves the connection in doubt
    /// (I/O, a protocol error, no answer in time).
    broken: std::cell::Cell<bool>,
}

impl<'c> PgTx<'c> {
    pub(super) fn new(rt: &'c Runtime, tx: sqlx::Transaction<'c, Pg>) -> PgTx<'c> {
        PgTx {
            rt,
            tx: RefCell::new(tx),
            raced: std::cell::Cell::new(false),
            broken: std::cell::Cell::new(false),
        }
    }

    pub(super) fn into_inner(self) -> sqlx::Transaction<'c, Pg> {
        self.tx.into_inner()
    }

    /// Whether the connection should be replaced after this transaction.
    pub(super) fn broken(&self) -> bool {
        self.broken.get()
    }

    fn query<'q>(
        sql: &'q str,
        args: &'q [Arg<'q>],
    ) -> sqlx::query::Query<'q, Pg, sqlx::postgres::PgArguments> {
        bind_all!(sqlx::query(sqlx::AssertSqlSafe(numbered(sql))), args)
    }

    /// Runs `f` to its end on this blocking thread, for `STATEMENT_DEADLINE`
    /// at most: a database that stopped answering fails the job instead of
    /// holding its thread.
    fn wait<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        let done = wait(self.rt, f);
        match &done {
            Err(sqlx::Error::Database(d)) => {
                if matches!(d.code().as_deref(), Some("40P01" | "40001")) {
                    self.raced.set(true);
                }
            }
            Err(_) => self.broken.set(true),
            Ok(_) => {}
        }
        done
    }

    /// Whether a statement lost a deadlock or serialisation race (the
    /// transaction, run again, would succeed).
    pub(super) fn raced(&self) -> bool {
        self.raced.get()
    }

    fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> sql::Result<Vec<PgRow>> {
        let mut tx = self.tx.borrow_mut();
        Ok(self.wait(Self::query(sql, args).fetch_all(&mut **tx))?)
    }
}

impl Tx for PgTx<'_> {
    fn engine(&self) -> &'static dyn Engine {
        &Postgres
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> sql::Result<usize> {
        let mut tx = self.tx.borrow_mut();
        let done = self.wait(Self::query(sql, args).execute(&mut **tx))?;
        Ok(done.rows_affected() as usize)
    }

    fn execute_batch(&self, sql: &str) -> sql::Result<()> {
        let mut tx = self.tx.borrow_mut();
        self.wait(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut **tx))?;
        Ok(())
    }

    fn each_row(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(Row<'_>) -> sql::Result<bool>,
    ) -> sql::Result<()> {
        for r in self.fetch_all(sql, args)? {
            if !f(Row(&r))? {
                break;
            }
        }
        Ok(())
    }

    fn each_table_row(
        &self,
        sql: &str,
        table: &Table<'_>,
        f: Option<sql::EachRow<'_>>,
    ) -> sql::Result<usize> {
        let numbered = numbered(sql);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(numbered));
        for (i, (name, ty)) in table.columns.iter().enumerate() {
            let column = table.rows.iter().map(|r| &r[i]);
            let mismatch = || sql::Error::Decode {
                column: i,
                message: format!("column {name} of a table of arguments is not {ty:?}"),
            };
            q = match ty {
                Ty::Int => q.bind(
                    column
                        .map(|a| match a {
                            Arg::Int(v) => Ok(*v),
                            _ => Err(mismatch()),
                        })
                        .collect::<sql::Result<Vec<Option<i64>>>>()?,
                ),
                Ty::Real => q.bind(
                    column
                        .map(|a| match a {
                            Arg::Real(v) => Ok(*v),
                            _ => Err(mismatch()),
                        })
                        .collect::<sql::Result<Vec<Option<f64>>>>()?,
                ),
                Ty::Text => q.bind(
                    column
                        .map(|a| match a {
                            Arg::Text(v) => Ok(v.as_deref()),
                            _ => Err(mismatch()),
                        })
                        .collect::<sql::Result<Vec<Option<&str>>>>()?,
                ),
                Ty::Bytes => q.bind(
                    column
                        .map(|a| match a {
                            Arg::Bytes(v) => Ok(*v),
                            _ => Err(mismatch()),
                        })
                        .collect::<sql::Result<Vec<Option<&[u8]>>>>()?,
                ),
            };
        }
        let mut tx = self.tx.borrow_mut();
        let Some(f) = f else {
            let done = self.wait(q.execute(&mut **tx))?;
            return Ok(done.rows_affected() as usize);
        };
        let rows = self.wait(q.fetch_all(&mut **tx))?;
        for r in &rows {
            f(Row(r))?;
        }
        Ok(rows.len())
    }

    fn insert_table_ids(&self, sql: &str, table: &Table<'_>) -> sql::Result<Vec<i64>> {
        // The whole table in one statement, ending in
        // `Engine::returning_id`.
        let mut ids = Vec::with_capacity(table.rows.len());
        self.each_table_row(
            sql,
            table,
            Some(&mut |r| {
                ids.push(r.get(0)?);
                Ok(())
            }),
        )?;
        Ok(ids)
    }

    fn lock(&self, keys: &[String], shared: &[String]) -> sql::Result<()> {
        if keys.is_empty() && shared.is_empty() {
            return Ok(());
        }
        // One statement for all, in one sorted order over both kinds, so
        // two transactions never wait for each other in a cycle; a shared
        // key is marked `s`, an exclusive one `x` (the hash is the key's).
        let mut marked: Vec<String> = keys
            .iter()
            .map(|k| format!("x{k}"))
            .chain(shared.iter().map(|k| format!("s{k}")))
            .collect();
        marked.sort_by(|a, b| a[1..].cmp(&b[1..]));
        let marked = serde_json::to_string(&marked).expect("strings serialize");
        self.fetch_all(
            "SELECT count(CASE WHEN left(k.value, 1) = 's'
                     THEN pg_advisory_xact_lock_shared(hashtextextended(substr(k.value, 2), 0))
                     ELSE pg_advisory_xact_lock(hashtextextended(substr(k.value, 2), 0)) END)
             FROM json_array_elements_text(?::json) WITH ORDINALITY AS k(value, n)",
            &args![marked],
        )?;
        Ok(())
    }
}

fn pg_type(r: &PgRow, i: usize) -> String {
    r.columns()
        .get(i)
        .map(|c| c.type_info().name().to_owned())
        .unwrap_or_default()
}

impl RawRow for PgRow {
    fn int(&self, i: usize) -> sql::Result<Option<i64>> {
        Ok(match pg_type(self, i).as_str() {
            "INT4" => self.try_get::<Option<i32>, _>(i)?.map(i64::from),
            "INT2" => self.try_get::<Option<i16>, _>(i)?.map(i64::from),
            "BOOL" => self.try_get::<Option<bool>, _>(i)?.map(i64::from),
            _ => self.try_get::<Option<i64>, _>(i)?,
        })
    }

    fn real(&self, i: usize) -> sql::Result<Option<f64>> {
        Ok(match pg_type(self, i).as_str() {
            "FLOAT4" => self.try_get::<Option<f32>, _>(i)?.map(f64::from),
            "FLOAT8" => self.try_get::<Option<f64>, _>(i)?,
            _ => self.int(i)?.map(|v| v as f64),
        })
    }

    fn text(&self, i: usize) -> sql::Result<Option<String>> {
        Ok(match pg_type(self, i).as_str() {
            "BYTEA" => self
                .try_get::<Option<Vec<u8>>, _>(i)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            _ => self.try_get::<Option<String>, _>(i)?,
        })
    }

    fn bytes(&self, i: usize) -> sql::Result<Option<Vec<u8>>> {
        Ok(match pg_type(self, i).as_str() {
            "BYTEA" => self.try_get::<Option<Vec<u8>>, _>(i)?,
            _ => self.text(i)?.map(String::into_bytes),
        })
    }
}

/// How long one PostgreSQL statement (or BEGIN, COMMIT) may take.
pub const STATEMENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// `f` run to its end on the lane's runtime `rt`, for `STATEMENT_DEADLINE`
/// at most.
pub(super) fn wait<T>(
    rt: &Runtime,
    f: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    // The timer is made inside `block_on`, in the runtime's context.
    rt.block_on(async { tokio::time::timeout(STATEMENT_DEADLINE, f).await })
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "PostgreSQL did not answer within {} s",
                    STATEMENT_DEADLINE.as_secs()
                ),
            )))
        })
}

/// SQLite's placeholders as PostgreSQL's (outside quotes): each `?` the
/// next `$n`, a numbered `?n` the same `$n`.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    n += 1;
                    out.push_str(&n.to_string());
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
        );
        assert_eq!(numbered("SELECT 'it''s ?', ?"), "SELECT 'it''s ?', $1");
        assert_eq!(
            numbered("UPDATE t SET a = ?1 WHERE id = ?2 AND b <= ?1"),
            "UPDATE t SET a = $1 WHERE id = $2 AND b <= $1"
        );
    }
}
