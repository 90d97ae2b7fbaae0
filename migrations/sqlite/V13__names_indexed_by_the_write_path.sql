-- A new entity name goes into entity_names and its trigram index from the
-- write path, which adds it only when the name is new, instead of from two
-- triggers. A statement that fires a trigger keeps a statement journal: every
-- page the webhook's insert touched (the row, each of its indexes) was copied
-- aside first, for every webhook, so that the statement could be undone
-- alone.
DROP TRIGGER webhooks_entity_name;
DROP TRIGGER entity_names_insert;
