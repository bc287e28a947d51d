-- test/pgtap/overflow.sql — overflow at routing (issue 18):
--   * an item a route rule sends to a full queue (max_open open items) or a
--     closed one (its operating hours) gets the queue's overflow action
--     before any agent is looked for: queue (waits, offered to nobody even
--     with an agent who has room), transfer (to overflow_queue_id, checked
--     in turn), close (closed, close_reason 'overflow', never offered);
--   * a chain of transfers, a cycle (stops at a queue already visited), the
--     limit of 8 hops;
--   * the fallback queue and a queue the application gives do not overflow
--     (a closed one still offers nobody);
--   * diagnostics "overflow" (one entry per hop, in order) and "queue_id"
--     (the final queue), the "overflowed" events, queued_at, simulate(),
--     explain();
--   * transfer() into a full or closed queue overflows the same way.
-- Routing happens at the insert's own instant, so the hours used are open
-- or closed at every instant ('never' has no slot, 'always' every day
-- 00:00-24:00) or today only / tomorrow only in a zone where it is now
-- about noon.  Configuration runs as a login role granted omniroute_admin,
-- inserts as one granted omniroute_app, transfers as a supervisor.
BEGIN;
SELECT plan(62);

SET LOCAL client_min_messages = warning;

CREATE ROLE ov_admin;  CREATE ROLE ov_app;  CREATE ROLE ov_super;
GRANT omniroute_admin TO ov_admin;
GRANT omniroute_app TO ov_app;
GRANT omniroute_supervisor TO ov_super;

-- a zone where the local time is now between 12:00 and 13:00, and its weekday
CREATE TEMP TABLE ov_zone AS
SELECT zone, extract(dow FROM now() AT TIME ZONE zone)::int AS today
  FROM (SELECT 'Etc/GMT' || CASE WHEN n >= 0 THEN '+' || n ELSE '-' || -n END AS zone
          FROM (SELECT extract(hour FROM now() AT TIME ZONE 'UTC')::int - 12 AS n) s) z;
GRANT SELECT ON ov_zone TO ov_admin;

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_admin;

INSERT INTO omniroute.operating_hours (name, timezone) VALUES ('ov never', 'UTC'), ('ov always', 'UTC');
INSERT INTO omniroute.operating_hours (name, timezone)
SELECT n, zone FROM ov_zone, (VALUES ('ov today'), ('ov tomorrow')) v(n);
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'ov always', d, '00:00', '24:00' FROM generate_series(0, 6) d;
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'ov today', today, time '00:00', time '24:00' FROM ov_zone
UNION ALL
SELECT 'ov tomorrow', (today + 1) % 7, time '00:00', time '24:00' FROM ov_zone;
INSERT INTO omniroute.skill (name) VALUES ('ov_klingon');

-- targets first (overflow_queue_id refers to them)
INSERT INTO omniroute.queue (id, name, operating_hours) VALUES
    (702, 'ov spill', NULL),
    (713, 'ov chain end', 'ov always'),
    (740, 'ov hop 10', NULL),
    (744, 'ov plain', NULL);
INSERT INTO omniroute.queue (id, name, operating_hours, max_open, overflow_action, overflow_queue_id) VALUES
    (701, 'ov full transfer', NULL, 1, 'transfer', 702),
    (703, 'ov full queue', NULL, 1, 'queue', NULL),
    (704, 'ov full close', NULL, 1, 'close', NULL),
    (705, 'ov closed transfer', 'ov never', NULL, 'transfer', 702),
    (706, 'ov closed queue', 'ov never', NULL, 'queue', NULL),
    (707, 'ov closed close', 'ov never', NULL, 'close', NULL),
    (712, 'ov chain closed', 'ov never', NULL, 'transfer', 713),
    (711, 'ov chain full', NULL, 1, 'transfer', 712),
    (721, 'ov cycle a', 'ov never', NULL, 'queue', NULL),
    (722, 'ov cycle b', 'ov never', NULL, 'transfer', 721),
    (741, 'ov fallback closed', 'ov never', NULL, 'close', NULL),
    (742, 'ov fallback full', NULL, 1, 'close', NULL),
    (761, 'ov today', 'ov today', NULL, 'close', NULL),
    (762, 'ov tomorrow', 'ov tomorrow', NULL, 'close', NULL);
UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 722 WHERE id = 721;
-- ten closed queues in a row: 731 -> 732 -> ... -> 740
INSERT INTO omniroute.queue (id, name, operating_hours, overflow_action, overflow_queue_id)
SELECT 739 - k, 'ov hop ' || (9 - k), 'ov never', 'transfer', 740 - k FROM generate_series(0, 8) k;

INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (7001, 'ov has room', 'available', 100),
    (7002, 'ov takes spill', 'available', 100);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (703, 7001), (706, 7001), (741, 7001), (742, 7001), (721, 7001), (722, 7001),
    (702, 7002), (713, 7002), (761, 7002), (705, 7001), (707, 7001), (704, 7001);

-- one workstream; context variable "to" names the queue a route rule picks
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES
    (751, 'ov routed', 741), (752, 'ov fallback full', 742);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (751, 'to', 'number');
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
SELECT 751, id, 'to ' || id, 'to = ' || id, id FROM omniroute.queue WHERE id BETWEEN 701 AND 762 AND id NOT IN (741, 742);

RESET ROLE;
-- items are named by their external_id (the application does not choose ids)
CREATE FUNCTION pg_temp.item(int) RETURNS omniroute.work_item
    LANGUAGE sql AS $$ SELECT * FROM omniroute.work_item WHERE external_id = $1::text $$;
CREATE FUNCTION pg_temp.events(int) RETURNS text
    LANGUAGE sql AS $$
    SELECT string_agg(event || '@' || coalesce(queue_id::text, '-'), ' ' ORDER BY id)
      FROM omniroute.work_item_event WHERE work_item_id = (pg_temp.item($1)).id $$;

-- items that fill the queues with max_open 1: they need a skill nobody has
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context, required_skills) VALUES
    ('7101', 751, '{"to": 701}', '{"ov_klingon": 5}'),
    ('7103', 751, '{"to": 703}', '{"ov_klingon": 5}'),
    ('7104', 751, '{"to": 704}', '{"ov_klingon": 5}'),
    ('7111', 751, '{"to": 711}', '{"ov_klingon": 5}'),
    ('7142', 752, '{}', '{"ov_klingon": 5}');
RESET ROLE;
SELECT is(array_agg(state || '@' || queue_id ORDER BY id),
          ARRAY['open@701', 'open@703', 'open@704', 'open@711', 'open@742'],
          'the first item of each queue with max_open 1 waits there: the queue is now full')
  FROM omniroute.work_item WHERE external_id IN ('7101', '7103', '7104', '7111', '7142');
SELECT ok(NOT (pg_temp.item(7101)).diagnostics ? 'overflow', 'no overflow into a queue not yet full');

-- ---------------------------------------------------------------------------
-- full
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES
    ('7201', 751, '{"to": 701}'), ('7203', 751, '{"to": 703}'), ('7204', 751, '{"to": 704}');
RESET ROLE;

-- transfer
SELECT is((pg_temp.item(7201)).queue_id, 702::bigint, 'full, transfer: the item moves to the overflow queue');
SELECT is(((pg_temp.item(7201)).state, (pg_temp.item(7201)).agent_id),
          ('offered'::text, 7002::bigint), 'full, transfer: and is offered there');
SELECT is((pg_temp.item(7201)).diagnostics -> 'overflow',
          '[{"queue_id": 701, "condition": "full", "action": "transfer", "target_queue_id": 702}]'::jsonb,
          'full, transfer: diagnostics "overflow" names the queue, the condition, the action and the target');
SELECT is((pg_temp.item(7201)).diagnostics -> 'route' ->> 'queue_id', '701',
          'the route section still names the rule''s queue');
SELECT is((pg_temp.item(7201)).diagnostics -> 'queue_id', '702'::jsonb,
          'diagnostics "queue_id" is the queue the item ends in');
SELECT is(pg_temp.events(7201), 'overflowed@701 offered@702', 'full, transfer: events overflowed, then offered');
SELECT is((SELECT detail FROM omniroute.work_item_event WHERE work_item_id = (pg_temp.item(7201)).id AND event = 'overflowed'),
          '{"queue_id": 701, "condition": "full", "action": "transfer", "target_queue_id": 702}'::jsonb,
          'the overflowed event''s detail is the diagnostics entry');
SELECT is(omniroute.explain((pg_temp.item(7201)).id) -> 'diagnostics' -> 'overflow' -> 0 ->> 'condition', 'full',
          'explain() shows the overflow (it carries the diagnostics)');
SELECT is((pg_temp.item(7201)).queued_at, (pg_temp.item(7201)).created_at,
          'queued_at is set on entering the queue, when the item is created');

-- queue
SELECT is(((pg_temp.item(7203)).state, (pg_temp.item(7203)).queue_id, (pg_temp.item(7203)).agent_id),
          ('open'::text, 703::bigint, NULL::bigint),
          'full, queue: the item stays and waits, offered to nobody though agent 7001 has room');
SELECT is((pg_temp.item(7203)).diagnostics -> 'overflow',
          '[{"queue_id": 703, "condition": "full", "action": "queue"}]'::jsonb,
          'full, queue: diagnostics');
SELECT is((pg_temp.item(7203)).diagnostics -> 'assignment' ->> 'reason', 'overflow',
          'full, queue: the assignment says overflow kept it');
SELECT is(pg_temp.events(7203), 'overflowed@703 queued@703', 'full, queue: events overflowed, queued');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE queue_id = 703 AND agent_id = 7001), 100,
          'full, queue: nothing was reserved of the agent''s capacity');

-- close
SELECT is(((pg_temp.item(7204)).state, (pg_temp.item(7204)).close_reason, (pg_temp.item(7204)).agent_id),
          ('closed'::text, 'overflow'::text, NULL::bigint), 'full, close: closed with close_reason overflow, never offered');
SELECT ok((pg_temp.item(7204)).closed_at IS NOT NULL, 'full, close: closed_at is set');
SELECT is((pg_temp.item(7204)).diagnostics -> 'assignment' ->> 'outcome', 'closed', 'full, close: assignment outcome closed');
SELECT is(pg_temp.events(7204), 'overflowed@704 closed@704', 'full, close: events overflowed, closed');
SELECT is((SELECT detail ->> 'reason' FROM omniroute.work_item_event WHERE work_item_id = (pg_temp.item(7204)).id AND event = 'closed'),
          'overflow', 'full, close: the closed event gives the reason');

-- ---------------------------------------------------------------------------
-- closed
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES
    ('7305', 751, '{"to": 705}'), ('7306', 751, '{"to": 706}'), ('7307', 751, '{"to": 707}');
RESET ROLE;
SELECT is(((pg_temp.item(7305)).state, (pg_temp.item(7305)).queue_id, (pg_temp.item(7305)).agent_id),
          ('offered'::text, 702::bigint, 7002::bigint),
          'closed, transfer: moved on and offered there, not to agent 7001 of the closed queue');
SELECT is((pg_temp.item(7305)).diagnostics -> 'overflow',
          '[{"queue_id": 705, "condition": "closed", "action": "transfer", "target_queue_id": 702}]'::jsonb,
          'closed, transfer: diagnostics');
SELECT is(((pg_temp.item(7306)).state, (pg_temp.item(7306)).queue_id, (pg_temp.item(7306)).agent_id),
          ('open'::text, 706::bigint, NULL::bigint),
          'closed, queue: waits, offered to nobody though agent 7001 has room');
SELECT is((pg_temp.item(7306)).diagnostics -> 'overflow',
          '[{"queue_id": 706, "condition": "closed", "action": "queue"}]'::jsonb, 'closed, queue: diagnostics');
SELECT is(((pg_temp.item(7307)).state, (pg_temp.item(7307)).close_reason),
          ('closed'::text, 'overflow'::text), 'closed, close: closed with close_reason overflow');
SELECT is(pg_temp.events(7307), 'overflowed@707 closed@707', 'closed, close: events');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE work_item_id IN (SELECT id FROM omniroute.work_item WHERE external_id IN ('7203', '7204', '7306', '7307'))
             AND event IN ('offered', 'assigned')), 0, 'nothing held or closed by overflow was ever offered');

-- operating hours at the insert's instant: open today, closed until tomorrow
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES
    ('7361', 751, '{"to": 761}'), ('7362', 751, '{"to": 762}');
RESET ROLE;
SELECT is(((pg_temp.item(7361)).state, (pg_temp.item(7361)).agent_id),
          ('offered'::text, 7002::bigint), 'a queue open today (local time) does not overflow: offered');
SELECT ok(NOT (pg_temp.item(7361)).diagnostics ? 'overflow', 'and has no overflow in its diagnostics');
SELECT is(((pg_temp.item(7362)).state, (pg_temp.item(7362)).diagnostics -> 'overflow' -> 0 ->> 'condition'),
          ('closed'::text, 'closed'::text), 'a queue that opens only tomorrow is closed now: closed by overflow');

-- ---------------------------------------------------------------------------
-- chains, cycles, the hop limit
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES
    ('7411', 751, '{"to": 711}'), ('7421', 751, '{"to": 721}'), ('7431', 751, '{"to": 731}');
RESET ROLE;
SELECT is((pg_temp.item(7411)).diagnostics -> 'overflow',
          '[{"queue_id": 711, "condition": "full", "action": "transfer", "target_queue_id": 712},
            {"queue_id": 712, "condition": "closed", "action": "transfer", "target_queue_id": 713}]'::jsonb,
          'chain: full 711 -> closed 712 -> 713, one entry per hop in order');
SELECT is(((pg_temp.item(7411)).queue_id, (pg_temp.item(7411)).state, (pg_temp.item(7411)).agent_id),
          (713::bigint, 'offered'::text, 7002::bigint), 'chain: ends in 713 and is offered there');
SELECT is(pg_temp.events(7411), 'overflowed@711 overflowed@712 offered@713', 'chain: one overflowed event per hop');

SELECT is((pg_temp.item(7421)).diagnostics -> 'overflow',
          '[{"queue_id": 721, "condition": "closed", "action": "transfer", "target_queue_id": 722},
            {"queue_id": 722, "condition": "closed", "action": "transfer", "target_queue_id": 721, "stopped": "visited"}]'::jsonb,
          'cycle: 721 -> 722, whose target 721 was already visited: stopped');
SELECT is(((pg_temp.item(7421)).queue_id, (pg_temp.item(7421)).state, (pg_temp.item(7421)).agent_id),
          (722::bigint, 'open'::text, NULL::bigint), 'cycle: the item stays in 722, open, offered to nobody');

SELECT is(jsonb_array_length((pg_temp.item(7431)).diagnostics -> 'overflow'), 9,
          'hop limit: 8 transfers and the stop are 9 entries');
SELECT is((pg_temp.item(7431)).diagnostics -> 'overflow' -> 8,
          '{"queue_id": 739, "condition": "closed", "action": "transfer", "target_queue_id": 740, "stopped": "hops"}'::jsonb,
          'hop limit: after 8 hops the transfer out of 739 is not made');
SELECT is(((pg_temp.item(7431)).queue_id, (pg_temp.item(7431)).state), (739::bigint, 'open'::text),
          'hop limit: the item stays in 739, the ninth queue');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE work_item_id = (pg_temp.item(7431)).id AND event = 'overflowed'), 9,
          'hop limit: nine overflowed events');

-- ---------------------------------------------------------------------------
-- the fallback queue and a given queue do not overflow
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES ('7541', 751, '{"to": 1}');
INSERT INTO omniroute.work_item (external_id, workstream_id) VALUES ('7542', 752);
INSERT INTO omniroute.work_item (external_id, workstream_id, queue_id) VALUES ('7507', 751, 707);
RESET ROLE;
SELECT is(((pg_temp.item(7541)).state, (pg_temp.item(7541)).queue_id, (pg_temp.item(7541)).close_reason),
          ('open'::text, 741::bigint, NULL::text), 'a closed fallback queue with action close does not close the item');
SELECT ok(NOT (pg_temp.item(7541)).diagnostics ? 'overflow', 'fallback: no overflow in the diagnostics');
SELECT is(((pg_temp.item(7541)).agent_id, (pg_temp.item(7541)).diagnostics -> 'assignment' ->> 'reason'),
          (NULL::bigint, 'queue closed'::text), 'fallback: closed, it offers nobody though agent 7001 has room');
SELECT is(pg_temp.events(7541), 'queued@741', 'fallback: no overflowed event');
SELECT is(((pg_temp.item(7542)).state, (pg_temp.item(7542)).agent_id),
          ('offered'::text, 7001::bigint), 'a full fallback queue with action close offers the item as usual');
SELECT is(((pg_temp.item(7507)).state, (pg_temp.item(7507)).queue_id, (pg_temp.item(7507)).close_reason),
          ('open'::text, 707::bigint, NULL::text), 'a queue the application gives does not overflow either');

-- ---------------------------------------------------------------------------
-- an unconfigured queue, simulate()
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES ('7644', 751, '{"to": 744}');
RESET ROLE;
SELECT ok(NOT (pg_temp.item(7644)).diagnostics ? 'overflow' AND NOT (pg_temp.item(7644)).diagnostics ? 'queue_id',
          'a queue without hours or max_open: no overflow, diagnostics as before');

SELECT is(count(*)::int, 0, 'the test so far left no item of these queues offered to 7001 but 7542')
  FROM omniroute.work_item WHERE agent_id = 7001 AND external_id <> '7542';

CREATE TEMP TABLE ov_before AS
SELECT (SELECT count(*) FROM omniroute.work_item) AS items, (SELECT count(*) FROM omniroute.work_item_event) AS events;
SELECT is(omniroute.simulate(751, '{"to": 711}') -> 'overflow',
          '[{"queue_id": 711, "condition": "full", "action": "transfer", "target_queue_id": 712},
            {"queue_id": 712, "condition": "closed", "action": "transfer", "target_queue_id": 713}]'::jsonb,
          'simulate() shows the overflow hops');
SELECT is(omniroute.simulate(751, '{"to": 711}') -> 'queue_id', '713'::jsonb, 'simulate() names the final queue');
SELECT is(omniroute.simulate(751, '{"to": 711}') -> 'assignment' ->> 'agent_id', '7002',
          'simulate() chooses the agent in the final queue');
SELECT is(omniroute.simulate(751, '{"to": 707}') -> 'assignment' ->> 'outcome', 'closed',
          'simulate() says overflow would close the item');
SELECT is(omniroute.simulate(751, '{"to": 703}') -> 'assignment' ->> 'outcome', 'open',
          'simulate() says overflow would keep the item waiting');
SELECT is(omniroute.simulate(751, '{"to": 1}') -> 'assignment' ->> 'reason', 'queue closed',
          'simulate() says a closed fallback queue offers nobody');
SELECT is((SELECT count(*) FROM omniroute.work_item) + (SELECT count(*) FROM omniroute.work_item_event),
          (SELECT items + events FROM ov_before), 'simulate() wrote nothing');

-- ---------------------------------------------------------------------------
-- transfer() into a full or closed queue
-- ---------------------------------------------------------------------------
SET LOCAL ROLE ov_app;
INSERT INTO omniroute.work_item (external_id, workstream_id, context) VALUES
    ('7801', 751, '{"to": 744}'), ('7802', 751, '{"to": 744}'), ('7803', 751, '{"to": 744}');
RESET ROLE;
CREATE TEMP TABLE ov_ids AS SELECT external_id::int AS ext, id FROM omniroute.work_item;
GRANT SELECT ON ov_ids TO ov_super;
SET LOCAL ROLE ov_super;
SELECT is((omniroute.transfer((SELECT id FROM ov_ids WHERE ext = 7801), 701)).queue_id, 702::bigint,
          'transfer() into a full queue with action transfer: the item ends in its overflow queue');
SELECT is((omniroute.transfer((SELECT id FROM ov_ids WHERE ext = 7802), 707)).state, 'closed',
          'transfer() into a closed queue with action close: the item is closed');
SELECT is((omniroute.transfer((SELECT id FROM ov_ids WHERE ext = 7803), 706)).state, 'open',
          'transfer() into a closed queue with action queue: it waits');
RESET ROLE;
SELECT is(pg_temp.events(7801), 'queued@744 transferred@701 overflowed@701 offered@702',
          'transfer(): transferred, overflowed, then offered in the overflow queue');
SELECT ok((pg_temp.item(7801)).queued_at > (pg_temp.item(7801)).created_at,
          'transfer(): queued_at is when overflow moved it on');
SELECT is(((pg_temp.item(7802)).close_reason, pg_temp.events(7802)),
          ('overflow'::text, 'queued@744 transferred@707 overflowed@707 closed@707'::text),
          'transfer(): closed by overflow, with its events');
SELECT is(((pg_temp.item(7803)).queue_id, (pg_temp.item(7803)).agent_id, pg_temp.events(7803)),
          (706::bigint, NULL::bigint, 'queued@744 transferred@706 overflowed@706'::text),
          'transfer(): waits in the closed queue, offered to nobody');

SELECT * FROM finish();
ROLLBACK;
