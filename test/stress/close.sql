-- a random agent closes one of their items (active, waiting or offered)
\set aid random(1, 40)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE agent_id = :aid AND state IN ('active', 'waiting', 'offered')
     ORDER BY state = 'offered', id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.close(id, 'done')).state FROM c;
