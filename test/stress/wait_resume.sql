-- a random agent puts an active item on hold; another waiting item resumes
-- (no keep_same_agent: it is re-routed)
\set aid random(1, 40)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE agent_id = :aid AND state = 'active'
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.wait(id)).state FROM c;
\set bid random(1, 40)
WITH c AS MATERIALIZED (
    SELECT id FROM omniroute.work_item
     WHERE agent_id = :bid AND state = 'waiting'
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
SELECT (omniroute.resume(id)).state FROM c;
