-- a random agent accepts one of their offers (if they have one)
\set aid random(1, 40)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE agent_id = :aid AND state = 'offered'
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.accept(id)).state FROM c;
