-- The people of `make demo`'s day, Tuesday 3 March 2026: the agents'
-- shifts, and the customers (the same every run: demo.rnd is a hash).

-- Shifts: log in, lunch, log out ('Lunch' is a custom presence based on away)
INSERT INTO demo.plan (at, agent_id, action) VALUES
    ('2026-03-03 08:00', 1, 'available'), ('2026-03-03 12:00', 1, 'Lunch'),
    ('2026-03-03 12:45', 1, 'available'), ('2026-03-03 16:30', 1, 'offline'),
    ('2026-03-03 08:00', 2, 'available'), ('2026-03-03 13:00', 2, 'Lunch'),
    ('2026-03-03 13:45', 2, 'available'), ('2026-03-03 17:00', 2, 'offline'),
    ('2026-03-03 08:30', 3, 'available'), ('2026-03-03 12:30', 3, 'Lunch'),
    ('2026-03-03 13:20', 3, 'available'), ('2026-03-03 17:30', 3, 'offline'),
    ('2026-03-03 09:00', 4, 'available'), ('2026-03-03 10:45', 4, 'available'),
    ('2026-03-03 12:15', 4, 'Lunch'),     ('2026-03-03 13:00', 4, 'available'),
    ('2026-03-03 18:00', 4, 'offline'),
    ('2026-03-03 08:00', 5, 'available'), ('2026-03-03 12:30', 5, 'Lunch'),
    ('2026-03-03 13:15', 5, 'available'), ('2026-03-03 16:30', 5, 'offline'),
    ('2026-03-03 09:00', 6, 'available'), ('2026-03-03 13:00', 6, 'Lunch'),
    ('2026-03-03 13:30', 6, 'available'), ('2026-03-03 18:00', 6, 'offline'),
    ('2026-03-03 08:00', 7, 'available'), ('2026-03-03 12:00', 7, 'Lunch'),
    ('2026-03-03 12:30', 7, 'available'), ('2026-03-03 16:00', 7, 'offline'),
    ('2026-03-03 10:00', 8, 'available'), ('2026-03-03 14:00', 8, 'Lunch'),
    ('2026-03-03 14:30', 8, 'available'), ('2026-03-03 19:00', 8, 'offline'),
    ('2026-03-03 11:00', 9, 'available'), ('2026-03-03 12:30', 9, 'Lunch'),
    ('2026-03-03 13:15', 9, 'available'), ('2026-03-03 19:30', 9, 'offline'),
    ('2026-03-03 16:00', 10, 'available'), ('2026-03-03 22:00', 10, 'offline'),
    ('2026-03-03 12:00', 11, 'available'), ('2026-03-03 19:00', 11, 'offline'),
    ('2026-03-03 12:00', 12, 'available'), ('2026-03-03 19:40', 12, 'offline'),
    -- the outage: Hiro and Kavya join the incident call
    ('2026-03-03 15:00', 8, 'busy_dnd'), ('2026-03-03 15:40', 8, 'available'),
    ('2026-03-03 15:00', 11, 'busy_dnd'), ('2026-03-03 15:40', 11, 'available'),
    ('2026-03-03 15:00', 12, 'busy_dnd'), ('2026-03-03 15:40', 12, 'available');
-- case picks from the backlog
INSERT INTO demo.plan (at, agent_id, action) VALUES
    ('2026-03-03 11:00', 5, 'pick'), ('2026-03-03 14:30', 5, 'pick'),
    ('2026-03-03 15:30', 1, 'pick'), ('2026-03-03 16:00', 3, 'pick');
-- Dmitri steps away from 10:20 to 10:45 without changing his presence
INSERT INTO demo.absence VALUES (4, '2026-03-03 10:20', '2026-03-03 10:45');

-- A returning customer: Grace is C8001's usual agent.  A web chat goes to
-- the customer's preferred agent if eligible, else waits up to 5 minutes
-- for them before the queue's method decides (here, not in
-- contact_center.sql, which test/upgrade also loads into 0.1.0).
UPDATE omniroute.workstream SET preferred_agents = 'prefer', preferred_wait = '5 minutes' WHERE id = 1;
INSERT INTO omniroute.preferred_agent (customer_id, agent_id, rank) VALUES ('C8001', 7, 1);

-- Chats: 1 to 4 a quarter hour by the time of day, from 08:00 to 19:45
INSERT INTO demo.arrival (external_id, at, workstream_id, customer_id, context, patience, handle)
SELECT 'chat-' || lpad(n::text, 3, '0'), at, 1, 'C' || (1000 + (n * 37) % 900),
       jsonb_build_object(
           'topic', (ARRAY['delivery', 'login', 'refund', 'bill copy', 'order status', 'returns',
                           'tech setup', 'billing question', 'delivery', 'order status'])[1 + floor(10 * demo.rnd(n, 1))::int],
           'language', CASE WHEN demo.rnd(n, 2) < 0.08 THEN 'fr' ELSE 'en' END,
           'cart_value', floor(600 * demo.rnd(n, 3)^3)),
       make_interval(secs => 150 + floor(600 * demo.rnd(n, 4))),
       make_interval(secs => 300 + floor(900 * demo.rnd(n, 5)))
  FROM (SELECT row_number() OVER (ORDER BY at)::int AS n, at
          FROM (SELECT timestamptz '2026-03-03 08:00' + (qh * 15 + floor(15 * demo.rnd(qh * 10 + k, 6))) * interval '1 minute'
                       + floor(60 * demo.rnd(qh * 10 + k, 7)) * interval '1 second' AS at
                  FROM generate_series(0, 46) qh,
                       generate_series(1, (ARRAY[1, 2, 3, 3, 4, 3, 2, 3, 2, 2, 1, 1])[1 + qh / 4]) k) s) c;

-- Calls: one every quarter hour or so, 09:00 to 17:00; callers wait 1 to 4 minutes
INSERT INTO demo.arrival (external_id, at, workstream_id, customer_id, context, patience, handle)
SELECT 'call-' || lpad(n::text, 3, '0'),
       timestamptz '2026-03-03 09:00' + n * interval '15 minutes' + floor(600 * demo.rnd(n, 8)) * interval '1 second',
       3, 'C' || (2000 + n), jsonb_build_object('ivr_choice', CASE WHEN demo.rnd(n, 9) < 0.2 THEN '2' ELSE '1' END),
       make_interval(secs => 60 + floor(180 * demo.rnd(n, 10))),
       make_interval(secs => 180 + floor(420 * demo.rnd(n, 11)))
  FROM generate_series(0, 31) n;

-- Cases: a backlog that fills during the day; agents pick them (demo.plan)
INSERT INTO demo.arrival (external_id, at, workstream_id, customer_id, context, patience, handle) VALUES
    ('case-001', '2026-03-03 08:10', 2, 'C3001', '{"severity": 3, "product": "router"}', NULL, '25 minutes'),
    ('case-002', '2026-03-03 09:20', 2, 'C3002', '{"severity": 4, "product": "app"}', NULL, '20 minutes'),
    ('case-003', '2026-03-03 11:40', 2, 'C3003', '{"severity": 3, "product": "invoice"}', NULL, '30 minutes'),
    ('case-004', '2026-03-03 13:50', 2, 'C3004', '{"severity": 2, "product": "router"}', NULL, '40 minutes'),
    ('case-005', '2026-03-03 14:10', 2, 'C3005', '{"severity": 4, "product": "app"}', NULL, '15 minutes');

-- The stories of the day, on top of the traffic
INSERT INTO demo.arrival (external_id, at, workstream_id, customer_id, context, patience, handle) VALUES
    -- technical chats while Dmitri is away from his desk
    ('tech-1', '2026-03-03 10:21:00', 1, 'C3901', '{"topic": "login"}', NULL, '9 minutes'),
    ('tech-2', '2026-03-03 10:22:30', 1, 'C3902', '{"topic": "tech setup"}', NULL, '12 minutes'),
    -- a returning customer of Grace's, while Grace is at lunch
    ('regular-1', '2026-03-03 12:27:30', 1, 'C8001', '{"topic": "billing question"}', NULL, '7 minutes'),
    -- French chats while both French agents are at lunch
    ('fr-1', '2026-03-03 12:35:10', 1, 'C4001', '{"topic": "delivery", "language": "fr"}', '25 minutes', '10 minutes'),
    ('fr-2', '2026-03-03 12:41:30', 1, 'C4002', '{"topic": "returns", "language": "fr"}', '6 minutes', '10 minutes'),
    -- an outage: technical chats pile up
    ('outage-1', '2026-03-03 15:02:05', 1, 'C5001', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-2', '2026-03-03 15:02:40', 1, 'C5002', '{"topic": "outage"}', '30 minutes', '14 minutes'),
    ('outage-3', '2026-03-03 15:03:30', 1, 'C5003', '{"topic": "outage"}', '30 minutes', '15 minutes'),
    ('outage-4', '2026-03-03 15:04:10', 1, 'C5004', '{"topic": "outage"}', '30 minutes', '13 minutes'),
    ('outage-5', '2026-03-03 15:05:00', 1, 'C5005', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-6', '2026-03-03 15:05:45', 1, 'C5006', '{"topic": "outage"}', '7 minutes', '11 minutes'),
    ('outage-7', '2026-03-03 15:06:20', 1, 'C5007', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-8', '2026-03-03 15:07:00', 1, 'C5008', '{"topic": "outage"}', '30 minutes', '16 minutes'),
    ('outage-9', '2026-03-03 15:07:30', 1, 'C5009', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-10', '2026-03-03 15:08:10', 1, 'C5010', '{"topic": "outage"}', '30 minutes', '14 minutes'),
    ('outage-11', '2026-03-03 15:08:50', 1, 'C5011', '{"topic": "outage"}', '30 minutes', '10 minutes'),
    ('outage-12', '2026-03-03 15:09:20', 1, 'C5012', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-13', '2026-03-03 15:10:00', 1, 'C5013', '{"topic": "outage"}', '30 minutes', '12 minutes'),
    ('outage-14', '2026-03-03 15:10:40', 1, 'C5014', '{"topic": "outage"}', '5 minutes', '15 minutes'),
    ('outage-15', '2026-03-03 15:11:15', 1, 'C5015', '{"topic": "outage"}', '30 minutes', '11 minutes'),
    ('outage-16', '2026-03-03 15:12:00', 1, 'C5016', '{"topic": "outage"}', '30 minutes', '13 minutes'),
    -- billing after the billing team has left
    ('late-bill', '2026-03-03 18:20:00', 1, 'C6001', '{"topic": "billing question"}', '30 minutes', '8 minutes'),
    -- just before and after the office closes
    ('last-1', '2026-03-03 19:52:00', 1, 'C7001', '{"topic": "delivery"}', '40 minutes', '8 minutes'),
    ('last-2', '2026-03-03 19:56:30', 1, 'C7002', '{"topic": "order status"}', '40 minutes', '6 minutes'),
    ('night-1', '2026-03-03 20:05:00', 1, 'C7003', '{"topic": "login"}', '40 minutes', '7 minutes');
