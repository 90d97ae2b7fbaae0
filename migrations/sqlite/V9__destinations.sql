-- Routing (docs/ROUTING.md): every event for ITOC360 has a destination —
-- `default` ([itoc360]) or a route's name — and each destination keeps its
-- own view of each alert: a row here while the destination has it open.
ALTER TABLE outbox ADD COLUMN destination TEXT NOT NULL DEFAULT 'default';
DROP INDEX outbox_fingerprint;
CREATE INDEX outbox_lane ON outbox (fingerprint, destination, id);

CREATE TABLE destination_alerts (
    source       TEXT NOT NULL,
    page_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,              -- incident | component
    entity_id    TEXT NOT NULL,
    destination  TEXT NOT NULL,
    priority     TEXT NOT NULL,              -- the priority it has there
    opened_at    TEXT NOT NULL,
    PRIMARY KEY (source, page_id, kind, entity_id, destination)
) WITHOUT ROWID;

-- Until now everything went to the default destination: it has every
-- alert the bridge has open.
INSERT INTO destination_alerts
SELECT source, page_id, 'incident', incident_id, 'default',
       coalesce(alert_priority, 'medium'), updated_at
  FROM incidents WHERE alert_open = 1;
INSERT INTO destination_alerts
SELECT source, page_id, 'component', component_id, 'default',
       coalesce(alert_priority, 'medium'), coalesce(alert_opened_at, updated_at)
  FROM components WHERE alert_open = 1;

-- alert_events gains the destination (existing columns keep their names).
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
    o.destination
FROM outbox o;
