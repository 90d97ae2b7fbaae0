-- A new entity name is added to entity_names by the write path, as on
-- SQLite, instead of by a trigger on webhooks: one way on both engines.
DROP TRIGGER IF EXISTS webhooks_entity_name ON webhooks;
DROP FUNCTION IF EXISTS webhooks_entity_name();
