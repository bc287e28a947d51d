--
-- worker: the background worker calls omniroute.tick() by itself (README,
-- "Operations").
--
-- The test cluster preloads omniroute, with omniroute.database =
-- 'contrib_regression' (so this database alone has a worker) and
-- omniroute.tick_interval = 200 ms (test/postgresql.conf).  Nothing in this file calls omniroute.tick():
-- every change of state below that happens with time is the worker's.
--
-- Everything this file creates uses ids 7001 and names starting with
-- "worker", and is deleted at the end.
--

-- wait_until(query, seconds): true as soon as the one-value boolean query
-- returns true, false if it still has not after that many seconds.  Each
-- round takes a fresh snapshot, of the tables and of pg_stat_activity.
CREATE FUNCTION pg_temp.wait_until(query text, seconds numeric) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + seconds * interval '1 second';
    ok boolean;
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        EXECUTE query INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.2);
    END LOOP;
END
$$;

-- The settings the worker runs with.
SELECT current_setting('omniroute.database') AS database,
       current_setting('omniroute.tick_interval') AS tick_interval;

--
-- 1. The worker is connected to this database and shows in pg_stat_activity
--    as a backend of its own type.  The launcher started it when this
--    database's CREATE EXTENSION committed (pg_regress ran it before this
--    file): wait for it.
--
SELECT pg_temp.wait_until($$
    SELECT EXISTS (SELECT FROM pg_stat_activity
                    WHERE backend_type = 'omniroute tick'
                      AND datname = current_database())
$$, 30) AS "worker connected";

SELECT backend_type, datname
  FROM pg_stat_activity
 WHERE backend_type = 'omniroute tick';

--
-- 2. An offer expires by itself.  A push workstream whose offers last one
--    second, one available agent in its queue: an item is offered to that
--    agent.  Nobody accepts it, so after a second the worker's tick finds
--    the offer missed: the item is re-routed (never back to that agent; with
--    nobody else in the queue it waits there, open), and the agent's
--    presence becomes 'inactive'.
--
INSERT INTO omniroute.queue (id, name) VALUES (7001, 'worker: queue');
INSERT INTO omniroute.workstream (id, name, channel, fallback_queue_id, offer_timeout)
VALUES (7001, 'worker: chat', 'chat', 7001, '1 second');
INSERT INTO omniroute.agent (id, name, presence) VALUES (7001, 'worker: agent', 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (7001, 7001);

INSERT INTO omniroute.work_item (id, workstream_id, external_id)
VALUES (7001, 7001, 'worker-1')
RETURNING id, state, agent_id;

SELECT pg_temp.wait_until($$
    SELECT state <> 'offered' FROM omniroute.work_item WHERE id = 7001
$$, 15) AS "offer expired without a manual tick";

SELECT id, state, queue_id, agent_id FROM omniroute.work_item WHERE id = 7001;
SELECT id, presence FROM omniroute.agent WHERE id = 7001;
SELECT event, agent_id FROM omniroute.work_item_event WHERE work_item_id = 7001 ORDER BY id;

--
-- Cleanup
--
DELETE FROM omniroute.work_item_event WHERE work_item_id = 7001;
DELETE FROM omniroute.work_item WHERE id = 7001;
DELETE FROM omniroute.workstream WHERE id = 7001;
DELETE FROM omniroute.queue_member WHERE queue_id = 7001;
DELETE FROM omniroute.agent WHERE id = 7001;
DELETE FROM omniroute.queue WHERE id = 7001;
