-- Why a transition happened, when it is not the webhook's own reason: a
-- component re-triggered at the priority of an incident that opened or
-- rose names that incident here. NULL on rows written before.
ALTER TABLE transitions ADD COLUMN reason TEXT;
