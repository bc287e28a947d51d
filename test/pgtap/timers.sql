-- test/pgtap/timers.sql — the timers tick() reads to find escalation steps
-- and max_wait overflows that are due (omniroute.work_item_timer,
-- src/timer.c), through tick(at) at explicit instants:
--   * nothing configured (no steps, no max_wait): an open item gets no
--     timer;
--   * the router arms the timer of an item it leaves open in a workstream
--     with steps (created_at + the next step's after);
--   * a step added after items are open arms their timers (the trigger on
--     escalation_step), and the step is applied when due, not before; the
--     next step's timer follows;
--   * an offered item rejected back into its queue gets its timer (the
--     requeue), and escalates; an item offered after its timer was set
--     keeps a stale timer, which does nothing when it fires and goes;
--   * a transfer into a queue with max_wait arms it from the new queued_at;
--     max_wait set on a queue with open items arms theirs (the trigger on
--     queue);
--   * configuration removed (max_wait unset, steps deleted): the timers
--     fire, nothing happens, and they go.
BEGIN;
SELECT plan(32);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.skill (name) VALUES ('tm_klingon');
INSERT INTO omniroute.queue (id, name, max_wait, overflow_action) VALUES
    (9301, 'tm plain', NULL, 'queue'),
    (9302, 'tm waits', '10 minutes', 'close'),
    (9303, 'tm later max_wait', NULL, 'queue');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout) VALUES
    (9311, 'tm step added later', 9301, '1 day'),
    (9312, 'tm rejected', 9301, '1 day'),
    (9313, 'tm nothing', 9301, '1 day'),
    (9314, 'tm steps removed', 9301, '1 day');
INSERT INTO omniroute.escalation_step (workstream_id, after, add_priority) VALUES
    (9312, '5 minutes', 1), (9314, '5 minutes', 1);
-- one agent in the plain queue, without klingon: items that need it stay open
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (9331, 'tm agent', 5, 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9301, 9331);

CREATE FUNCTION pg_temp.due(bigint) RETURNS timestamptz
    LANGUAGE sql AS $$ SELECT due_at FROM omniroute.work_item_timer WHERE work_item_id = $1 $$;
CREATE FUNCTION pg_temp.item(bigint) RETURNS omniroute.work_item
    LANGUAGE sql AS $$ SELECT * FROM omniroute.work_item WHERE id = $1 $$;
CREATE FUNCTION pg_temp.events(bigint, text) RETURNS bigint
    LANGUAGE sql AS $$ SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = $1 AND event = $2 $$;

-- ---------------------------------------------------------------------------
-- Nothing configured: no timer
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9320, 9313, '2024-01-01 09:00Z', '{"tm_klingon": 5}');
SELECT is((pg_temp.item(9320)).state, 'open', 'setup: 9320 is open');
SELECT is(pg_temp.due(9320), NULL, 'no steps, no max_wait: an open item gets no timer');

-- ---------------------------------------------------------------------------
-- A step added after items are open
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9321, 9311, '2024-01-01 10:00Z', '{"tm_klingon": 5}'),
    (9322, 9311, '2024-01-01 10:01Z', '{"tm_klingon": 5}');
SELECT is(pg_temp.due(9321), NULL, 'before its workstream has steps, an open item has no timer');
INSERT INTO omniroute.escalation_step (workstream_id, after, add_priority) VALUES (9311, '5 minutes', 3);
SELECT is(pg_temp.due(9321), '2024-01-01 10:05Z'::timestamptz,
          'a step added: the open items of its workstream get a timer at created_at + after');
SELECT is(pg_temp.due(9322), '2024-01-01 10:06Z'::timestamptz, '... each its own');
-- an item the router leaves open now gets its timer from the router
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9323, 9311, '2024-01-01 10:02Z', '{"tm_klingon": 5}');
SELECT is(pg_temp.due(9323), '2024-01-01 10:07Z'::timestamptz,
          'routed open into a workstream with steps: the router sets the timer');

SELECT is(omniroute.tick('2024-01-01 10:04:59Z'), 0, 'before it is due, a tick does nothing');
SELECT is((pg_temp.item(9321)).escalation_level, 0, '... level 0');
SELECT is(omniroute.tick('2024-01-01 10:05Z'), 1, 'when it is due, the step is applied');
SELECT is(((pg_temp.item(9321)).escalation_level, (pg_temp.item(9321)).priority), (1, 3),
          '... to 9321: level 1, priority 3');
SELECT is(pg_temp.due(9321), NULL, '... and its timer goes: no step left');
SELECT is((pg_temp.item(9322)).escalation_level, 0, '... 9322, not due yet, is untouched');
-- a second step: the escalated item's timer follows its level
INSERT INTO omniroute.escalation_step (workstream_id, after, add_priority) VALUES (9311, '1 hour', 10);
SELECT is(pg_temp.due(9321), '2024-01-01 11:00Z'::timestamptz,
          'another step added: the escalated item is armed for it (level 1: the second step)');
SELECT is(pg_temp.due(9322), '2024-01-01 10:06Z'::timestamptz, '... the other still for its first');
SELECT is(omniroute.tick('2024-01-01 11:05Z'), 5,
          'a tick past both: 9321 gets its second step, 9322 and 9323 both of theirs');
SELECT is(((pg_temp.item(9322)).escalation_level, (pg_temp.item(9322)).priority), (2, 13),
          '... 9322: level 2, priority 13');

-- ---------------------------------------------------------------------------
-- Reject: back in the queue, armed again; a stale timer goes
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id, created_at) VALUES (9324, 9312, '2024-02-01 10:00Z');
SELECT is((pg_temp.item(9324)).state, 'offered', 'setup: 9324 is offered at once');
SELECT is(pg_temp.due(9324), NULL, '... with no timer');
SELECT lives_ok($$SELECT omniroute.reject(9324)$$, 'setup: the agent rejects it');
SELECT is(((pg_temp.item(9324)).state, pg_temp.due(9324)), ('open'::text, '2024-02-01 10:05Z'::timestamptz),
          'rejected back into its queue (nobody else): armed for its workstream''s step');
-- 9325 waits for its step, then is given to the agent: its timer is stale
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9325, 9312, '2024-02-01 10:01Z', '{"tm_klingon": 5}');
SELECT lives_ok($$SELECT omniroute.transfer_to_agent(9325, 9331)$$, 'setup: 9325 is given to the agent');
SELECT is(omniroute.tick('2024-02-01 10:06Z'), 1, 'the rejected item escalates; the offered one does not');
SELECT is(((pg_temp.item(9324)).escalation_level, pg_temp.events(9324, 'escalated')), (1, 1::bigint),
          '... 9324: level 1, one escalated event');
SELECT is(((pg_temp.item(9325)).escalation_level, pg_temp.due(9325)), (0, NULL::timestamptz),
          '... 9325 (offered): level 0, and its stale timer is gone');

-- ---------------------------------------------------------------------------
-- max_wait: a transfer into a max_wait queue; max_wait set on a queue with
-- open items; then unset
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9326, 9313, '2024-03-01 10:00Z', '{"tm_klingon": 5}');
SELECT lives_ok($$SELECT omniroute.transfer(9326, 9302)$$, 'setup: 9326 is transferred to the max_wait queue');
SELECT is(pg_temp.due(9326), (pg_temp.item(9326)).queued_at + interval '10 minutes',
          'transferred into a queue with max_wait: armed at the new queued_at + max_wait');
INSERT INTO omniroute.work_item (id, workstream_id, queue_id, created_at, required_skills) VALUES
    (9327, 9313, 9303, '2024-03-01 10:00Z', '{"tm_klingon": 5}');
UPDATE omniroute.queue SET max_wait = '10 minutes', overflow_action = 'close' WHERE id = 9303;
SELECT is(pg_temp.due(9327), '2024-03-01 10:10Z'::timestamptz,
          'max_wait set on a queue with open items: they are armed at queued_at + max_wait');
UPDATE omniroute.queue SET max_wait = NULL WHERE id = 9303;
-- a step removed: 9328's timer stays, stale
INSERT INTO omniroute.work_item (id, workstream_id, created_at, required_skills) VALUES
    (9328, 9314, '2024-03-01 10:00Z', '{"tm_klingon": 5}');
DELETE FROM omniroute.escalation_step WHERE workstream_id = 9314;
SELECT is(omniroute.tick('2024-03-01 10:30Z'), 0,
          'max_wait unset, steps deleted: their timers fire and nothing happens');
SELECT is(((pg_temp.item(9327)).state, (pg_temp.item(9328)).escalation_level,
           pg_temp.events(9327, 'overflowed')),
          ('open'::text, 0, 0::bigint), '... both still open as they were, no event');
SELECT is((SELECT count(*) FROM omniroute.work_item_timer WHERE work_item_id IN (9327, 9328)), 0::bigint,
          '... and their timers are gone');
SELECT is(omniroute.tick((pg_temp.item(9326)).queued_at + interval '10 minutes'), 1,
          'the transferred item is closed by its new queue''s max_wait');
SELECT is(((pg_temp.item(9326)).state, (pg_temp.item(9326)).close_reason), ('closed'::text, 'overflow'::text),
          '... closed, reason overflow');

SELECT * FROM finish();
ROLLBACK;
