-- One index of a component's incident links instead of two. The write path
-- reads a component's open incidents through (source, page_id,
-- component_id, current = 1, incident_open = 1): only the links of open
-- incidents, however many the component has had; a prefix of the same
-- index serves a component's links for the audit. Every new link wrote an
-- entry in each of the two before.
DROP INDEX incident_components_open;
DROP INDEX incident_components_component;
CREATE INDEX incident_components_component
    ON incident_components (source, page_id, component_id, current, incident_open);
