-- test/pgtap/escalation.sql — escalation steps applied by tick(at) at
-- explicit instants (SPEC 10):
--   * every field of a step: skill_matching (set; NULL leaves it),
--     drop_skills (named skills; '{*}' all), queue_id (moved, queued_at
--     set, created_at kept), add_priority; the 'escalated' event's detail
--     names the level, after and what the step set;
--   * each step is applied once, in order of after, all that are due in one
--     tick; a tick at the same or an earlier instant applies nothing again;
--     steps that are not due yet are not applied;
--   * after its steps the item is offered when an agent can take it (here:
--     dropping the skill nobody has), unless its queue is closed: then the
--     first tick after the queue opens serves it;
--   * only open items escalate.
BEGIN;
SELECT plan(21);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.skill (name) VALUES ('klingon'), ('latin'), ('greek');
INSERT INTO omniroute.operating_hours (name) VALUES ('Mornings');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'Mornings', d, '08:00', '12:00' FROM generate_series(0, 6) d;
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('Mornings', (now() AT TIME ZONE 'UTC')::date, 'today');

INSERT INTO omniroute.queue (id, name, operating_hours) VALUES
    (9201, 'es first line', NULL), (9202, 'es experts', NULL), (9203, 'es mornings', 'Mornings');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES
    (9211, 'es steps', 9201), (9212, 'es to mornings', 9201), (9213, 'es no steps', 9201);
INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching, drop_skills, queue_id, add_priority) VALUES
    (9211, '5 minutes', 'closest', NULL, NULL, 0),
    (9211, '10 minutes', NULL, '{latin}', 9202, 2),
    (9211, '1 hour', 'none', '{*}', NULL, 5),
    (9212, '1 hour', NULL, '{klingon}', 9203, 0);

-- an agent in each queue, none with klingon: nothing is offered at insert
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (9231, 'es first', 0, 'available'), (9232, 'es expert', 0, 'available'), (9233, 'es morning', 5, 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9201, 9231), (9202, 9232), (9203, 9233);

INSERT INTO omniroute.work_item (id, workstream_id, created_at, priority, required_skills) VALUES
    (9221, 9211, '2024-01-01 10:00Z', 1, '{"klingon": 5, "latin": 3, "greek": 2}'),
    (9222, 9211, '2024-01-01 10:00Z', 0, '{"klingon": 5}'),
    (9223, 9212, '2024-01-03 06:00Z', 0, '{"klingon": 5}'),
    (9224, 9213, '2024-01-01 09:00Z', 0, '{"klingon": 5}');
-- 9222 is taken by someone: it is no longer open
SELECT omniroute.transfer_to_agent(9222, 9231);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9222), 'offered', 'setup: 9222 is offered');

CREATE TEMP VIEW item AS
SELECT id, queue_id, escalation_level, skill_matching, required_skills, priority, created_at, queued_at, state
  FROM omniroute.work_item;

-- ---------------------------------------------------------------------------
-- Not due yet
-- ---------------------------------------------------------------------------
SELECT is(omniroute.tick('2024-01-01 10:04:59Z'), 0, 'before the first step is due, a tick applies nothing');
SELECT is((SELECT escalation_level FROM item WHERE id = 9221), 0, '... level 0');

-- ---------------------------------------------------------------------------
-- Step 1 (5 minutes): skill_matching
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:05Z');
SELECT results_eq($$SELECT escalation_level, skill_matching, required_skills, queue_id, priority FROM item WHERE id = 9221$$,
                  $$VALUES (1, 'closest'::text, '{"klingon": 5, "latin": 3, "greek": 2}'::jsonb, 9201::bigint, 1)$$,
                  'step 1 at its after: skill_matching set, nothing else');
SELECT is((SELECT detail FROM omniroute.work_item_event WHERE work_item_id = 9221 AND event = 'escalated'),
          '{"level": 1, "after": "00:05:00", "skill_matching": "closest"}'::jsonb,
          'the escalated event names the level, after and what the step set');
SELECT is((SELECT escalation_level FROM item WHERE id = 9222), 0, 'an item that is not open does not escalate');
SELECT is((SELECT escalation_level FROM item WHERE id = 9224), 0, 'a workstream without steps: nothing');

-- the same instant again, and an earlier one: nothing more
SELECT is(omniroute.tick('2024-01-01 10:05Z'), 0, 'a second tick at the same instant applies nothing');
SELECT is(omniroute.tick('2024-01-01 10:06Z'), 0, 'nor one before the next step is due');
SELECT is((SELECT count(*)::int FROM omniroute.work_item_event WHERE work_item_id = 9221 AND event = 'escalated'), 1,
          'step 1 was applied exactly once');

-- ---------------------------------------------------------------------------
-- Steps 2 and 3 due together (at 11:00): in order, each once
-- ---------------------------------------------------------------------------
SELECT is(omniroute.tick('2024-01-01 11:00Z'), 2, 'two steps due at once are both applied by one tick');
SELECT results_eq($$SELECT escalation_level, skill_matching, required_skills, queue_id, priority,
                           created_at, queued_at FROM item WHERE id = 9221$$,
                  $$VALUES (3, 'none'::text, '{}'::jsonb, 9202::bigint, 8,
                            '2024-01-01 10:00Z'::timestamptz, '2024-01-01 11:00Z'::timestamptz)$$,
                  'steps 2 and 3: skills dropped (latin, then all), moved to 9202 (queued_at set, created_at kept), priority 1 + 2 + 5');
SELECT results_eq($$SELECT detail FROM omniroute.work_item_event
                     WHERE work_item_id = 9221 AND event = 'escalated' ORDER BY id$$,
                  $$VALUES ('{"level": 1, "after": "00:05:00", "skill_matching": "closest"}'::jsonb),
                           ('{"level": 2, "after": "00:10:00", "drop_skills": ["latin"], "queue_id": 9202, "add_priority": 2}'),
                           ('{"level": 3, "after": "01:00:00", "skill_matching": "none", "drop_skills": ["*"], "add_priority": 5}')$$,
                  'one escalated event per step, in order, each with the step''s fields');
SELECT is((SELECT queue_id FROM omniroute.work_item_event WHERE work_item_id = 9221 AND event = 'escalated'
            ORDER BY id DESC LIMIT 1), 9202::bigint, 'the event names the queue the item is in');
SELECT is(omniroute.tick('2024-01-02 11:00Z'), 0, 'after the last step, nothing more ever');
SELECT is((SELECT escalation_level FROM item WHERE id = 9221), 3, '... level 3');

-- ---------------------------------------------------------------------------
-- Then an offer: the expert gains room and the item needs no skill now
-- ---------------------------------------------------------------------------
UPDATE omniroute.agent SET capacity = 5 WHERE id = 9232;
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 9221',
                  $$VALUES ('offered'::text, 9232::bigint)$$,
                  'once its skills are dropped, the escalated item is served in its new queue');

-- ---------------------------------------------------------------------------
-- A step into a closed queue: no offer until the queue opens
-- ---------------------------------------------------------------------------
-- 9223 drops klingon and moves to 'es mornings' (08:00-12:00, closed today)
SELECT is(omniroute.tick('2024-01-03 07:00Z'), 1, 'the step into the morning queue is applied at 07:00');
SELECT results_eq('SELECT state, queue_id, required_skills FROM omniroute.work_item WHERE id = 9223',
                  $$VALUES ('open'::text, 9203::bigint, '{}'::jsonb)$$,
                  'moved, skills dropped, but its queue is closed: not offered');
SELECT omniroute.tick('2024-01-03 08:00Z');
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 9223',
                  $$VALUES ('offered'::text, 9233::bigint)$$,
                  'the first tick after the queue opens serves it');
SELECT is((SELECT escalation_level FROM item WHERE id = 9223), 1, 'its one step, once');

SELECT * FROM finish();
ROLLBACK;
