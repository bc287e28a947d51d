-- a customer gives up: the best open item of a random queue is closed
-- (the item a release would serve next: races the serving of it)
\set qid random(1, 6)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE queue_id = :qid AND state = 'open'
     ORDER BY priority DESC, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.close(id, 'abandoned')).state FROM c;
