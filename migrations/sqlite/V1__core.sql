-- Core schema. Every time is UTC ISO 8601 text with milliseconds and a `Z`
-- (e.g. 2025-03-04T10:15:01.907Z), so text order is time order.

-- Every webhook that passed authentication, exactly as received, with what
-- the bridge made of it.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,          -- UUID, returned to Statuspage
    received_at   TEXT NOT NULL,
    source        TEXT NOT NULL,             -- [[sources]] name that matched the token
    remote_addr   TEXT,
    body          BLOB NOT NULL,             -- raw bytes (stored as TEXT when valid UTF-8)
    body_bytes    INTEGER NOT NULL,
    kind          TEXT NOT NULL,             -- incident | component | unknown | invalid
    page_id       TEXT,
    entity_id     TEXT,                      -- incident id or component id
    entity_name   TEXT,
    event_id      TEXT,                      -- incident_updates[0].id or component_update.id
    old_status    TEXT,                      -- status before this webhook
    new_status    TEXT,                      -- status the webhook carries
    impact        TEXT,                      -- incidents: effective impact
    event_at      TEXT,                      -- the payload's own time
    outcome       TEXT NOT NULL,             -- triggered, retriggered, resolved, ...
    reason        TEXT NOT NULL,
    action        TEXT,                      -- trigger | resolve | NULL
    priority      TEXT                       -- priority of the emitted event
);
CREATE INDEX webhooks_received ON webhooks (received_at DESC, id DESC);
CREATE INDEX webhooks_kind ON webhooks (kind, received_at DESC, id DESC);
CREATE INDEX webhooks_outcome ON webhooks (outcome, received_at DESC, id DESC);
CREATE INDEX webhooks_entity ON webhooks (kind, page_id, entity_id, received_at);

-- Substring search on entity names for the audit page (trigram index, so
-- `LIKE '%text%'` does not scan every webhook). Kept in step by triggers.
CREATE VIRTUAL TABLE webhooks_name USING fts5 (
    entity_name, content = 'webhooks', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER webhooks_name_insert AFTER INSERT ON webhooks WHEN new.entity_name IS NOT NULL BEGIN
    INSERT INTO webhooks_name (rowid, entity_name) VALUES (new.rowid, new.entity_name);
END;
CREATE TRIGGER webhooks_name_delete AFTER DELETE ON webhooks WHEN old.entity_name IS NOT NULL BEGIN
    INSERT INTO webhooks_name (webhooks_name, rowid, entity_name) VALUES ('delete', old.rowid, old.entity_name);
END;

-- Current state of each incident (and scheduled maintenance).
CREATE TABLE incidents (
    source          TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    incident_id     TEXT NOT NULL,
    name            TEXT,
    status          TEXT,
    impact          TEXT,                    -- effective impact (override wins)
    shortlink       TEXT,
    started_at      TEXT,
    resolved_at     TEXT,
    backfilled      INTEGER NOT NULL DEFAULT 0,
    alert_open      INTEGER NOT NULL DEFAULT 0,  -- 1 while ITOC360 has an open alert
    alert_priority  TEXT,                    -- priority last sent (kept after resolve)
    last_event_at   TEXT,                    -- payload time of the last applied event
    last_webhook_id TEXT REFERENCES webhooks (id),
    first_seen_at   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (source, page_id, incident_id)
);
CREATE INDEX incidents_open ON incidents (alert_open);

-- Current state of each component.
CREATE TABLE components (
    source          TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    component_id    TEXT NOT NULL,
    name            TEXT,
    status          TEXT,
    alert_open      INTEGER NOT NULL DEFAULT 0,
    alert_priority  TEXT,
    alert_opened_at TEXT,                    -- when the component left operational (open alert)
    last_event_at   TEXT,
    last_webhook_id TEXT REFERENCES webhooks (id),
    first_seen_at   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (source, page_id, component_id)
);

-- Every applied event, even those that emit nothing.
CREATE TABLE transitions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id),
    source          TEXT NOT NULL,
    kind            TEXT NOT NULL,           -- incident | component
    page_id         TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    at              TEXT NOT NULL,           -- payload time, else received time
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    alert_before    TEXT NOT NULL,           -- closed | open:<priority>
    alert_after     TEXT NOT NULL,
    outcome         TEXT NOT NULL
);
CREATE INDEX transitions_entity ON transitions (kind, page_id, entity_id, id);

-- Keys of every applied event; the UNIQUE constraint is what makes a second
-- copy of an event a duplicate.
CREATE TABLE applied_events (
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    page_id     TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    event_key   TEXT NOT NULL,               -- sha256:<body> | update:<id>:<status>:<impact> | component_update:<id>
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id),
    UNIQUE (source, kind, page_id, entity_id, event_key)
);

-- Which components each incident touched. `current` is 1 while the
-- incident's latest applied payload lists the component.
CREATE TABLE incident_components (
    source          TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    incident_id     TEXT NOT NULL,
    component_id    TEXT NOT NULL,
    component_name  TEXT,
    current         INTEGER NOT NULL DEFAULT 1,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    PRIMARY KEY (source, page_id, incident_id, component_id)
);
CREATE INDEX incident_components_component ON incident_components (source, page_id, component_id, current);

-- Decided events for ITOC360, in decision order (id). Written in the same
-- transaction as the webhook that decided them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id),
    created_at      TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    action          TEXT NOT NULL,           -- trigger | resolve
    priority        TEXT NOT NULL,           -- critical | high | medium | low
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    status          TEXT NOT NULL,           -- Statuspage status that caused it
    impact          TEXT,
    link            TEXT,                    -- incident shortlink
    starts_at       TEXT NOT NULL,
    ends_at         TEXT,                    -- resolves only
    state           TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | dead | skipped
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    queued_at       TEXT NOT NULL,           -- decided, or requeued by hand; give-up age counts from here
    lease_until     TEXT,                    -- set while a worker holds the row
    last_status     INTEGER,                 -- last HTTP status from ITOC360
    last_error      TEXT,
    finished_at     TEXT
);
CREATE INDEX outbox_fingerprint ON outbox (fingerprint, id);
CREATE INDEX outbox_state ON outbox (state, next_attempt_at);
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX outbox_webhook ON outbox (webhook_id);

-- Every attempt to send an outbox row.
CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id    INTEGER NOT NULL REFERENCES outbox (id),
    started_at   TEXT NOT NULL,
    latency_ms   INTEGER NOT NULL,
    http_status  INTEGER,                    -- NULL when no answer came
    result       TEXT NOT NULL,              -- delivered | retry | dead
    error        TEXT
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id, id);
