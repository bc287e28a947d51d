-- bench/timed.sql — operating hours, a holiday and max_open configured on every queue of
-- bench/config.sql, as a contact center open around the clock would have
-- them: operating hours with a slot on every day and a holiday (neither
-- closes the queue during the run), and a max_open no queue reaches.  The
-- routed insert then checks both for every item it routes by rule.
\set ON_ERROR_STOP on
INSERT INTO omniroute.operating_hours (name, timezone) VALUES ('around the clock', 'Europe/Berlin');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'around the clock', d, '00:00', '24:00' FROM generate_series(0, 6) AS d;
INSERT INTO omniroute.holiday (hours, day, name) VALUES ('around the clock', '2000-01-01', 'millennium');
UPDATE omniroute.queue SET operating_hours = 'around the clock', max_open = 100000,
                           overflow_action = 'transfer', overflow_queue_id = 1 + id % 50;
