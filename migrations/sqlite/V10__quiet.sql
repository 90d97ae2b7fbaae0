-- Silences and grace periods (docs/ROUTING.md). A held event is an outbox
-- row like any other, due at `held_until` instead of at once: it survives
-- a restart or a crash, and the delivery worker sends it when due unless
-- a later decision cancels it first (state `cancelled`).
ALTER TABLE outbox ADD COLUMN held_until TEXT;
ALTER TABLE outbox ADD COLUMN held_by TEXT;      -- page_after_secs | resolve_after_secs | silence <id>
CREATE INDEX outbox_held ON outbox (held_by) WHERE held_by IS NOT NULL;

-- A destination's view may wait on a held event: a trigger not yet sent
-- (the view opens when it is due) or a resolve not yet sent (the view
-- closes when it is due).
ALTER TABLE destination_alerts ADD COLUMN held_action TEXT;   -- trigger | resolve
ALTER TABLE destination_alerts ADD COLUMN held_until TEXT;
ALTER TABLE destination_alerts ADD COLUMN held_outbox INTEGER;

CREATE TABLE silences (
    id          TEXT PRIMARY KEY,
    page        TEXT,                        -- page id or name
    component   TEXT,                        -- component id, name or group
    incident    TEXT,                        -- incident id
    route       TEXT,                        -- destination: a route's name or `default`
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,               -- cli:<user> | api:<user>
    expired_at  TEXT,                        -- set when expired by hand
    expired_by  TEXT
);
CREATE INDEX silences_end ON silences (ends_at);

-- alert_events shows what is held, and until when.
DROP VIEW alert_events;
CREATE VIEW alert_events AS
SELECT
    o.id AS outbox_id,
    o.webhook_id,
    o.fingerprint,
    o.kind,
    o.page_id,
    o.entity_id,
    o.action,
    o.priority,
    o.created_at AS decided_at,
    o.state,
    o.attempts,
    CASE WHEN o.state = 'delivered' THEN o.finished_at END AS delivered_at,
    CASE WHEN o.state = 'delivered'
         THEN round((julianday(o.finished_at) - julianday(o.created_at)) * 86400, 3) END AS seconds_to_deliver,
    o.last_status,
    o.last_error,
    o.destination,
    o.held_until,
    o.held_by
FROM outbox o;
