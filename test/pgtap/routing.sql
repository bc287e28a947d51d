-- test/pgtap/routing.sql — push assignment on INSERT (README, "Concepts"):
-- queue choice, membership, presence, capacity in units, the three methods
-- and their tie-breaks, skill matching, offered/active state, capacity
-- bookkeeping, diagnostics, events, simulate(), and the admin's presence and
-- capacity changes mirrored into queue_member.
--
-- Every scenario has its own queues and agents, and all configuration
-- (memberships included) is in place before the first item is inserted, so
-- no scenario can be served by capacity freed in another.
BEGIN;
SELECT plan(119);

SET LOCAL client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.presence (name, base) VALUES ('Lunch', 'away'), ('On call', 'busy');
INSERT INTO omniroute.skill (name) VALUES ('spanish'), ('french');

INSERT INTO omniroute.queue (id, name, assignment) VALUES
    (101, 'Main', 'highest_capacity'),
    (102, 'VIP', 'highest_capacity'),
    (103, 'Elsewhere', 'highest_capacity'),
    (104, 'Empty', 'highest_capacity'),
    (110, 'Presence', 'highest_capacity'),
    (112, 'Presence twins', 'highest_capacity'),
    (120, 'Units', 'highest_capacity'),
    (121, 'Units other', 'highest_capacity'),
    (122, 'Zero capacity', 'highest_capacity'),
    (130, 'Ties', 'highest_capacity'),
    (140, 'Rotation', 'round_robin'),
    (141, 'Rotation other', 'highest_capacity'),
    (150, 'Least active', 'least_active'),
    (160, 'Auto accept', 'highest_capacity'),
    (170, 'Pick', 'highest_capacity'),
    (180, 'Exact skills', 'highest_capacity'),
    (190, 'Closest skills', 'highest_capacity'),
    (195, 'Mirror A', 'highest_capacity'),
    (196, 'Mirror B', 'highest_capacity'),
    (197, 'Mirror C', 'highest_capacity'),
    (198, 'Mirror D', 'highest_capacity'),
    (185, 'Profile', 'highest_capacity'),
    (186, 'Crowd', 'highest_capacity'),
    (187, 'Late config', 'highest_capacity');

INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    -- routing to queue, membership
    (1001, 'Main agent', 'available', 10),
    (1002, 'VIP agent', 'available', 10),
    (1003, 'Outsider', 'available', 100),
    -- presence
    (1101, 'Away', 'away', 100),
    (1102, 'Offline', 'offline', 100),
    (1103, 'At lunch', 'Lunch', 100),
    (1104, 'Do not disturb', 'busy_dnd', 100),
    (1105, 'Inactive', 'inactive', 100),
    (1106, 'On call', 'On call', 50),
    (1107, 'Available', 'available', 20),
    -- units
    (1201, 'Units five', 'available', 5),
    (1202, 'Units eight', 'available', 8),
    (1203, 'Units three', 'available', 3),
    (1204, 'Units zero', 'available', 0),
    -- ties
    (1301, 'Tie one', 'available', 10),
    (1302, 'Tie two', 'available', 10),
    (1303, 'Tie three', 'available', 10),
    -- round robin
    (1401, 'Rotation one', 'available', 10),
    (1402, 'Rotation two', 'available', 10),
    (1403, 'Rotation three', 'available', 10),
    -- least active
    (1501, 'Released at ten', 'available', 1),
    (1502, 'Released at nine', 'available', 1),
    (1503, 'Released at eleven', 'available', 1),
    -- auto accept, pick
    (1601, 'Auto', 'available', 10),
    (1701, 'Picker', 'available', 10),
    -- exact skills
    (1801, 'Spanish 4', 'available', 100),
    (1802, 'Spanish 7', 'available', 10),
    (1803, 'No skills', 'available', 50),
    -- closest skills
    (1901, 'Spanish 9', 'available', 100),
    (1902, 'Spanish 6', 'available', 10),
    (1903, 'Spanish 3', 'available', 20),
    (1904, 'Monolingual', 'available', 200),
    -- mirroring
    (2001, 'Mirror offline', 'offline', 5),
    (2002, 'Mirror working', 'available', 5),
    -- capacity profile
    (1851, 'No profile', 'available', 100),
    (1852, 'Profile max 1', 'available', 10),
    (1853, 'Profile max 2', 'available', 5),
    -- the one skilled agent in a crowd
    (1860, 'Skilled', 'busy', 2),
    -- configuration changed after the cache was loaded
    (1891, 'Late available', 'available', 5),
    (1892, 'Late offline', 'offline', 50);

-- twenty unskilled agents, available and busy, all with more room than 1860
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT g, 'Crowd ' || g, CASE WHEN g % 2 = 0 THEN 'available' ELSE 'busy' END, 50 + g - 1861
  FROM generate_series(1861, 1880) AS g;

-- two presence names with the same hashtext(), found here rather than
-- written down (the hash may differ by platform): the candidate indexes key
-- presences by that hash, so the two share a range there
CREATE TEMP TABLE twin AS
    SELECT min(n) AS allowed, max(n) AS other
      FROM (SELECT 'Twin ' || g AS n FROM generate_series(1, 300000) AS g) AS s
     GROUP BY hashtext(n) HAVING count(*) = 2 LIMIT 1;
INSERT INTO omniroute.presence (name, base)
    SELECT allowed, 'available' FROM twin UNION ALL SELECT other, 'away' FROM twin;
INSERT INTO omniroute.agent (id, name, presence, capacity)
    SELECT 1108, 'Twin allowed', allowed, 10 FROM twin
    UNION ALL SELECT 1109, 'Twin not allowed', other, 100 FROM twin;

INSERT INTO omniroute.capacity_profile (name, max_items) VALUES ('Chat limit', 1);
INSERT INTO omniroute.agent_profile (agent_id, profile, max_items) VALUES
    (1852, 'Chat limit', NULL), (1853, 'Chat limit', 2);

INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES
    (1801, 'spanish', 4), (1802, 'spanish', 7),
    (1901, 'spanish', 9), (1902, 'spanish', 6), (1903, 'spanish', 3),
    (1860, 'spanish', 2);

-- memberships, one statement per queue so join order is explicit
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (101, 1001);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (102, 1002);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (103, 1003);
INSERT INTO omniroute.queue_member (queue_id, agent_id)
    SELECT 110, id FROM omniroute.agent WHERE id BETWEEN 1101 AND 1107;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (112, 1108), (112, 1109);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (120, 1201), (120, 1202), (120, 1203);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (121, 1202);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (122, 1204);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (130, 1303);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (130, 1302);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (130, 1301);
-- round robin: they join in the order three, one, two
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (140, 1403);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (140, 1401);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (140, 1402);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (141, 1403);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (150, 1501), (150, 1502), (150, 1503);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (160, 1601);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (170, 1701);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (180, 1801), (180, 1802), (180, 1803);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (190, 1901), (190, 1902), (190, 1903), (190, 1904);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (195, 2001), (196, 2001);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (197, 2002), (198, 2002);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (185, 1851), (185, 1852), (185, 1853);
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 186, id FROM omniroute.agent WHERE id BETWEEN 1860 AND 1880;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (187, 1891), (187, 1892);

-- least active: their last release, arranged by hand (agent and memberships agree)
UPDATE omniroute.agent SET last_released_at = CASE id
        WHEN 1501 THEN timestamptz '2024-01-01 10:00+00'
        WHEN 1502 THEN timestamptz '2024-01-01 09:00+00'
        WHEN 1503 THEN timestamptz '2024-01-01 11:00+00' END
 WHERE id IN (1501, 1502, 1503);
UPDATE omniroute.queue_member m SET last_released_at = a.last_released_at
  FROM omniroute.agent a WHERE a.id = m.agent_id AND m.agent_id IN (1501, 1502, 1503);

INSERT INTO omniroute.workstream
    (id, name, fallback_queue_id, capacity_units, allowed_presences, skill_matching, auto_accept, mode) VALUES
    (201, 'Chat',             101, 1, '{available,busy}', 'exact',   false, 'push'),
    (204, 'Nobody home',      104, 1, '{available,busy}', 'exact',   false, 'push'),
    (210, 'Presence default', 110, 1, '{available,busy}', 'exact',   false, 'push'),
    (211, 'Presence strict',  110, 1, '{available}',      'exact',   false, 'push'),
    (220, 'Three units',      120, 3, '{available,busy}', 'exact',   false, 'push'),
    (221, 'Zero units',       122, 0, '{available,busy}', 'exact',   false, 'push'),
    (222, 'One unit zero',    122, 1, '{available,busy}', 'exact',   false, 'push'),
    (230, 'Ties',             130, 0, '{available,busy}', 'exact',   false, 'push'),
    (240, 'Rotation',         140, 1, '{available,busy}', 'exact',   false, 'push'),
    (241, 'Rotation other',   141, 1, '{available,busy}', 'exact',   false, 'push'),
    (250, 'Least active',     150, 1, '{available,busy}', 'exact',   false, 'push'),
    (260, 'Auto accept',      160, 1, '{available,busy}', 'exact',   true,  'push'),
    (270, 'Pick',             170, 1, '{available,busy}', 'exact',   false, 'pick'),
    (280, 'Exact',            180, 1, '{available,busy}', 'exact',   false, 'push'),
    (281, 'No skills',        180, 1, '{available,busy}', 'none',    false, 'push'),
    (290, 'Closest',          190, 1, '{available,busy}', 'closest', false, 'push'),
    (297, 'Mirror',           197, 1, '{available,busy}', 'exact',   false, 'push'),
    (286, 'Crowd',            186, 1, '{available,busy}', 'exact',   false, 'push'),
    (287, 'Late config',      187, 1, '{available,busy}', 'exact',   false, 'push');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_profile)
VALUES (285, 'Profiled', 185, 'Chat limit');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, allowed_presences)
    SELECT 212, 'Presence twins', 112, ARRAY[allowed] FROM twin;

INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (201, 'tier', 'text');
INSERT INTO omniroute.classification_rule (id, workstream_id, position, name, condition, output)
VALUES (301, 201, 1, 'vip priority', 'tier = ''vip''', '{"priority": 5}');
INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
VALUES (401, 201, 1, 'vip customers', 'tier = ''vip''', 102);

-- ---------------------------------------------------------------------------
-- simulate() first: it must change nothing
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE sim AS
    SELECT omniroute.simulate(201, '{"tier": "VIP"}') AS doc,
           (SELECT count(*) FROM omniroute.work_item) AS items,
           (SELECT count(*) FROM omniroute.work_item_event) AS events,
           (SELECT sum(used_units) FROM omniroute.agent) AS used;

SELECT is((SELECT count(*) FROM omniroute.work_item), 0::bigint, 'simulate() inserts no work item');
SELECT is((SELECT count(*) FROM omniroute.work_item_event), 0::bigint, 'simulate() writes no event');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1002), 0, 'simulate() reserves no capacity');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE agent_id = 1002), 10,
          'simulate() leaves the membership''s free units alone');
SELECT ok((SELECT agent_last_assigned_at = '-infinity' AND queue_last_assigned_at = '-infinity'
             FROM omniroute.queue_member WHERE agent_id = 1002)
          AND (SELECT last_assigned_at IS NULL FROM omniroute.agent WHERE id = 1002),
          'simulate() does not touch assignment times');
SELECT is((SELECT doc->'assignment'->>'agent_id' FROM sim), '1002', 'simulate() names the agent a real insert would get');

-- ---------------------------------------------------------------------------
-- Route to queue: route rule, else fallback (with classification)
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id, external_id, context) VALUES
    (5001, 201, 'conv-1', '{"tier": "VIP"}');
INSERT INTO omniroute.work_item (id, workstream_id, external_id, context) VALUES
    (5002, 201, 'conv-2', '{"tier": "standard"}');

SELECT results_eq(
    'SELECT id, queue_id, state, agent_id, priority FROM omniroute.work_item WHERE id IN (5001, 5002) ORDER BY id',
    $$VALUES (5001::bigint, 102::bigint, 'offered'::text, 1002::bigint, 5),
             (5002, 101, 'offered', 1001, 0)$$,
    'a matching route rule names the queue (and classification sets priority); otherwise the fallback queue');

SELECT is((SELECT diagnostics->'route'->>'rule' FROM omniroute.work_item WHERE id = 5001), 'vip customers',
          'diagnostics name the route rule that matched');
SELECT is((SELECT (diagnostics->'route'->>'fallback')::bool FROM omniroute.work_item WHERE id = 5002), true,
          'diagnostics say the fallback queue was used');
SELECT is((SELECT jsonb_array_length(diagnostics->'classification') FROM omniroute.work_item WHERE id = 5001), 1,
          'diagnostics list the one classification rule that fired');
SELECT is((SELECT diagnostics->'classification'->0->>'rule' FROM omniroute.work_item WHERE id = 5001), 'vip priority',
          'diagnostics name the classification rule');
SELECT is((SELECT jsonb_array_length(diagnostics->'classification') FROM omniroute.work_item WHERE id = 5002), 0,
          'no classification rule fired for the standard item');

-- diagnostics: the assignment outcome
SELECT results_eq(
    $$SELECT diagnostics->'assignment'->>'outcome', (diagnostics->'assignment'->>'agent_id')::bigint,
             diagnostics->'assignment'->>'method', jsonb_typeof(diagnostics->'assignment'->'score'),
             (diagnostics->'assignment'->>'candidates_examined')::int >= 1
        FROM omniroute.work_item WHERE id = 5001$$,
    $$VALUES ('offered'::text, 1002::bigint, 'highest_capacity'::text, 'object'::text, true)$$,
    'diagnostics.assignment: outcome, agent_id, method, score, candidates_examined');

-- simulate() returned what the insert did
SELECT is((SELECT doc->'route' FROM sim), (SELECT diagnostics->'route' FROM omniroute.work_item WHERE id = 5001),
          'simulate() chose the same route as the real insert');
SELECT results_eq(
    $$SELECT doc->'assignment'->'outcome', doc->'assignment'->'agent_id', doc->'assignment'->'method',
             doc->'assignment'->'score', doc->'assignment'->'candidates_examined' FROM sim$$,
    $$SELECT diagnostics->'assignment'->'outcome', diagnostics->'assignment'->'agent_id',
             diagnostics->'assignment'->'method', diagnostics->'assignment'->'score',
             diagnostics->'assignment'->'candidates_examined'
        FROM omniroute.work_item WHERE id = 5001$$,
    'simulate() chose the same assignment as the real insert');
SELECT is((SELECT jsonb_array_length(doc->'classification') FROM sim), 1,
          'simulate() reports the classification rule too');

-- events: an item offered on insert was never observably open: one event,
-- "offered", whose detail carries the route
SELECT results_eq(
    $$SELECT event, agent_id, queue_id, detail->>'method', detail ? 'route'
        FROM omniroute.work_item_event WHERE work_item_id = 5001 ORDER BY id$$,
    $$VALUES ('offered'::text, 1002::bigint, 102::bigint, 'highest_capacity'::text, true)$$,
    'work_item_event has one offered event, with the route, for an item pushed on insert');

-- state and times of an offer
SELECT results_eq(
    'SELECT offered_at IS NOT NULL, assigned_at IS NULL, closed_at IS NULL, reserved_units FROM omniroute.work_item WHERE id = 5001',
    $$VALUES (true, true, true, 1)$$,
    'an offered item has offered_at, no assigned_at, and reserves the workstream''s units');

-- membership: the outsider (queue 103 only, most capacity) is never chosen
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1003), 0, 'a non-member is never chosen');

-- nobody in the queue: the item stays open
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5041, 204);
SELECT results_eq(
    'SELECT state, queue_id, agent_id, reserved_units, offered_at FROM omniroute.work_item WHERE id = 5041',
    $$VALUES ('open'::text, 104::bigint, NULL::bigint, 0, NULL::timestamptz)$$,
    'an item for a queue without members stays open, with no agent and nothing reserved');
SELECT is((SELECT diagnostics->'assignment'->>'outcome' FROM omniroute.work_item WHERE id = 5041), 'open',
          'diagnostics: outcome open');
SELECT results_eq(
    'SELECT event FROM omniroute.work_item_event WHERE work_item_id = 5041 ORDER BY id',
    $$VALUES ('queued'::text)$$,
    'an item that waits has only its queued event');

-- ---------------------------------------------------------------------------
-- Presence
-- ---------------------------------------------------------------------------

-- default {available,busy}: away, offline, Lunch (away), busy_dnd, inactive are
-- skipped although they have the most room; On call (busy) beats available
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5101, 210);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5101), 1106::bigint,
          'a custom presence whose base is busy is allowed by {available,busy}; away/offline/Lunch/dnd/inactive are skipped');
-- {available} only: the On call agent is not allowed any more
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5102, 211);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5102), 1107::bigint,
          'with allowed_presences {available} only available agents are chosen');
SELECT is((SELECT sum(used_units) FROM omniroute.agent WHERE id BETWEEN 1101 AND 1105), 0::bigint,
          'agents whose presence is not allowed got nothing');
-- the not-allowed twin has more room, and shares the allowed one's index range
SELECT is((SELECT count(*) FROM twin), 1::bigint, 'a pair of presence names that hash alike was found');
SELECT is((SELECT count(*) FROM twin t JOIN omniroute.queue_member m
             ON m.presence IN (t.allowed, t.other) AND m.queue_id = 112
            WHERE hashtext(t.allowed) = hashtext(t.other)
              AND m.presence_key = hashtext(t.allowed)), 2::bigint,
          'two presence names that hash alike share a presence_key');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5103, 212);
SELECT results_eq(
    $$SELECT agent_id, diagnostics->'assignment'->>'candidates_examined'
        FROM omniroute.work_item WHERE id = 5103$$,
    $$VALUES (1108::bigint, '1'::text)$$,
    'a member whose presence only hashes like an allowed one is not a candidate');

-- ---------------------------------------------------------------------------
-- Capacity in units, highest_capacity, tie-breaks
-- ---------------------------------------------------------------------------

-- 3 units each; free: 1201 = 5, 1202 = 8, 1203 = 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5201, 220);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5201), 1202::bigint,
          'highest_capacity: the most free units wins (8 of 8)');
SELECT results_eq(
    'SELECT used_units FROM omniroute.agent WHERE id = 1202',
    $$VALUES (3)$$, 'used_units grows by capacity_units (3)');
SELECT results_eq(
    'SELECT queue_id, free_units FROM omniroute.queue_member WHERE agent_id = 1202 ORDER BY queue_id',
    $$VALUES (120::bigint, 5), (121::bigint, 5)$$,
    'free_units = capacity - used_units in every membership of the agent');
SELECT is((SELECT reserved_units FROM omniroute.work_item WHERE id = 5201), 3, 'reserved_units on the item');

-- free: 1201 = 5, 1202 = 5 (assigned just now), 1203 = 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5202, 220);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5202), 1201::bigint,
          'equal free units: the never-assigned agent wins');
-- free: 1201 = 2, 1202 = 5, 1203 = 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5203, 220);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5203), 1202::bigint,
          'highest_capacity again: 5 free beats 3 and 2');
-- free: 1201 = 2, 1202 = 2, 1203 = 3: only 1203 has room for 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5204, 220);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5204), 1203::bigint,
          'exactly capacity_units free is enough');
-- free: 2, 2, 0: nobody has 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5205, 220);
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5205',
    $$VALUES ('open'::text, NULL::bigint, 0)$$,
    'nobody has room for the units: the item stays open');
SELECT results_eq(
    'SELECT id, used_units, capacity - used_units FROM omniroute.agent WHERE id BETWEEN 1201 AND 1203 ORDER BY id',
    $$VALUES (1201::bigint, 3, 2), (1202, 6, 2), (1203, 3, 0)$$,
    'used units after four 3-unit offers');
SELECT is((SELECT count(*) FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
            WHERE a.id BETWEEN 1201 AND 1203 AND m.free_units <> a.capacity - a.used_units), 0::bigint,
          'every membership mirrors capacity - used_units');
SELECT is((SELECT diagnostics->'assignment'->>'outcome' FROM omniroute.work_item WHERE id = 5205), 'open',
          'diagnostics: outcome open when nobody has room');

-- capacity_units 0 always fits, even an agent with capacity 0
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5206, 221);
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5206',
    $$VALUES ('offered'::text, 1204::bigint, 0)$$,
    'capacity_units 0 fits an agent with no free units');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1204), 0, 'a 0-unit item uses no capacity');
-- but one unit does not fit capacity 0
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5207, 222);
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5207',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'a 1-unit item does not fit an agent with capacity 0');

-- ties with 0-unit items, so free units stay equal: lowest id among the
-- never-assigned (whatever the join order), then least recently assigned
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5301, 230);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5302, 230);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5303, 230);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5304, 230);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5305, 230);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE workstream_id = 230 ORDER BY id',
    $$VALUES (5301::bigint, 1301::bigint), (5302, 1302), (5303, 1303), (5304, 1301), (5305, 1302)$$,
    'equal free units: never-assigned first by lowest id, then least recently assigned');

-- ---------------------------------------------------------------------------
-- round_robin
-- ---------------------------------------------------------------------------

-- joined in the order 1403, 1401, 1402
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5401, 240);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5402, 240);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5403, 240);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE id BETWEEN 5401 AND 5403 ORDER BY id',
    $$VALUES (5401::bigint, 1403::bigint), (5402, 1401), (5403, 1402)$$,
    'round_robin: never-assigned agents in the order they joined the queue');
-- 1403 is now the most recently assigned agent overall, but from another queue
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5404, 241);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5404), 1403::bigint,
          'the other queue''s item goes to 1403');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5405, 240);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5406, 240);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5407, 240);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE id BETWEEN 5405 AND 5407 ORDER BY id',
    $$VALUES (5405::bigint, 1403::bigint), (5406, 1401), (5407, 1402)$$,
    'round_robin: then least recently assigned from this queue (assignments from other queues do not count)');
SELECT is((SELECT diagnostics->'assignment'->>'method' FROM omniroute.work_item WHERE id = 5405), 'round_robin',
          'diagnostics name the round_robin method');
SELECT results_eq(
    $$SELECT id, jsonb_typeof(diagnostics->'assignment'->'score'->'last_assigned_from_queue')
        FROM omniroute.work_item WHERE id IN (5401, 5405) ORDER BY id$$,
    $$VALUES (5401::bigint, 'null'::text), (5405, 'string')$$,
    'round_robin score: null for a member never assigned from the queue, else that time');
-- a newcomer has never been assigned from this queue: next in line
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES (1404, 'Rotation four', 'available', 10);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (140, 1404);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5408, 240);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5409, 240);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE id IN (5408, 5409) ORDER BY id',
    $$VALUES (5408::bigint, 1404::bigint), (5409, 1403)$$,
    'round_robin: an agent who joins later goes first, then the rotation continues');

-- ---------------------------------------------------------------------------
-- least_active
-- ---------------------------------------------------------------------------

-- released at 10:00 (1501), 09:00 (1502), 11:00 (1503); one unit each
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5501, 250);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5502, 250);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5503, 250);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5504, 250);
SELECT results_eq(
    'SELECT id, state, agent_id FROM omniroute.work_item WHERE workstream_id = 250 ORDER BY id',
    $$VALUES (5501::bigint, 'offered'::text, 1502::bigint), (5502, 'offered', 1501),
             (5503, 'offered', 1503), (5504, 'open', NULL)$$,
    'least_active: longest since the last release first; full agents are skipped');
SELECT is((SELECT diagnostics->'assignment'->>'method' FROM omniroute.work_item WHERE id = 5501), 'least_active',
          'diagnostics name the least_active method');

-- ---------------------------------------------------------------------------
-- auto_accept, pick mode
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5601, 260);
SELECT results_eq(
    'SELECT state, agent_id, assigned_at IS NOT NULL, reserved_units FROM omniroute.work_item WHERE id = 5601',
    $$VALUES ('active'::text, 1601::bigint, true, 1)$$,
    'auto_accept: the item goes straight to active with assigned_at');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1601), 1, 'auto_accept reserves capacity too');
SELECT is((SELECT diagnostics->'assignment'->>'outcome' FROM omniroute.work_item WHERE id = 5601), 'active',
          'diagnostics: outcome active');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5701, 270);
SELECT results_eq(
    'SELECT state, queue_id, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5701',
    $$VALUES ('open'::text, 170::bigint, NULL::bigint, 0)$$,
    'pick mode: the item stays open in its queue with no agent');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1701), 0, 'pick mode reserves nothing on insert');
SELECT results_eq(
    'SELECT event FROM omniroute.work_item_event WHERE work_item_id = 5701 ORDER BY id',
    $$VALUES ('queued'::text)$$,
    'pick mode: only the queued event');

-- ---------------------------------------------------------------------------
-- Skills: exact and none
-- ---------------------------------------------------------------------------

-- 1801 spanish 4 (100 units), 1802 spanish 7 (10), 1803 no skills (50)
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5801, 280, '{"spanish": 5}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5801), 1802::bigint,
          'exact: only an agent with the skill at the required level or above');
SELECT is((SELECT required_skills FROM omniroute.work_item WHERE id = 5801), '{"spanish": 5}'::jsonb,
          'required_skills given on insert are kept');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5802, 280, '{"spanish": 9}');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5802',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'exact: nobody skilled enough, the item waits');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5803, 280, '{"spanish": 5, "french": 1}');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5803',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'exact: every required skill must be met');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5804, 280, '{"spanish": 7}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5804), 1802::bigint,
          'exact: a proficiency equal to the requirement is enough');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5805, 280);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5805), 1801::bigint,
          'exact with no requirements: plain highest_capacity');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5806, 281, '{"spanish": 9}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5806), 1801::bigint,
          'none: skills are ignored, highest_capacity decides');

-- exact: a skill nobody in the queue has is known without reading the members
-- (the skill reach cache), and the cache follows skill and membership changes
SELECT is((SELECT diagnostics->'assignment'->>'reason' FROM omniroute.work_item WHERE id = 5802),
          'no member of queue "Exact skills" has skill "spanish" at level 9 (best: 7)',
          'exact: the reason names the skill, the level and the best a member has');
SELECT is((SELECT diagnostics->'assignment'->>'reason' FROM omniroute.work_item WHERE id = 5803),
          'no member of queue "Exact skills" has skill "french" at level 1 (best: 0)',
          'exact: a skill no member has at all');
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (1803, 'french', 3);
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5807, 280, '{"french": 2}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5807), 1803::bigint,
          'exact: a skill given to a member counts at once');
UPDATE omniroute.agent_skill SET proficiency = 1 WHERE agent_id = 1803 AND skill = 'french';
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5808, 280, '{"french": 2}');
SELECT is((SELECT diagnostics->'assignment'->>'reason' FROM omniroute.work_item WHERE id = 5808),
          'no member of queue "Exact skills" has skill "french" at level 2 (best: 1)',
          'exact: a lowered proficiency counts at once');
DELETE FROM omniroute.queue_member WHERE queue_id = 180 AND agent_id = 1803;
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5809, 280, '{"french": 1}');
SELECT is((SELECT diagnostics->'assignment'->>'reason' FROM omniroute.work_item WHERE id = 5809),
          'no member of queue "Exact skills" has skill "french" at level 1 (best: 0)',
          'exact: the skills of an agent who left the queue no longer count');
SELECT omniroute.close(5809);   -- or joining the queue below would serve it
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (180, 1803);
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5810, 280, '{"french": 1}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5810), 1803::bigint,
          'exact: an agent who joins the queue brings their skills');

-- ---------------------------------------------------------------------------
-- Skills: closest
-- ---------------------------------------------------------------------------

-- 1901 spanish 9 (100 units), 1902 spanish 6 (10), 1903 spanish 3 (20), 1904 none (200)
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5901, 290, '{"spanish": 5}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5901), 1902::bigint,
          'closest: among those meeting the requirement, the least over-qualified (6 for 5, not 9)');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5902, 290, '{"spanish": 10}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5902), 1901::bigint,
          'closest: nobody meets it, the smallest shortfall wins (9 for 10)');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5903, 290, '{"spanish": 8, "french": 2}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5903), 1901::bigint,
          'closest: a missing skill falls short by its whole proficiency (9/none: 2 beats 6/none: 4)');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5904, 290, '{"spanish": 5, "french": 2}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5904), 1901::bigint,
          'closest: equal shortfall, then the queue''s method (most free units)');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5905, 290, '{"french": 10}');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5905',
    $$VALUES ('offered'::text, 1904::bigint)$$,
    'closest: the item never waits for want of skills (equal shortfall, most free units)');

-- exact matching must look past a first batch of unskilled candidates: twenty
-- members with more room (available and busy) lack the skill, one busy agent has it
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5861, 286, '{"spanish": 2}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5861), 1860::bigint,
          'exact: the one skilled member is found behind many better-placed unskilled ones');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5862, 286, '{"spanish": 3}');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5862',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'exact: in a crowd where nobody is skilled enough, the item waits');

-- ---------------------------------------------------------------------------
-- Capacity profile (README, "Bots, affinity, capacity profiles"): only
-- agents with the workstream's profile, and fewer items counted against it
-- than its max (the agent's max_items overriding the profile's)
-- ---------------------------------------------------------------------------

-- 1851: no profile, 100 units; 1852: profile (max 1), 10 units; 1853: profile, max 2, 5 units
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5851, 285);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5852, 285);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5853, 285);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5854, 285);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5851), 1852::bigint,
          'capacity profile: an agent without the workstream''s profile is not eligible');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5852), 1853::bigint,
          'capacity profile: an agent at the profile''s max_items (1) is skipped');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5853), 1853::bigint,
          'capacity profile: the agent''s own max_items (2) overrides the profile''s');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5854',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'capacity profile: everyone with the profile is at their max, the item waits');

-- ---------------------------------------------------------------------------
-- Configuration changed after the workstream was first routed takes effect
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6101, 287);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6101), 1891::bigint,
          'late config: the available agent gets the first item');
-- a custom presence created now, based on busy, is allowed at once
INSERT INTO omniroute.presence (name, base) VALUES ('Training', 'busy');
UPDATE omniroute.agent SET presence = 'Training' WHERE id = 1892;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6102, 287);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6102), 1892::bigint,
          'a custom presence added after routing started is allowed through its base');
-- the workstream's units change
UPDATE omniroute.workstream SET capacity_units = 10 WHERE id = 287;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6103, 287);
SELECT results_eq(
    'SELECT agent_id, reserved_units FROM omniroute.work_item WHERE id = 6103',
    $$VALUES (1892::bigint, 10)$$,
    'a changed capacity_units applies to the next item');
-- the presence's base changes to away: its agents are no longer allowed
UPDATE omniroute.presence SET base = 'away' WHERE name = 'Training';
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6104, 287);
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6104',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'a presence whose base becomes away is no longer allowed');

-- ---------------------------------------------------------------------------
-- simulate() when nobody is eligible
-- ---------------------------------------------------------------------------

SELECT is(omniroute.simulate(220, '{}')->'assignment'->>'outcome', 'open',
          'simulate(): outcome open when nobody has room');
SELECT is(omniroute.simulate(204, '{}')->'route'->>'queue_id', '104',
          'simulate(): the fallback queue');
SELECT is(omniroute.simulate(201, '{"tier": "standard"}')->'assignment'->>'agent_id', '1001',
          'simulate(): the same agent a standard item would get');
SELECT results_eq(
    $$SELECT (SELECT count(*) FROM omniroute.work_item), (SELECT count(*) FROM omniroute.work_item_event),
             (SELECT sum(used_units) FROM omniroute.agent)$$,
    $$SELECT (SELECT count(*) FROM omniroute.work_item), (SELECT count(*) FROM omniroute.work_item_event),
             (SELECT sum(used_units) FROM omniroute.agent)
        FROM (SELECT omniroute.simulate(201, '{"tier": "vip"}'), omniroute.simulate(290, '{}')) s$$,
    'simulate() leaves work items, events and capacity as they were');

-- ---------------------------------------------------------------------------
-- Every pushed item: one offered event; bookkeeping adds up
-- ---------------------------------------------------------------------------

SELECT is(
    (SELECT count(*) FROM omniroute.work_item w
      WHERE w.state = 'offered'
        AND (SELECT array_agg(e.event ORDER BY e.id) FROM omniroute.work_item_event e
              WHERE e.work_item_id = w.id) IS DISTINCT FROM ARRAY['offered']),
    0::bigint,
    'every item offered on insert has exactly one event, offered');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item w
      WHERE w.state = 'offered'
        AND NOT EXISTS (SELECT 1 FROM omniroute.work_item_event e
                         WHERE e.work_item_id = w.id AND e.event = 'offered'
                           AND e.agent_id = w.agent_id AND e.queue_id = w.queue_id)),
    0::bigint,
    'the offered event names the agent and queue of the item');
SELECT is(
    (SELECT count(*) FROM omniroute.agent a
      WHERE a.used_units <> (SELECT coalesce(sum(w.reserved_units), 0) FROM omniroute.work_item w
                              WHERE w.agent_id = a.id AND w.state IN ('offered', 'active'))),
    0::bigint,
    'each agent''s used_units is the sum of the units reserved by their items');
SELECT is(
    (SELECT count(*) FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
      WHERE m.free_units <> a.capacity - a.used_units OR m.presence <> a.presence),
    0::bigint,
    'every membership mirrors its agent''s presence and capacity - used_units');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item
      WHERE state = 'offered' AND (offered_at IS NULL OR assigned_at IS NOT NULL)),
    0::bigint,
    'every offered item has offered_at and no assigned_at');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item
      WHERE diagnostics IS NULL
         OR NOT (diagnostics ? 'classification' AND diagnostics ? 'route' AND diagnostics ? 'assignment')),
    0::bigint,
    'every item has diagnostics with classification, route and assignment');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item
      WHERE state = 'offered'
        AND ((diagnostics->'assignment'->>'agent_id')::bigint IS DISTINCT FROM agent_id
             OR diagnostics->'assignment'->>'outcome' IS DISTINCT FROM 'offered'
             OR NOT (diagnostics->'assignment' ? 'method')
             OR NOT (diagnostics->'assignment' ? 'score')
             OR NOT (diagnostics->'assignment' ? 'candidates_examined'))),
    0::bigint,
    'diagnostics.assignment of every offered item names its agent, outcome, method, score, candidates');

-- ---------------------------------------------------------------------------
-- An admin's presence and capacity changes are mirrored into queue_member
-- ---------------------------------------------------------------------------

SELECT results_eq(
    'SELECT queue_id, presence, free_units FROM omniroute.queue_member WHERE agent_id = 2001 ORDER BY queue_id',
    $$VALUES (195::bigint, 'offline'::text, 5), (196, 'offline', 5)$$,
    'a new membership starts with a copy of the agent''s presence and free units');

UPDATE omniroute.agent SET presence = 'busy', capacity = 7 WHERE id = 2001;
SELECT results_eq(
    'SELECT queue_id, presence, free_units FROM omniroute.queue_member WHERE agent_id = 2001 ORDER BY queue_id',
    $$VALUES (195::bigint, 'busy'::text, 7), (196, 'busy', 7)$$,
    'presence and capacity changes reach every membership');

-- an agent with work: free units stay capacity - used_units
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6001, 297);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6001), 2002::bigint, 'the mirror agent gets an item');
SELECT results_eq(
    'SELECT queue_id, presence, free_units FROM omniroute.queue_member WHERE agent_id = 2002 ORDER BY queue_id',
    $$VALUES (197::bigint, 'available'::text, 4), (198, 'available', 4)$$,
    'after the offer both memberships show 4 of 5 free');
UPDATE omniroute.agent SET capacity = 8 WHERE id = 2002;
SELECT results_eq(
    'SELECT queue_id, presence, free_units FROM omniroute.queue_member WHERE agent_id = 2002 ORDER BY queue_id',
    $$VALUES (197::bigint, 'available'::text, 7), (198, 'available', 7)$$,
    'a capacity change keeps the used units: 8 - 1');
UPDATE omniroute.agent SET presence = 'On call' WHERE id = 2002;
SELECT results_eq(
    'SELECT queue_id, presence, free_units FROM omniroute.queue_member WHERE agent_id = 2002 ORDER BY queue_id',
    $$VALUES (197::bigint, 'On call'::text, 7), (198, 'On call', 7)$$,
    'a change to a custom presence is mirrored');
UPDATE omniroute.agent SET presence = 'away' WHERE id = 2002;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6002, 297);
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6002',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'after the agent goes away, new work waits');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 2002), 1, 'the away agent got nothing more');

-- ---------------------------------------------------------------------------
-- Skills: exact, few qualified members (skill first)
-- ---------------------------------------------------------------------------

-- Six unskilled members with more free units would come first in
-- highest_capacity order; with at most a quarter of the queue qualified,
-- the qualified members are looked up directly instead of reading the queue.
INSERT INTO omniroute.queue (id, name, assignment) VALUES (188, 'Few skilled', 'highest_capacity');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_units, skill_matching)
     VALUES (288, 'Few skilled', 188, 1, 'exact');
INSERT INTO omniroute.agent (id, name, presence, capacity)
     SELECT 1880 + g, 'Few skilled ' || g, 'available', CASE WHEN g <= 6 THEN 20 ELSE 10 END
       FROM generate_series(1, 8) AS g;
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES
    (1886, 'spanish', 3), (1887, 'french', 2), (1888, 'french', 4);
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 188, 1880 + g FROM generate_series(1, 8) AS g;

INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5881, 288, '{"french": 3}');
SELECT results_eq(
    $$SELECT agent_id, (diagnostics->'assignment'->>'candidates_examined')::int,
             diagnostics->'assignment'->'score'->>'skill_surplus'
        FROM omniroute.work_item WHERE id = 5881$$,
    $$VALUES (1888::bigint, 1, '1')$$,
    'skill first: the one qualified member, found without reading the others');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5882, 288, '{"french": 1}');
SELECT results_eq(
    $$SELECT agent_id, (diagnostics->'assignment'->>'candidates_examined')::int
        FROM omniroute.work_item WHERE id = 5882$$,
    $$VALUES (1887::bigint, 1)$$,
    'skill first: the qualified members in the method''s order (1887 has more free units than 1888 now)');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5883, 288, '{"french": 1, "spanish": 1}');
SELECT is((SELECT diagnostics->'assignment'->>'reason' FROM omniroute.work_item WHERE id = 5883),
          'no member of queue "Few skilled" has every required skill at its level',
          'skill first: each skill is in the queue, never both in one member');
SELECT omniroute.set_presence(1887, 'away');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5884, 288, '{"french": 1}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5884), 1888::bigint,
          'skill first: a qualified member whose presence is not allowed is passed over');
UPDATE omniroute.agent SET capacity = 2 WHERE id = 1888;   -- has 2 items: full
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (5885, 288, '{"french": 1}');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5885',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'skill first: qualified members without room leave the item waiting');

-- ---------------------------------------------------------------------------
-- History rows: written directly, or through SQL when the table has a trigger
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5891, 280);
SELECT results_eq(
    $$SELECT e.event, e.actor::text, e.id IS NOT NULL, e.at = w.offered_at
        FROM omniroute.work_item_event e JOIN omniroute.work_item w ON w.id = e.work_item_id
       WHERE e.work_item_id = 5891$$,
    $$VALUES ('offered'::text, session_user::text, true, true)$$,
    'a history row written directly has its id, time and actor like a SQL insert');
CREATE TABLE pg_temp.event_feed (work_item_id bigint, event text);
CREATE FUNCTION pg_temp.feed() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN INSERT INTO pg_temp.event_feed VALUES (NEW.work_item_id, NEW.event); RETURN NEW; END$$;
CREATE TRIGGER feed AFTER INSERT ON omniroute.work_item_event
    FOR EACH ROW EXECUTE FUNCTION pg_temp.feed();
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5892, 280);
SELECT results_eq(
    'SELECT work_item_id, event FROM pg_temp.event_feed',
    $$VALUES (5892::bigint, 'offered'::text)$$,
    'a trigger someone puts on work_item_event sees routing''s history rows');
DROP TRIGGER feed ON omniroute.work_item_event;
ALTER TABLE omniroute.work_item_event ADD COLUMN note text DEFAULT 'from SQL';
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5893, 280);
SELECT is((SELECT note FROM omniroute.work_item_event WHERE work_item_id = 5893), 'from SQL',
          'a column someone adds to work_item_event gets its default on routing''s rows');
ALTER TABLE omniroute.work_item_event DROP COLUMN note;
ALTER TABLE omniroute.work_item_event ALTER COLUMN detail TYPE json;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5894, 280);
SELECT is((SELECT detail->>'method' FROM omniroute.work_item_event WHERE work_item_id = 5894),
          'highest_capacity',
          'a column someone retypes in work_item_event gets routing''s values converted');
ALTER TABLE omniroute.work_item_event ALTER COLUMN detail TYPE jsonb USING detail::jsonb;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5895, 280);
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 5895), 1::bigint,
          'with the table back as it was, history rows are written directly again');

-- ---------------------------------------------------------------------------
-- Exact skills, many qualified: with 8 of 12 members having the skill, they
-- are not looked up one by one but found in the method's order and rated
-- from the queue's skill reach (src/assign.c).  The four without the skill
-- and the one below the level come first in that order and are passed over.
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.skill (name) VALUES ('rateskill');
INSERT INTO omniroute.queue (id, name, assignment) VALUES (9701, 'Rate: many qualified', 'highest_capacity');
INSERT INTO omniroute.agent (id, name, capacity, presence)
SELECT a, 'rate ' || a, CASE WHEN a <= 9704 THEN 200 ELSE 100 + (a - 9700) END, 'available'
  FROM generate_series(9701, 9712) AS a;
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency)
SELECT a, 'rateskill', CASE WHEN a = 9712 THEN 2 ELSE 5 END FROM generate_series(9705, 9712) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 9701, a FROM generate_series(9701, 9712) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching)
    VALUES (9701, 'Rate: exact', 9701, 'exact');
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (9701, 9701, '{"rateskill": 3}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9701), 9711::bigint,
          'many qualified: the most free units among those with the skill at its level');
SELECT cmp_ok((SELECT (diagnostics->'assignment'->>'candidates_examined')::int
                 FROM omniroute.work_item WHERE id = 9701), '>', 5,
              'many qualified: found in the method''s order, passing over those without');

-- the first member with the skill is all the scan reads in each presence;
-- when that one cannot take the item (it rejected it), it reads further
DO $$ BEGIN PERFORM omniroute.reject(9701); END $$;
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9701), 9710::bigint,
          'many qualified: after a reject, the scan reads past the first qualified member to the next');

-- after all the routing above, every row the router wrote directly is in
-- each index whose predicate admits it: src/direct.c evaluates partial-index
-- predicates with states it compiles once per backend, and a wrong one
-- would leave a member out of its method's index (amcheck's heapallindexed
-- verification builds what each index should hold and looks for it)
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT lives_ok(
    $$SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
       WHERE i.indrelid IN ('omniroute.queue_member'::regclass, 'omniroute.work_item_event'::regclass,
                            'omniroute.agent'::regclass)$$,
    'the membership, agent and history indexes hold every row their predicates admit');

-- an index of another layout (as an install of an older script has) is
-- refused with an error, not scanned with the wrong comparison functions
DROP INDEX omniroute.queue_member_round_robin_idx;
CREATE INDEX queue_member_round_robin_idx ON omniroute.queue_member
    (queue_id, presence, queue_last_assigned_at, join_seq) INCLUDE (agent_id)
    WHERE method = 'round_robin';
SELECT throws_ok($$INSERT INTO omniroute.work_item (workstream_id) VALUES (240)$$, '55000',
    'omniroute: index "omniroute.queue_member_round_robin_idx" does not have the columns this version of omniroute reads',
    'a candidate index keyed on the presence text is refused');

SELECT * FROM finish();
ROLLBACK;
