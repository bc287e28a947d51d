-- test/pgtap/tick.sql — omniroute.tick(at) (README, "Time: tick(at)"):
-- missed offers, wrap-up blocks that end, idle waiting items that
-- auto-close, open work that could be assigned, the count of actions, and
-- idempotence.
--
-- Inside one transaction now() stands still while the extension stamps
-- offers, waits and wrap-ups with the clock (a few milliseconds after now()),
-- so every tick is given an explicit time relative to now(), in increasing
-- order along one timeline (T = now()):
--
--   T+1 min   open items that became assignable are assigned
--   T+3 min   2-minute offers are missed; a 1-hour offer is not
--   T+4 min   nothing is due (the 5-minute wrap-up block still holds)
--   T+6 min   the wrap-up block is released, the waiting item served
--   T+11 min  the 10-minute idle waiting item closes; the 1-hour one stays
--   T+2 h     the 1-hour idle item closes; one without auto_close_after stays
--   T+365 d   ... and still stays
--
-- Every offer a tick makes belongs to a workstream whose offer_timeout
-- outlasts the timeline, so later ticks do not miss it; an item whose
-- re-offer would expire is accepted before the next tick.
BEGIN;
SELECT plan(60);

SET LOCAL client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.skill (name) VALUES ('spanish');

INSERT INTO omniroute.queue (id, name) VALUES
    (301, 'Missed'),
    (302, 'Young offer'),
    (303, 'Missed alone'),
    (304, 'Wrap timed'),
    (305, 'Idle'),
    (306, 'Skill late'),
    (307, 'Presence late'),
    (308, 'No units');

INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (3011, 'Misses', 'available', 10),
    (3012, 'Next in line', 'available', 5),
    (3021, 'Young offer', 'available', 10),
    (3031, 'Misses alone', 'available', 10),
    (3041, 'Wraps up', 'available', 1),
    (3051, 'Idle owner', 'available', 10),
    (3061, 'Learns spanish', 'available', 5),
    (3062, 'Away', 'away', 5),
    (3063, 'Away and full', 'away', 0);

INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (301, 3011), (301, 3012);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (302, 3021);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (303, 3031);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (304, 3041);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (305, 3051);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (306, 3061);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (307, 3062);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (308, 3063);

INSERT INTO omniroute.workstream
    (id, name, fallback_queue_id, offer_timeout, wrap_up_block, auto_close_after) VALUES
    (401, 'Missed',          301, '2 minutes', NULL,        NULL),
    (402, 'Young offer',     302, '1 hour',    NULL,        NULL),
    (403, 'Missed alone',    303, '2 minutes', NULL,        NULL),
    (404, 'Wrap timed',      304, '1 day',     '5 minutes', NULL),
    (405, 'Idle 10 minutes', 305, '1 day',     NULL,        '10 minutes'),
    (406, 'Never idle',      305, '1 day',     NULL,        NULL),
    (407, 'Idle 1 hour',     305, '1 day',     NULL,        '1 hour'),
    (408, 'Skill late',      306, '1 day',     NULL,        NULL),
    (409, 'Presence late',   307, '1 day',     NULL,        NULL);
-- items that take no capacity: an agent with none free can take them
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout, capacity_units) VALUES
    (410, 'No units', 308, '1 day', 0);

-- open items that some agent could take now, but were not given: must be none
CREATE TEMP VIEW assignable AS
SELECT w.id AS item, a.id AS agent
  FROM omniroute.work_item w
  JOIN omniroute.workstream ws ON ws.id = w.workstream_id AND ws.mode = 'push'
  JOIN omniroute.queue_member m ON m.queue_id = w.queue_id
  JOIN omniroute.agent a ON a.id = m.agent_id AND NOT a.is_bot
  JOIN omniroute.presence p ON p.name = a.presence
 WHERE w.state = 'open'
   AND (p.name = ANY (ws.allowed_presences) OR p.base = ANY (ws.allowed_presences))
   AND a.capacity - a.used_units >= ws.capacity_units
   AND NOT a.id = ANY (w.declined_agents)
   AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(w.required_skills) r
                    WHERE NOT EXISTS (SELECT 1 FROM omniroute.agent_skill s
                                       WHERE s.agent_id = a.id AND s.skill = r.key
                                         AND s.proficiency >= r.value::int));

-- ---------------------------------------------------------------------------
-- The work, as of T
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7001, 401);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7002, 402);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7003, 403);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7004, 404);
SELECT is((omniroute.accept(7004)).state, 'active', 'wrap: 7004 accepted');
SELECT is((omniroute.wrap_up(7004)).reserved_units, 1, 'wrap: 7004 in wrap-up, its unit blocked for 5 minutes');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7005, 404);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7006, 405), (7007, 407), (7008, 406);
DO $$ BEGIN PERFORM omniroute.accept(7006); PERFORM omniroute.accept(7007); PERFORM omniroute.accept(7008); END $$;
SELECT results_eq(
    'SELECT (omniroute.wait(id)).state FROM omniroute.work_item WHERE id IN (7006, 7007, 7008) ORDER BY id',
    $$VALUES ('waiting'::text), ('waiting'), ('waiting')$$,
    'idle: three items accepted and put on hold');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (7009, 408, '{"spanish": 5}');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7010, 409);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7011, 410);

SELECT results_eq(
    'SELECT id, state, agent_id FROM omniroute.work_item ORDER BY id',
    $$VALUES (7001::bigint, 'offered'::text, 3011::bigint),
             (7002, 'offered', 3021),
             (7003, 'offered', 3031),
             (7004, 'wrap_up', 3041),
             (7005, 'open', NULL),
             (7006, 'waiting', 3051),
             (7007, 'waiting', 3051),
             (7008, 'waiting', 3051),
             (7009, 'open', NULL),
             (7010, 'open', NULL),
             (7011, 'open', NULL)$$,
    'the work as of T');

-- ---------------------------------------------------------------------------
-- T+1 min: open items that could be assigned are assigned
-- ---------------------------------------------------------------------------

-- two changes that make open items assignable without freeing capacity:
-- the agent learns the skill; the workstream comes to allow 'away'
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (3061, 'spanish', 6);
UPDATE omniroute.workstream SET allowed_presences = '{available,busy,away}' WHERE id IN (409, 410);
CREATE TEMP TABLE still_open AS
    SELECT count(*)::int AS n FROM omniroute.work_item WHERE id IN (7009, 7010, 7011) AND state = 'open';

-- A 0-unit item (7011) fits an allowed agent with no units free (eligible
-- means free units >= capacity_units): tick must consider such agents too.
SELECT is(omniroute.tick(now() + interval '1 minute'), (SELECT n FROM still_open),
          'tick at T+1min: one action per open item it assigned');
SELECT results_eq(
    'SELECT id, state, agent_id, reserved_units FROM omniroute.work_item WHERE id IN (7009, 7010) ORDER BY id',
    $$VALUES (7009::bigint, 'offered'::text, 3061::bigint, 1), (7010, 'offered', 3062, 1)$$,
    'tick assigns open items that could be assigned (a skill learned, a presence allowed)');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 7011',
    $$VALUES ('offered'::text, 3063::bigint, 0)$$,
    'tick assigns a 0-unit item to an allowed agent with no free units');
SELECT is((SELECT count(*) FROM assignable), 0::bigint,
          'after the tick no open item has an eligible agent with room');
SELECT is(omniroute.tick(now() + interval '1 minute'), 0, 'tick at T+1min again: nothing to do');
SELECT results_eq(
    'SELECT id, state, agent_id FROM omniroute.work_item WHERE id IN (7001, 7002, 7003, 7005) ORDER BY id',
    $$VALUES (7001::bigint, 'offered'::text, 3011::bigint), (7002, 'offered', 3021),
             (7003, 'offered', 3031), (7005, 'open', NULL)$$,
    'at T+1min no offer has expired yet and the blocked capacity serves nothing');

-- ---------------------------------------------------------------------------
-- T+3 min: offers older than their offer_timeout are missed
-- ---------------------------------------------------------------------------

SELECT is(omniroute.tick(now() + interval '3 minutes'), 2, 'tick at T+3min: two offers missed, two actions');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units, declined_agents FROM omniroute.work_item WHERE id = 7001',
    $$VALUES ('offered'::text, 3012::bigint, 1, '{3011}'::bigint[])$$,
    'missed: re-offered to the next eligible agent; declined_agents has the agent who missed it');
SELECT results_eq(
    'SELECT id, presence, used_units FROM omniroute.agent WHERE id IN (3011, 3012) ORDER BY id',
    $$VALUES (3011::bigint, 'inactive'::text, 0), (3012, 'available', 1)$$,
    'missed: the agent who missed it becomes inactive and their units are released');
SELECT results_eq(
    'SELECT presence, free_units FROM omniroute.queue_member WHERE agent_id = 3011',
    $$VALUES ('inactive'::text, 10)$$,
    'missed: the membership mirrors the inactive presence and the freed units');
SELECT results_eq(
    'SELECT event, agent_id FROM omniroute.work_item_event WHERE work_item_id = 7001 ORDER BY id',
    $$VALUES ('offered'::text, 3011::bigint), ('missed', 3011), ('offered', 3012)$$,
    'missed: events offered, missed, offered (to the next agent)');
SELECT is((SELECT offered_at FROM omniroute.work_item WHERE id = 7001), now() + interval '3 minutes',
          'missed: the new offer is made at the tick''s time');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units, declined_agents FROM omniroute.work_item WHERE id = 7003',
    $$VALUES ('open'::text, NULL::bigint, 0, '{3031}'::bigint[])$$,
    'missed with nobody else eligible: the item is open, the agent in declined_agents');
SELECT results_eq(
    'SELECT presence, used_units FROM omniroute.agent WHERE id = 3031',
    $$VALUES ('inactive'::text, 0)$$,
    'missed alone: the agent is inactive, their unit released');
SELECT is((SELECT array_agg(event ORDER BY id) FROM omniroute.work_item_event WHERE work_item_id = 7003),
          '{offered,missed,queued}'::text[], 'missed alone: events offered, missed, queued');
SELECT results_eq(
    'SELECT w.state, w.agent_id, w.reserved_units, a.presence, a.used_units
       FROM omniroute.work_item w JOIN omniroute.agent a ON a.id = w.agent_id WHERE w.id = 7002',
    $$VALUES ('offered'::text, 3021::bigint, 1, 'available'::text, 1)$$,
    'an offer younger than its offer_timeout (1 hour) is untouched');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 7002), 1::bigint,
          'the young offer has only its offered event');

-- idempotent: the same time again does nothing
CREATE TEMP TABLE snap3 AS
    SELECT (SELECT count(*) FROM omniroute.work_item_event) AS events,
           (SELECT array_agg(row(id, state, agent_id, reserved_units, declined_agents)::text ORDER BY id)
              FROM omniroute.work_item) AS items,
           (SELECT array_agg(row(id, presence, used_units)::text ORDER BY id) FROM omniroute.agent) AS agents;
SELECT is(omniroute.tick(now() + interval '3 minutes'), 0, 'tick at T+3min again returns 0');
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM omniroute.work_item_event),
             (SELECT array_agg(row(id, state, agent_id, reserved_units, declined_agents)::text ORDER BY id)
                FROM omniroute.work_item),
             (SELECT array_agg(row(id, presence, used_units)::text ORDER BY id) FROM omniroute.agent)$$,
    'SELECT events, items, agents FROM snap3',
    'tick at T+3min again changes nothing (idempotent): items, agents, events');
-- the missed item never goes back to the agent who missed it
SELECT lives_ok('SELECT omniroute.set_presence(3031, ''available'')', 'the agent who missed 7003 is back');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 7003',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'a missed item is not served back to the agent who missed it');
SELECT is(omniroute.tick(now() + interval '3 minutes'), 0,
          'nor does tick give it back to them (0 actions)');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 7003), 'open', 'the missed item still waits');

-- 3012 takes the re-offer, so no later tick misses it
SELECT is((omniroute.accept(7001)).state, 'active', 'the next agent accepts 7001');

-- ---------------------------------------------------------------------------
-- T+4 min: nothing is due
-- ---------------------------------------------------------------------------

SELECT is(omniroute.tick(now() + interval '4 minutes'), 0, 'tick at T+4min: nothing is due');
SELECT results_eq(
    'SELECT w.state, w.reserved_units, a.used_units FROM omniroute.work_item w JOIN omniroute.agent a ON a.id = w.agent_id WHERE w.id = 7004',
    $$VALUES ('wrap_up'::text, 1, 1)$$,
    'a wrap-up block of 5 minutes still holds the unit after 4');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 7005), 'open', 'the blocked agent is served nothing');
SELECT results_eq(
    'SELECT id, state FROM omniroute.work_item WHERE id IN (7006, 7007, 7008) ORDER BY id',
    $$VALUES (7006::bigint, 'waiting'::text), (7007, 'waiting'), (7008, 'waiting')$$,
    'waiting items idle for less than auto_close_after stay waiting');

-- ---------------------------------------------------------------------------
-- T+6 min: the wrap-up block is released
-- ---------------------------------------------------------------------------

SELECT cmp_ok(omniroute.tick(now() + interval '6 minutes'), '>=', 1, 'tick at T+6min: at least the release');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 7004',
    $$VALUES ('wrap_up'::text, 3041::bigint, 0)$$,
    'after wrap_up_block the item stays in wrap_up but reserves nothing');
SELECT is((SELECT array_agg(event ORDER BY id) FROM omniroute.work_item_event WHERE work_item_id = 7004),
          '{offered,accepted,wrap_up,wrap_up_released}'::text[], 'event wrap_up_released');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 7005',
    $$VALUES ('offered'::text, 3041::bigint, 1)$$,
    'the released unit serves the waiting item to the agent');
SELECT results_eq(
    'SELECT a.used_units, m.free_units FROM omniroute.agent a JOIN omniroute.queue_member m ON m.agent_id = a.id WHERE a.id = 3041',
    $$VALUES (1, 0)$$,
    'the agent''s capacity came back and went to the served item (1 used, by 7005)');
SELECT is(omniroute.tick(now() + interval '6 minutes'), 0, 'tick at T+6min again returns 0');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 7004 AND event = 'wrap_up_released'),
          1::bigint, 'the block is released once');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 3041), 1, 'and the units are given back once');
SELECT results_eq(
    'SELECT id, state FROM omniroute.work_item WHERE id IN (7006, 7007, 7008) ORDER BY id',
    $$VALUES (7006::bigint, 'waiting'::text), (7007, 'waiting'), (7008, 'waiting')$$,
    'at T+6min the waiting items still stay');

-- ---------------------------------------------------------------------------
-- T+11 min: the 10-minute idle item closes
-- ---------------------------------------------------------------------------

SELECT is(omniroute.tick(now() + interval '11 minutes'), 1, 'tick at T+11min: one idle item closed');
SELECT results_eq(
    'SELECT state, close_reason, closed_at, reserved_units FROM omniroute.work_item WHERE id = 7006',
    $$VALUES ('closed'::text, 'inactivity'::text, now() + interval '11 minutes', 0)$$,
    'a waiting item idle longer than auto_close_after closes with reason inactivity, at the tick''s time');
SELECT is((SELECT event FROM omniroute.work_item_event WHERE work_item_id = 7006 ORDER BY id DESC LIMIT 1),
          'closed', 'event closed');
SELECT results_eq(
    'SELECT id, state FROM omniroute.work_item WHERE id IN (7007, 7008) ORDER BY id',
    $$VALUES (7007::bigint, 'waiting'::text), (7008, 'waiting')$$,
    'younger than their auto_close_after (1 hour) or without one: still waiting');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 7002), 'offered', 'the 1-hour offer is still untouched at T+11min');
SELECT is(omniroute.tick(now() + interval '11 minutes'), 0, 'tick at T+11min again returns 0');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 7006 AND event = 'closed'),
          1::bigint, 'the idle item is closed once');
SELECT is((SELECT count(*) FROM assignable), 0::bigint,
          'still no open item that an eligible agent with room could take');

-- ---------------------------------------------------------------------------
-- T+2 h, T+365 d: the 1-hour item closes; no auto_close_after, never
-- ---------------------------------------------------------------------------

SELECT cmp_ok(omniroute.tick(now() + interval '2 hours'), '>=', 2,
              'tick at T+2h: at least the idle item and the 1-hour offer');
SELECT results_eq(
    'SELECT state, close_reason FROM omniroute.work_item WHERE id = 7007',
    $$VALUES ('closed'::text, 'inactivity'::text)$$,
    'the 1-hour idle item closes after 2 hours');
SELECT results_eq(
    'SELECT state, agent_id, declined_agents FROM omniroute.work_item WHERE id = 7002',
    $$VALUES ('open'::text, NULL::bigint, '{3021}'::bigint[])$$,
    'the 1-hour offer is missed after 2 hours (nobody else: open)');
SELECT is((SELECT presence FROM omniroute.agent WHERE id = 3021), 'inactive', 'its agent is inactive');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 7008), 'waiting',
          'a workstream without auto_close_after: still waiting after 2 hours');
SELECT lives_ok('SELECT omniroute.tick(now() + interval ''365 days'')', 'tick a year later');
SELECT results_eq(
    'SELECT state, agent_id, closed_at FROM omniroute.work_item WHERE id = 7008',
    $$VALUES ('waiting'::text, 3051::bigint, NULL::timestamptz)$$,
    'a workstream without auto_close_after never auto-closes');

-- ---------------------------------------------------------------------------
-- Bookkeeping adds up after every tick
-- ---------------------------------------------------------------------------

SELECT is(
    (SELECT count(*) FROM omniroute.agent a
      WHERE a.used_units <> (SELECT coalesce(sum(w.reserved_units), 0) FROM omniroute.work_item w
                              WHERE w.agent_id = a.id AND w.state <> 'closed')),
    0::bigint,
    'each agent''s used_units is the sum of the units reserved by their unclosed items');
SELECT is(
    (SELECT count(*) FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
      WHERE m.free_units <> a.capacity - a.used_units OR m.presence <> a.presence),
    0::bigint,
    'every membership mirrors its agent''s presence and capacity - used_units');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item w
      WHERE w.state = 'offered'
        AND w.agent_id = ANY (w.declined_agents)),
    0::bigint,
    'no item is offered to an agent who missed it');
SELECT is((SELECT count(*) FROM assignable), 0::bigint,
          'at the end no open item has an eligible agent with room');

SELECT * FROM finish();
ROLLBACK;
