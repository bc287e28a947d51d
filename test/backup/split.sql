-- test/backup/split.sql — re-offers and a percentage split configured on
-- top of scripts/demo and test/backup/work.sql, with items routed through
-- the split, so that a backup carries them; 0.2.0 and later only.  Run as
-- a superuser.
\set ON_ERROR_STOP on
\set QUIET on

UPDATE omniroute.workstream SET max_offers_per_agent = 2 WHERE id = 1;
INSERT INTO omniroute.route_rule_split (route_rule_id, queue_id, percent)
SELECT r.id, q.id, q.percent
  FROM omniroute.route_rule r,
       (VALUES (3::bigint, 60), (1::bigint, 40)) AS q (id, percent)
 WHERE r.workstream_id = 1 AND r.name = 'Tech topics';
INSERT INTO omniroute.work_item (workstream_id, external_id, context)
SELECT 1, 'split-' || g, '{"topic": "outage", "language": "en"}' FROM generate_series(1, 10) g;
