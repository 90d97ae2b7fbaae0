-- Alerts the bridge raises about a page itself (src/rules/page_alert.rs):
-- today the components one reconcile round found in trouble beyond
-- reconcile.max_triggers_per_round, named in one alert. One row per page
-- and topic; its events are outbox rows of kind `page`, its webhooks rows
-- of kind `page` with origin `reconcile`.
CREATE TABLE page_alerts (
    source          TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    topic           TEXT NOT NULL,           -- grouped
    title           TEXT NOT NULL,
    status          TEXT NOT NULL,           -- open | clear
    alert_open      BIGINT NOT NULL DEFAULT 0,
    alert_priority  TEXT,
    opened_at       TEXT,                    -- while open
    last_event_at   TEXT,
    last_webhook_id TEXT REFERENCES webhooks (id),
    detail          TEXT NOT NULL DEFAULT '[]',  -- JSON array: the ids it names
    first_seen_at   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (source, page_id, topic)
);

-- open_alerts lists what is open per destination (docs/ROUTING.md): one
-- row per alert per destination that has it open now — `default` for
-- [itoc360], else a route's name — at the priority it has there. A
-- trigger held by a grace period or a silence is not open there yet; a
-- held resolve keeps it open there until it is due. The /alerts page
-- reads open_entities: one row per alert the bridge has open, wherever.
DROP VIEW open_alerts;

CREATE VIEW open_entities AS
SELECT
    'incident' AS kind,
    i.source,
    i.page_id,
    i.incident_id AS entity_id,
    i.name,
    i.status,
    i.alert_priority AS priority,
    -- the transition that opened the alert (a reopened incident: the latest)
    coalesce((SELECT t.at FROM transitions t
               WHERE t.kind = 'incident' AND t.page_id = i.page_id AND t.entity_id = i.incident_id
                 AND t.source = i.source
                 AND t.alert_before = 'closed' AND t.alert_after LIKE 'open:%'
               ORDER BY t.id DESC LIMIT 1),
             i.started_at, i.first_seen_at) AS open_since
FROM incidents i
WHERE i.alert_open = 1
UNION ALL
SELECT
    'component',
    c.source,
    c.page_id,
    c.component_id,
    c.name,
    c.status,
    c.alert_priority,
    coalesce(c.alert_opened_at, c.first_seen_at)
FROM components c
WHERE c.alert_open = 1
UNION ALL
SELECT
    'page',
    p.source,
    p.page_id,
    p.topic,
    p.title,
    p.status,
    p.alert_priority,
    coalesce(p.opened_at, p.first_seen_at)
FROM page_alerts p
WHERE p.alert_open = 1;

CREATE VIEW open_alerts AS
SELECT
    d.kind,
    d.page_id,
    d.entity_id,
    coalesce(i.name, c.name, p.title) AS name,
    coalesce(i.status, c.status, p.status) AS status,
    d.priority,
    CASE d.kind
        WHEN 'incident' THEN
            coalesce((SELECT t.at FROM transitions t
                       WHERE t.kind = 'incident' AND t.page_id = d.page_id
                         AND t.entity_id = d.entity_id AND t.source = d.source
                         AND t.alert_before = 'closed' AND t.alert_after LIKE 'open:%'
                       ORDER BY t.id DESC LIMIT 1),
                     i.started_at, i.first_seen_at, d.opened_at)
        WHEN 'component' THEN coalesce(c.alert_opened_at, c.first_seen_at, d.opened_at)
        ELSE coalesce(p.opened_at, d.opened_at)
    END AS open_since,
    d.destination
FROM destination_alerts d
LEFT JOIN incidents i ON d.kind = 'incident' AND i.source = d.source
                     AND i.page_id = d.page_id AND i.incident_id = d.entity_id
LEFT JOIN components c ON d.kind = 'component' AND c.source = d.source
                      AND c.page_id = d.page_id AND c.component_id = d.entity_id
LEFT JOIN page_alerts p ON d.kind = 'page' AND p.source = d.source
                       AND p.page_id = d.page_id AND p.topic = d.entity_id
WHERE NOT (coalesce(d.held_action, '') = 'trigger' AND d.held_until > bridge_now())
  AND NOT (coalesce(d.held_action, '') = 'resolve' AND d.held_until <= bridge_now());
