-- What a reconcile round found, for a heal (origin = 'reconcile'): the part
-- of the reason reconcile wrote, in its own column so that nothing has to
-- read it back out of `reason`. NULL for webhooks from Statuspage.
ALTER TABLE webhooks ADD COLUMN reconcile_note TEXT;
UPDATE webhooks
   SET reconcile_note = substr(reason, 12, instr(reason, '; ') - 12)
 WHERE origin = 'reconcile' AND reason LIKE 'reconcile: %' AND instr(reason, '; ') > 12;
