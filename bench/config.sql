-- bench/config.sql — a realistic configuration for the benchmark.
--   psql -v agents=1000 -f bench/config.sql
-- 10 workstreams, 50 queues, :agents agents with skills and mixed presences,
-- 5 context variables, 3 classification and 5 route rules per workstream.
-- :capacity sets each agent's units (items take 1 unit); with a large value
-- every routed insert is a real assignment (the expensive path).
\set ON_ERROR_STOP on
\set QUIET on
SELECT setseed(0.5);

INSERT INTO omniroute.skill (name)
SELECT 'skill_' || s FROM generate_series(1, 20) AS s;

INSERT INTO omniroute.queue (id, name, assignment, priority)
SELECT q, 'queue ' || q,
       (ARRAY['highest_capacity', 'round_robin', 'least_active'])[1 + q % 3],
       q % 4
  FROM generate_series(1, 50) AS q;

-- 60% available, 20% busy, the rest away/offline/busy_dnd: like a real floor
INSERT INTO omniroute.agent (id, name, capacity, presence)
SELECT a, 'agent ' || a, :capacity,
       CASE WHEN a % 10 < 6 THEN 'available' WHEN a % 10 < 8 THEN 'busy'
            WHEN a % 10 = 8 THEN 'away' ELSE 'offline' END
  FROM generate_series(1, :agents) AS a;

INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency)
SELECT a, 'skill_' || (1 + (a * 7 + k * 3) % 20), 1 + (a + k) % 10
  FROM generate_series(1, :agents) AS a, generate_series(1, 3) AS k
ON CONFLICT DO NOTHING;

-- each agent in 3 queues; each queue has about 3 * agents / 50 members
INSERT INTO omniroute.queue_member (queue_id, agent_id)
SELECT DISTINCT 1 + (a + k * 17) % 50, a
  FROM generate_series(1, :agents) AS a, generate_series(0, 2) AS k;

INSERT INTO omniroute.workstream (id, name, kind, channel, capacity_units, fallback_queue_id,
                                  skill_matching, allowed_presences)
SELECT w, 'workstream ' || w, 'messaging', 'chat', 1, 1 + (w - 1) * 5,
       CASE WHEN w % 2 = 0 THEN 'exact' ELSE 'none' END, '{available,busy}'
  FROM generate_series(1, 10) AS w;

INSERT INTO omniroute.context_variable (workstream_id, name, type)
SELECT w, v.name, v.type
  FROM generate_series(1, 10) AS w,
       (VALUES ('topic', 'text'), ('language', 'text'), ('country', 'text'),
               ('amount', 'number'), ('segment', 'text')) AS v(name, type);

INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
SELECT w, r.pos, r.name, r.cond, r.out::jsonb
  FROM generate_series(1, 10) AS w,
       (VALUES (1, 'vip', 'amount >= 900', '{"segment": "vip", "priority": 5}'),
               (2, 'french', 'language IN (''fr'', ''fr-CA'') OR country = ''FR''', '{"priority": 2}'),
               (3, 'refunds', 'topic CONTAINS ''refund'' AND NOT (segment = ''vip'')',
                '{"priority": 3, "skills": {"skill_1": 1}}'))
       AS r(pos, name, cond, out);

INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
SELECT w, r.pos, r.name, r.cond, (w - 1) * 5 + r.pos
  FROM generate_series(1, 10) AS w,
       (VALUES (1, 'vip', 'segment = ''vip'''),
               (2, 'billing', 'topic CONTAINS ''bill'' OR topic CONTAINS ''refund'''),
               (3, 'tech', 'topic IN (''login'', ''outage'', ''bug'')'),
               (4, 'french', 'language STARTS WITH ''fr'''),
               (5, 'spanish', 'language = ''es'' AND amount > 10'))
       AS r(pos, name, cond);

-- the physical limit: the same rows into an identically shaped table
-- (columns, defaults, constraints, indexes) without the extension's
-- triggers; the references that work_item keeps through those (src/refs.c)
-- are foreign keys here, so both tables guarantee the same
CREATE SCHEMA bench;
CREATE TABLE bench.plain_item (LIKE omniroute.work_item INCLUDING ALL);
ALTER TABLE bench.plain_item
    ADD FOREIGN KEY (workstream_id) REFERENCES omniroute.workstream (id),
    ADD FOREIGN KEY (queue_id) REFERENCES omniroute.queue (id),
    ADD FOREIGN KEY (agent_id) REFERENCES omniroute.agent (id);
ANALYZE;
