-- test/pgtap/closed_reroute.sql — a queue that closes while one of its items
-- is offered: when the agent rejects it (or misses it), the item is not
-- offered to the next agent but waits open, its diagnostics saying the
-- queue is closed; the first tick after the queue opens again offers it.
-- A queue that never closes re-offers at once, as before.
BEGIN;
SELECT plan(8);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.operating_hours (name) VALUES ('cr hours');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'cr hours', d, '00:00', '24:00' FROM generate_series(0, 6) d;
INSERT INTO omniroute.queue (id, name, operating_hours) VALUES (9301, 'cr closing', 'cr hours'), (9302, 'cr plain', NULL);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES
    (9311, 'cr closing', 9301, 'none'), (9312, 'cr plain', 9302, 'none');
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (9321, 'cr first', 100, 'available'), (9322, 'cr second', 1, 'offline');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (9301, 9321), (9301, 9322), (9302, 9321), (9302, 9322);

-- both items are offered to the first agent (the second is offline)
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9331, 9311), (9332, 9312);
SELECT is((SELECT array_agg(agent_id ORDER BY id) FROM omniroute.work_item WHERE id IN (9331, 9332)),
          ARRAY[9321, 9321]::bigint[], 'both items offered to the only available agent');

-- the second agent comes online; the queue with hours closes all of today
UPDATE omniroute.agent SET capacity = 100 WHERE id = 9322;
SELECT omniroute.set_presence(9322, 'available');
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('cr hours', (now() AT TIME ZONE 'UTC')::date, 'today');
SELECT ok(NOT omniroute.queue_is_open(9301), 'the queue is closed now');

SELECT omniroute.reject(9331);
SELECT omniroute.reject(9332);
SELECT is((SELECT state || ' ' || coalesce(agent_id::text, '-') FROM omniroute.work_item WHERE id = 9331),
          'open -', 'rejected in a closed queue: waits open, offered to nobody');
SELECT is((SELECT diagnostics #>> '{assignment,reason}' FROM omniroute.work_item WHERE id = 9331),
          'queue closed', 'its diagnostics say the queue is closed');
SELECT is((SELECT state || ' ' || agent_id FROM omniroute.work_item WHERE id = 9332),
          'offered 9322', 'rejected in a queue without hours: offered to the next agent at once');

-- a tick while it is still closed leaves it; the first tick after it opens offers it
SELECT omniroute.tick(now() + interval '1 minute');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9331), 'open', 'a tick while closed leaves it open');
DELETE FROM omniroute.holiday WHERE hours = 'cr hours';
SELECT omniroute.tick(now() + interval '2 minutes');
SELECT is((SELECT state || ' ' || agent_id FROM omniroute.work_item WHERE id = 9331),
          'offered 9322', 'the first tick after the queue opens offers it to the next agent');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE work_item_id = 9331 AND event = 'offered'),
          2, 'offered twice in all: before the close and after the opening');

SELECT * FROM finish();
ROLLBACK;
