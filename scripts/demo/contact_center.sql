-- A small contact center for `make demo`: three channels, seven queues,
-- twelve agents.  Plain SQL: this is how an admin configures omniroute.

INSERT INTO omniroute.presence (name, base) VALUES
    ('On a call', 'busy'),       -- a busy state that may still take chats
    ('Lunch', 'away');

INSERT INTO omniroute.skill (name) VALUES
    ('english'), ('french'), ('spanish'), ('billing'), ('technical'), ('vip_care');

INSERT INTO omniroute.queue (id, name, assignment, priority) VALUES
    (1, 'General chat',      'highest_capacity', 0),
    (2, 'Billing',           'round_robin',      1),
    (3, 'Technical support', 'least_active',     1),
    (4, 'VIP',               'highest_capacity', 10),
    (5, 'French desk',       'round_robin',      2),
    (6, 'Case backlog',      'highest_capacity', 0),
    (7, 'Phone overflow',    'round_robin',      5);

INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (1,  'Alice Martin',   100, 'available'),
    (2,  'Bruno Costa',    100, 'available'),
    (3,  'Chloé Bernard',   60, 'available'),
    (4,  'Dmitri Ivanov',  100, 'busy'),
    (5,  'Elena García',   100, 'available'),
    (6,  'Farid Haddad',    50, 'On a call'),
    (7,  'Grace Okafor',   100, 'available'),
    (8,  'Hiro Tanaka',    100, 'Lunch'),
    (9,  'Inès Laurent',    75, 'available'),
    (10, 'Jonas Weber',    100, 'offline'),
    (11, 'Kavya Rao',      100, 'busy_dnd'),
    (12, 'Liam O''Brien',  100, 'available');

INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES
    (1, 'english', 9), (1, 'billing', 7),
    (2, 'english', 8), (2, 'technical', 9), (2, 'spanish', 6),
    (3, 'french', 10), (3, 'english', 7), (3, 'billing', 5),
    (4, 'english', 8), (4, 'technical', 7),
    (5, 'spanish', 10), (5, 'english', 8), (5, 'billing', 6),
    (6, 'english', 9), (6, 'vip_care', 8),
    (7, 'english', 10), (7, 'vip_care', 10), (7, 'billing', 8),
    (8, 'english', 7), (8, 'technical', 8),
    (9, 'french', 9), (9, 'english', 6), (9, 'technical', 5),
    (10, 'english', 9), (10, 'billing', 9),
    (11, 'english', 8), (11, 'technical', 10),
    (12, 'english', 8), (12, 'billing', 4), (12, 'technical', 6);

INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (1, 1), (1, 2), (1, 4), (1, 12), (1, 8),
    (2, 1), (2, 5), (2, 7), (2, 10), (2, 12),
    (3, 2), (3, 4), (3, 8), (3, 11), (3, 12),
    (4, 6), (4, 7),
    (5, 3), (5, 9),
    (6, 1), (6, 3), (6, 5),
    (7, 2), (7, 5), (7, 6), (7, 10);

-- Web chat: push, 25 units a chat, exact skills
INSERT INTO omniroute.workstream
    (id, name, kind, channel, mode, capacity_units, fallback_queue_id, skill_matching, offer_timeout)
VALUES (1, 'Web chat', 'messaging', 'chat', 'push', 25, 1, 'exact', '60 seconds');

-- Support cases: pick mode, agents take them from the backlog
INSERT INTO omniroute.workstream
    (id, name, kind, record_type, mode, capacity_units, fallback_queue_id)
VALUES (2, 'Support cases', 'record', 'incident', 'pick', 10, 6);

-- Phone: push, a call takes a whole agent, closest skill match, auto-accept
INSERT INTO omniroute.workstream
    (id, name, kind, channel, mode, capacity_units, fallback_queue_id, skill_matching,
     auto_accept, allowed_presences)
VALUES (3, 'Phone', 'voice', 'phone', 'push', 100, 7, 'closest', true, '{available}');

INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (1, 'topic', 'text'), (1, 'language', 'text'), (1, 'country', 'text'),
    (1, 'cart_value', 'number'), (1, 'segment', 'text'),
    (2, 'severity', 'number'), (2, 'product', 'text'),
    (3, 'ivr_choice', 'text'), (3, 'language', 'text');

INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (1, 10, 'Big basket is VIP',      'cart_value >= 500',                             '{"segment": "vip", "priority": 5}'),
    (1, 20, 'French speaker',         'language IN (''fr'', ''fr-CA'') OR country = ''FR''', '{"skills": {"french": 6}}'),
    (1, 30, 'Refunds need billing',   'topic CONTAINS ''refund''',                     '{"skills": {"billing": 5}, "priority": 3}'),
    (2, 10, 'Sev 1 jumps the queue',  'severity <= 1',                                 '{"priority": 9}'),
    (3, 10, 'Spanish line',           'ivr_choice = ''2''',                            '{"language": "es", "skills": {"spanish": 8}}');

INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id) VALUES
    (1, 10, 'VIP customers',  'segment = ''VIP''',                                         4),
    (1, 20, 'French desk',    'language STARTS WITH ''fr'' OR country = ''FR''',          5),
    (1, 30, 'Billing topics', 'topic CONTAINS ''bill'' OR topic CONTAINS ''refund''',     2),
    (1, 40, 'Tech topics',    'topic IN (''login'', ''outage'', ''bug'') OR topic STARTS WITH ''tech''', 3),
    (3, 10, 'Phone queue',    'TRUE',                                                      7);
