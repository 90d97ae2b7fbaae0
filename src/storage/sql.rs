//! One way to run the write path's SQL on either engine: [`Conn`] is the
//! open transaction a job runs in — SQLite's write connection on the writer
//! thread, or a PostgreSQL transaction driven from a blocking thread.
//!
//! Statements are written once, with `?` placeholders and SQL both engines
//! take (`ON CONFLICT … DO …`, `RETURNING`, no date functions); where the
//! engines differ a caller asks [`Conn::dialect`]. Values cross as [`Arg`]
//! and come back through [`Col`], so no driver type leaves this folder.

use std::borrow::Cow;
use std::cell::RefCell;

use sqlx::postgres::PgRow;
use sqlx::{Column as _, Postgres, Row as _, TypeInfo as _};
use tokio::runtime::Handle;

/// Which SQL a statement may use where the engines differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement that failed, on either engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] sqlx::Error),
    /// A column held something its reader did not expect.
    #[error("column {column}: {message}")]
    Decode { column: usize, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// A value bound to a statement. `None`s keep their type: PostgreSQL
/// refuses a text NULL for a BIGINT column.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<&'a [u8]>),
}

/// What may be bound: every argument is borrowed, as with rusqlite's
/// `params!`.
pub trait ToArg {
    fn to_arg(&self) -> Arg<'_>;
    /// This type's NULL.
    fn null() -> Arg<'static>;
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg<'_> {
                Arg::Int(Some(*self as i64))
            }
            fn null() -> Arg<'static> {
                Arg::Int(None)
            }
        }
    )*};
}
int_arg!(i64, i32, u32, u16, usize);

impl ToArg for bool {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(Some(i64::from(*self)))
    }
    fn null() -> Arg<'static> {
        Arg::Int(None)
    }
}
impl ToArg for f64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Real(Some(*self))
    }
    fn null() -> Arg<'static> {
        Arg::Real(None)
    }
}
/// Text as both engines store it: without NUL characters, which
/// PostgreSQL's text cannot hold (SQLite's can, and would then answer
/// differently), so a `\u0000` in a name or an update is dropped alike on
/// both. The raw body keeps it: it is bytes.
fn text_arg(s: &str) -> Arg<'_> {
    if s.contains('\0') {
        Arg::Text(Some(Cow::Owned(s.replace('\0', ""))))
    } else {
        Arg::Text(Some(Cow::Borrowed(s)))
    }
}

impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        text_arg(self)
    }
    fn null() -> Arg<'static> {
        Arg::Text(None)
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        text_arg(self)
    }
    fn null() -> Arg<'static> {
        Arg::Text(None)
    }
}
impl ToArg for [u8] {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Bytes(Some(self))
    }
    fn null() -> Arg<'static> {
        Arg::Bytes(None)
    }
}
impl ToArg for Arg<'_> {
    fn to_arg(&self) -> Arg<'_> {
        self.clone()
    }
    fn null() -> Arg<'static> {
        Arg::Text(None)
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
    fn null() -> Arg<'static> {
        T::null()
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg<'_> {
        match self {
            Some(v) => v.to_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg<'static> {
        T::null()
    }
}
impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Arg::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Arg::Real(Some(v)) => ToSqlOutput::Owned(Value::Real(*v)),
            Arg::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Arg::Int(None) | Arg::Real(None) | Arg::Text(None) | Arg::Bytes(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

/// Binds `args` (a slice of [`Arg`]) to an sqlx query of either engine.
macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::storage::sql::Arg::Int(v) => q.bind(*v),
                $crate::storage::sql::Arg::Real(v) => q.bind(*v),
                $crate::storage::sql::Arg::Text(v) => q.bind(v.as_deref()),
                $crate::storage::sql::Arg::Bytes(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// The arguments of a statement: `args![a, b, …]`, each borrowed through [`ToArg`].
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        [$($crate::storage::sql::ToArg::to_arg(&$v)),*]
    };
}
pub(crate) use args;

/// A column's value as Rust reads it, from either engine.
pub trait Col: Sized {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self>;
    fn postgres(r: &PgRow, i: usize) -> Result<Self>;
}

fn pg_type(r: &PgRow, i: usize) -> String {
    r.columns()
        .get(i)
        .map(|c| c.type_info().name().to_owned())
        .unwrap_or_default()
}

fn pg_int(r: &PgRow, i: usize) -> Result<Option<i64>> {
    Ok(match pg_type(r, i).as_str() {
        "INT4" => r.try_get::<Option<i32>, _>(i)?.map(i64::from),
        "INT2" => r.try_get::<Option<i16>, _>(i)?.map(i64::from),
        "BOOL" => r.try_get::<Option<bool>, _>(i)?.map(i64::from),
        _ => r.try_get::<Option<i64>, _>(i)?,
    })
}

fn pg_text(r: &PgRow, i: usize) -> Result<Option<String>> {
    Ok(match pg_type(r, i).as_str() {
        "BYTEA" => r
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        _ => r.try_get::<Option<String>, _>(i)?,
    })
}

fn null(i: usize) -> Error {
    Error::Decode {
        column: i,
        message: "NULL where a value was expected".into(),
    }
}

impl Col for i64 {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        pg_int(r, i)?.ok_or_else(|| null(i))
    }
}
impl Col for Option<i64> {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        pg_int(r, i)
    }
}
impl Col for bool {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        Ok(pg_int(r, i)?.ok_or_else(|| null(i))? != 0)
    }
}
impl Col for String {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        pg_text(r, i)?.ok_or_else(|| null(i))
    }
}
impl Col for Option<String> {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        pg_text(r, i)
    }
}
impl Col for Option<f64> {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        Ok(match pg_type(r, i).as_str() {
            "FLOAT4" => r.try_get::<Option<f32>, _>(i)?.map(f64::from),
            "FLOAT8" => r.try_get::<Option<f64>, _>(i)?,
            _ => pg_int(r, i)?.map(|v| v as f64),
        })
    }
}
impl Col for Vec<u8> {
    fn sqlite(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        // Text and blobs alike: the body is stored as either.
        match r.get_ref(i)? {
            rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                Ok(b.to_vec())
            }
            rusqlite::types::ValueRef::Null => Ok(Vec::new()),
            other => Err(rusqlite::Error::InvalidColumnType(
                i,
                "body".into(),
                other.data_type(),
            )),
        }
    }
    fn postgres(r: &PgRow, i: usize) -> Result<Self> {
        Ok(match pg_type(r, i).as_str() {
            "BYTEA" => r.try_get::<Option<Vec<u8>>, _>(i)?.unwrap_or_default(),
            _ => pg_text(r, i)?.unwrap_or_default().into_bytes(),
        })
    }
}

/// One result row.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r PgRow),
}

impl Row<'_> {
    pub fn get<T: Col>(&self, i: usize) -> Result<T> {
        match self {
            Row::Sqlite(r) => Ok(T::sqlite(r, i)?),
            Row::Postgres(r) => T::postgres(r, i),
        }
    }
}

/// A PostgreSQL transaction that a synchronous job drives from a blocking
/// thread (never a runtime worker).
pub struct PgTx {
    handle: Handle,
    tx: RefCell<sqlx::Transaction<'static, Postgres>>,
}

impl PgTx {
    pub(super) fn new(handle: Handle, tx: sqlx::Transaction<'static, Postgres>) -> PgTx {
        PgTx {
            handle,
            tx: RefCell::new(tx),
        }
    }

    pub(super) fn into_inner(self) -> sqlx::Transaction<'static, Postgres> {
        self.tx.into_inner()
    }

    fn query<'q>(
        sql: &'q str,
        args: &'q [Arg<'q>],
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        bind_all!(sqlx::query(sqlx::AssertSqlSafe(numbered(sql))), args)
    }

    /// Runs `f` to its end on this blocking thread, for `STATEMENT_DEADLINE`
    /// at most: a database that stopped answering fails the job instead of
    /// holding its thread.
    pub(super) fn wait<T>(
        &self,
        f: impl std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
    ) -> std::result::Result<T, sqlx::Error> {
        wait(&self.handle, f)
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        let mut tx = self.tx.borrow_mut();
        let done = self.wait(Self::query(sql, args).execute(&mut **tx))?;
        Ok(done.rows_affected() as usize)
    }

    fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<PgRow>> {
        let mut tx = self.tx.borrow_mut();
        Ok(self.wait(Self::query(sql, args).fetch_all(&mut **tx))?)
    }
}

/// How long one PostgreSQL statement (or BEGIN, COMMIT) may take.
pub const STATEMENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// `f` run to its end on `handle` from a blocking thread, for
/// `STATEMENT_DEADLINE` at most.
pub(super) fn wait<T>(
    handle: &Handle,
    f: impl std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
) -> std::result::Result<T, sqlx::Error> {
    handle
        .block_on(tokio::time::timeout(STATEMENT_DEADLINE, f))
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

/// The transaction a write job runs in.
#[derive(Clone, Copy)]
pub enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c PgTx),
}

impl<'c> Conn<'c> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; the rows it changed.
    pub fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(args.iter()))?),
            Conn::Postgres(t) => t.execute(sql, args),
        }
    }

    /// Runs statements without arguments, one after the other.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(t) => {
                let mut tx = t.tx.borrow_mut();
                t.wait(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut **tx))?;
                Ok(())
            }
        }
    }

    /// Every row, each through `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
            }
            Conn::Postgres(t) => {
                for r in t.fetch_all(sql, args)? {
                    out.push(f(&Row::Postgres(&r))?);
                }
            }
        }
        Ok(out)
    }

    /// The first row through `f`, if there is one.
    pub fn query_row<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Sqlite(r))?)),
                    None => Ok(None),
                }
            }
            Conn::Postgres(t) => match t.fetch_all(sql, args)?.first() {
                Some(r) => Ok(Some(f(&Row::Postgres(r))?)),
                None => Ok(None),
            },
        }
    }

    /// The first column of the first row (`None` without a row).
    pub fn query_value<T: Col>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>> {
        self.query_row(sql, args, |r| r.get(0))
    }

    /// Runs an `INSERT` into a table with an `id` key; the new row's id.
    pub fn insert_id(&self, sql: &str, args: &[Arg<'_>]) -> Result<i64> {
        match self {
            Conn::Sqlite(c) => {
                c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(args.iter()))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Postgres(t) => {
                let rows = t.fetch_all(&format!("{sql} RETURNING id"), args)?;
                let row = rows.first().ok_or_else(|| null(0))?;
                i64::postgres(row, 0)
            }
        }
    }

    /// Serialises this transaction with every other one that names any of
    /// `keys`, until it ends: a no-op on SQLite, whose one writer already
    /// runs a job at a time; PostgreSQL advisory locks, taken in sorted
    /// order so two transactions never wait for each other in a cycle.
    pub fn lock(&self, keys: &mut [String]) -> Result<()> {
        if let Conn::Postgres(_) = self {
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 && keys[i - 1] == *k {
                    continue;
                }
                self.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))::text",
                    &args![k],
                    |_| Ok(()),
                )?;
            }
        }
        Ok(())
    }
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

    #[test]
    fn sqlite_rows_come_back_typed() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::Sqlite(&c);
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, f INTEGER, b BLOB)")
            .unwrap();
        let id = conn
            .insert_id(
                "INSERT INTO t (s, f, b) VALUES (?, ?, ?)",
                &args!["x", true, &b"\xff"[..]],
            )
            .unwrap();
        assert_eq!(id, 1);
        conn.insert_id(
            "INSERT INTO t (s, f, b) VALUES (?, ?, ?)",
            &args![None::<&str>, false, &b"ok"[..]],
        )
        .unwrap();
        let rows = conn
            .query("SELECT s, f, b FROM t ORDER BY id", &[], |r| {
                Ok((
                    r.get::<Option<String>>(0)?,
                    r.get::<bool>(1)?,
                    r.get::<Vec<u8>>(2)?,
                ))
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                (Some("x".to_owned()), true, vec![0xff]),
                (None, false, b"ok".to_vec())
            ]
        );
        assert_eq!(
            conn.query_value::<i64>("SELECT count(*) FROM t WHERE f = ?", &args![true])
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            conn.query_value::<i64>("SELECT id FROM t WHERE s = ?", &args!["none"])
                .unwrap(),
            None
        );
    }
}
