//! What reconcile learned of each page from its `summary.json` (the page's
//! name, its components and groups; docs/ROUTING.md): written by the writer
//! after each successful round, read by ingest for the components an event
//! involves, and by the audit pages and warnings for whole pages.

use super::sql::{self, Conn, args};
use chrono::{DateTime, Utc};

use crate::rules::alert::ComponentFacts;
use crate::rules::catalog::{Catalog, Listed};
use crate::rules::plan::Learned;
use crate::rules::time::format_time;
use crate::storage::{ReadResult, Reader, WriteError, Writer};

/// The page's learned name and the learned facts of `component_ids`: one
/// lookup by key for a page never learned, one more per component else.
pub fn learned(conn: Conn<'_>, page_id: &str, component_ids: &[&str]) -> sql::Result<Learned> {
    let page: Option<Option<String>> = conn.query_value(
        "SELECT name FROM learned_pages WHERE page_id = ?",
        &args![page_id],
    )?;
    let Some(page_name) = page else {
        return Ok(Learned::default());
    };
    let mut components = Vec::new();
    for id in component_ids {
        let found = conn.query_row(
            "SELECT name, group_id, group_name FROM learned_components
             WHERE page_id = ? AND component_id = ?",
            &args![page_id, *id],
            |r| {
                Ok(ComponentFacts {
                    id: (*id).to_owned(),
                    name: r.get(0)?,
                    group_id: r.get(1)?,
                    group_name: r.get(2)?,
                })
            },
        )?;
        components.extend(found);
    }
    Ok(Learned {
        page_name,
        components,
    })
}

/// Replaces what is known of the page.
fn learn(conn: Conn<'_>, c: &Catalog, now: DateTime<Utc>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO learned_pages (page_id, name, learned_at) VALUES (?, ?, ?)
         ON CONFLICT (page_id) DO UPDATE SET name = excluded.name, learned_at = excluded.learned_at",
        &args![c.page_id, c.name, format_time(now)])?;
    conn.execute(
        "DELETE FROM learned_components WHERE page_id = ?",
        &args![&c.page_id],
    )?;
    for (i, l) in c.components.iter().enumerate() {
        conn.execute(
            "INSERT INTO learned_components
                (page_id, component_id, name, is_group, group_id, group_name, status, position)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (page_id, component_id) DO UPDATE SET name = excluded.name,
                is_group = excluded.is_group, group_id = excluded.group_id,
                group_name = excluded.group_name, status = excluded.status,
                position = excluded.position",
            &args![
                c.page_id,
                l.id,
                l.name,
                l.is_group,
                l.group_id,
                l.group_name,
                l.status,
                i as i64
            ],
        )?;
    }
    Ok(())
}

impl Writer {
    /// Stores what a round read of the page (name, components, groups).
    pub async fn learn_page(&self, catalog: Catalog, now: DateTime<Utc>) -> Result<(), WriteError> {
        self.run(move |conn| learn(conn, &catalog, now)).await
    }
}

impl Reader {
    /// Every page learned so far, with its components in the page's order,
    /// then the components of the page seen only in webhooks since (a
    /// component added after the last round is not unknown).
    pub async fn catalogs(&self) -> ReadResult<Vec<Catalog>> {
        let pages: Vec<(String, Option<String>)> = self
            .all(
                "SELECT page_id, name FROM learned_pages ORDER BY page_id",
                &args![],
            )
            .await?;
        let mut out = Vec::new();
        for (page_id, name) in pages {
            type ComponentRow = (
                String,
                Option<String>,
                bool,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let rows: Vec<ComponentRow> = self
                .all(
                    "SELECT component_id, name, is_group <> 0, group_id, group_name, status
                 FROM learned_components WHERE page_id = ?1
                 UNION ALL
                 SELECT c.component_id, c.name, 0 <> 0, NULL, NULL, c.status FROM components c
                 WHERE c.page_id = ?1 AND NOT EXISTS (SELECT 1 FROM learned_components l
                       WHERE l.page_id = c.page_id AND l.component_id = c.component_id)",
                    &args![&page_id],
                )
                .await?;
            let mut components: Vec<Listed> = Vec::new();
            for r in rows {
                if components.iter().any(|c| c.id == r.0) {
                    continue;
                }
                components.push(Listed {
                    id: r.0,
                    name: r.1,
                    is_group: r.2,
                    group_id: r.3,
                    group_name: r.4,
                    status: r.5,
                });
            }
            out.push(Catalog {
                page_id,
                name,
                components,
            });
        }
        Ok(out)
    }

    /// The name a page's `summary.json` gave, if a round learned one.
    pub async fn page_name(&self, page_id: &str) -> ReadResult<Option<String>> {
        self.value(
            "SELECT max(name) FROM learned_pages WHERE page_id = ?",
            &args![page_id],
        )
        .await
    }

    /// Every page the bridge knows of (learned, or with incidents or
    /// components stored), with its learned name if any.
    pub async fn known_pages(&self) -> ReadResult<Vec<(String, Option<String>)>> {
        self.all(
            "SELECT p.page_id, l.name FROM (
                 SELECT page_id FROM learned_pages
                 UNION SELECT DISTINCT page_id FROM incidents
                 UNION SELECT DISTINCT page_id FROM components) p
             LEFT JOIN learned_pages l ON l.page_id = p.page_id
             ORDER BY p.page_id",
            &args![],
        )
        .await
    }
}
