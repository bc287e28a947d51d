-- test/pgtap/explain_time.sql — explain() says what time did to an item:
-- whether its queue is open now, the escalation steps applied (level,
-- after, what each set, when) and every overflow (condition, action,
-- target, when), at routing and in tick(at).
BEGIN;
SELECT plan(7);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.operating_hours (name) VALUES ('et never');   -- no slot: never open
INSERT INTO omniroute.queue (id, name) VALUES (9402, 'et spill');
INSERT INTO omniroute.queue (id, name, max_wait, overflow_action, overflow_queue_id)
     VALUES (9401, 'et first', '10 minutes', 'transfer', 9402);
INSERT INTO omniroute.queue (id, name, operating_hours) VALUES (9403, 'et night', 'et never');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9411, 'et', 9401);
INSERT INTO omniroute.escalation_step (workstream_id, after, add_priority) VALUES (9411, '5 minutes', 3);
INSERT INTO omniroute.work_item (id, workstream_id, created_at) VALUES (9421, 9411, '2024-01-01 10:00Z');
-- routed into a closed queue directly by the application: held there
INSERT INTO omniroute.work_item (id, workstream_id, queue_id) VALUES (9422, 9411, 9403);

SELECT is(omniroute.explain(9421) ->> 'escalations', NULL, 'nothing escalated yet');
SELECT omniroute.tick('2024-01-01 10:06Z');
SELECT is((omniroute.explain(9421) ->> 'escalation_level')::int, 1, 'explain: one step applied');
SELECT is(omniroute.explain(9421) #>> '{escalations,0,add_priority}', '3', 'explain: what the step set');
SELECT is(omniroute.explain(9421) #>> '{escalations,0,after}', '00:05:00', 'explain: which step');
SELECT omniroute.tick('2024-01-01 10:20Z');
SELECT is(omniroute.explain(9421) #>> '{overflows,0,condition}', 'max_wait', 'explain: the max_wait overflow');
SELECT is(omniroute.explain(9421) #>> '{overflows,0,target_queue_id}', '9402', 'explain: where it went');
SELECT is((omniroute.explain(9422) ->> 'queue_open')::boolean, false, 'explain: the queue is closed now');

SELECT * FROM finish();
ROLLBACK;
