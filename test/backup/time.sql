-- test/backup/time.sql — operating hours, overflow and escalation (SPEC 10)
-- configured on top of scripts/demo and test/backup/work.sql, so that a
-- backup carries them; 0.2.0 and later only.  Run as a superuser.
\set ON_ERROR_STOP on
\set QUIET on

INSERT INTO omniroute.operating_hours (name, timezone) VALUES ('Support', 'Europe/Berlin'), ('Night', 'America/New_York');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'Support', d, '08:00', '18:00' FROM generate_series(1, 5) d;
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES
    ('Night', 0, '20:00', '24:00'), ('Night', 1, '00:00', '06:00');
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('Support', '2030-12-25', 'Christmas');
INSERT INTO omniroute.queue (id, name, operating_hours, max_open, max_wait, overflow_action)
     VALUES (90, 'After hours', 'Night', 50, '2 hours', 'close');
UPDATE omniroute.queue SET operating_hours = 'Support', max_open = 100, max_wait = '30 minutes',
       overflow_action = 'transfer', overflow_queue_id = (SELECT id FROM omniroute.queue WHERE name = 'After hours')
 WHERE id = (SELECT min(id) FROM omniroute.queue WHERE name <> 'After hours');
UPDATE omniroute.workstream SET priority_aging = '10 minutes' WHERE id = 1;
INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching, drop_skills, queue_id, add_priority)
VALUES (1, '5 minutes', 'closest', NULL, NULL, 1),
       (1, '15 minutes', 'none', '{*}', (SELECT id FROM omniroute.queue WHERE name = 'After hours'), 5);
