-- test/pgtap/hours.sql — operating hours and the configuration of SPEC 10
-- (issue 18, points 1 and 2):
--   * every validation of the new tables and columns refuses with its
--     SQLSTATE, naming the object or the value, and changes nothing: an
--     unknown time zone (22023), closes <= opens, a day outside 0..6, a
--     transfer without a target, a bad action, skill matching, drop_skills,
--     intervals <= 0 or over 366 days (23514), a missing queue or hours
--     (23503); queue_is_open() of an unknown queue (42704) or at infinity
--     (22008);
--   * queue_is_open() and queue_next_open() at explicit instants: across
--     days, a slot ending at 24:00, a holiday, a zone whose local date
--     differs from UTC's, and the nights the clocks move in Europe/Berlin
--     and America/New_York (wall-clock semantics: a slot in the skipped
--     hour does not open that night, one in the repeated hour opens twice);
--   * the per-backend cache follows changes to slots, holidays and time
--     zones made in the same session;
--   * who may read and write the new tables; copy_workstream copies steps.
-- Configuration runs as a login role granted omniroute_admin.
BEGIN;
SELECT plan(113);

SET LOCAL client_min_messages = error;

CREATE ROLE hr_admin;  CREATE ROLE hr_agent;  CREATE ROLE hr_app;  CREATE ROLE hr_reporter;
GRANT omniroute_admin TO hr_admin;
GRANT omniroute_agent TO hr_agent;
GRANT omniroute_app TO hr_app;
GRANT omniroute_reporter TO hr_reporter;

SET LOCAL ROLE hr_admin;

INSERT INTO omniroute.operating_hours (name, timezone) VALUES
    ('Office', 'UTC'), ('Berlin', 'Europe/Berlin'), ('New York', 'America/New_York'),
    ('Auckland', 'Pacific/Auckland'), ('Empty', 'UTC');
-- Office (UTC): weekdays 09:00-17:00, Friday also 20:00-24:00, Saturday 00:00-02:00
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'Office', d, '09:00', '17:00' FROM generate_series(1, 5) d;
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES
    ('Office', 5, '20:00', '24:00'), ('Office', 6, '00:00', '02:00');
-- Monday 2024-01-01 is a holiday
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('Office', '2024-01-01', 'New Year');
-- Berlin, Sundays: 02:30-04:00 (in the skipped hour in March) and 02:00-02:30
-- (in the repeated hour in October); Mondays 09:00-17:00
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES
    ('Berlin', 0, '02:30', '04:00'), ('Berlin', 0, '02:00', '02:30'), ('Berlin', 1, '09:00', '17:00');
-- New York, Sundays 01:00-03:00 and 05:10-05:20
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES
    ('New York', 0, '01:00', '03:00'), ('New York', 0, '05:10', '05:20');
-- Auckland, Mondays 09:00-17:00 local (UTC+13 in January: Sunday evening UTC)
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Auckland', 1, '09:00', '17:00');
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('Auckland', '2024-01-22', 'Wellington Anniversary');

INSERT INTO omniroute.queue (id, name, operating_hours) VALUES
    (801, 'Office', 'Office'), (802, 'Berlin', 'Berlin'), (803, 'New York', 'New York'),
    (804, 'Auckland', 'Auckland'), (805, 'Always', NULL), (806, 'Never', 'Empty');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (811, 'Chat', 805);
INSERT INTO omniroute.skill (name) VALUES ('french');

-- ---------------------------------------------------------------------------
-- Validation: refused, named, nothing changed
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE before_config ON COMMIT DROP AS
SELECT 'hours' AS t, count(*) AS n, md5(string_agg(h::text, ',' ORDER BY h::text)) AS digest
  FROM omniroute.operating_hours h
UNION ALL SELECT 'slots', count(*), md5(string_agg(s::text, ',' ORDER BY s::text)) FROM omniroute.operating_hours_slot s
UNION ALL SELECT 'holidays', count(*), md5(string_agg(h::text, ',' ORDER BY h::text)) FROM omniroute.holiday h
UNION ALL SELECT 'queues', count(*), md5(string_agg(q::text, ',' ORDER BY q::text)) FROM omniroute.queue q
UNION ALL SELECT 'workstreams', count(*), md5(string_agg(w::text, ',' ORDER BY w::text)) FROM omniroute.workstream w
UNION ALL SELECT 'steps', count(*), md5(coalesce(string_agg(e::text, ',' ORDER BY e::text), '')) FROM omniroute.escalation_step e;

SELECT throws_ok($$INSERT INTO omniroute.operating_hours (name, timezone) VALUES ('Mars', 'Mars/Olympus_Mons')$$,
    '22023', 'operating hours "Mars": time zone "Mars/Olympus_Mons" not recognized',
    'an unknown time zone is refused, naming the hours and the zone');
SELECT throws_ok($$UPDATE omniroute.operating_hours SET timezone = 'Europe/Atlantis' WHERE name = 'Berlin'$$,
    '22023', 'operating hours "Berlin": time zone "Europe/Atlantis" not recognized',
    'an update to an unknown time zone is refused');
SELECT throws_ok($$INSERT INTO omniroute.operating_hours (name, timezone) VALUES ('Blank', '')$$,
    '22023', 'operating hours "Blank": time zone "" not recognized', 'an empty time zone is refused');
SELECT throws_like($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Office', 6, '17:00', '09:00')$$,
    '%operating_hours_slot_closes_after_opens%', 'closes before opens is refused (23514)');
SELECT throws_ok($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Office', 6, '09:00', '09:00')$$,
    '23514', NULL, 'closes = opens is refused');
SELECT throws_ok($$UPDATE omniroute.operating_hours_slot SET closes = '08:00' WHERE hours = 'Office' AND day = 1$$,
    '23514', NULL, 'an update to closes before opens is refused');
SELECT throws_ok($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Office', 7, '09:00', '10:00')$$,
    '23514', NULL, 'day 7 is refused');
SELECT throws_ok($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Office', -1, '09:00', '10:00')$$,
    '23514', NULL, 'day -1 is refused');
SELECT throws_ok($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Nowhere', 1, '09:00', '10:00')$$,
    '23503', NULL, 'a slot of hours that do not exist is refused');
SELECT throws_ok($$INSERT INTO omniroute.holiday (hours, day) VALUES ('Nowhere', '2024-12-25')$$,
    '23503', NULL, 'a holiday of hours that do not exist is refused');
SELECT throws_ok($$INSERT INTO omniroute.holiday (hours, day) VALUES ('Office', 'infinity')$$,
    '23514', NULL, 'an infinite holiday is refused');
SELECT throws_ok($$DELETE FROM omniroute.operating_hours WHERE name = 'Office'$$,
    '23503', NULL, 'hours a queue uses cannot be deleted');
SELECT throws_ok($$INSERT INTO omniroute.queue (name, operating_hours) VALUES ('Q', 'Nowhere')$$,
    '23503', NULL, 'a queue with hours that do not exist is refused');
SELECT throws_like($$UPDATE omniroute.queue SET overflow_action = 'transfer' WHERE id = 801$$,
    '%queue_overflow_transfer_check%', 'transfer without overflow_queue_id is refused (23514)');
SELECT throws_ok($$INSERT INTO omniroute.queue (name, overflow_action) VALUES ('Q', 'transfer')$$,
    '23514', NULL, 'a new queue that transfers without a target is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET overflow_action = 'bounce' WHERE id = 801$$,
    '23514', NULL, 'an unknown overflow action is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 899 WHERE id = 801$$,
    '23503', NULL, 'an overflow queue that does not exist is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET max_open = 0 WHERE id = 801$$,
    '23514', NULL, 'max_open 0 is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET max_wait = '0 seconds' WHERE id = 801$$,
    '23514', NULL, 'max_wait 0 is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET max_wait = '-5 minutes' WHERE id = 801$$,
    '23514', NULL, 'a negative max_wait is refused');
SELECT throws_ok($$UPDATE omniroute.queue SET max_wait = '367 days' WHERE id = 801$$,
    '23514', NULL, 'max_wait over 366 days is refused');
SELECT throws_ok($$UPDATE omniroute.workstream SET priority_aging = '0 seconds' WHERE id = 811$$,
    '23514', NULL, 'priority_aging 0 is refused');
SELECT throws_ok($$UPDATE omniroute.workstream SET priority_aging = '2 years' WHERE id = 811$$,
    '23514', NULL, 'priority_aging over 366 days is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, queue_id) VALUES (811, '1 minute', 899)$$,
    '23503', NULL, 'a step moving items to a queue that does not exist is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after) VALUES (899, '1 minute')$$,
    '23503', NULL, 'a step of a workstream that does not exist is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after) VALUES (811, '0 seconds')$$,
    '23514', NULL, 'a step after 0 is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after) VALUES (811, '-1 minute')$$,
    '23514', NULL, 'a step after a negative interval is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after) VALUES (811, '400 days')$$,
    '23514', NULL, 'a step after more than 366 days is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching) VALUES (811, '1 minute', 'fuzzy')$$,
    '23514', NULL, 'a step with an unknown skill matching is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, drop_skills) VALUES (811, '1 minute', '{}')$$,
    '23514', NULL, 'a step dropping an empty list is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, drop_skills) VALUES (811, '1 minute', '{french,NULL}')$$,
    '23514', NULL, 'a step dropping a NULL skill is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, drop_skills) VALUES (811, '1 minute', '{""}')$$,
    '23514', NULL, 'a step dropping an empty skill name is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, drop_skills) VALUES (811, '1 minute', '{*,french}')$$,
    '23514', NULL, 'a step dropping * with other skills is refused');
SELECT throws_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after) VALUES (811, '1 minute'), (811, '60 seconds')$$,
    '23505', NULL, 'two steps of a workstream at the same after are refused');

SELECT results_eq(
    $$SELECT t, n, digest FROM (
        SELECT 'hours' AS t, count(*) AS n, md5(string_agg(h::text, ',' ORDER BY h::text)) AS digest
          FROM omniroute.operating_hours h
        UNION ALL SELECT 'slots', count(*), md5(string_agg(s::text, ',' ORDER BY s::text)) FROM omniroute.operating_hours_slot s
        UNION ALL SELECT 'holidays', count(*), md5(string_agg(h::text, ',' ORDER BY h::text)) FROM omniroute.holiday h
        UNION ALL SELECT 'queues', count(*), md5(string_agg(q::text, ',' ORDER BY q::text)) FROM omniroute.queue q
        UNION ALL SELECT 'workstreams', count(*), md5(string_agg(w::text, ',' ORDER BY w::text)) FROM omniroute.workstream w
        UNION ALL SELECT 'steps', count(*), md5(coalesce(string_agg(e::text, ',' ORDER BY e::text), '')) FROM omniroute.escalation_step e) x$$,
    $$SELECT t, n, digest FROM before_config$$,
    'the refused statements changed nothing');

-- what is allowed
SELECT lives_ok($$INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Empty', 3, '23:00', '24:00');
                  DELETE FROM omniroute.operating_hours_slot WHERE hours = 'Empty'$$,
    'a slot may close at 24:00');
SELECT lives_ok($$UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 805, max_open = 10,
                         max_wait = '366 days' WHERE id = 806;
                  UPDATE omniroute.queue SET overflow_action = 'close', overflow_queue_id = NULL, max_wait = NULL WHERE id = 806;
                  UPDATE omniroute.queue SET overflow_action = 'queue', max_open = NULL WHERE id = 806$$,
    'overflow transfer with a target, close and queue are accepted');
SELECT lives_ok($$INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching, drop_skills, queue_id, add_priority)
                  VALUES (811, '5 minutes', 'closest', '{french}', 801, 2), (811, '10 minutes', 'none', '{*}', NULL, 0)$$,
    'escalation steps with every field are accepted');
SELECT lives_ok($$UPDATE omniroute.operating_hours SET timezone = 'europe/berlin' WHERE name = 'Berlin';
                  UPDATE omniroute.operating_hours SET timezone = 'Europe/Berlin' WHERE name = 'Berlin'$$,
    'a zone name in any case is accepted');
-- an item's own skill matching: set by steps (the extension), checked even then
RESET ROLE;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (8101, 811);
SELECT throws_ok($$UPDATE omniroute.work_item SET skill_matching = 'fuzzy' WHERE id = 8101$$,
    '23514', NULL, 'a work item''s skill matching must be exact, closest or none');
SELECT throws_ok($$UPDATE omniroute.work_item SET escalation_level = -1 WHERE id = 8101$$,
    '23514', NULL, 'a work item''s escalation level cannot be negative');
SELECT is((SELECT queued_at = created_at AND escalation_level = 0 AND skill_matching IS NULL
             FROM omniroute.work_item WHERE id = 8101), true,
    'a new item is queued when created, at escalation level 0, with the workstream''s skill matching');

-- ---------------------------------------------------------------------------
-- queue_is_open across days, 24:00, a holiday (Office, UTC)
-- ---------------------------------------------------------------------------

SELECT is(omniroute.queue_is_open(801, '2024-01-02 08:59:59.999999+00'), false, 'Tuesday 08:59:59.999999: closed');
SELECT is(omniroute.queue_is_open(801, '2024-01-02 09:00:00+00'), true, 'Tuesday 09:00: open (opens included)');
SELECT is(omniroute.queue_is_open(801, '2024-01-02 16:59:59+00'), true, 'Tuesday 16:59:59: open');
SELECT is(omniroute.queue_is_open(801, '2024-01-02 17:00:00+00'), false, 'Tuesday 17:00: closed (closes excluded)');
SELECT is(omniroute.queue_is_open(801, '2024-01-07 12:00:00+00'), false, 'Sunday noon: closed (no slot)');
SELECT is(omniroute.queue_is_open(801, '2024-01-05 23:59:59.999999+00'), true, 'Friday 23:59:59.999999: open (slot to 24:00)');
SELECT is(omniroute.queue_is_open(801, '2024-01-06 00:00:00+00'), true, 'Saturday 00:00: open (next day''s slot)');
SELECT is(omniroute.queue_is_open(801, '2024-01-06 02:00:00+00'), false, 'Saturday 02:00: closed');
SELECT is(omniroute.queue_is_open(801, '2024-01-01 12:00:00+00'), false, 'holiday Monday noon: closed');
SELECT is(omniroute.queue_is_open(801, '2024-01-08 12:00:00+00'), true, 'the Monday after: open');
SELECT is(omniroute.queue_next_open(801, '2024-01-01 00:00:00+00'), '2024-01-02 09:00:00+00'::timestamptz,
    'next open from the holiday: Tuesday 09:00');
SELECT is(omniroute.queue_next_open(801, '2024-01-02 10:00:00+00'), '2024-01-02 10:00:00+00'::timestamptz,
    'next open while open: that time');
SELECT is(omniroute.queue_next_open(801, '2024-01-06 02:00:00+00'), '2024-01-08 09:00:00+00'::timestamptz,
    'next open from Saturday 02:00: Monday 09:00');
SELECT is(omniroute.queue_next_open(801, '2024-01-05 17:00:00+00'), '2024-01-05 20:00:00+00'::timestamptz,
    'next open from Friday 17:00: Friday 20:00');
SELECT is(omniroute.queue_is_open(805, '2024-01-07 03:00+00'), true, 'a queue without hours is always open');
SELECT is(omniroute.queue_next_open(805, '2024-01-07 03:00+00'), '2024-01-07 03:00+00'::timestamptz,
    'a queue without hours is open from any time');
SELECT is(omniroute.queue_is_open(806, '2024-01-07 03:00+00'), false, 'hours without slots: never open');
SELECT is(omniroute.queue_next_open(806, '2024-01-07 03:00+00'), NULL, 'hours without slots: never open (NULL)');

-- ---------------------------------------------------------------------------
-- A zone whose local date differs from UTC's (Pacific/Auckland, UTC+13)
-- ---------------------------------------------------------------------------

SELECT is(omniroute.queue_is_open(804, '2024-01-14 21:00:00+00'), true,
    'Sunday 21:00 UTC is Monday 10:00 in Auckland: open');
SELECT is(omniroute.queue_is_open(804, '2024-01-15 12:00:00+00'), false,
    'Monday noon UTC is Tuesday 01:00 in Auckland: closed');
SELECT is(omniroute.queue_is_open(804, '2024-01-21 21:00:00+00'), false,
    'Sunday 21:00 UTC on the eve of a holiday: the local Monday is the holiday, closed');
SELECT is(omniroute.queue_next_open(804, '2024-01-21 21:00:00+00'), '2024-01-28 20:00:00+00'::timestamptz,
    'after the holiday it opens the next local Monday 09:00 (Sunday 20:00 UTC)');

-- ---------------------------------------------------------------------------
-- DST, Europe/Berlin: clocks go forward 2024-03-31 01:00 UTC (02:00 -> 03:00)
-- and back 2024-10-27 01:00 UTC (03:00 -> 02:00)
-- ---------------------------------------------------------------------------

SELECT is(omniroute.queue_is_open(802, '2024-03-24 01:00:00+00'), true, 'a normal Sunday: 02:00 CET open');
SELECT is(omniroute.queue_is_open(802, '2024-03-24 02:59:59+00'), true, 'a normal Sunday: 03:59:59 CET open');
SELECT is(omniroute.queue_is_open(802, '2024-03-24 03:00:00+00'), false, 'a normal Sunday: 04:00 CET closed');
SELECT is(omniroute.queue_is_open(802, '2024-03-31 00:59:59+00'), false, 'spring forward: 01:59:59 CET closed');
SELECT is(omniroute.queue_is_open(802, '2024-03-31 01:00:00+00'), true,
    'spring forward: the clocks jump to 03:00 CEST, inside 02:30-04:00: open');
SELECT is(omniroute.queue_is_open(802, '2024-03-31 01:59:59+00'), true, 'spring forward: 03:59:59 CEST open');
SELECT is(omniroute.queue_is_open(802, '2024-03-31 02:00:00+00'), false, 'spring forward: 04:00 CEST closed');
SELECT is(omniroute.queue_next_open(802, '2024-03-31 00:00:00+00'), '2024-03-31 01:00:00+00'::timestamptz,
    'spring forward: the slots in the skipped hour open when the clocks jump');
SELECT is(omniroute.queue_is_open(802, '2024-10-27 00:00:00+00'), true, 'fall back: 02:00 CEST open');
SELECT is(omniroute.queue_is_open(802, '2024-10-27 00:59:59+00'), true, 'fall back: 02:59:59 CEST open');
SELECT is(omniroute.queue_is_open(802, '2024-10-27 01:00:00+00'), true, 'fall back: 02:00 CET (again) open');
SELECT is(omniroute.queue_is_open(802, '2024-10-27 02:59:59+00'), true, 'fall back: 03:59:59 CET open');
SELECT is(omniroute.queue_is_open(802, '2024-10-27 03:00:00+00'), false, 'fall back: 04:00 CET closed');
SELECT is(omniroute.queue_next_open(802, '2024-10-27 03:00:00+00'), '2024-10-28 08:00:00+00'::timestamptz,
    'fall back: next open Monday 09:00 CET');

-- ---------------------------------------------------------------------------
-- DST, America/New_York: forward 2024-03-10 07:00 UTC (02:00 -> 03:00),
-- back 2024-11-03 06:00 UTC (02:00 -> 01:00); Sundays 01:00-03:00, 05:10-05:20
-- ---------------------------------------------------------------------------

SELECT is(omniroute.queue_is_open(803, '2024-03-10 05:59:59+00'), false, 'spring forward: 00:59:59 EST closed');
SELECT is(omniroute.queue_is_open(803, '2024-03-10 06:00:00+00'), true, 'spring forward: 01:00 EST open');
SELECT is(omniroute.queue_is_open(803, '2024-03-10 06:59:59+00'), true, 'spring forward: 01:59:59 EST open');
SELECT is(omniroute.queue_is_open(803, '2024-03-10 07:00:00+00'), false,
    'spring forward: the clocks jump to 03:00 EDT, the end of the slot: closed (open one hour that night)');
SELECT is(omniroute.queue_next_open(803, '2024-03-10 07:00:00+00'), '2024-03-10 09:10:00+00'::timestamptz,
    'spring forward: next open 05:10 EDT');
SELECT is(omniroute.queue_is_open(803, '2024-11-03 05:00:00+00'), true, 'fall back: 01:00 EDT open');
SELECT is(omniroute.queue_is_open(803, '2024-11-03 06:00:00+00'), true, 'fall back: 01:00 EST (again) open');
SELECT is(omniroute.queue_is_open(803, '2024-11-03 07:59:59+00'), true, 'fall back: 02:59:59 EST open');
SELECT is(omniroute.queue_is_open(803, '2024-11-03 08:00:00+00'), false,
    'fall back: 03:00 EST closed (open three hours that night)');
SELECT is(omniroute.queue_next_open(803, '2024-11-03 08:00:00+00'), '2024-11-03 10:10:00+00'::timestamptz,
    'fall back: next open 05:10 EST');

-- a slot wholly in the skipped hour does not open that night; one wholly in
-- the repeated hour opens twice
SET LOCAL ROLE hr_admin;
DELETE FROM omniroute.operating_hours_slot WHERE hours = 'New York';
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('New York', 0, '01:15', '01:45'),
    ('New York', 0, '02:15', '02:45');
RESET ROLE;
SELECT is(omniroute.queue_next_open(803, '2024-03-10 06:45:00+00'), '2024-03-17 05:15:00+00'::timestamptz,
    'spring forward: 02:15-02:45 never shows on the clocks: next open a week later, 01:15 EDT');
SELECT is(omniroute.queue_is_open(803, '2024-03-10 07:20:00+00'), false,
    'spring forward: 03:20 EDT (the instant 02:20 EST would be) is closed');
SELECT is(omniroute.queue_next_open(803, '2024-11-03 05:00:00+00'), '2024-11-03 05:15:00+00'::timestamptz,
    'fall back: 01:15 EDT opens first');
SELECT is(omniroute.queue_next_open(803, '2024-11-03 05:45:00+00'), '2024-11-03 06:15:00+00'::timestamptz,
    'fall back: then 01:15 EST, an hour later');
SELECT is(omniroute.queue_next_open(803, '2024-11-03 06:45:00+00'), '2024-11-03 07:15:00+00'::timestamptz,
    'fall back: then 02:15 EST');

-- ---------------------------------------------------------------------------
-- The cache follows changes in the same session
-- ---------------------------------------------------------------------------

SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), false, 'Empty: closed Wednesday 11:50');
SET LOCAL ROLE hr_admin;
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes) VALUES ('Empty', 3, '11:00', '13:00');
RESET ROLE;
SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), true, 'a slot added: open');
SET LOCAL ROLE hr_admin;
UPDATE omniroute.operating_hours_slot SET opens = '12:30' WHERE hours = 'Empty';
RESET ROLE;
SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), false, 'the slot moved: closed');
SET LOCAL ROLE hr_admin;
UPDATE omniroute.operating_hours SET timezone = 'Europe/Berlin' WHERE name = 'Empty';
RESET ROLE;
SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), true, 'the zone changed (12:50 CET): open');
SET LOCAL ROLE hr_admin;
INSERT INTO omniroute.holiday (hours, day) VALUES ('Empty', '2024-01-03');
RESET ROLE;
SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), false, 'a holiday added: closed');
SET LOCAL ROLE hr_admin;
UPDATE omniroute.operating_hours SET name = 'Renamed' WHERE name = 'Empty';
DELETE FROM omniroute.holiday WHERE hours = 'Renamed';
RESET ROLE;
SELECT is((SELECT operating_hours FROM omniroute.queue WHERE id = 806), 'Renamed', 'renaming hours renames them in the queue');
SELECT is(omniroute.queue_is_open(806, '2024-01-03 11:50+00'), true, 'renamed, holiday gone: open');
SET LOCAL ROLE hr_admin;
UPDATE omniroute.queue SET operating_hours = NULL WHERE id = 806;
RESET ROLE;
SELECT is(omniroute.queue_is_open(806, '2024-01-07 03:00+00'), true, 'hours taken off the queue: always open');

-- ---------------------------------------------------------------------------
-- queue_is_open errors; who may do what
-- ---------------------------------------------------------------------------

SELECT throws_ok($$SELECT omniroute.queue_is_open(899, now())$$, '42704', 'queue 899 does not exist',
    'queue_is_open of an unknown queue names it');
SELECT throws_ok($$SELECT omniroute.queue_is_open(801, 'infinity')$$, '22008', NULL, 'queue_is_open at infinity is refused');
SELECT throws_ok($$SELECT omniroute.queue_next_open(801, '-infinity')$$, '22008', NULL, 'queue_next_open at -infinity is refused');
SELECT is(omniroute.queue_is_open(NULL, now()), NULL, 'queue_is_open(NULL) is NULL');

SET LOCAL ROLE hr_app;
SELECT is(omniroute.queue_is_open(801, '2024-01-02 10:00+00'), true, 'the app may ask whether a queue is open');
SELECT throws_ok($$SELECT * FROM omniroute.operating_hours$$, '42501', NULL, 'the app does not read operating hours');
RESET ROLE;
SET LOCAL ROLE hr_reporter;
SELECT is(omniroute.queue_next_open(801, '2024-01-01 00:00+00'), '2024-01-02 09:00:00+00'::timestamptz,
    'a reporter may ask when a queue opens');
RESET ROLE;
SET LOCAL ROLE hr_agent;
SELECT is((SELECT count(*) FROM omniroute.operating_hours_slot WHERE hours = 'Office'), 7::bigint,
    'an agent reads the slots');
SELECT is((SELECT count(*) FROM omniroute.escalation_step), 2::bigint, 'an agent reads the escalation steps');
SELECT throws_ok($$INSERT INTO omniroute.holiday (hours, day) VALUES ('Office', '2024-12-25')$$, '42501', NULL,
    'an agent cannot add a holiday');
SELECT throws_ok($$UPDATE omniroute.queue SET max_open = 1 WHERE id = 801$$, '42501', NULL,
    'an agent cannot change a queue''s overflow');
RESET ROLE;

-- copy_workstream copies the steps
SET LOCAL ROLE hr_admin;
CREATE TEMP TABLE copied ON COMMIT DROP AS SELECT omniroute.copy_workstream(811) AS id;
SELECT results_eq(
    $$SELECT after, skill_matching, drop_skills, queue_id, add_priority FROM omniroute.escalation_step
       WHERE workstream_id = (SELECT id FROM copied) ORDER BY after$$,
    $$SELECT after, skill_matching, drop_skills, queue_id, add_priority FROM omniroute.escalation_step
       WHERE workstream_id = 811 ORDER BY after$$,
    'copy_workstream copies the escalation steps');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
