-- test/pgtap/service_levels.sql — service levels, abandonment, queue
-- position and wait estimates (README "Service levels").
--
--   1. a scripted day of traffic through the real router and lifecycle
--      functions (offers, accepts, auto-accept, pick, a bot and its
--      escalation, a transfer after an answer, abandonment from open and
--      from offered); then every timestamp the view reads is overwritten
--      with a fixed instant of 2026-03-02 (UTC) and queue_interval_stats is
--      compared row for row: counts, service level and averages per
--      15-minute interval;
--   2. abandon(): from open and from offered (capacity released and served
--      again, the event and its detail), 55000 from every other state,
--      who may call it;
--   3. queue_position() and estimated_wait() as items arrive, get served,
--      are abandoned and change priority, with priority aging across
--      groups (workstreams and required skills) of one queue, checked
--      against a brute-force ordering; the estimate's window of answers;
--      NULLs; what each role gets.  Both are as of now(), which is fixed
--      for the transaction: items are created at now() minus fixed spans.
BEGIN;
SELECT plan(61);

SET LOCAL client_min_messages = warning;

CREATE ROLE sl_app;  CREATE ROLE sl_admin;  CREATE ROLE sl_rep;  CREATE ROLE sl_sup;
CREATE ROLE sl_cy;   CREATE ROLE sl_dee;    CREATE ROLE sl_eve;  CREATE ROLE sl_fay;
GRANT omniroute_app TO sl_app;
GRANT omniroute_admin TO sl_admin;
GRANT omniroute_reporter TO sl_rep;
GRANT omniroute_supervisor TO sl_sup;
GRANT omniroute_agent TO sl_cy, sl_dee, sl_eve, sl_fay;

-- ---------------------------------------------------------------------------
-- Schema
-- ---------------------------------------------------------------------------

SELECT col_default_is('omniroute', 'queue', 'service_level_target', '20 seconds'::interval,
                      'queue.service_level_target defaults to 20 seconds');
SELECT col_not_null('omniroute', 'queue', 'service_level_target', 'queue.service_level_target is NOT NULL');
SELECT throws_ok($$INSERT INTO omniroute.queue (name, service_level_target) VALUES ('sl: zero', '0')$$,
                 '23514', NULL, 'a service level target of 0 is refused');
SELECT throws_ok($$INSERT INTO omniroute.queue (name, service_level_target) VALUES ('sl: long', '367 days')$$,
                 '23514', NULL, 'a service level target over 366 days is refused');
SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'omniroute.queue_interval_stats'::regclass AND attnum > 0 ORDER BY attnum),
    ARRAY['queue_id', 'queue', 'interval_start', 'entered', 'answered', 'answered_in_time', 'abandoned',
          'service_level', 'avg_speed_of_answer', 'avg_handle'],
    'queue_interval_stats columns');

-- ---------------------------------------------------------------------------
-- 1. A day of traffic
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name, service_level_target) VALUES
    (101, 'sl: sales', '20 seconds'), (102, 'sl: support', '1 minute');
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role, is_bot) VALUES
    (301, 'sl Ana', 10, 'available', NULL, false),
    (302, 'sl Ben', 10, 'offline', NULL, false),
    (303, 'sl Cy', 10, 'busy_dnd', 'sl_cy', false),
    (309, 'sl Robo', 10, 'available', NULL, true);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (101, 301), (102, 302), (102, 303);
-- Chat: offered, accepted; Email: auto-accepted; Cases: picked (by Cy, whose
-- busy_dnd only Cases allows: chats and emails are never pushed to Cy);
-- Bot chat: a bot first
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id, auto_accept, bot_agent_id, allowed_presences) VALUES
    (201, 'sl: chat', 'push', 101, false, NULL, '{available,busy}'),
    (202, 'sl: email', 'push', 102, true, NULL, '{available,busy}'),
    (203, 'sl: cases', 'pick', 102, false, NULL, '{busy_dnd}'),
    (204, 'sl: bot chat', 'push', 101, false, 309, '{available,busy}');

-- Sales, 09:00-09:15: two answered (one in time), one abandoned while open,
-- one abandoned while offered
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1001, 201);
SELECT omniroute.accept(1001);
SELECT omniroute.close(1001);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1002, 201);
SELECT omniroute.accept(1002);
SELECT omniroute.close(1002);
SELECT omniroute.set_presence(301, 'away');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1003, 201);
SELECT omniroute.abandon(1003);
SELECT omniroute.set_presence(301, 'available');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1004, 201);
SELECT omniroute.abandon(1004);
-- Sales, 09:15-09:30: answered exactly at the target (still active), and
-- one answered in Sales and then transferred to Support, answered there again
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1005, 201);
SELECT omniroute.accept(1005);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1007, 201);
SELECT omniroute.accept(1007);
SELECT omniroute.transfer(1007, 102);
SELECT omniroute.set_presence(302, 'available');    -- Ben is offered 1007
SELECT omniroute.accept(1007);
SELECT omniroute.close(1007);
-- Sales, 09:30-09:45: the bot takes it at once, which is no answer; escalated
-- to Ana, who accepts late
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1006, 204);
SELECT omniroute.escalate(1006);
SELECT omniroute.accept(1006);
SELECT omniroute.close(1006);
-- Support, 10:00-10:15: auto-accepted in time, picked late, abandoned
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1011, 202);
SELECT omniroute.close(1011);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1012, 203);
SET LOCAL ROLE sl_cy;
SELECT omniroute.pick(1012);
RESET ROLE;
SELECT omniroute.close(1012);
SELECT omniroute.set_presence(302, 'away');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1013, 202);
SELECT omniroute.abandon(1013);

SELECT results_eq(
    $$SELECT work_item_id, array_agg(event || coalesce('@' || agent_id, '') ORDER BY id)
        FROM omniroute.work_item_event WHERE work_item_id BETWEEN 1001 AND 1013
       GROUP BY work_item_id ORDER BY work_item_id$$,
    $$VALUES (1001::bigint, '{offered@301,accepted@301,closed@301}'::text[]),
             (1002, '{offered@301,accepted@301,closed@301}'),
             (1003, '{queued,abandoned}'),
             (1004, '{offered@301,abandoned@301}'),
             (1005, '{offered@301,accepted@301}'),
             (1006, '{assigned@309,escalated@309,offered@301,accepted@301,closed@301}'),
             (1007, '{offered@301,accepted@301,transferred@301,queued,offered@302,accepted@302,closed@302}'),
             (1011, '{assigned@302,closed@302}'),
             (1012, '{queued,picked@303,closed@303}'),
             (1013, '{queued,abandoned}')$$,
    'the day went through the real router and lifecycle functions');

-- the fixed times: created_at and closed_at of each item, and the instant
-- of each event (by item, event and agent); any other event at created_at
CREATE TEMP TABLE sl_item (id bigint, created_at timestamptz, closed_at timestamptz);
INSERT INTO sl_item VALUES
    (1001, '2026-03-02 09:00:00Z', '2026-03-02 09:05:10Z'),
    (1002, '2026-03-02 09:05:00Z', '2026-03-02 09:10:30Z'),
    (1003, '2026-03-02 09:10:00Z', '2026-03-02 09:11:00Z'),
    (1004, '2026-03-02 09:14:59.999999Z', '2026-03-02 09:15:20Z'),
    (1005, '2026-03-02 09:15:00Z', NULL),
    (1007, '2026-03-02 09:20:00Z', '2026-03-02 09:30:00Z'),
    (1006, '2026-03-02 09:30:00Z', '2026-03-02 09:41:05Z'),
    (1011, '2026-03-02 10:00:00Z', '2026-03-02 10:02:40Z'),
    (1012, '2026-03-02 10:01:00Z', '2026-03-02 10:04:00Z'),
    (1013, '2026-03-02 10:02:00Z', '2026-03-02 10:20:00Z');
CREATE TEMP TABLE sl_event (item bigint, event text, agent bigint, at timestamptz);
INSERT INTO sl_event VALUES
    (1001, 'accepted', 301, '2026-03-02 09:00:10Z'),     -- 10 s: in time
    (1002, 'accepted', 301, '2026-03-02 09:05:30Z'),     -- 30 s: late
    (1005, 'accepted', 301, '2026-03-02 09:15:20Z'),     -- 20 s: in time, just
    (1007, 'accepted', 301, '2026-03-02 09:20:05Z'),     -- 5 s, in Sales
    (1007, 'accepted', 302, '2026-03-02 09:25:00Z'),     -- the second answer, in Support
    (1006, 'offered', 301, '2026-03-02 09:31:00Z'),
    (1006, 'accepted', 301, '2026-03-02 09:31:05Z'),     -- 65 s: late (the bot's 0 s does not count)
    (1011, 'assigned', 302, '2026-03-02 10:00:40Z'),     -- 40 s: in Support's minute
    (1012, 'picked', 303, '2026-03-02 10:03:00Z');       -- 2 minutes: late
UPDATE omniroute.work_item w
   SET created_at = i.created_at, closed_at = coalesce(i.closed_at, w.closed_at)
  FROM sl_item i WHERE i.id = w.id;
UPDATE omniroute.work_item_event e SET at = i.created_at FROM sl_item i WHERE i.id = e.work_item_id;
UPDATE omniroute.work_item_event e SET at = v.at
  FROM sl_event v
 WHERE v.item = e.work_item_id AND v.event = e.event AND v.agent = e.agent_id;

SELECT results_eq(
    $$SELECT queue_id, queue, interval_start, entered, answered, answered_in_time, abandoned,
             round(service_level, 6), avg_speed_of_answer, avg_handle
        FROM omniroute.queue_interval_stats WHERE queue_id IN (101, 102)
       ORDER BY queue_id, interval_start$$,
    $$VALUES (101::bigint, 'sl: sales'::text, '2026-03-02 09:00Z'::timestamptz, 4::bigint, 2::bigint, 1::bigint, 2::bigint,
              0.250000::numeric, '20 seconds'::interval, '5 minutes'::interval),
             (101, 'sl: sales', '2026-03-02 09:15Z', 2, 2, 2, 0, 1.000000, '12.5 seconds', '9 minutes 55 seconds'),
             (101, 'sl: sales', '2026-03-02 09:30Z', 1, 1, 0, 0, 0.000000, '65 seconds', '10 minutes'),
             (102, 'sl: support', '2026-03-02 10:00Z', 3, 2, 1, 1, 0.333333, '80 seconds', '90 seconds')$$,
    'queue_interval_stats: per queue and UTC quarter hour, counts, service level and averages');

-- the same rows whatever the session's time zone (the quarters are UTC's)
SET LOCAL TimeZone = 'Asia/Kathmandu';
SELECT results_eq(
    $$SELECT interval_start, entered FROM omniroute.queue_interval_stats WHERE queue_id = 101 ORDER BY 1$$,
    $$VALUES ('2026-03-02 09:00Z'::timestamptz, 4::bigint), ('2026-03-02 09:15Z', 2), ('2026-03-02 09:30Z', 1)$$,
    'the intervals are UTC quarter hours in any session time zone');
RESET TimeZone;

-- a longer target makes the late answers of 09:00 in time
UPDATE omniroute.queue SET service_level_target = '30 seconds' WHERE id = 101;
SELECT is((SELECT answered_in_time FROM omniroute.queue_interval_stats
            WHERE queue_id = 101 AND interval_start = '2026-03-02 09:00Z'), 2::bigint,
          'answered_in_time follows the queue''s service_level_target (30 s: the 30 s answer is in time)');
UPDATE omniroute.queue SET service_level_target = '20 seconds' WHERE id = 101;

-- who reads the view
SET LOCAL ROLE sl_rep;
SELECT is((SELECT sum(entered) FROM omniroute.queue_interval_stats WHERE queue_id IN (101, 102)), 10::numeric,
          'reporter: reads queue_interval_stats, whole counts');
RESET ROLE;
SET LOCAL ROLE sl_sup;
SELECT lives_ok('SELECT * FROM omniroute.queue_interval_stats', 'supervisor: reads queue_interval_stats');
RESET ROLE;
SET LOCAL ROLE sl_admin;
SELECT lives_ok('SELECT * FROM omniroute.queue_interval_stats', 'admin: reads queue_interval_stats');
RESET ROLE;
SET LOCAL ROLE sl_cy;
SELECT throws_ok('SELECT * FROM omniroute.queue_interval_stats', '42501', NULL, 'agent: may not read queue_interval_stats');
RESET ROLE;
SET LOCAL ROLE sl_app;
SELECT throws_ok('SELECT * FROM omniroute.queue_interval_stats', '42501', NULL, 'app: may not read queue_interval_stats');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- 2. abandon()
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name) VALUES (105, 'sl: abandon');
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (305, 'sl Eve', 2, 'available', 'sl_eve');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (105, 305);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (209, 'sl: abandon', 105);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (3001, 209), (3002, 209), (3003, 209);
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE id BETWEEN 3001 AND 3003 ORDER BY id',
                  $$VALUES (3001::bigint, 'offered'::text, 305::bigint), (3002, 'offered', 305), (3003, 'open', NULL)$$,
                  'Eve is offered two items, the third waits');

SET LOCAL ROLE sl_app;
SELECT is((SELECT (state, close_reason, reserved_units)::text FROM omniroute.abandon(3001)),
          '(closed,abandoned,0)', 'app: abandon() of an offered item returns it closed, reason abandoned');
RESET ROLE;
SELECT is((SELECT closed_at IS NOT NULL FROM omniroute.work_item WHERE id = 3001), true, '... with its closed_at');
SELECT results_eq($$SELECT event, agent_id, queue_id, detail FROM omniroute.work_item_event
                     WHERE work_item_id = 3001 AND event NOT IN ('offered') ORDER BY id$$,
                  $$VALUES ('abandoned'::text, 305::bigint, 105::bigint, '{"from": "offered", "reason": "abandoned"}'::jsonb)$$,
                  '... one event, abandoned, naming the agent and the state it came from (no closed event)');
SELECT is((SELECT (state, agent_id)::text FROM omniroute.work_item WHERE id = 3003), '(offered,305)',
          '... and the offer''s capacity went back to Eve, who was offered the waiting item');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 305), 2, '... so she holds two units again');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (3004, 209);    -- Eve is full: open
SET LOCAL ROLE sl_admin;
SELECT is((SELECT state FROM omniroute.abandon(3004)), 'closed', 'admin: abandon() of an open item');
RESET ROLE;
SELECT results_eq($$SELECT event, agent_id, CASE WHEN event = 'abandoned' THEN detail END
                      FROM omniroute.work_item_event WHERE work_item_id = 3004 ORDER BY id$$,
                  $$VALUES ('queued'::text, NULL::bigint, NULL::jsonb),
                           ('abandoned', NULL, '{"from": "open", "reason": "abandoned"}')$$,
                  '... its events: queued, abandoned');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 305), 2, '... which held no capacity');

-- every other state: 55000 naming it
SELECT omniroute.accept(3002);
SELECT throws_ok('SELECT omniroute.abandon(3002)', '55000',
                 'cannot abandon work item 3002: it is active', 'abandon() of an active item: 55000');
SELECT omniroute.wait(3002);
SELECT throws_ok('SELECT omniroute.abandon(3002)', '55000',
                 'cannot abandon work item 3002: it is waiting', 'abandon() of a waiting item: 55000');
SELECT omniroute.resume(3002);     -- re-routed: offered to Eve again
SELECT omniroute.accept(3002);
SELECT omniroute.wrap_up(3002);
SELECT throws_ok('SELECT omniroute.abandon(3002)', '55000',
                 'cannot abandon work item 3002: it is wrap_up', 'abandon() of an item in wrap-up: 55000');
SELECT throws_ok('SELECT omniroute.abandon(3001)', '55000',
                 'cannot abandon work item 3001: it is closed', 'abandon() of a closed item: 55000');
SELECT throws_ok('SELECT omniroute.abandon(999999)', '42704',
                 'work item 999999 does not exist', 'abandon() of no item: 42704');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 3002), 'wrap_up', '... and nothing changed');

-- who may call it: the app and admin roles only
SET LOCAL ROLE sl_eve;
SELECT throws_ok('SELECT omniroute.abandon(3003)', '42501', NULL, 'agent: may not abandon, not even their own offer');
RESET ROLE;
SET LOCAL ROLE sl_sup;
SELECT throws_ok('SELECT omniroute.abandon(3003)', '42501', NULL, 'supervisor: may not abandon');
RESET ROLE;
SET LOCAL ROLE sl_rep;
SELECT throws_ok('SELECT omniroute.abandon(3003)', '42501', NULL, 'reporter: may not abandon');
RESET ROLE;
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 3003), 'offered', '... and the offer stands');

-- ---------------------------------------------------------------------------
-- 3. queue_position() and estimated_wait()
-- ---------------------------------------------------------------------------

-- one queue, three groups: no aging, aging 10 minutes, no aging with a skill
INSERT INTO omniroute.skill (name) VALUES ('sl_french');
INSERT INTO omniroute.queue (id, name) VALUES (103, 'sl: line');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, priority_aging) VALUES
    (205, 'sl: line plain', 103, NULL),
    (206, 'sl: line aging', 103, '10 minutes'),
    (207, 'sl: line french', 103, NULL);
INSERT INTO omniroute.work_item (id, workstream_id, priority, required_skills, created_at) VALUES
    (2001, 205, 0, '{}', now() - interval '50 minutes'),
    (2002, 205, 0, '{}', now() - interval '40 minutes'),
    (2003, 205, 5, '{}', now() - interval '5 minutes'),
    (2004, 205, 0, '{}', now() - interval '40 minutes'),                   -- as old as 2002: after it by id
    (2011, 206, 0, '{}', now() - interval '55 minutes'),                   -- aged 5: 5
    (2012, 206, 2, '{}', now() - interval '15 minutes'),                   -- aged 1: 3
    (2013, 206, 0, '{}', now() - interval '30 minutes'),                   -- aged 3 exactly: 3
    (2014, 206, 0, '{}', now() - interval '29 minutes 59.999999 seconds'), -- aged 2, just: 2
    (2021, 207, 3, '{"sl_french": 1}', now() - interval '30 minutes');     -- 3, as old as 2013

-- the queue's order by brute force: effective priority, then age, then id
CREATE TEMP VIEW sl_order AS
SELECT i.id, row_number() OVER (ORDER BY i.priority + CASE WHEN w.priority_aging IS NULL OR now() <= i.created_at THEN 0
                                          ELSE div(extract(epoch FROM now() - i.created_at),
                                                   extract(epoch FROM w.priority_aging))::int END DESC,
                                          i.created_at, i.id)::int AS pos
  FROM omniroute.work_item i JOIN omniroute.workstream w ON w.id = i.workstream_id
 WHERE i.queue_id = 103 AND i.state = 'open';

SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 ORDER BY 2',
    $$VALUES (2011::bigint, 1), (2003, 2), (2013, 3), (2021, 4), (2012, 5), (2014, 6), (2001, 7), (2002, 8), (2004, 9)$$,
    'positions across groups: effective priority with aging, then age, then id');
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 ORDER BY id',
    'SELECT id::bigint, pos FROM sl_order ORDER BY id',
    '... the same as a brute-force sort of the queue');

-- no answers yet: no estimate
SELECT is(omniroute.estimated_wait(2011), NULL::interval, 'estimated_wait: NULL with no answer in the last hour');

-- answers of the queue: only those in the hour up to now() count
INSERT INTO omniroute.work_item_event (work_item_id, at, event, agent_id, queue_id, detail) VALUES
    (1, now() - interval '70 minutes', 'accepted', 301, 103, NULL),      -- over an hour ago
    (1, now() - interval '60 minutes', 'accepted', 301, 103, NULL),      -- an hour ago exactly: out
    (2, now() - interval '50 minutes', 'accepted', 301, 103, NULL);
SELECT is(omniroute.estimated_wait(2011), NULL::interval, 'estimated_wait: NULL with one answer in the last hour');
INSERT INTO omniroute.work_item_event (work_item_id, at, event, agent_id, queue_id, detail) VALUES
    (3, now() - interval '30 minutes', 'assigned', 301, 103, '{"method": "highest_capacity"}'),
    (4, now() - interval '10 minutes', 'picked', 301, 103, NULL),
    (5, now() - interval '5 minutes', 'assigned', 309, 103, '{"method": "bot"}'),   -- a bot (309): no answer
    (6, now() - interval '2 minutes', 'offered', 301, 103, NULL),                   -- no answer
    (7, now() - interval '1 minute', 'accepted', 301, 101, NULL),                   -- another queue
    (8, now() + interval '1 minute', 'accepted', 301, 103, NULL);                   -- after now()
-- three answers: 50, 30 and 10 minutes ago; 20 minutes apart on average
SELECT results_eq(
    'SELECT id, omniroute.estimated_wait(id) FROM omniroute.work_item WHERE id IN (2011, 2003, 2004) ORDER BY id',
    $$VALUES (2003::bigint, '00:40:00'::interval), (2004, '03:00:00'), (2011, '00:20:00')$$,
    'estimated_wait: position times the average interval between the last hour''s answers');

-- an item arrives at the head
INSERT INTO omniroute.work_item (id, workstream_id, priority) VALUES (2005, 205, 9);
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 AND state = ''open'' ORDER BY 2',
    $$VALUES (2005::bigint, 1), (2011, 2), (2003, 3), (2013, 4), (2021, 5), (2012, 6), (2014, 7), (2001, 8), (2002, 9), (2004, 10)$$,
    'an arrival of priority 9 goes first, the rest move back one');

-- an agent joins and is served the head
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (306, 'sl Gus', 1, 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (103, 306);
SELECT is((SELECT (state, agent_id)::text FROM omniroute.work_item WHERE id = 2005), '(offered,306)',
          'an agent joins and is offered the head of the queue');
SELECT is(omniroute.queue_position(2005), NULL::int, 'queue_position: NULL once offered');
SELECT is(omniroute.estimated_wait(2005), NULL::interval, 'estimated_wait: NULL once offered');
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 AND state = ''open'' ORDER BY 2',
    $$VALUES (2011::bigint, 1), (2003, 2), (2013, 3), (2021, 4), (2012, 5), (2014, 6), (2001, 7), (2002, 8), (2004, 9)$$,
    '... and everyone moves up one');

-- the first abandons
SELECT omniroute.abandon(2011);
SELECT is(omniroute.queue_position(2011), NULL::int, 'queue_position: NULL once abandoned');
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 AND state = ''open'' ORDER BY 2',
    $$VALUES (2003::bigint, 1), (2013, 2), (2021, 3), (2012, 4), (2014, 5), (2001, 6), (2002, 7), (2004, 8)$$,
    'an abandonment moves those behind up one');

-- priorities change
UPDATE omniroute.work_item SET priority = 6 WHERE id = 2004;
UPDATE omniroute.work_item SET priority = -1 WHERE id = 2003;
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 AND state = ''open'' ORDER BY 2',
    $$VALUES (2004::bigint, 1), (2013, 2), (2021, 3), (2012, 4), (2014, 5), (2001, 6), (2002, 7), (2003, 8)$$,
    'a priority raised goes ahead, one lowered falls behind');
SELECT results_eq(
    'SELECT id, omniroute.queue_position(id) FROM omniroute.work_item WHERE queue_id = 103 AND state = ''open'' ORDER BY id',
    'SELECT id::bigint, pos FROM sl_order ORDER BY id',
    '... still the brute-force order');
-- an old item of the aging workstream overtakes them all
INSERT INTO omniroute.work_item (id, workstream_id, priority, created_at) VALUES
    (2015, 206, 0, now() - interval '2 hours');                          -- aged 12
SELECT is(omniroute.queue_position(2015), 1, 'an item aged 12 levels goes ahead of priority 6');
SELECT is(omniroute.queue_position(2004), 2, '... which is second');
SELECT is(omniroute.estimated_wait(2004), '00:40:00'::interval, '... and its estimate doubles');

SELECT is(omniroute.queue_position(1001), NULL::int, 'queue_position: NULL for a closed item');
SELECT is(omniroute.queue_position(999999), NULL::int, 'queue_position: NULL for no item');
SELECT is(omniroute.estimated_wait(999999), NULL::interval, 'estimated_wait: NULL for no item');

-- who gets what: the app all; an agent only the items they may read (the
-- open items of their pick-mode queues)
INSERT INTO omniroute.queue (id, name) VALUES (104, 'sl: picks');
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES (208, 'sl: picks', 'pick', 104);
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (304, 'sl Dee', 5, 'available', 'sl_dee'),
    (307, 'sl Fay', 5, 'away', 'sl_fay');     -- away: joining 103 serves her nothing
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (104, 304), (103, 307);
INSERT INTO omniroute.work_item (id, workstream_id, created_at) VALUES
    (2031, 208, now() - interval '3 minutes'), (2032, 208, now() - interval '2 minutes');

SET LOCAL ROLE sl_app;
SELECT is(omniroute.queue_position(2013), 3, 'app: the position of any open item');
SELECT is(omniroute.estimated_wait(2013), '01:00:00'::interval, 'app: the estimate of any open item');
RESET ROLE;
SET LOCAL ROLE sl_admin;
SELECT is(omniroute.queue_position(2032), 2, 'admin: the position of any open item');
RESET ROLE;
SET LOCAL ROLE sl_dee;
SELECT is(omniroute.queue_position(2032), 2, 'agent: the position of an open item of their pick-mode queue');
SELECT is(omniroute.queue_position(2013), NULL::int, 'agent: NULL for an item of a queue not theirs');
SELECT is(omniroute.estimated_wait(2013), NULL::interval, 'agent: no estimate for it either');
RESET ROLE;
SET LOCAL ROLE sl_fay;
SELECT is(omniroute.queue_position(2013), NULL::int, 'agent: NULL for an item of their push-mode queue (not theirs to read)');
RESET ROLE;
SET LOCAL ROLE sl_rep;
SELECT throws_ok('SELECT omniroute.queue_position(2013)', '42501', NULL, 'reporter: may not call queue_position');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
