-- test/pgtap/schema.sql — the configuration and work tables (README, "Tables"):
-- they exist with their key columns, the six base presences are seeded, and
-- the constraints refuse bad configuration with the right SQLSTATE.
BEGIN;
SELECT plan(177);

SET LOCAL client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Tables and key columns
-- ---------------------------------------------------------------------------

SELECT has_schema('omniroute');

SELECT has_table('omniroute', t, 'table omniroute.' || t || ' exists')
  FROM unnest(ARRAY['presence', 'skill', 'capacity_profile', 'agent', 'agent_skill',
                    'agent_profile', 'queue', 'queue_member', 'workstream',
                    'context_variable', 'classification_rule', 'route_rule',
                    'work_item', 'work_item_event']) AS t;

SELECT has_column('omniroute', t, c, 'omniroute.' || t || '.' || c || ' exists')
  FROM (VALUES
    ('presence', 'name'), ('presence', 'base'),
    ('skill', 'name'),
    ('capacity_profile', 'name'), ('capacity_profile', 'max_items'), ('capacity_profile', 'reset'),
    ('agent', 'id'), ('agent', 'name'), ('agent', 'login_role'), ('agent', 'capacity'),
    ('agent', 'presence'), ('agent', 'is_bot'),
    ('agent_skill', 'agent_id'), ('agent_skill', 'skill'), ('agent_skill', 'proficiency'),
    ('agent_profile', 'agent_id'), ('agent_profile', 'profile'), ('agent_profile', 'max_items'),
    ('queue', 'id'), ('queue', 'name'), ('queue', 'assignment'), ('queue', 'priority'),
    ('queue_member', 'queue_id'), ('queue_member', 'agent_id'),
    ('workstream', 'id'), ('workstream', 'name'), ('workstream', 'kind'), ('workstream', 'mode'),
    ('workstream', 'capacity_units'), ('workstream', 'capacity_profile'),
    ('workstream', 'fallback_queue_id'), ('workstream', 'allowed_presences'),
    ('workstream', 'skill_matching'), ('workstream', 'auto_accept'), ('workstream', 'offer_timeout'),
    ('workstream', 'wrap_up_block'), ('workstream', 'keep_same_agent'), ('workstream', 'bot_agent_id'),
    ('context_variable', 'workstream_id'), ('context_variable', 'name'), ('context_variable', 'type'),
    ('classification_rule', 'position'), ('classification_rule', 'condition'), ('classification_rule', 'output'),
    ('route_rule', 'position'), ('route_rule', 'condition'), ('route_rule', 'queue_id'),
    ('work_item', 'id'), ('work_item', 'workstream_id'), ('work_item', 'external_id'),
    ('work_item', 'context'), ('work_item', 'priority'), ('work_item', 'required_skills'),
    ('work_item', 'state'), ('work_item', 'queue_id'), ('work_item', 'agent_id'),
    ('work_item', 'offered_at'), ('work_item', 'assigned_at'), ('work_item', 'closed_at'),
    ('work_item', 'diagnostics'),
    ('work_item_event', 'id'), ('work_item_event', 'work_item_id'), ('work_item_event', 'at'),
    ('work_item_event', 'event'), ('work_item_event', 'agent_id'), ('work_item_event', 'queue_id'),
    ('work_item_event', 'detail')
  ) AS x(t, c);

SELECT col_is_pk('omniroute', 'presence', 'name', 'presence: PK name');
SELECT col_is_pk('omniroute', 'skill', 'name', 'skill: PK name');
SELECT col_is_pk('omniroute', 'capacity_profile', 'name', 'capacity_profile: PK name');
SELECT col_is_pk('omniroute', 'agent', 'id', 'agent: PK id');
SELECT col_is_pk('omniroute', 'agent_skill', ARRAY['agent_id', 'skill'], 'agent_skill: PK (agent_id, skill)');
SELECT col_is_pk('omniroute', 'agent_profile', ARRAY['agent_id', 'profile'], 'agent_profile: PK (agent_id, profile)');
SELECT col_is_pk('omniroute', 'queue', 'id', 'queue: PK id');
SELECT ok((SELECT reloptions @> ARRAY['autovacuum_vacuum_scale_factor=0', 'fillfactor=50']
              FROM pg_class WHERE oid = 'omniroute.queue_member'::regclass),
          'queue_member: room for updates, and vacuumed whenever autovacuum looks (its candidate ranges stay short)');
SELECT col_is_pk('omniroute', 'queue_member', ARRAY['agent_id', 'queue_id'], 'queue_member: PK (agent_id, queue_id): one membership per agent and queue');
SELECT col_is_pk('omniroute', 'workstream', 'id', 'workstream: PK id');
SELECT col_is_pk('omniroute', 'context_variable', ARRAY['workstream_id', 'name'], 'context_variable: PK (workstream_id, name)');
SELECT col_is_pk('omniroute', 'work_item', 'id', 'work_item: PK id');
SELECT col_is_pk('omniroute', 'work_item_event', 'id', 'work_item_event: PK id');

SELECT col_is_unique('omniroute', 'agent', 'name', 'agent.name is unique');
SELECT col_is_unique('omniroute', 'agent', 'login_role', 'agent.login_role is unique');
SELECT col_is_unique('omniroute', 'queue', 'name', 'queue.name is unique');
SELECT col_is_unique('omniroute', 'workstream', 'name', 'workstream.name is unique');
SELECT col_is_unique('omniroute', 'route_rule', ARRAY['workstream_id', 'position'], 'route_rule: UNIQUE (workstream_id, position)');
SELECT col_is_unique('omniroute', 'classification_rule', ARRAY['workstream_id', 'position'], 'classification_rule: UNIQUE (workstream_id, position)');

SELECT col_not_null('omniroute', 'workstream', 'fallback_queue_id', 'workstream.fallback_queue_id is NOT NULL');
SELECT col_not_null('omniroute', 'work_item', 'workstream_id', 'work_item.workstream_id is NOT NULL');
SELECT col_is_null('omniroute', 'agent', 'login_role', 'agent.login_role may be NULL');

SELECT fk_ok('omniroute', 'agent', 'presence', 'omniroute', 'presence', 'name');
SELECT fk_ok('omniroute', 'agent_skill', 'agent_id', 'omniroute', 'agent', 'id');
SELECT fk_ok('omniroute', 'agent_skill', 'skill', 'omniroute', 'skill', 'name');
SELECT fk_ok('omniroute', 'agent_profile', 'agent_id', 'omniroute', 'agent', 'id');
SELECT fk_ok('omniroute', 'agent_profile', 'profile', 'omniroute', 'capacity_profile', 'name');
SELECT fk_ok('omniroute', 'queue_member', 'queue_id', 'omniroute', 'queue', 'id');
SELECT fk_ok('omniroute', 'queue_member', 'agent_id', 'omniroute', 'agent', 'id');
SELECT fk_ok('omniroute', 'workstream', 'fallback_queue_id', 'omniroute', 'queue', 'id');
SELECT fk_ok('omniroute', 'workstream', 'capacity_profile', 'omniroute', 'capacity_profile', 'name');
SELECT fk_ok('omniroute', 'route_rule', 'queue_id', 'omniroute', 'queue', 'id');

-- ---------------------------------------------------------------------------
-- Seeded presences
-- ---------------------------------------------------------------------------

SELECT results_eq(
    'SELECT name, base FROM omniroute.presence ORDER BY name',
    $$VALUES ('available'::text, 'available'::text), ('away', 'away'), ('busy', 'busy'),
             ('busy_dnd', 'busy_dnd'), ('inactive', 'inactive'), ('offline', 'offline')$$,
    'the six base presences are seeded with base = name');

SELECT throws_ok(
    $$INSERT INTO omniroute.presence (name, base) VALUES ('Napping', 'sleeping')$$,
    '23514', NULL, 'a presence base outside the six is refused');

SELECT lives_ok(
    $$INSERT INTO omniroute.presence (name, base) VALUES ('Lunch', 'away')$$,
    'a custom presence with a valid base can be added');

-- ---------------------------------------------------------------------------
-- Defaults
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name) VALUES (9001, 'Schema Q1'), (9002, 'Schema Q2');
INSERT INTO omniroute.agent (id, name) VALUES (9101, 'Schema Ann');

SELECT results_eq(
    'SELECT capacity, presence, is_bot, login_role IS NULL FROM omniroute.agent WHERE id = 9101',
    $$VALUES (100, 'offline'::text, false, true)$$,
    'agent defaults: capacity 100, presence offline, not a bot, no login role');

SELECT is((SELECT assignment FROM omniroute.queue WHERE id = 9001), 'highest_capacity',
          'queue assignment defaults to highest_capacity');
SELECT is((SELECT priority FROM omniroute.queue WHERE id = 9001), 0, 'queue priority defaults to 0');

INSERT INTO omniroute.capacity_profile (name, max_items) VALUES ('Schema profile', 3);
SELECT is((SELECT reset FROM omniroute.capacity_profile WHERE name = 'Schema profile'), 'never',
          'capacity_profile reset defaults to never');

INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9201, 'Schema WS', 9001);
SELECT results_eq(
    $$SELECT mode, capacity_units, allowed_presences, skill_matching, keep_same_agent,
             offer_timeout, auto_accept, wrap_up_block IS NULL, bot_agent_id IS NULL
        FROM omniroute.workstream WHERE id = 9201$$,
    $$VALUES ('push'::text, 1, '{available,busy}'::text[], 'exact'::text, false,
              interval '120 seconds', false, true, true)$$,
    'workstream defaults: push, 1 unit, {available,busy}, exact, no affinity, 120 s offer, no auto accept');

-- ---------------------------------------------------------------------------
-- CHECK / UNIQUE / FK / NOT NULL refuse bad configuration
-- ---------------------------------------------------------------------------

SELECT throws_ok(
    $$INSERT INTO omniroute.capacity_profile (name, max_items) VALUES ('Zero', 0)$$,
    '23514', NULL, 'capacity_profile max_items 0 is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.capacity_profile (name, max_items, reset) VALUES ('Weekly', 2, 'weekly')$$,
    '23514', NULL, 'capacity_profile reset other than never/end_of_day is refused');
SELECT lives_ok(
    $$INSERT INTO omniroute.capacity_profile (name, max_items, reset) VALUES ('Daily', 2, 'end_of_day')$$,
    'capacity_profile reset end_of_day is accepted');

SELECT throws_ok(
    $$INSERT INTO omniroute.agent (id, name, capacity) VALUES (9102, 'Schema Neg', -1)$$,
    '23514', NULL, 'agent capacity below 0 is refused');
SELECT lives_ok(
    $$INSERT INTO omniroute.agent (id, name, capacity) VALUES (9103, 'Schema Zero', 0)$$,
    'agent capacity 0 is accepted');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent (id, name, presence) VALUES (9104, 'Schema Ghost', 'sleeping')$$,
    '23503', NULL, 'agent with an unknown presence is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent (id, name) VALUES (9105, 'Schema Ann')$$,
    '23505', NULL, 'duplicate agent name is refused');
INSERT INTO omniroute.agent (id, name, login_role) VALUES (9106, 'Schema Role', 'schema_role');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent (id, name, login_role) VALUES (9107, 'Schema Role 2', 'schema_role')$$,
    '23505', NULL, 'duplicate agent login_role is refused');
SELECT lives_ok(
    $$INSERT INTO omniroute.agent (id, name, presence) VALUES (9108, 'Schema Lunch', 'Lunch')$$,
    'agent with a custom presence is accepted');

INSERT INTO omniroute.skill (name) VALUES ('schema_spanish');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9101, 'schema_spanish', 11)$$,
    '23514', NULL, 'proficiency 11 is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9101, 'schema_spanish', 0)$$,
    '23514', NULL, 'proficiency 0 is refused');
SELECT lives_ok(
    $$INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9101, 'schema_spanish', 10)$$,
    'proficiency 10 is accepted');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9101, 'schema_klingon', 5)$$,
    '23503', NULL, 'agent_skill naming an unknown skill is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (9101, 'schema_spanish', 5)$$,
    '23505', NULL, 'a second agent_skill row for the same (agent, skill) is refused');

SELECT throws_ok(
    $$INSERT INTO omniroute.agent_profile (agent_id, profile) VALUES (9101, 'No such profile')$$,
    '23503', NULL, 'agent_profile naming an unknown profile is refused');

SELECT throws_ok(
    $$INSERT INTO omniroute.queue (id, name) VALUES (9003, 'Schema Q1')$$,
    '23505', NULL, 'duplicate queue name is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.queue (id, name, assignment) VALUES (9004, 'Schema Q4', 'random')$$,
    '23514', NULL, 'queue assignment method other than the three is refused');
SELECT lives_ok(
    $$INSERT INTO omniroute.queue (id, name, assignment) VALUES (9005, 'Schema RR', 'round_robin'),
                                                              (9006, 'Schema LA', 'least_active')$$,
    'round_robin and least_active queues are accepted');

-- queue_member_init keeps its defaults for an unknown agent, so the foreign
-- key (not the NOT NULL on the copied presence) is what refuses it.
SELECT throws_ok(
    $$INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9001, 999999)$$,
    '23503', NULL, 'queue_member naming an unknown agent is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (999999, 9101)$$,
    '23503', NULL, 'queue_member naming an unknown queue is refused');

SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching)
      VALUES (9202, 'Schema fuzzy', 9001, 'fuzzy')$$,
    '23514', NULL, 'skill_matching other than exact/closest/none is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, mode)
      VALUES (9203, 'Schema mode', 9001, 'shove')$$,
    '23514', NULL, 'mode other than push/pick is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, kind)
      VALUES (9204, 'Schema kind', 9001, 'pigeon')$$,
    '23514', NULL, 'kind other than messaging/record/voice is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_units)
      VALUES (9205, 'Schema units', 9001, -1)$$,
    '23514', NULL, 'negative capacity_units is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name) VALUES (9206, 'Schema no fallback')$$,
    '23502', NULL, 'workstream without a fallback queue is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9207, 'Schema bad queue', 999999)$$,
    '23503', NULL, 'workstream with an unknown fallback queue is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9208, 'Schema WS', 9001)$$,
    '23505', NULL, 'duplicate workstream name is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_profile)
      VALUES (9209, 'Schema bad profile', 9001, 'No such profile')$$,
    '23503', NULL, 'workstream with an unknown capacity profile is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, allowed_presences)
      VALUES (9210, 'Schema napping', 9001, '{available,napping}')$$,
    '23503', NULL, 'allowed_presences naming an unknown presence is refused (insert)');
SELECT throws_ok(
    $$UPDATE omniroute.workstream SET allowed_presences = '{busy,napping}' WHERE id = 9201$$,
    '23503', NULL, 'allowed_presences naming an unknown presence is refused (update)');
SELECT lives_ok(
    $$INSERT INTO omniroute.workstream (id, name, fallback_queue_id, allowed_presences, mode)
      VALUES (9211, 'Schema pick', 9002, '{available,Lunch}', 'pick')$$,
    'allowed_presences naming a custom presence is accepted');

-- rules: the (workstream, position) pair is unique
INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
VALUES (9301, 9201, 1, 'Schema rule', 'priority > 5', 9002);
SELECT throws_ok(
    $$INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
      VALUES (9302, 9201, 1, 'Schema rule again', 'priority > 6', 9002)$$,
    '23505', NULL, 'two route rules at the same position are refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
      VALUES (9303, 9201, 2, 'Schema rule bad queue', 'priority > 6', 999999)$$,
    '23503', NULL, 'a route rule naming an unknown queue is refused');
INSERT INTO omniroute.classification_rule (id, workstream_id, position, name, condition, output)
VALUES (9401, 9201, 1, 'Schema class', 'priority > 5', '{"priority": 9}');
SELECT throws_ok(
    $$INSERT INTO omniroute.classification_rule (id, workstream_id, position, name, condition, output)
      VALUES (9402, 9201, 1, 'Schema class again', 'priority > 6', '{"priority": 8}')$$,
    '23505', NULL, 'two classification rules at the same position are refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (9201, 'tier', 'date')$$,
    '23514', NULL, 'context variable type other than text/number is refused');

-- ---------------------------------------------------------------------------
-- Workstream mode is fixed; other columns can change
-- ---------------------------------------------------------------------------

SELECT throws_ok(
    $$UPDATE omniroute.workstream SET mode = 'pick' WHERE id = 9201$$,
    '0A000', NULL, 'changing a workstream''s mode is refused');
SELECT is((SELECT mode FROM omniroute.workstream WHERE id = 9201), 'push',
          'the mode is unchanged after the refused update');
SELECT lives_ok(
    $$UPDATE omniroute.workstream
         SET capacity_units = 3, skill_matching = 'closest', allowed_presences = '{available}',
             name = 'Schema WS renamed', fallback_queue_id = 9002
       WHERE id = 9201$$,
    'other workstream columns can be changed');
SELECT results_eq(
    $$SELECT name, capacity_units, skill_matching, allowed_presences, fallback_queue_id, mode
        FROM omniroute.workstream WHERE id = 9201$$,
    $$VALUES ('Schema WS renamed'::text, 3, 'closest'::text, '{available}'::text[], 9002::bigint, 'push'::text)$$,
    'the changed columns are stored, the mode stays push');
SELECT lives_ok(
    $$UPDATE omniroute.workstream SET mode = 'push' WHERE id = 9201$$,
    'an update that leaves the mode as it was is allowed');

-- ---------------------------------------------------------------------------
-- A new work item is always inserted open, without an agent
-- ---------------------------------------------------------------------------

-- queue 9001 has no members, so whatever is inserted stays open
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9220, 'Schema delete me', 9001);

SELECT throws_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id, state) VALUES (9501, 9220, 'active')$$,
    '22023', NULL, 'a work item inserted as active is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id, state) VALUES (9502, 9220, 'closed')$$,
    '22023', NULL, 'a work item inserted as closed is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id, agent_id) VALUES (9503, 9220, 9101)$$,
    '22023', NULL, 'a work item inserted with agent_id is refused');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE id IN (9501, 9502, 9503)), 0::bigint,
          'none of the refused work items was stored');
SELECT throws_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9504, 999999)$$,
    '23503', NULL, 'a work item for an unknown workstream is refused');
SELECT throws_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (9505, 9220, '[1]')$$,
    NULL, NULL, 'required_skills that is not an object is refused');

SELECT lives_ok(
    $$INSERT INTO omniroute.work_item (id, workstream_id, state) VALUES (9510, 9220, 'open')$$,
    'a work item inserted explicitly as open is accepted');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9511, 9220);
SELECT results_eq(
    $$SELECT id, state, queue_id, agent_id FROM omniroute.work_item WHERE workstream_id = 9220 ORDER BY id$$,
    $$VALUES (9510::bigint, 'open'::text, 9001::bigint, NULL::bigint),
             (9511, 'open', 9001, NULL)$$,
    'both items are open in the fallback queue');

-- ---------------------------------------------------------------------------
-- A workstream with unclosed work cannot be deleted
-- ---------------------------------------------------------------------------

SELECT throws_ok(
    $$DELETE FROM omniroute.workstream WHERE id = 9220$$,
    '2BP01', NULL, 'a workstream with open work items cannot be deleted');
SELECT is((SELECT count(*) FROM omniroute.workstream WHERE id = 9220), 1::bigint,
          'the workstream is still there');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE workstream_id = 9220), 2::bigint,
          'its work items are still there');

UPDATE omniroute.work_item SET state = 'closed', closed_at = now() WHERE id = 9510;
SELECT throws_ok(
    $$DELETE FROM omniroute.workstream WHERE id = 9220$$,
    '2BP01', NULL, 'one unclosed item is enough to refuse the delete');

UPDATE omniroute.work_item SET state = 'closed', closed_at = now() WHERE id = 9511;
SELECT lives_ok(
    $$DELETE FROM omniroute.workstream WHERE id = 9220$$,
    'a workstream whose items are all closed can be deleted');
SELECT is((SELECT count(*) FROM omniroute.workstream WHERE id = 9220), 0::bigint,
          'the workstream is gone');

-- a workstream that never had work can be deleted too
SELECT lives_ok(
    $$DELETE FROM omniroute.workstream WHERE id = 9211$$,
    'a workstream without work items can be deleted');

SELECT * FROM finish();
ROLLBACK;
