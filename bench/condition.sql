-- bench/condition.sql — agent conditions on top of bench/config.sql:
--   psql -f bench/config.sql ... && psql -f bench/condition.sql
-- every queue admits only agents with tier 'gold', and one agent in ten
-- has it, spread evenly over queues and presences (a hash of the id: both
-- membership and presence in bench/config.sql follow id modulo 10 or 50)
\set ON_ERROR_STOP on
\set QUIET on
UPDATE omniroute.agent
   SET attributes = jsonb_build_object('tier', CASE WHEN abs(hashint8(id)) % 10 = 3 THEN 'gold' ELSE 'silver' END,
                                       'level', id % 5);
UPDATE omniroute.queue SET agent_condition = 'agent.tier = ''gold''';
ANALYZE;
