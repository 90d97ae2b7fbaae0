-- The platform whose webhook a stored body is (`statuspage`, `instatus`,
-- ...): replay reads each body through its platform's adapter again. The
-- bridge's own bodies (heals, page alerts) are in Statuspage's shape.
ALTER TABLE webhooks ADD COLUMN body_shape TEXT NOT NULL DEFAULT 'statuspage';
