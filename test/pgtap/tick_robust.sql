-- test/pgtap/tick_robust.sql — one bad row must not stop timed work or
-- serving (issue 15, points 2 and 4):
--   * an admin's UPDATE of an item's required_skills to something the router
--     would refuse is refused (22023, naming the item);
--   * an item whose required_skills cannot be read (written before that
--     check: here with triggers off) does not stop tick() -- an unrelated
--     offer still expires, and the failing item is rolled back alone -- nor
--     close() or set_presence() of the members of its queue;
--   * the six built-in presences cannot be deleted, renamed or rebased
--     (55000), custom ones still can;
--   * tick() serves an agent whose custom presence is allowed by its base.
-- The WARNINGs naming the bad item are checked by test/sql/bad_rows.sql.
--
-- The admin's and the agents' actions run as login roles granted the
-- omniroute roles, as an application's would.  Ticks are given explicit
-- times after now() (offers are stamped a few milliseconds after it).
BEGIN;
SELECT plan(27);

SET LOCAL client_min_messages = error;

CREATE ROLE tr_admin;  CREATE ROLE tr_ann;
GRANT omniroute_admin TO tr_admin;
GRANT omniroute_agent TO tr_ann;

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.skill (name) VALUES ('french'), ('klingon');
INSERT INTO omniroute.presence (name, base) VALUES ('Oncall', 'busy');

INSERT INTO omniroute.queue (id, name) VALUES
    (501, 'Poisoned'), (502, 'Unrelated'), (503, 'Oncall'), (504, 'Poisoned offer');

INSERT INTO omniroute.agent (id, name, presence, capacity, login_role) VALUES
    (5011, 'Poisoned member', 'available', 2, 'tr_ann'),
    (5012, 'Other member', 'available', 1, NULL),
    (5021, 'Unrelated', 'available', 1, NULL),
    (5031, 'On call', 'Oncall', 1, NULL),
    (5041, 'Offered poison', 'available', 1, NULL);
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES
    (5011, 'french', 5), (5041, 'klingon', 1);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (501, 5011), (501, 5012), (502, 5021), (503, 5031), (504, 5041);

INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout, allowed_presences) VALUES
    (601, 'Poisoned', 501, '1 hour', '{available,busy}'),
    (602, 'Unrelated', 502, '3 seconds', '{available,busy}'),
    (603, 'Oncall', 503, '1 hour', '{available}'),
    (604, 'Poisoned offer', 504, '3 seconds', '{available,busy}');

-- ---------------------------------------------------------------------------
-- The work, as of T
-- ---------------------------------------------------------------------------

-- nobody has french at 9: open in the queue of 5011 and 5012
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (7101, 601, '{"french": 9}');
-- an unrelated 3-second offer
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7102, 602);
-- an item 5011 holds, to close
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7103, 601);
-- a 3-second offer whose requirement goes bad while offered
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (7104, 604, '{"klingon": 1}');
-- 'Oncall' is not allowed yet: open
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7105, 603);

SELECT results_eq(
    'SELECT id, state, agent_id FROM omniroute.work_item ORDER BY id',
    $$VALUES (7101::bigint, 'open'::text, NULL::bigint), (7102, 'offered', 5021),
             (7103, 'offered', 5011), (7104, 'offered', 5041), (7105, 'open', NULL)$$,
    'the work as of T');

-- ---------------------------------------------------------------------------
-- Bad required_skills are refused on UPDATE
-- ---------------------------------------------------------------------------

SET LOCAL ROLE tr_admin;
SELECT throws_ok(
    $$UPDATE omniroute.work_item SET required_skills = '{"french": "5"}' WHERE id = 7101$$,
    '22023', 'work item 7101: required proficiency of skill "french" must be an integer from 1 to 10',
    'admin: a proficiency that is a string is refused, naming the item');
SELECT throws_ok(
    $$UPDATE omniroute.work_item SET required_skills = '{"french": 11}' WHERE id = 7101$$,
    '22023', NULL, 'admin: a proficiency out of 1..10 is refused');
SELECT throws_ok(
    $$UPDATE omniroute.work_item SET required_skills = '{"french": 2.5}' WHERE id = 7101$$,
    '22023', NULL, 'admin: a fractional proficiency is refused');
SELECT lives_ok(
    $$UPDATE omniroute.work_item SET required_skills = '{"french": 8}', priority = 1 WHERE id = 7101$$,
    'admin: a valid requirement is taken');
SELECT lives_ok(
    $$UPDATE omniroute.work_item SET priority = 0 WHERE id = 7101$$,
    'admin: an update that leaves required_skills alone is not checked');
RESET ROLE;
SELECT is((SELECT required_skills FROM omniroute.work_item WHERE id = 7101), '{"french": 8}'::jsonb,
          'the refused updates changed nothing');

-- rows written before updates were checked (0.1.0 took them): with the
-- triggers off, as a superuser can
SET LOCAL session_replication_role = replica;
UPDATE omniroute.work_item SET required_skills = '{"french": "5"}' WHERE id = 7101;
UPDATE omniroute.work_item SET required_skills = '{"klingon": "1"}' WHERE id = 7104;
SET LOCAL session_replication_role = origin;

-- ---------------------------------------------------------------------------
-- A tick with bad rows still does its other work
-- ---------------------------------------------------------------------------

SET LOCAL ROLE tr_admin;
SELECT lives_ok($$SELECT omniroute.tick(now() + interval '10 seconds')$$,
                'tick at T+10s with two bad items does not fail');
RESET ROLE;
SELECT results_eq(
    'SELECT state, agent_id, declined_agents FROM omniroute.work_item WHERE id = 7102',
    $$VALUES ('open'::text, NULL::bigint, '{5021}'::bigint[])$$,
    'the unrelated 3-second offer was missed and re-routed');
SELECT results_eq(
    'SELECT presence, used_units FROM omniroute.agent WHERE id = 5021',
    $$VALUES ('inactive'::text, 0)$$,
    'the agent who missed it is inactive, their unit released');
SELECT results_eq(
    'SELECT state, agent_id, declined_agents FROM omniroute.work_item WHERE id = 7104',
    $$VALUES ('offered'::text, 5041::bigint, '{}'::bigint[])$$,
    'the bad offer that could not be re-routed was rolled back alone: still offered');
SELECT results_eq(
    'SELECT presence, used_units FROM omniroute.agent WHERE id = 5041',
    $$VALUES ('available'::text, 1)$$,
    '... its agent untouched');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 7104), 1::bigint,
          '... and no event of the failed attempt was written');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 7101), 'open',
          'the bad open item is passed over');

-- the members of the bad item's queue work on
SET LOCAL ROLE tr_ann;
SELECT lives_ok($$SELECT omniroute.close(7103)$$,
                'agent: close() serves past the bad item of their queue');
SELECT lives_ok($$SELECT omniroute.set_presence('busy')$$,
                'agent: set_presence() serves past it too');
RESET ROLE;
SELECT results_eq(
    'SELECT id, state FROM omniroute.work_item WHERE id IN (7101, 7103) ORDER BY id',
    $$VALUES (7101::bigint, 'open'::text), (7103, 'closed')$$,
    'the item was closed, the bad one left open');

-- once corrected, the item is served by the next tick
SET LOCAL ROLE tr_admin;
UPDATE omniroute.work_item SET required_skills = '{"french": 5}' WHERE id = 7101;
SELECT lives_ok($$SELECT omniroute.tick(now() + interval '20 seconds')$$, 'tick at T+20s');
RESET ROLE;
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 7101',
    $$VALUES ('offered'::text, 5011::bigint)$$,
    'corrected, the item is offered by the tick to the member with the skill');

-- ---------------------------------------------------------------------------
-- The built-in presences stay
-- ---------------------------------------------------------------------------

SET LOCAL ROLE tr_admin;
SELECT throws_ok($$DELETE FROM omniroute.presence WHERE name = 'inactive'$$,
                 '55000', 'cannot delete built-in presence "inactive"',
                 'admin: the presence the engine sets on a missed offer cannot be deleted');
SELECT throws_ok($$UPDATE omniroute.presence SET name = 'gone' WHERE name = 'offline'$$,
                 '55000', 'cannot change built-in presence "offline"',
                 'admin: a built-in presence cannot be renamed');
SELECT throws_ok($$UPDATE omniroute.presence SET base = 'away' WHERE name = 'busy'$$,
                 '55000', 'cannot change built-in presence "busy"',
                 'admin: a built-in presence cannot be rebased');
SELECT lives_ok($$INSERT INTO omniroute.presence (name, base) VALUES ('Lunch', 'away');
                  UPDATE omniroute.presence SET name = 'Long lunch' WHERE name = 'Lunch';
                  DELETE FROM omniroute.presence WHERE name = 'Long lunch'$$,
                'admin: a custom presence can still be added, renamed and deleted');
RESET ROLE;
SELECT throws_ok($$TRUNCATE omniroute.presence CASCADE$$, '55000', NULL,
                 'superuser: the presences cannot be truncated');
SELECT is((SELECT array_agg(name ORDER BY name) FROM omniroute.presence WHERE name = base),
          '{available,away,busy,busy_dnd,inactive,offline}'::text[],
          'the six built-in presences are all there');

-- ---------------------------------------------------------------------------
-- A custom presence is allowed by its base in the tick too
-- ---------------------------------------------------------------------------

-- the workstream comes to allow 'busy', so 'Oncall' (base busy): nothing
-- serves the open item then, the tick must
SET LOCAL ROLE tr_admin;
UPDATE omniroute.workstream SET allowed_presences = '{available,busy}' WHERE id = 603;
SELECT lives_ok($$SELECT omniroute.tick(now() + interval '30 seconds')$$, 'tick at T+30s');
RESET ROLE;
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 7105',
    $$VALUES ('offered'::text, 5031::bigint)$$,
    'tick offers the open item to the agent in a custom presence whose base is allowed');

SELECT * FROM finish();
ROLLBACK;
