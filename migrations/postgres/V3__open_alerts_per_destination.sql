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
WHERE c.alert_open = 1;

CREATE VIEW open_alerts AS
SELECT
    d.kind,
    d.page_id,
    d.entity_id,
    coalesce(i.name, c.name) AS name,
    coalesce(i.status, c.status) AS status,
    d.priority,
    CASE d.kind
        WHEN 'incident' THEN
            coalesce((SELECT t.at FROM transitions t
                       WHERE t.kind = 'incident' AND t.page_id = d.page_id
                         AND t.entity_id = d.entity_id AND t.source = d.source
                         AND t.alert_before = 'closed' AND t.alert_after LIKE 'open:%'
                       ORDER BY t.id DESC LIMIT 1),
                     i.started_at, i.first_seen_at, d.opened_at)
        ELSE coalesce(c.alert_opened_at, c.first_seen_at, d.opened_at)
    END AS open_since,
    d.destination
FROM destination_alerts d
LEFT JOIN incidents i ON d.kind = 'incident' AND i.source = d.source
                     AND i.page_id = d.page_id AND i.incident_id = d.entity_id
LEFT JOIN components c ON d.kind = 'component' AND c.source = d.source
                      AND c.page_id = d.page_id AND c.component_id = d.entity_id
WHERE NOT (coalesce(d.held_action, '') = 'trigger' AND d.held_until > bridge_now())
  AND NOT (coalesce(d.held_action, '') = 'resolve' AND d.held_until <= bridge_now());
