-- test/backup/work.sql — a morning's work on top of scripts/demo: agents
-- accept, wrap up, close and reject, an offer is missed, a capacity
-- profile counts, so that every table of the extension holds rows in every
-- state a backup or an update must carry.  Run as a superuser (an admin may
-- act on any item); works at every released version.
\set ON_ERROR_STOP on
\set QUIET on

INSERT INTO omniroute.capacity_profile (name, max_items, reset) VALUES ('chats', 3, 'never');
INSERT INTO omniroute.agent_profile (agent_id, profile, max_items) VALUES (1, 'chats', NULL), (2, 'chats', 2);
UPDATE omniroute.workstream SET capacity_profile = 'chats', wrap_up_block = '30 seconds',
       auto_close_after = '10 minutes' WHERE id = 1;

-- more chats under the profile
INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context)
SELECT 1, 'chat-p' || n, 'CUST-' || n, jsonb_build_object('topic', 'delivery', 'language', 'en')
  FROM generate_series(1, 6) AS n;

-- the oldest offers are accepted; of those, two closed, one waiting, one wrapped up
SELECT count(omniroute.accept(id)) AS accepted
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'offered' ORDER BY id LIMIT 6) s;
SELECT count(omniroute.close(id, 'resolved')) AS closed
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'active' ORDER BY id LIMIT 2) s;
SELECT count(omniroute.wait(id)) AS waiting
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'active' AND workstream_id = 1 ORDER BY id LIMIT 1) s;
SELECT count(omniroute.wrap_up(id)) AS wrapped
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'active' AND workstream_id = 1 ORDER BY id LIMIT 1) s;
-- one offer rejected (it goes elsewhere or waits)
SELECT count(omniroute.reject(id)) AS rejected
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'offered' ORDER BY id LIMIT 1) s;
-- a customer gives up on an open case
SELECT count(omniroute.close(id, 'abandoned')) AS abandoned
  FROM (SELECT id FROM omniroute.work_item WHERE state = 'open' ORDER BY id LIMIT 1) s;
-- a presence change and a tick well after the offers: the rest are missed
SELECT omniroute.set_presence(10, 'available');
SELECT omniroute.tick(now() + interval '5 minutes') >= 0 AS ticked;
