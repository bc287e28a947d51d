-- test/pgtap/aging.sql — priority aging and closed queues in serving,
-- pick and pick_next (SPEC 10), through tick(at) at explicit instants.
--
--   * aging: an open item's effective priority is priority + floor((at -
--     created_at) / priority_aging), ties by age: an older item of priority
--     0 overtakes a younger one of priority 4 exactly when its extra whole
--     intervals make up the difference (10:39:59 no, 10:40:00 yes, a tie it
--     wins by age); without aging the higher priority goes first;
--   * closed queues: while its operating hours say closed, a queue's items
--     are served to nobody (an agent freeing capacity, joining, changing
--     presence), picked by nobody (pick(id): 55000 naming the queue;
--     pick_next(): passes over them); the first tick after it opens serves
--     them, in queue order.
--
-- Every queue with hours is closed all of today (a holiday on the current
-- UTC date), so serving done at now() by the lifecycle functions finds it
-- closed; the ticks run on Monday 2024-01-01.
BEGIN;
SELECT plan(17);

SET LOCAL client_min_messages = warning;

CREATE ROLE ag_picker;
GRANT omniroute_agent TO ag_picker;

INSERT INTO omniroute.operating_hours (name) VALUES ('Early'), ('Late'), ('Always');
-- Early: Mondays 10:00-10:40; Late: Mondays 10:40-11:00 (UTC); Always: every day
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES
    ('Early', 1, '10:00', '10:40'), ('Late', 1, '10:40', '11:00');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'Always', d, '00:00', '24:00' FROM generate_series(0, 6) d;
INSERT INTO omniroute.holiday (hours, day, name)
SELECT h, (now() AT TIME ZONE 'UTC')::date, 'today' FROM unnest(ARRAY['Early', 'Late', 'Always']) h;

INSERT INTO omniroute.queue (id, name, operating_hours) VALUES
    (9101, 'ag early', 'Early'), (9102, 'ag late', 'Late'), (9103, 'ag plain', NULL),
    (9104, 'ag picks', 'Always');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, priority_aging) VALUES
    (9111, 'ag early', 9101, '10 minutes'),
    (9112, 'ag late', 9102, '10 minutes'),
    (9113, 'ag plain', 9103, NULL);
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES
    (9114, 'ag picks', 'pick', 9104);

-- in each queue: an old item of priority 0 (10:00) and a young one of priority 4 (10:35)
INSERT INTO omniroute.work_item (id, workstream_id, created_at, priority) VALUES
    (9121, 9111, '2024-01-01 10:00Z', 0), (9122, 9111, '2024-01-01 10:35Z', 4),
    (9123, 9112, '2024-01-01 10:00Z', 0), (9124, 9112, '2024-01-01 10:35Z', 4),
    (9125, 9113, '2024-01-01 10:00Z', 0), (9126, 9113, '2024-01-01 10:35Z', 4),
    (9127, 9114, '2024-01-01 10:00Z', 0);

-- agents of one item's room each, offline when the items came
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (9131, 'ag early', 1, 'offline', NULL), (9132, 'ag late', 1, 'offline', NULL),
    (9133, 'ag plain', 1, 'offline', NULL), (9134, 'ag picker', 5, 'available', 'ag_picker');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (9101, 9131), (9102, 9132), (9103, 9133), (9104, 9134);

-- ---------------------------------------------------------------------------
-- Closed: nobody is served or picks
-- ---------------------------------------------------------------------------

SELECT omniroute.set_presence(a, 'available') FROM unnest(ARRAY[9131, 9132, 9133]::bigint[]) a;
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE queue_id IN (9101, 9102) ORDER BY id',
                  $$VALUES (9121::bigint, 'open'::text, NULL::bigint), (9122, 'open', NULL),
                           (9123, 'open', NULL), (9124, 'open', NULL)$$,
                  'closed queues: an agent becoming available is served none of their items');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9126), 9133::bigint,
          'an open queue without aging serves the higher priority first (the young item)');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9125), 'open', '... and the old one waits');

SET LOCAL ROLE ag_picker;
SELECT throws_ok('SELECT omniroute.pick(9127)', '55000',
                 'agent 9134 cannot pick work item 9127: its queue 9104 is closed (operating hours "Always")',
                 'pick(id) of an item of a closed queue is refused, naming the queue');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next() passes over the items of a closed queue');
RESET ROLE;
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9127), 'open', '... which stay open');

-- the tick on a day the queues are closed serves nobody either
SELECT omniroute.tick('2024-01-02 10:39:59Z');
SELECT is((SELECT count(*)::int FROM omniroute.work_item WHERE queue_id IN (9101, 9102) AND state = 'open'), 4,
          'a tick while the queues are closed serves none of their items');

-- ---------------------------------------------------------------------------
-- Open: the first tick serves, by effective priority
-- ---------------------------------------------------------------------------

-- 10:39:59: Early is open; old = 0 + 3, young = 4 + 0: the young item goes first
SELECT omniroute.tick('2024-01-01 10:39:59Z');
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE queue_id = 9101 ORDER BY id',
                  $$VALUES (9121::bigint, 'open'::text, NULL::bigint), (9122, 'offered', 9131)$$,
                  'the first tick after a queue opens serves it: at 10:39:59 the young item (4 > 0 + 3)');
SELECT is((SELECT count(*)::int FROM omniroute.work_item WHERE queue_id = 9102 AND state = 'open'), 2,
          '... while the queue not yet open waits');

-- 10:40:00: Late opens (Early closes); old = 0 + 4, young = 4 + 0: a tie, the older wins
SELECT omniroute.tick('2024-01-01 10:40Z');
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE queue_id = 9102 ORDER BY id',
                  $$VALUES (9123::bigint, 'offered'::text, 9132::bigint), (9124, 'open', NULL)$$,
                  'aging: at 10:40:00 the old item has caught up (0 + 4 = 4 + 0) and goes first by age');
SELECT is((SELECT detail FROM omniroute.work_item_event WHERE work_item_id = 9123 AND event = 'offered'),
          '{"served": true}'::jsonb, '... served, as freed capacity is');

-- 11:30: the old item (0 + 9) beats a younger item of priority 4 (4 + 3)
INSERT INTO omniroute.work_item (id, workstream_id, created_at, priority) VALUES
    (9128, 9111, '2024-01-01 11:00Z', 4);
SELECT omniroute.close(9122);   -- frees the early agent: Early is closed today
SELECT is((SELECT count(*)::int FROM omniroute.work_item WHERE queue_id = 9101 AND state = 'open'), 2,
          'capacity freed while the queue is closed serves nothing');
UPDATE omniroute.operating_hours_slot SET closes = '12:00' WHERE hours = 'Early';
SELECT omniroute.tick('2024-01-01 11:30Z');
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE id IN (9121, 9128) ORDER BY id',
                  $$VALUES (9121::bigint, 'offered'::text, 9131::bigint), (9128, 'open', NULL)$$,
                  'aging: 0 + 9 overtakes 4 + 3');

-- the holiday gone, the pick queue is open: pick_next takes its item
DELETE FROM omniroute.holiday WHERE hours = 'Always';
SET LOCAL ROLE ag_picker;
SELECT is(omniroute.pick_next(), 9127::bigint, 'pick_next() takes the item once its queue is open');
RESET ROLE;

-- aging orders pick_next too: two pick items, the older of lower priority first once aged
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id, priority_aging) VALUES
    (9115, 'ag aged picks', 'pick', 9103, '1 minute');
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (9135, 'ag picker 2', 5, 'available', NULL);
INSERT INTO omniroute.work_item (id, workstream_id, created_at, priority) VALUES
    (9141, 9115, now() - interval '10 minutes', 0), (9142, 9115, now() - interval '30 seconds', 9),
    (9143, 9115, now() - interval '20 seconds', 10);
UPDATE omniroute.agent SET login_role = NULL WHERE id = 9134;
UPDATE omniroute.agent SET login_role = 'ag_picker' WHERE id = 9135;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9103, 9135);
SET LOCAL ROLE ag_picker;
SELECT is(omniroute.pick_next(), 9141::bigint, 'pick_next() ages too: 0 + 10 (ten minutes at one a minute) ties 10 + 0 and goes first by age');
SELECT is(omniroute.pick_next(), 9143::bigint, '... then 10 + 0 beats 9 + 0, younger but higher');
SELECT is(omniroute.pick_next(), 9142::bigint, '... then the last');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
