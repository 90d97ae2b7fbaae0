-- Name search indexes each distinct entity name once instead of every
-- webhook: re-indexing the name on every webhook row cost about half of the
-- writer's time. A webhook row now only adds a B-tree entry for its name.

DROP TRIGGER webhooks_name_insert;
DROP TRIGGER webhooks_name_delete;
DROP TABLE webhooks_name;

-- Every entity name ever received, once.
CREATE TABLE entity_names (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);

-- Substring search over those names (`LIKE '%text%'` with 3+ characters).
CREATE VIRTUAL TABLE entity_names_trigram USING fts5 (
    name, content = 'entity_names', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER entity_names_insert AFTER INSERT ON entity_names BEGIN
    INSERT INTO entity_names_trigram (rowid, name) VALUES (new.id, new.name);
END;

-- A name not seen before is added as its webhook is stored; a known one
-- costs one index probe.
CREATE TRIGGER webhooks_entity_name AFTER INSERT ON webhooks
WHEN new.entity_name IS NOT NULL BEGIN
    INSERT OR IGNORE INTO entity_names (name) VALUES (new.entity_name);
END;

INSERT INTO entity_names (name)
SELECT DISTINCT entity_name FROM webhooks WHERE entity_name IS NOT NULL;

-- From matching names to their webhooks, newest first.
CREATE INDEX webhooks_name ON webhooks (entity_name, received_at DESC, id DESC);
