-- A component's priority reads the open incidents linked to it. Links stay
-- `current` after an incident resolves (the audit shows which components
-- each incident touched), so that read walked every incident ever linked to
-- the component: a few ms per webhook for a component with thousands of
-- past incidents. `incident_open` mirrors the linked incident's alert on
-- each current link (rewritten with the links on every applied incident
-- event), and a partial index holds only the open ones.
ALTER TABLE incident_components ADD COLUMN incident_open INTEGER NOT NULL DEFAULT 0;
UPDATE incident_components
   SET incident_open = coalesce((SELECT i.alert_open FROM incidents i
                                  WHERE i.source = incident_components.source
                                    AND i.page_id = incident_components.page_id
                                    AND i.incident_id = incident_components.incident_id), 0)
 WHERE current = 1;
CREATE INDEX incident_components_open ON incident_components (source, page_id, component_id)
    WHERE current = 1 AND incident_open = 1;
