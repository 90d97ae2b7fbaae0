-- What reconcile learns from each page's summary.json (docs/ROUTING.md):
-- the page's name, used in titles and on the audit pages when `[[pages]]`
-- names none, and its components and groups, so that filters can name a
-- group by its name and a filter naming nothing the page has is warned
-- about. Each successful round replaces the page's rows.
CREATE TABLE learned_pages (
    page_id     TEXT PRIMARY KEY,
    name        TEXT,
    learned_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE learned_components (
    page_id       TEXT NOT NULL,
    component_id  TEXT NOT NULL,
    name          TEXT,
    is_group      INTEGER NOT NULL,          -- 1: a group (its children page, never it)
    group_id      TEXT,                      -- the group a component belongs to
    group_name    TEXT,
    status        TEXT,
    position      INTEGER NOT NULL,          -- the page's own order
    PRIMARY KEY (page_id, component_id)
) WITHOUT ROWID;
