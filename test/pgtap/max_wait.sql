-- test/pgtap/max_wait.sql — max_wait applied by tick(at) at explicit
-- instants, and escalation steps moving items into full and closed queues
-- (issue 18; README: overflow, escalation steps):
--   * an item open in a queue longer than its max_wait (counted from
--     queued_at) gets the queue's overflow action: queue — nothing, no
--     event; transfer — moved, queued_at reset, offered in the target when
--     an agent there has room and the target is open, event 'overflowed'
--     with condition max_wait; close — closed with close_reason 'overflow';
--   * the target's own overflow applies in turn: a chain (into a closed
--     queue that transfers on), a cycle (stops at the queue already
--     visited), a closed target whose action is 'queue' (waits there, served
--     by the first tick after it opens);
--   * max_wait counts from queued_at, which a transfer resets: the next
--     queue's max_wait runs from the move, not from created_at;
--   * an item not yet due, and an item offered or active, is untouched;
--   * each overflow happens once: a second tick at the same instant does
--     nothing;
--   * a queue overflowing onto itself (overflow_queue_id = its own id) is
--     no overflow at max_wait: the item stays, with no event, tick after
--     tick;
--   * an escalation step moving an item into a full queue (transfer on) and
--     into a closed queue (close): overflow applies there, after the
--     'escalated' event.
-- Items are created at 2024-01-01 10:00Z (a Monday; queued_at = created_at);
-- 'mw evenings' is open 18:00-22:00 UTC every day, so closed at 10:xx.
BEGIN;
SELECT plan(42);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.skill (name) VALUES ('mw_klingon');
INSERT INTO omniroute.operating_hours (name) VALUES ('mw evenings');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'mw evenings', d, '18:00', '22:00' FROM generate_series(0, 6) d;

-- targets first (overflow_queue_id refers to them)
INSERT INTO omniroute.queue (id, name, operating_hours, max_open, max_wait, overflow_action, overflow_queue_id) VALUES
    (621, 'mw transfer target',     NULL, NULL, NULL, 'queue', NULL),
    (624, 'mw second wait',         NULL, NULL, '30 minutes', 'close', NULL),
    (642, 'mw chain end',           NULL, NULL, NULL, 'queue', NULL),
    (641, 'mw chain closed',        'mw evenings', NULL, NULL, 'transfer', 642),
    (650, 'mw cycle a',             NULL, NULL, '10 minutes', 'queue', NULL),
    (651, 'mw cycle b (full)',      NULL, 1, NULL, 'transfer', 650),
    (661, 'mw closed target',       'mw evenings', NULL, NULL, 'queue', NULL),
    (692, 'mw escalation spill',    NULL, NULL, NULL, 'queue', NULL),
    (610, 'mw escalates',           NULL, NULL, NULL, 'queue', NULL),
    (612, 'mw wait (queue)',        NULL, NULL, '10 minutes', 'queue', NULL),
    (620, 'mw transfer',            NULL, NULL, '10 minutes', 'transfer', 621),
    (623, 'mw transfer, no room',   NULL, NULL, '10 minutes', 'transfer', 624),
    (630, 'mw close',               NULL, NULL, '10 minutes', 'close', NULL),
    (640, 'mw chain',               NULL, NULL, '10 minutes', 'transfer', 641),
    (660, 'mw to closed',           NULL, NULL, '10 minutes', 'transfer', 661),
    (670, 'mw onto itself',         NULL, NULL, '10 minutes', 'queue', NULL),
    (691, 'mw escalation full',     NULL, 1, NULL, 'transfer', 692),
    (693, 'mw escalation closed',   'mw evenings', NULL, NULL, 'close', NULL);
UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 651 WHERE id = 650;
UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 670 WHERE id = 670;
-- a queue that closes may name an overflow queue (unused): itself here
UPDATE omniroute.queue SET overflow_queue_id = 630 WHERE id = 630;

-- one workstream per source queue (its fallback: the fallback never overflows)
-- (offers last a day: the offers made at 10:10 do not expire in this test)
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout)
SELECT id + 10000, 'mw ws ' || id, id, '1 day' FROM omniroute.queue;
INSERT INTO omniroute.escalation_step (workstream_id, after, queue_id) VALUES
    (10610, '5 minutes', 691),      -- items of 'mw wait' are escalated into the full queue
    (10642, '5 minutes', 693);      -- items of 'mw chain end' into the closed one

-- agents: 6021 has room in the transfer target, 6061 in the closed target;
-- 6031 has none (it holds the offered and the active item of 'mw close')
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (6021, 'mw target agent', 'available', 1),
    (6061, 'mw evening agent', 'available', 1),
    (6031, 'mw close agent', 'available', 0);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (621, 6021), (661, 6061), (630, 6031), (620, 6031), (623, 6031);

CREATE FUNCTION pg_temp.events(bigint) RETURNS text
    LANGUAGE sql AS $$
    SELECT string_agg(event || '@' || coalesce(queue_id::text, '-'), ' ' ORDER BY id)
      FROM omniroute.work_item_event WHERE work_item_id = $1 AND event <> 'queued' $$;
CREATE FUNCTION pg_temp.overflows(bigint) RETURNS SETOF jsonb
    LANGUAGE sql AS $$
    SELECT detail FROM omniroute.work_item_event
     WHERE work_item_id = $1 AND event = 'overflowed' ORDER BY id $$;
CREATE TEMP VIEW item AS
SELECT id, state, queue_id, agent_id, queued_at, closed_at, close_reason
  FROM omniroute.work_item;

-- items: the id names the queue they start in (6101 in 610, ...); every
-- item needs a skill nobody has, except 6201 and 6601 (to be offered)
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills)
SELECT i, (i / 10) + 10000, '2024-01-01 10:00Z', '{"mw_klingon": 5}'
  FROM unnest(ARRAY[6101, 6121, 6231, 6301, 6302, 6303, 6401, 6501, 6511, 6701, 6911, 6421]) i;
INSERT INTO omniroute.work_item (id, workstream_id, created_at)
VALUES (6201, 10620, '2024-01-01 10:00Z'), (6601, 10660, '2024-01-01 10:00Z');
-- 6302 is offered, 6303 active: neither is open
SELECT (omniroute.transfer_to_agent(6302, 6031)).state;
SELECT (omniroute.transfer_to_agent(6303, 6031)).state;
SELECT (omniroute.accept(6303)).state;

SELECT results_eq($$SELECT id, state, queue_id, queued_at FROM item WHERE id BETWEEN 6000 AND 6999 ORDER BY id$$,
                  $$VALUES (6101::bigint, 'open'::text, 610::bigint, '2024-01-01 10:00Z'::timestamptz),
                           (6121, 'open', 612, '2024-01-01 10:00Z'),
                           (6201, 'open', 620, '2024-01-01 10:00Z'),
                           (6231, 'open', 623, '2024-01-01 10:00Z'),
                           (6301, 'open', 630, '2024-01-01 10:00Z'),
                           (6302, 'offered', 630, '2024-01-01 10:00Z'),
                           (6303, 'active', 630, '2024-01-01 10:00Z'),
                           (6401, 'open', 640, '2024-01-01 10:00Z'),
                           (6421, 'open', 642, '2024-01-01 10:00Z'),
                           (6501, 'open', 650, '2024-01-01 10:00Z'),
                           (6511, 'open', 651, '2024-01-01 10:00Z'),
                           (6601, 'open', 660, '2024-01-01 10:00Z'),
                           (6701, 'open', 670, '2024-01-01 10:00Z'),
                           (6911, 'open', 691, '2024-01-01 10:00Z')$$,
                  'setup: items open in their queues (6302 offered, 6303 active), queued when created');

-- ---------------------------------------------------------------------------
-- Nothing due yet (escalation steps at 10:05, max_wait at 10:10)
-- ---------------------------------------------------------------------------
SELECT is(omniroute.tick('2024-01-01 10:04:59Z'), 0, 'before anything is due, a tick does nothing');

-- ---------------------------------------------------------------------------
-- Escalation steps into a full queue and a closed queue (10:05)
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:09:59Z');
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6101$$,
                  $$VALUES ('open'::text, 692::bigint, '2024-01-01 10:09:59Z'::timestamptz)$$,
                  'a step into a full queue that transfers: the item ends in the overflow queue, queued then');
SELECT is(pg_temp.events(6101), 'escalated@691 overflowed@691', 'escalated, then overflowed at the full queue');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6101)',
                  $$VALUES ('{"queue_id": 691, "condition": "full", "action": "transfer", "target_queue_id": 692}'::jsonb)$$,
                  'the overflowed event: full, transfer, its target');
SELECT results_eq($$SELECT state, queue_id, closed_at, close_reason FROM item WHERE id = 6421$$,
                  $$VALUES ('closed'::text, 693::bigint, '2024-01-01 10:09:59Z'::timestamptz, 'overflow'::text)$$,
                  'a step into a closed queue that closes: closed with close_reason overflow');
SELECT is(pg_temp.events(6421), 'escalated@693 overflowed@693 closed@693', 'escalated, overflowed, closed');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6421)',
                  $$VALUES ('{"queue_id": 693, "condition": "closed", "action": "close"}'::jsonb)$$,
                  'the overflowed event: closed, close, no target');
SELECT is((SELECT detail FROM omniroute.work_item_event WHERE work_item_id = 6421 AND event = 'closed'),
          '{"from": "open", "reason": "overflow"}'::jsonb, 'the closed event says why');

-- max_wait not reached yet at 10:09:59
SELECT results_eq($$SELECT id, state, queue_id FROM item
                     WHERE id IN (6201, 6231, 6301, 6401, 6501, 6601, 6701) ORDER BY id$$,
                  $$VALUES (6201::bigint, 'open'::text, 620::bigint), (6231, 'open', 623), (6301, 'open', 630),
                           (6401, 'open', 640), (6501, 'open', 650), (6601, 'open', 660), (6701, 'open', 670)$$,
                  'one microsecond before max_wait: every item where it was');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event
            WHERE event = 'overflowed' AND work_item_id IN (6201, 6231, 6301, 6401, 6501, 6601, 6701)),
          0, '... and no overflowed event');

-- ---------------------------------------------------------------------------
-- max_wait reached (10:10)
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:10Z');

-- queue: nothing
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6101$$,
                  $$VALUES ('open'::text, 692::bigint, '2024-01-01 10:09:59Z'::timestamptz)$$,
                  '(the escalated item is in a queue without max_wait: untouched)');
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6121$$,
                  $$VALUES ('open'::text, 612::bigint, '2024-01-01 10:00Z'::timestamptz)$$,
                  'max_wait, queue: the item stays as it was, queued_at unchanged');
SELECT is(pg_temp.events(6121), NULL, 'max_wait, queue: no event');

-- transfer, an agent with room in the open target
SELECT results_eq($$SELECT state, queue_id, agent_id, queued_at FROM item WHERE id = 6201$$,
                  $$VALUES ('offered'::text, 621::bigint, 6021::bigint, '2024-01-01 10:10Z'::timestamptz)$$,
                  'max_wait, transfer: moved to the target, queued_at reset, offered to its agent with room');
SELECT is(pg_temp.events(6201), 'overflowed@620 offered@621', 'max_wait, transfer: overflowed, then offered');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6201)',
                  $$VALUES ('{"queue_id": 620, "condition": "max_wait", "action": "transfer", "target_queue_id": 621}'::jsonb)$$,
                  'the overflowed event: condition max_wait, action transfer, the target');

-- transfer, nobody with room: waits in the target, queued_at reset
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6231$$,
                  $$VALUES ('open'::text, 624::bigint, '2024-01-01 10:10Z'::timestamptz)$$,
                  'max_wait, transfer: moved, open in the target, queued at the move');

-- close
SELECT results_eq($$SELECT state, queue_id, agent_id, closed_at, close_reason FROM item WHERE id = 6301$$,
                  $$VALUES ('closed'::text, 630::bigint, NULL::bigint, '2024-01-01 10:10Z'::timestamptz, 'overflow'::text)$$,
                  'max_wait, close: closed with close_reason overflow');
SELECT is(pg_temp.events(6301), 'overflowed@630 closed@630', 'max_wait, close: overflowed, closed');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6301)',
                  $$VALUES ('{"queue_id": 630, "condition": "max_wait", "action": "close"}'::jsonb)$$,
                  'the overflowed event: max_wait, close');

-- offered and active items of the same queue: untouched
SELECT results_eq($$SELECT id, state, queue_id, agent_id FROM item WHERE id IN (6302, 6303) ORDER BY id$$,
                  $$VALUES (6302::bigint, 'offered'::text, 630::bigint, 6031::bigint), (6303, 'active', 630, 6031)$$,
                  'an offered and an active item of a queue past max_wait: untouched');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event
            WHERE event IN ('overflowed', 'closed') AND work_item_id IN (6302, 6303)), 0, '... no overflow event');

-- chain: max_wait transfer into a closed queue that transfers on
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6401$$,
                  $$VALUES ('open'::text, 642::bigint, '2024-01-01 10:10Z'::timestamptz)$$,
                  'chain: through the closed queue to the end of the chain');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6401)',
                  $$VALUES ('{"queue_id": 640, "condition": "max_wait", "action": "transfer", "target_queue_id": 641}'::jsonb),
                           ('{"queue_id": 641, "condition": "closed", "action": "transfer", "target_queue_id": 642}')$$,
                  'chain: one overflowed event per hop, in order (max_wait, then closed)');

-- cycle: 650 (max_wait) -> 651 (full) -> 650, already visited: stays in 651
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6501$$,
                  $$VALUES ('open'::text, 651::bigint, '2024-01-01 10:10Z'::timestamptz)$$,
                  'cycle: the item stays in the queue whose target it came from');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6501)',
                  $$VALUES ('{"queue_id": 650, "condition": "max_wait", "action": "transfer", "target_queue_id": 651}'::jsonb),
                           ('{"queue_id": 651, "condition": "full", "action": "transfer", "target_queue_id": 650, "stopped": "visited"}')$$,
                  'cycle: the second hop says it stopped at a queue already visited');

-- a closed target that queues: waits there, not offered although its agent has room
SELECT results_eq($$SELECT state, queue_id, agent_id, queued_at FROM item WHERE id = 6601$$,
                  $$VALUES ('open'::text, 661::bigint, NULL::bigint, '2024-01-01 10:10Z'::timestamptz)$$,
                  'into a closed queue (action queue): moved, open, offered to nobody');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6601)',
                  $$VALUES ('{"queue_id": 660, "condition": "max_wait", "action": "transfer", "target_queue_id": 661}'::jsonb),
                           ('{"queue_id": 661, "condition": "closed", "action": "queue"}')$$,
                  '... the closed target''s hop is recorded too');

-- a queue overflowing onto itself
SELECT results_eq($$SELECT state, queue_id, queued_at FROM item WHERE id = 6701$$,
                  $$VALUES ('open'::text, 670::bigint, '2024-01-01 10:00Z'::timestamptz)$$,
                  'max_wait onto the same queue: the item stays');
SELECT is(pg_temp.events(6701), NULL, '... with no event');

-- ---------------------------------------------------------------------------
-- Each overflow once
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM omniroute.work_item_event) AS events,
       (SELECT array_agg(row(w.*)::text ORDER BY id) FROM omniroute.work_item w) AS items;
SELECT is(omniroute.tick('2024-01-01 10:10Z'), 0, 'a second tick at the same instant does nothing');
SELECT is((SELECT count(*) FROM omniroute.work_item_event), (SELECT events FROM before), '... no event');
SELECT is((SELECT array_agg(row(w.*)::text ORDER BY id) FROM omniroute.work_item w), (SELECT items FROM before),
          '... no item changed');
SELECT is(omniroute.tick('2024-01-01 10:29Z'), 0, 'nor a later one before the next queue''s max_wait');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE event = 'overflowed' AND work_item_id = 6201), 1,
          'the transfer happened once');

-- ---------------------------------------------------------------------------
-- max_wait counts from queued_at (the move at 10:10), not created_at
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:39:59Z');
SELECT results_eq($$SELECT state, queue_id FROM item WHERE id = 6231$$,
                  $$VALUES ('open'::text, 624::bigint)$$,
                  'in the second queue (max_wait 30 minutes) 40 minutes after creation, 29:59 after the move: untouched');
SELECT omniroute.tick('2024-01-01 10:40Z');
SELECT results_eq($$SELECT state, queue_id, closed_at, close_reason FROM item WHERE id = 6231$$,
                  $$VALUES ('closed'::text, 624::bigint, '2024-01-01 10:40Z'::timestamptz, 'overflow'::text)$$,
                  '30 minutes after the move: the second queue''s max_wait closes it');
SELECT results_eq('SELECT * FROM pg_temp.overflows(6231)',
                  $$VALUES ('{"queue_id": 623, "condition": "max_wait", "action": "transfer", "target_queue_id": 624}'::jsonb),
                           ('{"queue_id": 624, "condition": "max_wait", "action": "close"}')$$,
                  'two overflows, one per queue, each once');
SELECT is(pg_temp.events(6701), NULL, 'the queue onto itself: still no event, tick after tick');

-- ---------------------------------------------------------------------------
-- The closed target opens: the first tick after serves what waited there
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 18:00Z');
SELECT results_eq($$SELECT state, queue_id, agent_id FROM item WHERE id = 6601$$,
                  $$VALUES ('offered'::text, 661::bigint, 6061::bigint)$$,
                  'the first tick after the target opens offers the item there');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE event = 'overflowed' AND work_item_id = 6601), 2,
          '... with no new overflow');

SELECT * FROM finish();
ROLLBACK;
