-- a random agent rejects one of their offers: re-routed, never back to them
\set aid random(1, 40)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE agent_id = :aid AND state = 'offered'
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.reject(id)).state FROM c;
