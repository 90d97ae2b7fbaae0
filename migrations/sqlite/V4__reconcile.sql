-- Reconcile: heals are stored like webhooks, told apart by `origin`.
-- Rows stored before this migration came from Statuspage.
ALTER TABLE webhooks ADD COLUMN origin TEXT NOT NULL DEFAULT 'webhook';  -- webhook | reconcile
CREATE INDEX webhooks_origin ON webhooks (page_id, origin, received_at);

-- Every reconcile round of every page.
CREATE TABLE reconcile_rounds (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id      TEXT NOT NULL,
    source       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    result       TEXT NOT NULL,              -- ok | failed
    error        TEXT,                       -- why it failed
    incidents    INTEGER NOT NULL DEFAULT 0, -- open upstream
    components   INTEGER NOT NULL DEFAULT 0, -- leaf components upstream
    heals        INTEGER NOT NULL DEFAULT 0  -- events applied from the page
);
CREATE INDEX reconcile_rounds_page ON reconcile_rounds (page_id, id);
