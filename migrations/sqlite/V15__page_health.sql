-- Page health (docs/RECONCILE.md, "Page health"): how a failed round
-- failed (unreachable | moved | gone), and the newest upstream change a
-- good round saw, so a page's health is decided from the rounds alone —
-- on any replica, after any restart.
ALTER TABLE reconcile_rounds ADD COLUMN failure TEXT;
ALTER TABLE reconcile_rounds ADD COLUMN latest_change_at TEXT;
