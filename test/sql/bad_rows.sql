-- bad_rows: what tick() and serving say about a work item whose
-- required_skills cannot be read (a row written before updates were
-- checked; test/pgtap/tick_robust.sql checks that the rest of the work goes
-- on).  Each WARNING names the item.  In one transaction, so that the tick
-- worker never sees these rows.
BEGIN;
SET LOCAL client_min_messages = warning;
INSERT INTO omniroute.skill (name) VALUES ('french');
INSERT INTO omniroute.queue (id, name) VALUES (1, 'Bad open'), (2, 'Bad offer');
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (11, 'Speaks french', 'available', 2), (21, 'Offered', 'available', 1);
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (11, 'french', 5), (21, 'french', 1);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, 11), (2, 21);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout) VALUES
    (1, 'Bad open', 1, '1 hour'), (2, 'Bad offer', 2, '3 seconds');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES
    (101, 1, '{"french": 9}'),      -- open: nobody has french at 9
    (102, 1, '{}'),                 -- offered to 11
    (201, 2, '{"french": 1}');      -- offered to 21 for 3 seconds

-- an admin's update to such a requirement is refused
SAVEPOINT refused;
UPDATE omniroute.work_item SET required_skills = '{"french": "5"}' WHERE id = 101;
ROLLBACK TO SAVEPOINT refused;

-- as 0.1.0 took it
SET LOCAL session_replication_role = replica;
UPDATE omniroute.work_item SET required_skills = '{"french": "5"}' WHERE id = 101;
UPDATE omniroute.work_item SET required_skills = '{"french": 1.5}' WHERE id = 201;
SET LOCAL session_replication_role = origin;

-- the offer of 201 expires, but re-routing it cannot read its requirement:
-- that item is rolled back and named; serving 11 passes over 101 and names it
SELECT omniroute.tick(now() + interval '10 seconds') AS actions;
SELECT id, state, agent_id FROM omniroute.work_item ORDER BY id;

-- closing 102 serves 11 again: 101 is passed over and named
SELECT (omniroute.close(102)).state;
ROLLBACK;
