-- Capacity profile resets (never / end_of_day) and pick mode's checks.
BEGIN;
SELECT plan(17);

INSERT INTO omniroute.capacity_profile VALUES ('pp_never', 1, 'never'), ('pp_daily', 2, 'end_of_day');
INSERT INTO omniroute.queue (id, name) VALUES (8901, 'pp: push'), (8902, 'pp: daily'), (8903, 'pp: pick'), (8904, 'pp: other');
INSERT INTO omniroute.agent (id, name, capacity, presence, timezone) VALUES
    (8901, 'pp never', 100, 'available', 'UTC'),
    (8902, 'pp daily', 100, 'available', 'Asia/Tokyo');
INSERT INTO omniroute.agent_profile (agent_id, profile) VALUES (8901, 'pp_never'), (8902, 'pp_daily');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8901, 8901), (8902, 8902);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_profile)
     VALUES (8901, 'pp: never', 8901, 'pp_never'), (8902, 'pp: daily', 8902, 'pp_daily');

-- 'never': one slot; it comes back when the capacity is released
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (8901, 8901), (8902, 8901);
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE id IN (8901, 8902) ORDER BY id',
                  $$VALUES (8901::bigint, 'offered'::text, 8901::bigint), (8902, 'open', NULL)$$,
                  'never: the second item waits while the only slot is taken');
SELECT is((SELECT active_items FROM omniroute.agent_profile WHERE agent_id = 8901), 1, 'never: one slot counted');
SELECT omniroute.accept(8901);
SELECT omniroute.wait(8901);
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 8902',
                  $$VALUES ('offered'::text, 8901::bigint)$$,
                  'never: waiting releases the capacity and the slot: the waiting item is served');
SELECT is((SELECT profile FROM omniroute.work_item WHERE id = 8901), NULL, 'never: the waiting item holds no slot');
SELECT omniroute.close(8902);
SELECT is((SELECT active_items FROM omniroute.agent_profile WHERE agent_id = 8901), 0, 'never: closing gives the slot back');

-- 'end_of_day': two a local day; closing does not give the slot back
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (8911, 8902), (8912, 8902);
SELECT omniroute.close(8911);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (8913, 8902);
SELECT results_eq('SELECT id, state FROM omniroute.work_item WHERE id BETWEEN 8911 AND 8913 ORDER BY id',
                  $$VALUES (8911::bigint, 'closed'::text), (8912, 'offered'), (8913, 'open')$$,
                  'end_of_day: after two items today the third waits, although one closed');
SELECT is((SELECT day FROM omniroute.agent_profile WHERE agent_id = 8902),
          (now() AT TIME ZONE 'Asia/Tokyo')::date, 'end_of_day: counted on the agent''s local day');
-- the same count on an earlier local day does not hold a new day back
UPDATE omniroute.agent_profile SET day = day - 1 WHERE agent_id = 8902;
SELECT omniroute.close(8912);
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 8913',
                  $$VALUES ('offered'::text, 8902::bigint)$$,
                  'end_of_day: on a new local day the count starts again');
SELECT is((SELECT day_items FROM omniroute.agent_profile WHERE agent_id = 8902), 1,
          'end_of_day: the new day counts one item');

-- the agent's time zone is checked: local midnight depends on it
SELECT throws_ok($$INSERT INTO omniroute.agent (name, timezone) VALUES ('pp mars', 'Mars/Olympus')$$,
                 '22023', NULL, 'an unknown agent time zone is refused');

-- pick mode: caller must be an agent, a member of the queue, with room (and an
-- allowed presence: test/pgtap/lifecycle_rules.sql)
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (8921, 'pp picker', 10, 'available', 'pp_picker'),
    (8922, 'pp outsider', 10, 'offline', 'pp_outsider');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8903, 8921), (8904, 8922);
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id, capacity_units)
     VALUES (8903, 'pp: cases', 'pick', 8903, 6);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (8931, 8903), (8932, 8903);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 8931), 'open', 'pick mode: items stay open');
CREATE ROLE pp_picker;
CREATE ROLE pp_outsider;
GRANT USAGE ON SCHEMA omniroute TO pp_picker, pp_outsider;
GRANT SELECT ON ALL TABLES IN SCHEMA omniroute TO pp_picker, pp_outsider;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA omniroute TO pp_picker, pp_outsider;
SET LOCAL ROLE pp_outsider;
SELECT throws_ok('SELECT omniroute.pick(8931)', '42501', NULL, 'pick: a non-member of the item''s queue is refused');
RESET ROLE;
SET LOCAL ROLE pp_picker;
SELECT is((SELECT (omniroute.pick(8931)).state), 'active', 'pick: a member with room takes the item, active');
SELECT throws_ok('SELECT omniroute.pick(8932)', '53400', NULL, 'pick: without room for its units (6 of 4 free) it is refused');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: nothing the agent has room for');
RESET ROLE;
SELECT throws_ok('SELECT omniroute.pick(8932)', '42501', NULL, 'pick: a role that is no agent is refused');
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE id IN (8931, 8932) ORDER BY id',
                  $$VALUES (8931::bigint, 'active'::text, 8921::bigint), (8932, 'open', NULL)$$,
                  'pick: the refused picks changed nothing');

SELECT * FROM finish();
ROLLBACK;
