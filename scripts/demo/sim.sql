-- The machinery of `make demo`'s day (schema demo): the clock, the
-- customers, the agents' behaviour, and the story told after each scene.
--
-- The clock.  The demo's server runs under libfaketime (scripts/demo.sh):
-- its clock reads the instant written in demo.clock's file, so everything
-- the extension stamps or decides by the clock (routing, offers and their
-- timeouts, opening hours, aging, now()) happens at the demo's instant.
-- demo.set_clock() moves it (a new file renamed over the old, so that no
-- process ever reads a half-written one), and the day only moves forward.
--
-- The day.  demo.run_until(t) is a discrete-event loop: it moves the clock
-- to the next thing that happens (a customer arrives, an agent logs in or
-- out or picks a case, an agent answers, wraps up or closes, a customer
-- gives up) or to the next 15-second tick, commits, so that the next
-- transaction's now() is that instant, does it, and calls
-- omniroute.tick(at) with that instant.  Everything else is the
-- extension's: who gets what, when an offer times out, overflow,
-- escalation, aging.
CREATE EXTENSION IF NOT EXISTS adminpack;
CREATE SCHEMA demo;

CREATE TABLE demo.clock (
    file       text NOT NULL,          -- the server's FAKETIME_TIMESTAMP_FILE
    now        timestamptz NOT NULL,
    told_event bigint NOT NULL DEFAULT 0 -- the last event demo.story() told
);

CREATE FUNCTION demo.set_clock(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f text := (SELECT file FROM demo.clock);
BEGIN
    PERFORM pg_file_write(f || '.new', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), false);
    PERFORM pg_file_unlink(f);
    PERFORM pg_file_rename(f || '.new', f);
    UPDATE demo.clock SET now = t;
END $$;

-- a deterministic number in [0, 1) for (n, salt)
CREATE FUNCTION demo.rnd(n int, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE
    RETURN ((hashint4(n * 7919 + salt) & 2147483647) % 100000) / 100000.0;

-- The customers: when each arrives, on which channel, with what context,
-- how long they will wait before giving up (NULL: never) and how long
-- their conversation takes once answered.
CREATE TABLE demo.arrival (
    external_id   text PRIMARY KEY,
    at            timestamptz NOT NULL,
    workstream_id bigint NOT NULL,
    customer_id   text NOT NULL,
    context       jsonb NOT NULL,
    patience      interval,
    handle        interval NOT NULL
);

-- Scheduled by the people: presence changes and case picks
CREATE TABLE demo.plan (
    at       timestamptz NOT NULL,
    agent_id bigint NOT NULL,
    action   text NOT NULL,     -- a presence, or 'pick'
    note     text
);

-- an agent away from the desk without saying so: offers made meanwhile go
-- unanswered
CREATE TABLE demo.absence (
    agent_id bigint NOT NULL,
    from_at  timestamptz NOT NULL,
    to_at    timestamptz NOT NULL
);

-- how long an agent takes to answer an offer: 4 to 45 seconds
CREATE FUNCTION demo.react(item bigint, agent bigint) RETURNS interval LANGUAGE sql IMMUTABLE
    RETURN make_interval(secs => 4 + floor(41 * demo.rnd(item::int, agent::int)^2));

-- what the agents and customers do next, and when
CREATE VIEW demo.due AS
SELECT w.id, 'accept' AS action, w.offered_at + demo.react(w.id, w.agent_id) AS due
  FROM omniroute.work_item w
 WHERE w.state = 'offered'
   AND NOT EXISTS (SELECT 1 FROM demo.absence a
                    WHERE a.agent_id = w.agent_id AND w.offered_at >= a.from_at AND w.offered_at < a.to_at)
UNION ALL
SELECT w.id, 'wrap_up', w.assigned_at + a.handle
  FROM omniroute.work_item w JOIN demo.arrival a USING (external_id)
 WHERE w.state = 'active'
UNION ALL
SELECT w.id, 'close', w.last_activity_at + interval '45 seconds'
  FROM omniroute.work_item w
 WHERE w.state = 'wrap_up'
UNION ALL
SELECT w.id, 'abandon', w.created_at + a.patience
  FROM omniroute.work_item w JOIN demo.arrival a USING (external_id)
 WHERE w.state IN ('open', 'offered') AND a.patience IS NOT NULL;

CREATE PROCEDURE demo.run_until(t_end timestamptz) LANGUAGE plpgsql AS $$
DECLARE
    t   timestamptz;
    nxt timestamptz;
    r   record;
BEGIN
    LOOP
        t := (SELECT now FROM demo.clock);
        nxt := least(date_bin('15 seconds', t, timestamptz '2000-01-01') + interval '15 seconds',
                     (SELECT min(at) FROM demo.arrival WHERE at > t),
                     (SELECT min(at) FROM demo.plan WHERE at > t),
                     (SELECT min(due) FROM demo.due WHERE due > t));
        nxt := least(nxt, t_end);
        EXIT WHEN nxt <= t;
        PERFORM demo.set_clock(nxt);
        COMMIT;                         -- the next transaction's now() is nxt

        FOR r IN SELECT * FROM demo.plan WHERE at = nxt ORDER BY agent_id LOOP
            IF r.action = 'pick' THEN
                EXECUTE format('SET LOCAL ROLE %I', (SELECT login_role FROM omniroute.agent WHERE id = r.agent_id));
                PERFORM omniroute.pick_next();
                RESET ROLE;
            ELSE
                PERFORM omniroute.set_presence(r.agent_id, r.action);
            END IF;
        END LOOP;
        FOR r IN SELECT * FROM demo.due WHERE due <= nxt ORDER BY due, id LOOP
            -- an earlier action of this loop may have changed the item
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM demo.due d WHERE d.id = r.id AND d.action = r.action);
            CASE r.action
                WHEN 'accept' THEN PERFORM omniroute.accept(r.id);
                WHEN 'wrap_up' THEN PERFORM omniroute.wrap_up(r.id);
                WHEN 'close' THEN PERFORM omniroute.close(r.id);
                WHEN 'abandon' THEN PERFORM omniroute.abandon(r.id);
            END CASE;
        END LOOP;
        INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context)
        SELECT workstream_id, external_id, customer_id, context
          FROM demo.arrival WHERE at = nxt ORDER BY external_id;
        PERFORM omniroute.tick(nxt);
        COMMIT;
    END LOOP;
END $$;

-- h:mm:ss of an interval, m:ss under an hour
CREATE FUNCTION demo.dur(i interval) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN i >= interval '1 hour' THEN to_char(i, 'FMHH24"h"MI')
                WHEN i >= interval '1 minute' THEN to_char(i, 'FMMI"m"SS"s"')
                ELSE to_char(i, 'FMSS"s"') END;

CREATE FUNCTION demo.agent(id bigint) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT name FROM omniroute.agent a WHERE a.id = agent.id);
CREATE FUNCTION demo.queue(id bigint) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT name FROM omniroute.queue q WHERE q.id = queue.id);

-- who answered the item after event e, or where it stands now
CREATE FUNCTION demo.then(item bigint, e bigint) RETURNS text LANGUAGE sql STABLE
    RETURN coalesce(
        (SELECT format('answered by %s at %s', demo.agent(x.agent_id), to_char(x.at, 'HH24:MI:SS'))
           FROM omniroute.work_item_event x
          WHERE x.work_item_id = item AND x.id > e AND x.event IN ('accepted', 'assigned', 'picked')
            AND x.agent_id IS NOT NULL
          ORDER BY x.id LIMIT 1),
        (SELECT CASE WHEN w.state = 'open' THEN 'waiting in ' || demo.queue(w.queue_id)
                     WHEN w.close_reason = 'abandoned' THEN 'abandoned later'
                     ELSE w.state END
           FROM omniroute.work_item w WHERE w.id = item));

-- the queue an item was in before event e
CREATE FUNCTION demo.queue_before(item bigint, e bigint) RETURNS bigint LANGUAGE sql STABLE
    RETURN (SELECT x.queue_id FROM omniroute.work_item_event x
             WHERE x.work_item_id = item AND x.id < e AND x.queue_id IS NOT NULL
             ORDER BY x.id DESC LIMIT 1);

-- What happened since the last story, one line per event worth telling:
-- missed offers, escalations, overflows and customers who gave up
CREATE FUNCTION demo.story() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    since bigint := (SELECT told_event FROM demo.clock);
BEGIN
    RETURN QUERY
    SELECT to_char(e.at, 'HH24:MI:SS') || '  ' || rpad(w.external_id, 10) || ' ' ||
           CASE e.event
             WHEN 'missed' THEN format('%s did not answer the offer within %s: missed, %s set inactive -> %s',
                                       demo.agent(e.agent_id), demo.dur(ws.offer_timeout),
                                       split_part(demo.agent(e.agent_id), ' ', 1), demo.then(w.id, e.id))
             WHEN 'escalated' THEN format('waited %s in %s: escalation step %s moves it to %s, '
                                          'drops its skills, priority +%s -> %s',
                                          demo.dur(e.at - w.created_at), demo.queue(demo.queue_before(w.id, e.id)),
                                          e.detail->>'level', demo.queue(e.queue_id),
                                          e.detail->>'add_priority', demo.then(w.id, e.id))
             WHEN 'overflowed' THEN format('%s: %s to %s -> %s',
                                           CASE e.detail->>'condition'
                                               WHEN 'max_wait' THEN 'waited '
                                                   || demo.dur((SELECT max_wait FROM omniroute.queue
                                                                 WHERE id = (e.detail->>'queue_id')::bigint))
                                                   || ' in ' || demo.queue((e.detail->>'queue_id')::bigint)
                                               ELSE demo.queue((e.detail->>'queue_id')::bigint)
                                                   || ' is ' || (e.detail->>'condition') END,
                                           e.detail->>'action',
                                           demo.queue((e.detail->>'target_queue_id')::bigint),
                                           demo.then(w.id, e.id))
             WHEN 'abandoned' THEN format('the customer gave up after %s in %s',
                                          demo.dur(e.at - w.created_at), demo.queue(e.queue_id))
           END
      FROM omniroute.work_item_event e
      JOIN omniroute.work_item w ON w.id = e.work_item_id
      JOIN omniroute.workstream ws ON ws.id = w.workstream_id
     WHERE e.id > since
       AND e.event IN ('missed', 'escalated', 'overflowed', 'abandoned')
       -- escalation steps are told when they move a chat to another queue
       AND (e.event <> 'escalated' OR e.queue_id IS DISTINCT FROM demo.queue_before(w.id, e.id))
     ORDER BY e.id;
    UPDATE demo.clock SET told_event = (SELECT coalesce(max(id), 0) FROM omniroute.work_item_event);
END $$;

-- the counts of a stretch of the day: arrived, answered, in time, gave up
CREATE FUNCTION demo.tally(from_at timestamptz, to_at timestamptz) RETURNS text LANGUAGE sql STABLE
    RETURN (
        SELECT format('%s to %s: %s customers came, %s were answered (%s within target), %s gave up; agents on line now: %s',
                      to_char(from_at, 'HH24:MI'), to_char(to_at, 'HH24:MI'),
                      count(*), count(ans.at), count(*) FILTER (WHERE ans.at - w.created_at <= q.service_level_target),
                      count(*) FILTER (WHERE w.close_reason = 'abandoned'),
                      (SELECT count(*) FROM omniroute.agent a JOIN omniroute.presence p ON p.name = a.presence
                        WHERE p.base IN ('available', 'busy')))
          FROM omniroute.work_item w
          LEFT JOIN LATERAL (SELECT e.at, e.queue_id FROM omniroute.work_item_event e
                              WHERE e.work_item_id = w.id AND e.event IN ('accepted', 'assigned', 'picked')
                                AND e.agent_id IS NOT NULL
                              ORDER BY e.id LIMIT 1) ans ON true
          JOIN omniroute.queue q ON q.id = coalesce(ans.queue_id, w.queue_id)
         WHERE w.created_at >= from_at AND w.created_at < to_at);
