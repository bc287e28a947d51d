-- test/stress/config.sql — the configuration the stress run works on.
-- 3 push workstreams (1, 2 and 3 capacity units; exact, none and closest
-- skill matching; different allowed presences), 6 queues (two per
-- workstream, one per assignment method at least), 40 agents with 3..10
-- units, mixed presences (a custom one among them), three skills.
-- Nothing here may legitimately exceed an agent's capacity: no
-- keep_same_agent, no bots, no transfers to a named agent.
\set ON_ERROR_STOP on
\set QUIET on

INSERT INTO omniroute.presence (name, base) VALUES ('Lunch', 'away');

INSERT INTO omniroute.skill (name) VALUES ('billing'), ('tech'), ('french');

INSERT INTO omniroute.queue (id, name, assignment, priority) VALUES
    (1, 'chat billing',   'highest_capacity', 2),
    (2, 'chat general',   'round_robin',      0),
    (3, 'email tech',     'least_active',     1),
    (4, 'email general',  'highest_capacity', 0),
    (5, 'voice vip',      'round_robin',      3),
    (6, 'voice general',  'least_active',     1);

INSERT INTO omniroute.agent (id, name, capacity, presence)
SELECT a, 'stress agent ' || a, 3 + a % 8,
       CASE WHEN a % 10 < 5 THEN 'available' WHEN a % 10 < 7 THEN 'busy'
            WHEN a % 10 = 7 THEN 'away' WHEN a % 10 = 8 THEN 'Lunch' ELSE 'offline' END
  FROM generate_series(1, 40) AS a;

INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency)
SELECT a, 'billing', 1 + a % 10 FROM generate_series(1, 40) AS a WHERE a % 2 = 0
UNION ALL
SELECT a, 'tech', 1 + (a * 3) % 10 FROM generate_series(1, 40) AS a WHERE a % 3 = 0
UNION ALL
SELECT a, 'french', 1 + (a * 7) % 10 FROM generate_series(1, 40) AS a WHERE a % 4 = 1;

-- every agent in two or three queues, across workstreams
INSERT INTO omniroute.queue_member (queue_id, agent_id)
SELECT DISTINCT 1 + (a + k * 5) % 6, a
  FROM generate_series(1, 40) AS a, generate_series(0, 2) AS k
 WHERE k < 2 + a % 2;

INSERT INTO omniroute.workstream (id, name, kind, channel, mode, capacity_units, fallback_queue_id,
                                  skill_matching, allowed_presences) VALUES
    (1, 'stress chat',  'messaging', 'chat',  'push', 1, 2, 'exact',   '{available,busy}'),
    (2, 'stress email', 'record',    'email', 'push', 2, 4, 'none',    '{available}'),
    (3, 'stress voice', 'voice',     'phone', 'push', 3, 6, 'closest', '{available,busy,away}');

INSERT INTO omniroute.context_variable (workstream_id, name, type)
SELECT w, 'topic', 'text' FROM generate_series(1, 3) AS w;
INSERT INTO omniroute.context_variable (workstream_id, name, type)
SELECT w, 'amount', 'number' FROM generate_series(1, 3) AS w;

INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (1, 1, 'big bill',  'topic = ''billing'' AND amount >= 500', '{"priority": 5}'),
    (1, 2, 'tech chat', 'topic = ''tech''',                      '{"skills": {"tech": 3}}'),
    (3, 1, 'vip',       'amount >= 900',                         '{"priority": 9, "skills": {"billing": 5}}');

INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id) VALUES
    (1, 1, 'billing', 'topic = ''billing''', 1),
    (2, 1, 'tech',    'topic IN (''tech'', ''outage'')', 3),
    (3, 1, 'vip',     'amount >= 900', 5);

ANALYZE;
