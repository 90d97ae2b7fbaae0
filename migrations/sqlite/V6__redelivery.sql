-- Redelivery by hand. Putting a dead or failing event back in the queue is
-- recorded in its attempt history as a row with result 'requeued' (no HTTP
-- status, no latency), saying who asked: the audit user who pressed the
-- pages' Redeliver button (POST /api/outbox/<id>/retry).
ALTER TABLE delivery_attempts ADD COLUMN requested_by TEXT;
