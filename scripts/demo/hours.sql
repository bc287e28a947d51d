-- Time for `make demo`: opening hours, overflow, escalation, aging and
-- service level targets on top of contact_center.sql.  Plain SQL again.

-- The office (London: UTC in March, so the report's UTC quarters are local
-- time) is open 08:00-20:00 on weekdays; the billing team leaves at 18:00.
INSERT INTO omniroute.operating_hours (name, timezone) VALUES
    ('Office', 'Europe/London'), ('Billing team', 'Europe/London');
INSERT INTO omniroute.operating_hours_slot (hours, day, opens, closes)
SELECT 'Office', d, time '08:00', time '20:00' FROM generate_series(1, 5) d
UNION ALL
SELECT 'Billing team', d, time '08:00', time '18:00' FROM generate_series(1, 5) d;

-- A night desk, always open, staffed in the evening
INSERT INTO omniroute.queue (id, name, assignment, priority) VALUES (8, 'Night desk', 'highest_capacity', 0);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8, 10), (8, 12);

-- Closed or waiting too long: chats move on.  Billing after 18:00 goes to
-- General chat; the chat queues after 20:00 go to the night desk; a chat
-- waiting 20 minutes in General chat (6 in Technical support) moves too.
UPDATE omniroute.queue SET operating_hours = 'Office' WHERE id IN (1, 3, 4, 5);
UPDATE omniroute.queue SET operating_hours = 'Billing team', overflow_action = 'transfer', overflow_queue_id = 1
 WHERE id = 2;
UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 8, max_wait = '20 minutes'
 WHERE id IN (1, 4, 5);
UPDATE omniroute.queue SET overflow_action = 'transfer', overflow_queue_id = 1, max_wait = '6 minutes'
 WHERE id = 3;

-- Service level targets: chats 30 s, calls 20 s (the default), cases 4 hours
UPDATE omniroute.queue SET service_level_target = '30 seconds' WHERE id IN (1, 2, 3, 4, 5, 8);
UPDATE omniroute.queue SET service_level_target = '4 hours' WHERE id = 6;

-- A chat nobody took in 3 minutes takes the closest skills; after 8 minutes
-- it drops its skills and moves to General chat, 2 priority levels up
INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching) VALUES (1, '3 minutes', 'closest');
INSERT INTO omniroute.escalation_step (workstream_id, after, drop_skills, queue_id, add_priority)
VALUES (1, '8 minutes', '{*}', 1, 2);

-- Priority aging: a chat gains a level every 5 minutes it waits, a case
-- every hour
UPDATE omniroute.workstream SET priority_aging = '5 minutes' WHERE id = 1;
UPDATE omniroute.workstream SET priority_aging = '1 hour' WHERE id = 2;
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (2, 20, 'Sev 2 goes first', 'severity = 2', '{"priority": 4}');

-- Case agents pick with their own roles (pick_next() serves the caller)
CREATE ROLE demo_alice IN ROLE omniroute_agent;
CREATE ROLE demo_chloe IN ROLE omniroute_agent;
CREATE ROLE demo_elena IN ROLE omniroute_agent;
UPDATE omniroute.agent SET login_role = 'demo_alice' WHERE id = 1;
UPDATE omniroute.agent SET login_role = 'demo_chloe' WHERE id = 3;
UPDATE omniroute.agent SET login_role = 'demo_elena' WHERE id = 5;
UPDATE omniroute.agent SET timezone = 'Europe/London';
