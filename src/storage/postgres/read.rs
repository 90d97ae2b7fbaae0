//! PostgreSQL's read pool: the replica's connections for reads, each read
//! bounded in time.

use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::{Postgres, numbered};
use crate::storage::engine::{Engine, Pool, Rows};
use crate::storage::reader::READ_DEADLINE;
use crate::storage::sql::{Arg, RawRow, bind_all};

/// A pool on the replica's database.
#[derive(Debug)]
pub struct PgReads(pub PgPool);

impl Pool for PgReads {
    fn engine(&self) -> &'static dyn Engine {
        &Postgres
    }

    fn fetch<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
        first: bool,
    ) -> BoxFuture<'a, Result<Rows, sqlx::Error>> {
        Box::pin(async move {
            let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(numbered(sql))), args);
            let rows = if first {
                q.fetch_optional(&self.0).await?.into_iter().collect()
            } else {
                q.fetch_all(&self.0).await?
            };
            Ok(rows
                .into_iter()
                .map(|r| Box::new(r) as Box<dyn RawRow + Send>)
                .collect())
        })
    }

    fn execute<'a, 'b: 'a>(
        &'a self,
        sql: &'a str,
        args: &'a [Arg<'b>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let q = bind_all!(sqlx::query(sqlx::AssertSqlSafe(numbered(sql))), args);
            Ok(q.execute(&self.0).await?.rows_affected())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.close())
    }

    fn deadline(&self) -> Option<Duration> {
        Some(READ_DEADLINE)
    }
}
