-- Views for postmortems: each answers one question in one SELECT.
-- Durations are in seconds (fractional, to the millisecond). Times are the
-- stored UTC text. julianday() works on every SQLite an analyst may have.
-- Outbox rows are found through their fingerprint
-- (statuspage:<page>:<kind>:<entity>), which has an index.

-- One row per incident (and scheduled maintenance): when it started, when
-- on-call was paged, how long it was open, how bad it got.
CREATE VIEW incident_report AS
SELECT
    i.source,
    i.page_id,
    i.incident_id,
    i.name,
    i.started_at,
    i.resolved_at,
    i.first_seen_at,
    -- ITOC360 accepted the incident's first trigger
    (SELECT min(o.finished_at) FROM outbox o
      WHERE o.fingerprint = 'statuspage:' || i.page_id || ':incident:' || i.incident_id
        AND o.action = 'trigger' AND o.state = 'delivered') AS paged_at,
    -- ITOC360 accepted its latest resolve
    (SELECT max(o.finished_at) FROM outbox o
      WHERE o.fingerprint = 'statuspage:' || i.page_id || ':incident:' || i.incident_id
        AND o.action = 'resolve' AND o.state = 'delivered') AS resolve_sent_at,
    round((julianday(
        (SELECT min(o.finished_at) FROM outbox o
          WHERE o.fingerprint = 'statuspage:' || i.page_id || ':incident:' || i.incident_id
            AND o.action = 'trigger' AND o.state = 'delivered'))
        - julianday(i.started_at)) * 86400, 3) AS seconds_to_page,
    -- until it resolved; still open: until now
    round((julianday(coalesce(i.resolved_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
        - julianday(i.started_at)) * 86400, 3) AS open_seconds,
    (SELECT CASE max(CASE o.priority WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                                      WHEN 'medium' THEN 2 WHEN 'low' THEN 1 END)
              WHEN 4 THEN 'critical' WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low' END
       FROM outbox o
      WHERE o.fingerprint = 'statuspage:' || i.page_id || ':incident:' || i.incident_id
        AND o.action = 'trigger') AS highest_priority,
    (SELECT count(*) FROM webhooks w
      WHERE w.kind = 'incident' AND w.page_id = i.page_id AND w.entity_id = i.incident_id
        AND w.source = i.source) AS webhooks,
    (SELECT count(*) FROM incident_components c
      WHERE c.source = i.source AND c.page_id = i.page_id AND c.incident_id = i.incident_id) AS components
FROM incidents i;

-- One row per event decided for ITOC360, with how its delivery went.
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
    o.last_error
FROM outbox o;

-- One row per time a component's alert was open: from the transition that
-- opened it to the next one that closed it (none yet: still open).
CREATE VIEW component_outages AS
WITH opened AS (
    SELECT t.id, t.source, t.page_id, t.entity_id, t.at AS opened_at,
           (SELECT min(c.id) FROM transitions c
             WHERE c.kind = 'component' AND c.page_id = t.page_id AND c.entity_id = t.entity_id
               AND c.id > t.id AND c.alert_after = 'closed' AND c.source = t.source) AS close_id
      FROM transitions t
     WHERE t.kind = 'component' AND t.alert_before = 'closed' AND t.alert_after LIKE 'open:%'
), spans AS (
    SELECT o.*, (SELECT c.at FROM transitions c WHERE c.id = o.close_id) AS closed_at
      FROM opened o
)
SELECT
    s.source,
    s.page_id,
    s.entity_id AS component_id,
    (SELECT c.name FROM components c
      WHERE c.source = s.source AND c.page_id = s.page_id AND c.component_id = s.entity_id) AS name,
    s.opened_at,
    s.closed_at,
    round((julianday(coalesce(s.closed_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
        - julianday(s.opened_at)) * 86400, 3) AS open_seconds,
    (SELECT CASE max(CASE substr(t.alert_after, 6) WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                                                   WHEN 'medium' THEN 2 WHEN 'low' THEN 1 END)
              WHEN 4 THEN 'critical' WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low' END
       FROM transitions t
      WHERE t.kind = 'component' AND t.page_id = s.page_id AND t.entity_id = s.entity_id
        AND t.source = s.source AND t.id >= s.id
        AND (s.close_id IS NULL OR t.id < s.close_id)
        AND t.alert_after LIKE 'open:%') AS priority,
    -- incidents that listed the component and were under way meanwhile
    (SELECT group_concat(n, ', ') FROM (
        SELECT DISTINCT coalesce(i.name, i.incident_id) AS n
          FROM incident_components ic
          JOIN incidents i ON i.source = ic.source AND i.page_id = ic.page_id
                          AND i.incident_id = ic.incident_id
         WHERE ic.source = s.source AND ic.page_id = s.page_id AND ic.component_id = s.entity_id
           AND coalesce(i.started_at, i.first_seen_at)
               <= coalesce(s.closed_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
           AND coalesce(i.resolved_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) >= s.opened_at
         ORDER BY n)) AS incidents
FROM spans s;

-- What the bridge believes is open in ITOC360 right now (the /alerts page).
CREATE VIEW open_alerts AS
SELECT
    'incident' AS kind,
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
    c.page_id,
    c.component_id,
    c.name,
    c.status,
    c.alert_priority,
    coalesce(c.alert_opened_at, c.first_seen_at)
FROM components c
WHERE c.alert_open = 1;

CREATE INDEX components_open ON components (alert_open);

-- `prune` finds a webhook's transitions and duplicate keys through these
-- (webhook ids grow with time, so both only ever append).
CREATE INDEX transitions_webhook ON transitions (webhook_id);
CREATE INDEX applied_events_webhook ON applied_events (webhook_id);
