-- test/pgtap/references.sql — work_item.workstream_id, queue_id and agent_id
-- refer to existing rows, kept by the extension instead of foreign keys
-- (src/refs.c): the router secures what it sets, anything else that sets
-- them is checked after the fact, a queue or agent that work refers to
-- cannot be deleted or renumbered, a workstream cannot be renumbered, and
-- deleting one deletes its closed items as ON DELETE CASCADE did.
-- Concurrency is in test/specs/references.spec.
BEGIN;
SELECT plan(27);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.queue (id, name) VALUES (9601, 'refs: chat'), (9602, 'refs: spare'), (9603, 'refs: unused');
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (9601, 'refs: agent', 10, 'available'), (9602, 'refs: idle', 10, 'offline'),
    (9603, 'refs: bot', 0, 'available');
UPDATE omniroute.agent SET is_bot = true WHERE id = 9603;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9601, 9601);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES
    (9601, 'refs: chat', 9601, 'none');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, bot_agent_id) VALUES
    (9602, 'refs: bot', 9601, 'none', 9603);

SELECT is((SELECT count(*) FROM pg_constraint
            WHERE conrelid = 'omniroute.work_item'::regclass AND contype = 'f'
              AND conkey && ARRAY(SELECT attnum FROM pg_attribute
                                   WHERE attrelid = 'omniroute.work_item'::regclass
                                     AND attname IN ('queue_id', 'workstream_id'))::int2[]), 0::bigint,
          'work_item.queue_id and workstream_id have no foreign key: the extension keeps the references');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9601, 9601);
SELECT is((SELECT (state, queue_id, agent_id)::text FROM omniroute.work_item WHERE id = 9601),
          '(offered,9601,9601)', 'a routed item refers to its queue and agent');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9602, 9602);
SELECT is((SELECT (state, agent_id)::text FROM omniroute.work_item WHERE id = 9602),
          '(active,9603)', 'an item given to a bot refers to the bot');

-- whatever else sets the references is checked
SELECT throws_ok($$UPDATE omniroute.work_item SET agent_id = 9699 WHERE id = 9601$$, '23503',
                 'insert or update on table "work_item" refers to agent 9699, which does not exist',
                 'an update to an agent that does not exist fails with 23503');
SELECT throws_ok($$UPDATE omniroute.work_item SET queue_id = 9699 WHERE id = 9601$$, '23503',
                 'insert or update on table "work_item" refers to queue 9699, which does not exist',
                 'an update to a queue that does not exist fails with 23503');
SELECT lives_ok($$UPDATE omniroute.work_item SET queue_id = 9602 WHERE id = 9601$$,
                'an update to a queue that exists passes');
SELECT throws_ok($$INSERT INTO omniroute.work_item (workstream_id, queue_id) VALUES (9601, 9699)$$,
                 '23503', 'queue 9699 does not exist', 'an item given a queue that does not exist is refused');

SELECT throws_ok($$UPDATE omniroute.work_item SET workstream_id = 9699 WHERE id = 9601$$, '23503',
                 'insert or update on table "work_item" refers to workstream 9699, which does not exist',
                 'an update to a workstream that does not exist fails with 23503');

-- a BEFORE trigger that fires after the router's and changes its choice:
-- what the router secured no longer applies, so the row is checked
CREATE FUNCTION pg_temp.redirect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.queue_id := coalesce((NEW.context->>'redirect')::bigint, NEW.queue_id);
    NEW.workstream_id := coalesce((NEW.context->>'workstream')::bigint, NEW.workstream_id);
    RETURN NEW;
END $$;
CREATE TRIGGER zz_redirect BEFORE INSERT ON omniroute.work_item
    FOR EACH ROW WHEN (NEW.context ?| '{redirect,workstream}') EXECUTE FUNCTION pg_temp.redirect();
SELECT throws_ok($$INSERT INTO omniroute.work_item (workstream_id, context)
                   VALUES (9601, '{"redirect": 9699}')$$, '23503',
                 'insert or update on table "work_item" refers to queue 9699, which does not exist',
                 'a queue set by a later BEFORE trigger is checked, and refused when missing');
SELECT lives_ok($$INSERT INTO omniroute.work_item (id, workstream_id, context)
                   VALUES (9603, 9601, '{"redirect": 9602}')$$,
                'a queue set by a later BEFORE trigger is checked, and kept when it exists');
SELECT is((SELECT queue_id FROM omniroute.work_item WHERE id = 9603), 9602::bigint,
          'the later trigger''s queue is the one stored');
SELECT throws_ok($$INSERT INTO omniroute.work_item (workstream_id, context)
                   VALUES (9601, '{"workstream": 9699}')$$, '23503',
                 'insert or update on table "work_item" refers to workstream 9699, which does not exist',
                 'a workstream set by a later BEFORE trigger is checked, and refused when missing');
DROP TRIGGER zz_redirect ON omniroute.work_item;

-- a BEFORE UPDATE trigger that sets agent_id although the UPDATE did not
CREATE FUNCTION pg_temp.reassign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.agent_id := 9699;
    RETURN NEW;
END $$;
CREATE TRIGGER zz_reassign BEFORE UPDATE ON omniroute.work_item
    FOR EACH ROW WHEN (NEW.customer_id = 'reassign') EXECUTE FUNCTION pg_temp.reassign();
SELECT throws_ok($$UPDATE omniroute.work_item SET customer_id = 'reassign' WHERE id = 9601$$, '23503',
                 'insert or update on table "work_item" refers to agent 9699, which does not exist',
                 'an agent set by a BEFORE UPDATE trigger, not by the UPDATE, is checked too');
DROP TRIGGER zz_reassign ON omniroute.work_item;

-- the referenced side
SELECT throws_ok($$DELETE FROM omniroute.agent WHERE id = 9601$$, '23503',
                 'agent 9601 is still referenced from table "work_item"',
                 'an agent that work refers to cannot be deleted');
SELECT throws_ok($$DELETE FROM omniroute.queue WHERE id = 9602$$, '23503',
                 'queue 9602 is still referenced from table "work_item"',
                 'a queue that work refers to cannot be deleted');
SELECT throws_ok($$UPDATE omniroute.queue SET id = 9604 WHERE id = 9602$$, '23503',
                 'queue 9602 is still referenced from table "work_item"',
                 'a queue that work refers to cannot be renumbered');
SELECT lives_ok($$UPDATE omniroute.queue SET name = 'refs: renamed' WHERE id = 9602$$,
                'other changes to a referenced queue pass');
SELECT lives_ok($$DELETE FROM omniroute.queue WHERE id = 9603$$,
                'a queue no work refers to can be deleted');
SELECT lives_ok($$DELETE FROM omniroute.agent WHERE id = 9602$$,
                'an agent no work refers to can be deleted');
DELETE FROM omniroute.work_item WHERE queue_id = 9602;
SELECT lives_ok($$DELETE FROM omniroute.queue WHERE id = 9602$$,
                'once its work is deleted, the queue can be deleted');

-- workstreams: renumbering is refused while work refers to one; deleting
-- one deletes its work items, once all are closed (workstream_guard)
SELECT throws_ok($$UPDATE omniroute.workstream SET id = 9604 WHERE id = 9602$$, '23503',
                 'workstream 9602 is still referenced from table "work_item"',
                 'a workstream that work refers to cannot be renumbered');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES
    (9603, 'refs: closing', 9601, 'none');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9604, 9603), (9605, 9603);
DO $$ BEGIN PERFORM omniroute.close(9604); END $$;
SELECT throws_ok($$DELETE FROM omniroute.workstream WHERE id = 9603$$, '2BP01',
                 'cannot delete workstream "refs: closing": 1 work item(s) not closed',
                 'a workstream with work not closed cannot be deleted');
DO $$ BEGIN PERFORM omniroute.close(9605); END $$;
SELECT throws_ok($$TRUNCATE omniroute.workstream CASCADE$$, '23503',
                 'cannot truncate table "workstream": table "work_item" refers to it',
                 'workstreams cannot be truncated while work items exist');
SELECT lives_ok($$DELETE FROM omniroute.workstream WHERE id = 9603$$,
                'a workstream whose work is all closed can be deleted');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE id IN (9604, 9605)), 0::bigint,
          'deleting a workstream deletes its work items, as ON DELETE CASCADE did');
SELECT lives_ok($$TRUNCATE omniroute.work_item, omniroute.workstream CASCADE$$,
                'work items and workstreams truncated in one command');
SELECT is((SELECT count(*) FROM omniroute.workstream), 0::bigint, 'no workstream is left');

SELECT * FROM finish();
ROLLBACK;
