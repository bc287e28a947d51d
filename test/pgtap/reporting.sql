-- test/pgtap/reporting.sql — the reporting views and copy_workstream()
-- (README, "Reporting and administration").
--
-- A scripted day of traffic goes through the real router and lifecycle
-- functions, so states, reservations and events are the extension's own;
-- then the timestamps are overwritten with fixed values and each view is
-- compared row for row.
--
--   work_item timestamps  fixed: day 1 is 2026-03-02 and day 2 2026-03-03 (UTC)
--   work_item_event.at    agent_stats counts "since local midnight", which
--                         is relative to now(): the events it reads are put
--                         just before and just after each agent's local
--                         midnight of today; every other event two days back
BEGIN;
SELECT plan(44);

SET LOCAL client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Shape
-- ---------------------------------------------------------------------------

SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'omniroute.queue_stats'::regclass AND attnum > 0 ORDER BY attnum),
    ARRAY['queue_id', 'queue', 'assignment', 'priority', 'open', 'offered', 'active',
          'waiting', 'wrap_up', 'longest_wait', 'eligible_agents_now'],
    'queue_stats columns');
SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'omniroute.agent_stats'::regclass AND attnum > 0 ORDER BY attnum),
    ARRAY['agent_id', 'agent', 'presence', 'presence_base', 'capacity', 'used_units', 'free_units',
          'offered', 'active', 'waiting', 'wrap_up', 'items_today', 'closed_today'],
    'agent_stats columns');
SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'omniroute.workstream_stats'::regclass AND attnum > 0 ORDER BY attnum),
    ARRAY['workstream_id', 'workstream', 'day', 'created', 'assigned', 'closed', 'avg_wait', 'avg_handle'],
    'workstream_stats columns');

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.presence (name, base) VALUES ('Lunch', 'away'), ('On call', 'busy');

INSERT INTO omniroute.queue (id, name, assignment, priority) VALUES
    (201, 'Sales', 'highest_capacity', 5),
    (202, 'Support', 'round_robin', 0),
    (203, 'Escalations', 'least_active', 10),   -- no workstream routes here
    (204, 'Pick pool', 'highest_capacity', 0),
    (205, 'Empty', 'highest_capacity', 0);      -- no members

INSERT INTO omniroute.agent (id, name, presence, capacity, timezone, is_bot) VALUES
    (301, 'Ana', 'available', 4, 'UTC', false),
    (302, 'Ben', 'On call', 4, 'America/New_York', false),
    (303, 'Cy', 'Lunch', 10, 'UTC', false),
    (304, 'Dee', 'available', 3, 'Asia/Tokyo', false),
    (305, 'Eve', 'offline', 10, 'UTC', false),
    (306, 'Robo', 'available', 10, 'UTC', true);

-- Chat: 2 units, {available,busy} (Ben's 'On call' is allowed by its base)
-- Email: 1 unit, {available} only, auto-accepted
-- Cases: pick mode, {available,Lunch} (Cy's 'Lunch' allowed by its name)
INSERT INTO omniroute.workstream
    (id, name, kind, channel, record_type, mode, capacity_units, fallback_queue_id, allowed_presences,
     auto_close_after, wrap_up_block, skill_matching, keep_same_agent, offer_timeout, auto_accept) VALUES
    (401, 'Chat', 'messaging', 'web', NULL, 'push', 2, 202, '{available,busy}',
     '1 hour', NULL, 'none', true, '90 seconds', false),
    (402, 'Email', 'record', NULL, 'email', 'push', 1, 202, '{available}',
     NULL, '0', 'exact', false, '120 seconds', true),
    (403, 'Cases', 'record', NULL, 'case', 'pick', 1, 204, '{available,Lunch}',
     NULL, NULL, 'exact', false, '120 seconds', false);

INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (401, 'topic', 'text'), (401, 'score', 'number');
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (401, 10, 'VIP', 'score >= 90', '{"priority": 5}'),
    (401, 20, 'Billing is sales', 'topic = ''billing''', '{"topic": "sales"}');
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id) VALUES
    (401, 10, 'Sales', 'topic = ''sales''', 201),
    (401, 20, 'Nowhere', 'topic = ''nothing''', 205);

-- Ben joins Support before Ana: round robin offers him its first chat
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (202, 302), (202, 301), (202, 303),
    (201, 301), (201, 303),
    (203, 304), (203, 305), (203, 306),
    (204, 304), (204, 303);

CREATE ROLE omniroute_rep_dee IN ROLE omniroute_agent;
UPDATE omniroute.agent SET login_role = 'omniroute_rep_dee' WHERE id = 304;

-- ---------------------------------------------------------------------------
-- The day's traffic
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (501, 401, '{"topic": "sales"}');   -- Sales: Ana
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (502, 401, '{"topic": "tech"}');    -- Support: Ben
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (503, 402);                                -- Support: Ana, active
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (504, 401, '{"topic": "billing"}'); -- Sales: Ana full, open
INSERT INTO omniroute.work_item (id, workstream_id, context)
    VALUES (505, 401, '{"topic": "tech", "score": 95}');                                             -- Support: Ben
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (506, 402);                                -- Support: Ana, active
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (507, 402);                                -- Support: nobody, open
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (508, 403);                                -- Pick pool, open
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (509, 403);                                -- Pick pool, open
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (510, 401, '{"topic": "nothing"}'); -- Empty, open

SELECT results_eq(
    'SELECT id, state, queue_id, agent_id FROM omniroute.work_item ORDER BY id',
    $$VALUES (501::bigint, 'offered'::text, 201::bigint, 301::bigint),
             (502, 'offered', 202, 302),
             (503, 'active', 202, 301),
             (504, 'open', 201, NULL),
             (505, 'offered', 202, 302),
             (506, 'active', 202, 301),
             (507, 'open', 202, NULL),
             (508, 'open', 204, NULL),
             (509, 'open', 204, NULL),
             (510, 'open', 205, NULL)$$,
    'traffic: the morning is routed as scripted');

SELECT omniroute.accept(501);
SELECT omniroute.accept(502);
SELECT omniroute.wait(502);                      -- Ben's 2 units back
SELECT omniroute.reject(505);                    -- back to Support, never to Ben again: open
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (511, 401, '{"topic": "tech"}');  -- Ben, offered
SELECT omniroute.close(503);                     -- Ana has a unit: Email 507 is served to her
SELECT omniroute.wrap_up(501);                   -- Chat blocks capacity through wrap-up
SELECT omniroute.close(506);
SET LOCAL ROLE omniroute_rep_dee;
SELECT omniroute.pick(508);
SELECT omniroute.close(508);
SELECT omniroute.pick(509);
RESET ROLE;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (512, 403);
SELECT omniroute.close(512, 'spam');             -- closed without ever having an agent

SELECT results_eq(
    'SELECT id, state, queue_id, agent_id, reserved_units FROM omniroute.work_item ORDER BY id',
    $$VALUES (501::bigint, 'wrap_up'::text, 201::bigint, 301::bigint, 2),
             (502, 'waiting', 202, 302, 0),
             (503, 'closed', 202, 301, 0),
             (504, 'open', 201, NULL, 0),
             (505, 'open', 202, NULL, 0),
             (506, 'closed', 202, 301, 0),
             (507, 'active', 202, 301, 1),
             (508, 'closed', 204, 304, 0),
             (509, 'active', 204, 304, 1),
             (510, 'open', 205, NULL, 0),
             (511, 'offered', 202, 302, 2),
             (512, 'closed', 204, NULL, 0)$$,
    'traffic: the end of the day is as scripted');

-- Fixed timestamps (d1 = 2026-03-02, d2 = 2026-03-03, UTC)
UPDATE omniroute.work_item w
   SET created_at = t.created_at, offered_at = t.offered_at, assigned_at = t.assigned_at,
       closed_at = t.closed_at, last_activity_at = coalesce(t.closed_at, t.assigned_at, t.offered_at, t.created_at)
  FROM (VALUES
        --      created                  offered                  assigned                 closed
        (501, '2026-03-02 23:55+00'::timestamptz, '2026-03-02 23:58+00'::timestamptz,
              '2026-03-03 00:01+00'::timestamptz, NULL::timestamptz),
        (502, '2026-03-02 09:10+00', '2026-03-02 09:11+00', '2026-03-02 09:12+00', NULL),
        (503, '2026-03-02 09:00+00', '2026-03-02 09:05+00', '2026-03-02 09:05+00', '2026-03-02 09:35+00'),
        (504, '2026-03-02 23:50+00', NULL,                  NULL,                  NULL),
        (505, '2026-03-02 10:00+00', NULL,                  NULL,                  NULL),
        (506, '2026-03-02 22:00+00', '2026-03-02 23:30+00', '2026-03-02 23:30+00', '2026-03-03 00:30+00'),
        (507, '2026-03-02 22:30+00', '2026-03-03 00:30+00', '2026-03-03 00:30+00', NULL),
        (508, '2026-03-02 12:00+00', '2026-03-02 12:30+00', '2026-03-02 12:30+00', '2026-03-02 13:00+00'),
        (509, '2026-03-02 12:10+00', '2026-03-03 09:00+00', '2026-03-03 09:00+00', NULL),
        (510, '2026-03-03 08:00+00', NULL,                  NULL,                  NULL),
        (511, '2026-03-03 08:30+00', '2026-03-03 08:34+00', NULL,                  NULL),
        (512, '2026-03-03 10:00+00', NULL,                  NULL,                  '2026-03-03 10:05+00')
       ) AS t (id, created_at, offered_at, assigned_at, closed_at)
 WHERE w.id = t.id;

-- Events: two days back, except those agent_stats reads today
UPDATE omniroute.work_item_event SET at = date_trunc('day', now(), 'UTC') - interval '2 days';
UPDATE omniroute.work_item_event e
   SET at = date_trunc('day', now(), a.timezone) + t.since_midnight
  FROM (VALUES
        -- Ana (UTC): 501 and 506 yesterday, 503 and 507 today; 503 closed today, 506 yesterday
        (501, 'offered',  301, interval '-1 hour'),
        (503, 'assigned', 301, interval '1 minute'),
        (506, 'assigned', 301, interval '-3 hours'),
        (507, 'assigned', 301, interval '3 minutes'),
        (503, 'closed',   301, interval '4 minutes'),
        (506, 'closed',   301, interval '-1 minute'),
        -- Ben (New York): 505 a minute before his midnight, 502 a minute after
        (502, 'offered',  302, interval '1 minute'),
        (505, 'offered',  302, interval '-1 minute'),
        (505, 'rejected', 302, interval '5 minutes'),
        (511, 'offered',  302, interval '2 hours'),
        -- Dee (Tokyo): 509 a minute before her midnight, 508 after
        (508, 'picked',   304, interval '1 minute'),
        (508, 'closed',   304, interval '30 minutes'),
        (509, 'picked',   304, interval '-1 minute')
       ) AS t (work_item_id, event, agent_id, since_midnight)
  JOIN omniroute.agent a ON a.id = t.agent_id
 WHERE e.work_item_id = t.work_item_id AND e.event = t.event AND e.agent_id = t.agent_id;
-- a second offer of the same item today still counts one item
INSERT INTO omniroute.work_item_event (work_item_id, at, event, agent_id, queue_id)
    VALUES (507, date_trunc('day', now(), 'UTC') + interval '5 minutes', 'offered', 301, 202);

SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE at >= date_trunc('day', now(), 'UTC') - interval '1 day'),
          14::bigint, 'set-up: the 13 scripted events and the extra offer were placed');

-- ---------------------------------------------------------------------------
-- queue_stats
-- ---------------------------------------------------------------------------

-- eligible_agents_now:
--   Sales        Chat routes here (2 units): Ana has 1 free unit, Cy is at Lunch → 0
--   Support      fallback of Chat (2 units, available/busy) and Email (1 unit, available):
--                Ana (available, 1 free) via Email, Ben (On call → busy, 2 free) via Chat,
--                Cy (Lunch) no → 2
--   Escalations  no workstream routes here: base available with a free unit:
--                Dee yes, Eve offline, Robo a bot → 1
--   Pick pool    Cases (1 unit, available/Lunch): Dee (2 free), Cy (Lunch by name) → 2
--   Empty        no members → 0
SELECT results_eq(
    'SELECT queue_id, queue, assignment, priority, open, offered, active, waiting, wrap_up,
            longest_wait, eligible_agents_now
       FROM omniroute.queue_stats ORDER BY queue_id',
    $$VALUES (201::bigint, 'Sales'::text, 'highest_capacity'::text, 5, 1::bigint, 0::bigint, 0::bigint, 0::bigint, 1::bigint,
              now() - '2026-03-02 23:50+00'::timestamptz, 0::bigint),
             (202, 'Support', 'round_robin', 0, 1, 1, 1, 1, 0, now() - '2026-03-02 10:00+00'::timestamptz, 2),
             (203, 'Escalations', 'least_active', 10, 0, 0, 0, 0, 0, NULL, 1),
             (204, 'Pick pool', 'highest_capacity', 0, 0, 0, 1, 0, 0, NULL, 2),
             (205, 'Empty', 'highest_capacity', 0, 1, 0, 0, 0, 0, now() - '2026-03-03 08:00+00'::timestamptz, 0)$$,
    'queue_stats: live items by state, longest wait of an open item, eligible members');

SELECT is((SELECT longest_wait FROM omniroute.queue_stats WHERE queue_id = 202),
          now() - '2026-03-02 10:00+00'::timestamptz,
          'queue_stats: longest_wait counts open items only (older waiting and closed items in Support are not)');

SELECT omniroute.set_presence(301, 'away');
SELECT is((SELECT eligible_agents_now FROM omniroute.queue_stats WHERE queue_id = 202), 1::bigint,
          'queue_stats: an agent who goes away is no longer eligible');
SELECT omniroute.set_presence(301, 'available');
UPDATE omniroute.workstream SET allowed_presences = '{available}' WHERE id = 401;
SELECT is((SELECT eligible_agents_now FROM omniroute.queue_stats WHERE queue_id = 202), 1::bigint,
          'queue_stats: eligibility follows the workstreams'' allowed presences');
UPDATE omniroute.workstream SET allowed_presences = '{available,busy}' WHERE id = 401;
SELECT is((SELECT eligible_agents_now FROM omniroute.queue_stats WHERE queue_id = 202), 2::bigint,
          'queue_stats: and comes back with them');

SELECT results_eq(
    'SELECT open, offered, active, waiting, wrap_up, longest_wait, eligible_agents_now
       FROM omniroute.queue_stats WHERE queue_id = 205',
    'SELECT open, offered, active, waiting, wrap_up, longest_wait, eligible_agents_now
       FROM omniroute.queue_stats WHERE queue = ''Empty''',
    'queue_stats: a filter on queue_id gives the same row as on the name');

-- ---------------------------------------------------------------------------
-- agent_stats
-- ---------------------------------------------------------------------------

-- items_today: Ana 503, 507 (501 and 506 yesterday; 507 offered twice);
-- Ben 502, 511 (505 a minute before New York midnight); Dee 508 (509 a
-- minute before Tokyo midnight).  closed_today: Ana 503, Dee 508; 512 was
-- closed with no agent.
SELECT results_eq(
    'SELECT agent_id, agent, presence, presence_base, capacity, used_units, free_units,
            offered, active, waiting, wrap_up, items_today, closed_today
       FROM omniroute.agent_stats ORDER BY agent_id',
    $$VALUES (301::bigint, 'Ana'::text, 'available'::text, 'available'::text, 4, 3, 1,
              0::bigint, 1::bigint, 0::bigint, 1::bigint, 2::bigint, 1::bigint),
             (302, 'Ben', 'On call', 'busy', 4, 2, 2, 1, 0, 1, 0, 2, 0),
             (303, 'Cy', 'Lunch', 'away', 10, 0, 10, 0, 0, 0, 0, 0, 0),
             (304, 'Dee', 'available', 'available', 3, 1, 2, 0, 1, 0, 0, 1, 1),
             (305, 'Eve', 'offline', 'offline', 10, 0, 10, 0, 0, 0, 0, 0, 0),
             (306, 'Robo', 'available', 'available', 10, 0, 10, 0, 0, 0, 0, 0, 0)$$,
    'agent_stats: presence, units, live items by state, items given and closed since local midnight');

UPDATE omniroute.agent SET timezone = 'UTC' WHERE id IN (302, 304);
SELECT ok((SELECT (b.items_today, d.items_today) <> (2::bigint, 1::bigint)
             FROM omniroute.agent_stats b, omniroute.agent_stats d
            WHERE b.agent_id = 302 AND d.agent_id = 304),
          'agent_stats: "today" is the agent''s own day (the same events counted from UTC midnight differ)');
UPDATE omniroute.agent SET timezone = 'America/New_York' WHERE id = 302;
UPDATE omniroute.agent SET timezone = 'Asia/Tokyo' WHERE id = 304;

UPDATE omniroute.agent SET capacity = 1 WHERE id = 301;
SELECT results_eq(
    'SELECT capacity, used_units, free_units FROM omniroute.agent_stats WHERE agent_id = 301',
    $$VALUES (1, 3, 0)$$,
    'agent_stats: free_units does not go below 0 when capacity is lowered under what is held');
SELECT is((SELECT eligible_agents_now FROM omniroute.queue_stats WHERE queue_id = 202), 1::bigint,
          'queue_stats: an agent over capacity is not eligible');
UPDATE omniroute.agent SET capacity = 4 WHERE id = 301;

-- ---------------------------------------------------------------------------
-- workstream_stats
-- ---------------------------------------------------------------------------

-- Chat   d1: created 501 502 504 505; got an agent 502 (09:11), 501 (offered
--            23:58, accepted on d2: counted on d1); wait (3 + 1) / 2 min
--        d2: created 510 511; 511 offered 08:34 (4 min)
-- Email  d1: created 503 506 507; agent 503 506; closed 503 (30 min);
--            wait (5 + 90 + 120) / 3 min = 71 min 40 s
--        d2: agent 507; closed 506 (60 min)
-- Cases  d1: created 508 509; picked 508, closed 508 (30 min); wait (30 min + 20 h 50) / 2
--        d2: created 512; picked 509; closed 512, which never had an agent
SELECT results_eq(
    'SELECT workstream_id, workstream, day, created, assigned, closed, avg_wait, avg_handle
       FROM omniroute.workstream_stats ORDER BY workstream_id, day',
    $$VALUES (401::bigint, 'Chat'::text, '2026-03-02'::date, 4::bigint, 2::bigint, 0::bigint,
              interval '2 minutes', NULL::interval),
             (401, 'Chat', '2026-03-03', 2, 1, 0, interval '4 minutes', NULL),
             (402, 'Email', '2026-03-02', 3, 2, 1, interval '71 minutes 40 seconds', interval '30 minutes'),
             (402, 'Email', '2026-03-03', 0, 1, 1, NULL, interval '1 hour'),
             (403, 'Cases', '2026-03-02', 2, 1, 1, interval '10 hours 40 minutes', interval '30 minutes'),
             (403, 'Cases', '2026-03-03', 1, 1, 1, NULL, NULL)$$,
    'workstream_stats: per workstream and UTC day, created, assigned, closed, average wait and handle');

SET LOCAL TimeZone = 'Asia/Tokyo';
SELECT results_eq(
    'SELECT workstream_id, day, created, assigned, closed FROM omniroute.workstream_stats ORDER BY workstream_id, day',
    $$VALUES (401::bigint, '2026-03-02'::date, 4::bigint, 2::bigint, 0::bigint),
             (401, '2026-03-03', 2, 1, 0),
             (402, '2026-03-02', 3, 2, 1),
             (402, '2026-03-03', 0, 1, 1),
             (403, '2026-03-02', 2, 1, 1),
             (403, '2026-03-03', 1, 1, 1)$$,
    'workstream_stats: days are UTC days whatever the session time zone');
RESET TimeZone;

SELECT results_eq(
    'SELECT day, created FROM omniroute.workstream_stats WHERE workstream_id = 402 ORDER BY day',
    $$VALUES ('2026-03-02'::date, 3::bigint), ('2026-03-03', 0)$$,
    'workstream_stats: a day with only an assignment or a close still has its row');

-- ---------------------------------------------------------------------------
-- Privileges: the views run with their owner's rights, so omniroute_reporter
-- reads them whole without reading work items; copy_workstream is for admins
-- ---------------------------------------------------------------------------

CREATE ROLE omniroute_rep_reader IN ROLE omniroute_reporter;
CREATE ROLE omniroute_rep_admin IN ROLE omniroute_admin;
CREATE ROLE omniroute_rep_app IN ROLE omniroute_app;
SET LOCAL ROLE omniroute_rep_reader;
SELECT is((SELECT sum(open) FROM omniroute.queue_stats), 3::numeric, 'reader: queue_stats');
SELECT is((SELECT sum(items_today) FROM omniroute.agent_stats), 5::numeric, 'reader: agent_stats');
SELECT is((SELECT sum(created) FROM omniroute.workstream_stats), 12::numeric, 'reader: workstream_stats');
SELECT throws_ok('SELECT count(*) FROM omniroute.work_item', '42501', NULL,
                 'reader: the work items themselves stay closed to the role');
SELECT throws_ok('SELECT omniroute.copy_workstream(401)', '42501', NULL,
                 'reader: cannot copy a workstream');
SET LOCAL ROLE omniroute_rep_app;
SELECT throws_ok('SELECT count(*) FROM omniroute.agent_stats', '42501', NULL,
                 'app: the views are not granted to the application role');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- copy_workstream
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE copied (n int PRIMARY KEY, id bigint);
GRANT ALL ON copied TO omniroute_rep_admin;
-- the first copy is made by an admin role, not a superuser
SET LOCAL ROLE omniroute_rep_admin;
INSERT INTO copied VALUES (1, omniroute.copy_workstream(401));
RESET ROLE;

SELECT is((SELECT name FROM omniroute.workstream WHERE id = (SELECT id FROM copied WHERE n = 1)),
          'Copy of Chat', 'copy: named "Copy of <name>"');
SELECT isnt((SELECT id FROM copied WHERE n = 1), 401::bigint, 'copy: a new id');
SELECT results_eq(
    $$SELECT kind, channel, mode, capacity_units, fallback_queue_id, allowed_presences, auto_close_after,
             wrap_up_block, skill_matching, keep_same_agent, offer_timeout, auto_accept
        FROM omniroute.workstream WHERE id = (SELECT id FROM copied WHERE n = 1)$$,
    $$VALUES ('messaging'::text, 'web'::text, 'push'::text, 2, 202::bigint, '{available,busy}'::text[],
              interval '1 hour', NULL::interval, 'none'::text, true, interval '90 seconds', false)$$,
    'copy: the settings of the original');
SELECT is((SELECT to_jsonb(w) - 'id' - 'name' FROM omniroute.workstream w WHERE id = (SELECT id FROM copied WHERE n = 1)),
          (SELECT to_jsonb(w) - 'id' - 'name' FROM omniroute.workstream w WHERE id = 401),
          'copy: every column but id and name equals the original''s');
SELECT results_eq(
    'SELECT name, type FROM omniroute.context_variable WHERE workstream_id = (SELECT id FROM copied WHERE n = 1) ORDER BY name',
    $$VALUES ('score'::text, 'number'::text), ('topic', 'text')$$,
    'copy: the context variables');
SELECT results_eq(
    'SELECT position, name, condition, output FROM omniroute.classification_rule
      WHERE workstream_id = (SELECT id FROM copied WHERE n = 1) ORDER BY position',
    'SELECT position, name, condition, output FROM omniroute.classification_rule
      WHERE workstream_id = 401 ORDER BY position',
    'copy: the classification rules');
SELECT results_eq(
    'SELECT position, name, condition, queue_id FROM omniroute.route_rule
      WHERE workstream_id = (SELECT id FROM copied WHERE n = 1) ORDER BY position',
    $$VALUES (10, 'Sales'::text, 'topic = ''sales'''::text, 201::bigint),
             (20, 'Nowhere', 'topic = ''nothing''', 205)$$,
    'copy: the route rules');
SELECT results_eq(
    'SELECT (SELECT count(*) FROM omniroute.classification_rule WHERE workstream_id = 401),
            (SELECT count(*) FROM omniroute.route_rule WHERE workstream_id = 401),
            (SELECT count(*) FROM omniroute.context_variable WHERE workstream_id = 401)',
    $$VALUES (2::bigint, 2::bigint, 2::bigint)$$,
    'copy: the original keeps its own variables and rules');

INSERT INTO copied VALUES (2, omniroute.copy_workstream(401));
INSERT INTO copied VALUES (3, omniroute.copy_workstream(401));
SELECT results_eq(
    'SELECT w.name FROM copied c JOIN omniroute.workstream w ON w.id = c.id ORDER BY c.n',
    $$VALUES ('Copy of Chat'::text), ('Copy of Chat (2)'), ('Copy of Chat (3)')$$,
    'copy: a taken name gets (2), then (3)');

INSERT INTO copied VALUES (4, omniroute.copy_workstream(403));
SELECT results_eq(
    $$SELECT w.name, w.mode, w.allowed_presences,
             (SELECT count(*) FROM omniroute.route_rule r WHERE r.workstream_id = w.id)
        FROM omniroute.workstream w WHERE w.id = (SELECT id FROM copied WHERE n = 4)$$,
    $$VALUES ('Copy of Cases'::text, 'pick'::text, '{available,Lunch}'::text[], 0::bigint)$$,
    'copy: a pick workstream without rules');

INSERT INTO copied VALUES (5, omniroute.copy_workstream((SELECT id FROM copied WHERE n = 1)));
SELECT is((SELECT name FROM omniroute.workstream WHERE id = (SELECT id FROM copied WHERE n = 5)),
          'Copy of Copy of Chat', 'copy: of a copy');

SELECT throws_ok('SELECT omniroute.copy_workstream(999999)', '42704', 'workstream 999999 does not exist',
                 'copy: an unknown workstream raises 42704 naming the id');
SELECT throws_ok('SELECT omniroute.copy_workstream(NULL)', '22004', NULL,
                 'copy: a NULL id raises 22004');
SELECT is((SELECT count(*) FROM omniroute.workstream), 8::bigint, 'copy: failed copies left nothing behind');

-- Items route through the copy as through the original
INSERT INTO omniroute.work_item (id, workstream_id, context)
    VALUES (601, (SELECT id FROM copied WHERE n = 1), '{"topic": "billing", "score": 95}');
SELECT results_eq(
    'SELECT queue_id, priority, context, diagnostics->''route''->>''rule'' FROM omniroute.work_item WHERE id = 601',
    $$SELECT (s->'route'->>'queue_id')::bigint, (s->>'priority')::int, s->'context', s->'route'->>'rule'
        FROM omniroute.simulate(401, '{"topic": "billing", "score": 95}') AS s$$,
    'copy: an item lands where the original would route it (classified, then Sales)');
SELECT results_eq(
    'SELECT queue_id, priority FROM omniroute.work_item WHERE id = 601',
    $$VALUES (201::bigint, 5)$$,
    'copy: which is Sales, at priority 5');
INSERT INTO omniroute.work_item (id, workstream_id, context)
    VALUES (602, (SELECT id FROM copied WHERE n = 1), '{"topic": "other"}');
SELECT results_eq(
    'SELECT queue_id FROM omniroute.work_item WHERE id = 602',
    $$VALUES (202::bigint)$$,
    'copy: and to the original''s fallback queue when no rule matches');

-- The copy is configured on its own from then on
UPDATE omniroute.route_rule SET queue_id = 203 WHERE workstream_id = (SELECT id FROM copied WHERE n = 1) AND position = 10;
INSERT INTO omniroute.work_item (id, workstream_id, context)
    VALUES (603, (SELECT id FROM copied WHERE n = 1), '{"topic": "sales"}'),
           (604, 401, '{"topic": "sales"}');
SELECT results_eq(
    'SELECT id, queue_id FROM omniroute.work_item WHERE id IN (603, 604) ORDER BY id',
    $$VALUES (603::bigint, 203::bigint), (604, 201)$$,
    'copy: changing the copy''s rules leaves the original''s alone');

-- ---------------------------------------------------------------------------
-- The copies show in workstream_stats like any workstream
-- ---------------------------------------------------------------------------

SELECT results_eq(
    $$SELECT workstream, created FROM omniroute.workstream_stats
       WHERE workstream_id = (SELECT id FROM copied WHERE n = 1)$$,
    $$VALUES ('Copy of Chat'::text, 3::bigint)$$,
    'workstream_stats: items of the copy are counted under the copy');

SELECT * FROM finish();
ROLLBACK;
