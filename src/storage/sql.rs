//! One way to run the write path's SQL on either engine: [`Conn`] is the
//! open transaction a job runs in ([`Tx`], implemented by each engine in
//! its folder) — SQLite's write connection on the writer thread, or a
//! PostgreSQL transaction driven from a blocking thread.
//!
//! Statements are written once, with `?` placeholders and SQL both engines
//! take (`ON CONFLICT … DO …`, `RETURNING`, no date functions); the few
//! fragments the engines write differently come from [`Conn::engine`].
//! Values cross as [`Arg`] and come back through [`Col`] from a [`RawRow`],
//! so no driver type leaves this folder.

use std::borrow::Cow;

use super::engine::Engine;

/// A statement that failed, on either engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] sqlx::Error),
    /// Webhook `job` of a batch would write an entity its transaction
    /// holds only a shared lock on: the batch is to run again with that
    /// webhook's entities held exclusively.
    #[error("a webhook would write an entity locked only for reading")]
    Exclusive { job: usize },
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

/// A text argument borrowed for as long as the text itself (where
/// [`ToArg`] would borrow a temporary `Option`).
pub fn text<'a>(v: Option<&'a str>) -> Arg<'a> {
    v.map_or(Arg::Text(None), text_arg)
}

/// An integer argument.
pub fn int<'a>(v: impl Into<Option<i64>>) -> Arg<'a> {
    Arg::Int(v.into())
}

/// A text made for the statement (a formatted time, a JSON text), owned
/// by its argument, as [`ToArg`] binds text.
pub fn owned<'a>(s: impl Into<Option<String>>) -> Arg<'a> {
    Arg::Text(s.into().map(|s| match text_arg(&s) {
        Arg::Text(Some(Cow::Owned(clean))) => Cow::Owned(clean),
        _ => Cow::Owned(s),
    }))
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

/// A result row as an engine hands it over: each column read as one of
/// four kinds of value. Implemented in each engine's folder.
pub trait RawRow {
    fn int(&self, i: usize) -> Result<Option<i64>>;
    fn real(&self, i: usize) -> Result<Option<f64>>;
    fn text(&self, i: usize) -> Result<Option<String>>;
    /// Bytes, from a blob or a text column alike (the body is either).
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>>;
}

/// A column's value as Rust reads it, from either engine.
pub trait Col: Sized {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self>;
}

fn null(i: usize) -> Error {
    Error::Decode {
        column: i,
        message: "NULL where a value was expected".into(),
    }
}

impl Col for i64 {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.int(i)?.ok_or_else(|| null(i))
    }
}
impl Col for Option<i64> {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.int(i)
    }
}
impl Col for bool {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        Ok(r.int(i)?.ok_or_else(|| null(i))? != 0)
    }
}
impl Col for String {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.text(i)?.ok_or_else(|| null(i))
    }
}
impl Col for Option<String> {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.text(i)
    }
}
impl Col for f64 {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.real(i)?.ok_or_else(|| null(i))
    }
}
impl Col for i32 {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        let v = i64::col(r, i)?;
        i32::try_from(v).map_err(|_| Error::Decode {
            column: i,
            message: format!("{v} does not fit in 32 bits"),
        })
    }
}
impl Col for Option<f64> {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        r.real(i)
    }
}
impl Col for Vec<u8> {
    fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
        Ok(r.bytes(i)?.unwrap_or_default())
    }
}

/// `Col` for a closed set stored as its string (`as_str` / `parse`): a
/// value outside the set fails the read, naming the column, rather than
/// reaching a page as text nobody compares against.
macro_rules! word_col {
    ($($t:ty),+ $(,)?) => {$(
        impl Col for $t {
            fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
                let s = String::col(r, i)?;
                <$t>::parse(&s).ok_or_else(|| Error::Decode {
                    column: i,
                    message: format!("{s:?} is not a {}", stringify!($t)),
                })
            }
        }
        impl Col for Option<$t> {
            fn col(r: &dyn RawRow, i: usize) -> Result<Self> {
                match r.text(i)? {
                    None => Ok(None),
                    Some(_) => <$t>::col(r, i).map(Some),
                }
            }
        }
    )+};
}

word_col!(
    crate::rules::domain::Priority,
    crate::rules::domain::EntityKind,
    crate::rules::domain::Outcome,
    crate::rules::domain::Action,
    crate::rules::domain::Alert,
    crate::rules::plan::BodyKind,
    crate::rules::route::HeldBy,
    super::outbox::State,
    super::outbox::Tried,
    super::rounds::RoundResult,
);

/// One result row.
#[derive(Clone, Copy)]
pub struct Row<'r>(pub &'r dyn RawRow);

impl Row<'_> {
    pub fn get<T: Col>(&self, i: usize) -> Result<T> {
        T::col(self.0, i)
    }
}

/// A row decoded whole: a tuple of columns, or a struct that lists its
/// columns in the order its `SELECT` names them.
pub trait FromRow: Sized {
    fn from_row(r: &Row<'_>) -> Result<Self>;
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Col),+> FromRow for ($($t,)+) {
            fn from_row(r: &Row<'_>) -> Result<Self> {
                Ok(($(r.get::<$t>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

/// `FromRow` for a struct whose fields are the `SELECT`'s columns in order;
/// fields after `;` are not columns and take the value given.
macro_rules! struct_from_row {
    ($t:ident { $($f:ident),+ $(,)? } $(; $($rest:ident: $v:expr),+)?) => {
        impl $crate::storage::sql::FromRow for $t {
            fn from_row(r: &$crate::storage::sql::Row<'_>) -> $crate::storage::sql::Result<Self> {
                let mut column = 0..;
                Ok($t {
                    $($f: r.get(column.next().expect("unbounded"))?,)+
                    $($($rest: $v,)+)?
                })
            }
        }
    };
}
pub(crate) use struct_from_row;

/// The type of a column of a [`Table`] (what PostgreSQL binds its
/// column's array as; SQLite binds one row at a time and needs no type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Real,
    Text,
    Bytes,
}

/// The texts of the statements one place in the source writes (see
/// [`kept!`](kept)), each built the first time and kept for the life of the
/// process: the write path runs the same few statements thousands of times
/// a second, and writing their text each time cost more than running some
/// of them. A place keeps one text per engine and `name` (a place may write
/// one for each of several tables); looking one up compares a few short
/// names. Debug builds write the text every time and check it is the
/// same.
pub struct Kept(std::sync::RwLock<Vec<(&'static str, &'static str, &'static str)>>);

impl Default for Kept {
    fn default() -> Kept {
        Kept::new()
    }
}

impl Kept {
    pub const fn new() -> Kept {
        Kept(std::sync::RwLock::new(Vec::new()))
    }

    pub fn text(
        &self,
        engine: &'static dyn Engine,
        name: &'static str,
        build: impl FnOnce(&dyn Engine) -> String,
    ) -> &'static str {
        let key = (engine.name(), name);
        let found = |texts: &[(&'static str, &'static str, &'static str)]| {
            texts
                .iter()
                .find(|(e, n, _)| (*e, *n) == key)
                .map(|(_, _, text)| *text)
        };
        if let Some(text) = found(&self.0.read().unwrap_or_else(|e| e.into_inner())) {
            debug_assert_eq!(text, build(engine), "one text per place and name");
            return text;
        }
        let mut texts = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(text) = found(&texts) {
            return text;
        }
        let text: &'static str = Box::leak(build(engine).into_boxed_str());
        texts.push((key.0, key.1, text));
        text
    }
}

/// `kept!(engine, |e| text)`, or `kept!(engine, name, |e| text)`: the
/// statement text written here, built once per engine (and name) and kept
/// ([`Kept`]).
macro_rules! kept {
    ($engine:expr, $build:expr) => {
        $crate::storage::sql::kept!($engine, "", $build)
    };
    ($engine:expr, $name:expr, $build:expr) => {{
        static KEPT: $crate::storage::sql::Kept = $crate::storage::sql::Kept::new();
        KEPT.text($engine, $name, $build)
    }};
}
pub(crate) use kept;

/// Rows of arguments one statement reads as a table: the statement names
/// it `r`, written by [`Engine::table`] from the same `columns`. One
/// statement serves many rows: PostgreSQL binds an array per column and
/// runs it once; SQLite runs it once per row (no round trip to save).
#[derive(Debug)]
pub struct Table<'a> {
    pub columns: &'static [(&'static str, Ty)],
    pub rows: Vec<Vec<Arg<'a>>>,
}

impl<'a> Table<'a> {
    pub fn new(columns: &'static [(&'static str, Ty)]) -> Table<'a> {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row: one argument per column, in the columns' order.
    pub fn push<const N: usize>(&mut self, row: [Arg<'a>; N]) {
        debug_assert_eq!(N, self.columns.len(), "one argument per column");
        self.rows.push(row.into());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// What is done with each row a statement returns.
pub type EachRow<'f> = &'f mut dyn FnMut(Row<'_>) -> Result<()>;

/// An open transaction of one engine (implemented in its folder).
pub trait Tx {
    /// The engine this transaction runs on.
    fn engine(&self) -> &'static dyn Engine;
    /// Runs a statement; the rows it changed.
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize>;
    /// Runs statements without arguments, one after the other.
    fn execute_batch(&self, sql: &str) -> Result<()>;
    /// Hands each row to `f` until it answers false.
    fn each_row(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut dyn FnMut(Row<'_>) -> Result<bool>,
    ) -> Result<()>;
    /// Runs `sql` over the rows of `table` (its arguments, bound as the
    /// table `r`): each row it returns through `f`, and how many; without
    /// `f`, the rows it changed.
    fn each_table_row(&self, sql: &str, table: &Table<'_>, f: Option<EachRow<'_>>)
    -> Result<usize>;
    /// Runs an `INSERT` of the rows of `table` into a table with an `id`
    /// key, ending in [`Engine::returning_id`], as [`Tx::each_table_row`];
    /// the new rows' ids.
    fn insert_table_ids(&self, sql: &str, table: &Table<'_>) -> Result<Vec<i64>>;
    /// Serialises this transaction with every other one that names any of
    /// `keys` (sorted and without repeats), until it ends; `shared` keys
    /// only with those that name them in `keys` (the sorted order taken
    /// over both).
    fn lock(&self, keys: &[String], shared: &[String]) -> Result<()>;
}

/// The transaction a write job runs in.
#[derive(Clone, Copy)]
pub struct Conn<'c>(&'c dyn Tx);

impl<'c> Conn<'c> {
    pub fn new(tx: &'c dyn Tx) -> Conn<'c> {
        Conn(tx)
    }

    /// The engine: the fragments of SQL it writes its own way.
    pub fn engine(&self) -> &'static dyn Engine {
        self.0.engine()
    }

    /// Runs a statement; the rows it changed.
    pub fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        self.0.execute(sql, args)
    }

    /// Runs statements without arguments, one after the other.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql)
    }

    /// Every row, each through `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.0.each_row(sql, args, &mut |r| {
            out.push(f(&r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row through `f`, if there is one.
    pub fn query_row<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.0.each_row(sql, args, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(&r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first column of the first row (`None` without a row).
    pub fn query_value<T: Col>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>> {
        self.query_row(sql, args, |r| r.get(0))
    }

    /// Runs an `INSERT` over the rows of `table` into a table with an `id`
    /// key, ending in [`Engine::returning_id`] (nothing when it has none);
    /// the new rows' ids.
    pub fn insert_table_ids(&self, sql: &str, table: &Table<'_>) -> Result<Vec<i64>> {
        if table.is_empty() {
            return Ok(Vec::new());
        }
        self.0.insert_table_ids(sql, table)
    }

    /// Runs a statement over the rows of `table` (nothing when it has
    /// none); the rows it changed.
    pub fn execute_table(&self, sql: &str, table: &Table<'_>) -> Result<usize> {
        if table.is_empty() {
            return Ok(0);
        }
        self.0.each_table_row(sql, table, None)
    }

    /// Every row a statement over one row of `table` (its `r` written by
    /// [`Engine::row`]) returns, run once per row, each through `f`.
    pub fn query_by_row<T>(
        &self,
        sql: &str,
        table: &Table<'_>,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for args in &table.rows {
            out.extend(self.query(sql, args, &mut f)?);
        }
        Ok(out)
    }

    /// Every row a statement over the rows of `table` returns, each
    /// through `f` (nothing when it has none).
    pub fn query_table<T>(
        &self,
        sql: &str,
        table: &Table<'_>,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        if table.is_empty() {
            return Ok(out);
        }
        self.0.each_table_row(
            sql,
            table,
            Some(&mut |r| {
                out.push(f(&r)?);
                Ok(())
            }),
        )?;
        Ok(out)
    }

    /// Serialises this transaction with every other one that names any of
    /// `keys`, until it ends: a no-op where one writer already runs a job
    /// at a time (SQLite); PostgreSQL advisory locks, taken in sorted
    /// order so two transactions never wait for each other in a cycle.
    /// `shared` keys conflict only with transactions that name them in
    /// `keys` (those that write them): readers run beside each other.
    pub fn lock(&self, keys: &mut Vec<String>, shared: &mut Vec<String>) -> Result<()> {
        keys.sort();
        keys.dedup();
        shared.sort();
        shared.dedup();
        shared.retain(|k| keys.binary_search(k).is_err());
        self.0.lock(keys, shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A place keeps one text per engine and name, built once each.
    #[test]
    fn a_kept_text_is_built_once_per_engine_and_name() {
        let engines: [&'static dyn Engine; 2] = [
            &crate::storage::sqlite::Sqlite,
            &crate::storage::postgres::Postgres,
        ];
        let builds = std::cell::Cell::new(0);
        let mut texts = Vec::new();
        for _ in 0..3 {
            for engine in engines {
                for name in ["a", "b"] {
                    let text = kept!(engine, name, |e| {
                        builds.set(builds.get() + 1);
                        format!("{} {name}", e.name())
                    });
                    assert_eq!(text, format!("{} {name}", engine.name()));
                    texts.push(text.as_ptr());
                }
            }
        }
        // Debug builds build it again on every use, to compare.
        let expected = if cfg!(debug_assertions) { 12 } else { 4 };
        assert_eq!(builds.get(), expected);
        assert_eq!(&texts[..4], &texts[4..8], "the same kept texts");
        assert_eq!(&texts[..4], &texts[8..], "the same kept texts");
    }

    #[test]
    fn sqlite_rows_come_back_typed() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Conn::new(&c);
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, f INTEGER, b BLOB)")
            .unwrap();
        for row in [
            args!["x", true, &b"\xff"[..]],
            args![None::<&str>, false, &b"ok"[..]],
        ] {
            let changed = conn
                .execute("INSERT INTO t (s, f, b) VALUES (?, ?, ?)", &row)
                .unwrap();
            assert_eq!(changed, 1);
        }
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
