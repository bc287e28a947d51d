-- test/pgtap/item_matching.sql — an item's skill_matching, set by an
-- escalation step, overrides its workstream's wherever the item's
-- eligibility is judged, through tick(at) at explicit instants:
--   * an item needing a skill nobody has waits under 'exact'; a step
--     setting 'closest' lets tick offer it to the closest agent;
--   * serving (an agent gaining capacity) takes an escalated item and
--     passes over an older, more urgent one without an override;
--   * the first tick after a closed queue opens serves an escalated item
--     (tick's search for agents to serve);
--   * pick_next() and pick(id) take a pick item once a step set 'none';
--   * reject re-routes an escalated item to another agent by its matching;
--     an agent's handover of it to a colleague is judged by it too;
--   * items without an override are unchanged; queue_position() counts
--     items of every matching;
--   * explain() reports the matching used and where it comes from.
BEGIN;
SELECT plan(32);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.skill (name) VALUES ('klingon');
INSERT INTO omniroute.operating_hours (name) VALUES ('im mornings');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'im mornings', d, '08:00', '12:00' FROM generate_series(0, 6) d;

INSERT INTO omniroute.queue (id, name, operating_hours) VALUES
    (9601, 'im push', NULL), (9602, 'im pick', NULL), (9603, 'im mornings', 'im mornings');
-- every workstream matches skills exactly; steps relax it for an item
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES
    (9611, 'im escalates', 'push', 9601), (9612, 'im no steps', 'push', 9601),
    (9613, 'im pick escalates', 'pick', 9602), (9614, 'im mornings', 'push', 9603),
    (9615, 'im pick no steps', 'pick', 9602);
-- offers do not expire within the ticks below
UPDATE omniroute.workstream SET offer_timeout = '2 days' WHERE id BETWEEN 9611 AND 9615;
INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching) VALUES
    (9611, '5 minutes', 'closest'), (9613, '5 minutes', 'none'), (9614, '5 minutes', 'closest');

CREATE ROLE im_picker LOGIN;
CREATE ROLE im_far LOGIN;
GRANT omniroute_agent TO im_picker, im_far;
-- nobody has klingon at 5; 'im near' has it at 2
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (9621, 'im near', 1, 'available', NULL), (9622, 'im far', 0, 'available', 'im_far'),
    (9623, 'im picker', 10, 'available', 'im_picker'), (9624, 'im morning', 1, 'available', NULL);
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9621, 'klingon', 2);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (9601, 9621), (9601, 9622), (9602, 9623), (9603, 9624);

INSERT INTO omniroute.work_item (id, workstream_id, created_at, priority, required_skills) VALUES
    (9631, 9611, '2024-01-01 10:00Z', 0, '{"klingon": 5}'),
    (9632, 9612, '2024-01-01 09:00Z', 5, '{"klingon": 5}'),
    (9633, 9611, '2024-01-01 10:02Z', 0, '{"klingon": 5}'),
    (9641, 9613, '2024-01-01 10:00Z', 1, '{"klingon": 5}'),
    (9642, 9613, '2024-01-01 10:00Z', 0, '{"klingon": 5}'),
    (9643, 9615, '2024-01-01 10:00Z', 0, '{"klingon": 5}'),
    (9651, 9614, '2024-01-01 06:00Z', 0, '{"klingon": 5}');

CREATE TEMP VIEW item AS
SELECT id, state, agent_id, escalation_level, skill_matching FROM omniroute.work_item;
GRANT SELECT ON item TO PUBLIC;

SELECT is((SELECT count(*)::int FROM item WHERE id BETWEEN 9631 AND 9651 AND state = 'open'), 7,
          'setup: every item needs a skill nobody has at its level, and waits (exact)');
SELECT results_eq($$SELECT e->>'skill_matching', e->>'skill_matching_from' FROM omniroute.explain(9631) e$$,
                  $$VALUES ('exact', 'workstream')$$,
                  'explain(): an item without an override is judged by its workstream''s matching');
SELECT ok((SELECT m->'reasons' ? 'lacks skill klingon at 5 (has 2)'
             FROM jsonb_array_elements(omniroute.explain(9631)->'members') m
            WHERE (m->>'agent_id')::bigint = 9621),
          'explain(): ... and says who lacks the skill');

-- ---------------------------------------------------------------------------
-- Before any step: the picker can take neither pick item
-- ---------------------------------------------------------------------------
SET LOCAL ROLE im_picker;
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: nothing the picker has the skills for (exact)');
SELECT throws_ok('SELECT omniroute.pick(9642)', '55000', NULL, 'pick: refused for the skill');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- A step while the queue is closed; the first tick after it opens serves
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 06:05Z');
SELECT results_eq('SELECT state, escalation_level, skill_matching FROM item WHERE id = 9651',
                  $$VALUES ('open'::text, 1, 'closest'::text)$$,
                  'a step sets closest while the mornings queue is closed: not offered');
SELECT omniroute.tick('2024-01-01 08:00Z');
SELECT results_eq('SELECT state, agent_id FROM item WHERE id = 9651',
                  $$VALUES ('offered'::text, 9624::bigint)$$,
                  'the first tick after the queue opens serves it to an agent without the skill (closest)');

-- ---------------------------------------------------------------------------
-- tick offers an escalated item to the closest agent
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:04:59Z');
SELECT results_eq('SELECT state, escalation_level FROM item WHERE id = 9631',
                  $$VALUES ('open'::text, 0)$$, 'before its step the item waits');
SELECT omniroute.tick('2024-01-01 10:05Z');
SELECT results_eq('SELECT state, agent_id, skill_matching FROM item WHERE id = 9631',
                  $$VALUES ('offered'::text, 9621::bigint, 'closest'::text)$$,
                  'after its step (closest) tick offers it to the closest agent');
SELECT is((SELECT diagnostics->'assignment'->'score'->>'skills' FROM omniroute.work_item WHERE id = 9631),
          'closest', '... its diagnostics say it was matched by closest skills');
SELECT results_eq('SELECT state, escalation_level, skill_matching FROM item WHERE id = 9632',
                  $$VALUES ('open'::text, 0, NULL::text)$$,
                  'an item of a workstream without steps still waits (exact)');
SELECT results_eq('SELECT id, state, skill_matching FROM item WHERE id IN (9641, 9642) ORDER BY id',
                  $$VALUES (9641::bigint, 'open'::text, 'none'::text), (9642, 'open', 'none')$$,
                  'the pick items'' step set none; they wait to be picked');

-- ---------------------------------------------------------------------------
-- pick_next() and pick(id) by the item's matching
-- ---------------------------------------------------------------------------
SET LOCAL ROLE im_picker;
SELECT is(omniroute.pick_next(), 9641::bigint, 'pick_next: takes the best escalated item (none)');
SELECT is((SELECT (omniroute.pick(9642)).state), 'active', 'pick: takes the other');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: not the item without an override (exact)');
RESET ROLE;
SELECT results_eq('SELECT id, state, agent_id FROM item WHERE id IN (9641, 9642, 9643) ORDER BY id',
                  $$VALUES (9641::bigint, 'active'::text, 9623::bigint), (9642, 'active', 9623),
                           (9643, 'open', NULL)$$,
                  'picked: the two escalated items; the other waits');

-- ---------------------------------------------------------------------------
-- Serving: an agent who gains capacity takes an escalated item, not an
-- older, more urgent one matched exactly
-- ---------------------------------------------------------------------------
SELECT omniroute.tick('2024-01-01 10:07Z');
SELECT results_eq('SELECT state, skill_matching FROM item WHERE id = 9633',
                  $$VALUES ('open'::text, 'closest'::text)$$,
                  'escalated while nobody has room: it waits');
SELECT results_eq('SELECT omniroute.queue_position(9632), omniroute.queue_position(9633)',
                  $$VALUES (1, 2)$$,
                  'queue_position counts the items ahead whatever their matching');
UPDATE omniroute.agent SET capacity = 2 WHERE id = 9622;
SELECT results_eq('SELECT id, state, agent_id FROM item WHERE id IN (9632, 9633) ORDER BY id',
                  $$VALUES (9632::bigint, 'open'::text, NULL::bigint), (9633, 'offered', 9622)$$,
                  'serving: the agent who gained capacity takes the escalated item and passes over the exact one');
SELECT is((SELECT diagnostics->'assignment'->>'method' FROM omniroute.work_item WHERE id = 9633), 'served',
          '... served');

-- ---------------------------------------------------------------------------
-- reject: re-routed by the item's matching
-- ---------------------------------------------------------------------------
SELECT omniroute.reject(9631);
SELECT results_eq('SELECT state, agent_id FROM item WHERE id = 9631',
                  $$VALUES ('offered'::text, 9622::bigint)$$,
                  'reject: re-routed to the other agent, who has no klingon at all (closest)');
SELECT is((SELECT diagnostics->'assignment'->'score'->>'skill_shortfall' FROM omniroute.work_item WHERE id = 9631),
          '5', '... the shortfall of the whole proficiency');

-- ---------------------------------------------------------------------------
-- An agent's handover to a colleague: judged by the item's matching
-- ---------------------------------------------------------------------------
SET LOCAL ROLE im_far;
SELECT lives_ok('SELECT omniroute.transfer_to_agent(9633, 9621)',
                'handover: to a colleague short of the skill, allowed by the item''s closest');
RESET ROLE;
SELECT results_eq('SELECT state, agent_id FROM item WHERE id = 9633',
                  $$VALUES ('offered'::text, 9621::bigint)$$, '... offered to the colleague');
UPDATE omniroute.agent SET capacity = 10 WHERE id = 9621;
SET LOCAL ROLE im_far;
SELECT throws_ok('SELECT omniroute.transfer_to_agent(9631, 9621)', '55000', NULL,
                 'handover: refused where the item''s matching says so (9621 rejected it before)');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Items without an override are unchanged
-- ---------------------------------------------------------------------------
SELECT results_eq('SELECT state, agent_id, skill_matching FROM item WHERE id = 9632',
                  $$VALUES ('open'::text, NULL::bigint, NULL::text)$$,
                  '9632 (no steps): still open beside agents with room, none with the skill');
SELECT omniroute.tick('2024-01-02 10:00Z');
SELECT results_eq('SELECT state, escalation_level FROM item WHERE id = 9632',
                  $$VALUES ('open'::text, 0)$$, '... and after a later tick');

-- ---------------------------------------------------------------------------
-- explain(): the matching used
-- ---------------------------------------------------------------------------
SELECT results_eq($$SELECT e->>'skill_matching', e->>'skill_matching_from' FROM omniroute.explain(9633) e$$,
                  $$VALUES ('closest', 'item')$$,
                  'explain(): an escalated item is judged by its own matching, and says so');
SELECT is((SELECT count(*)::int
             FROM jsonb_array_elements(omniroute.explain(9633)->'members') m,
                  jsonb_array_elements_text(m->'reasons') r
            WHERE r LIKE 'lacks skill%'), 0,
          'explain(): no member is passed over for skills under closest');
SELECT results_eq($$SELECT e->>'skill_matching', e->>'skill_matching_from' FROM omniroute.explain(9641) e$$,
                  $$VALUES ('none', 'item')$$, 'explain(): none, set by the pick workstream''s step');
SELECT results_eq($$SELECT e->>'skill_matching', e->>'skill_matching_from' FROM omniroute.explain(9632) e$$,
                  $$VALUES ('exact', 'workstream')$$, 'explain(): the workstream''s for an item without steps');
SELECT ok((SELECT bool_and(m->'reasons' @> '["lacks skill klingon at 5 (has none)"]'
                           OR m->'reasons' @> '["lacks skill klingon at 5 (has 2)"]')
             FROM jsonb_array_elements(omniroute.explain(9632)->'members') m),
          'explain(): ... every member lacks the skill');

SELECT * FROM finish();
ROLLBACK;
