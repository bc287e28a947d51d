-- Re-offers: workstream.max_offers_per_agent.  An item is never offered to
-- one agent more times than that (rejects and misses count); until then an
-- agent who declined it may get it again, but only when nobody who
-- declined it fewer times is eligible (never-decliners first), then in the
-- queue's method's order.  1 (the default) is "never back".
BEGIN;
SELECT plan(40);
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END;
    RAISE EXCEPTION 'no error' USING ERRCODE = 'ZZ999';
EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
    RETURN 'no error';
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

-- who holds an item now
CREATE FUNCTION pg_temp.holder(item bigint) RETURNS bigint LANGUAGE sql AS
    $$SELECT agent_id FROM omniroute.work_item WHERE id = item$$;

-- highest_capacity: Ann (10 units) before Bob (9) before Carl (8)
INSERT INTO omniroute.queue (id, name) VALUES (9101, 'reo: chat'), (9102, 'reo: timed'), (9103, 'reo: two');
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (9101, 'reo ann', 10, 'available', 'reo_ann'),
    (9102, 'reo bob', 9, 'available', 'reo_bob'),
    (9103, 'reo carl', 8, 'available', NULL);
CREATE ROLE reo_ann;  CREATE ROLE reo_bob;
GRANT omniroute_agent TO reo_ann, reo_bob;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (9101, 9101), (9101, 9102), (9101, 9103),
    (9102, 9101), (9102, 9102),
    (9103, 9101), (9103, 9102);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout, max_offers_per_agent) VALUES
    (9101, 'reo: once', 9101, '1 minute', DEFAULT),
    (9102, 'reo: twice', 9101, '1 minute', 2),
    (9103, 'reo: twice, timed', 9102, '1 minute', 2),
    (9104, 'reo: three times', 9103, '1 minute', 3);

SELECT is((SELECT max_offers_per_agent FROM omniroute.workstream WHERE id = 9101), 1,
          'max_offers_per_agent defaults to 1');
SELECT throws_ok($$UPDATE omniroute.workstream SET max_offers_per_agent = 0 WHERE id = 9101$$,
                 '23514', NULL, 'max_offers_per_agent below 1 is refused');

-- ---------------------------------------------------------------------------
-- Limit 1: today's behaviour, never back to an agent who rejected it
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9101, 9101);
SELECT is(pg_temp.holder(9101), 9101::bigint, 'limit 1: Ann is offered the item first');
SELECT omniroute.reject(9101);
SELECT is(pg_temp.holder(9101), 9102::bigint, 'limit 1: Ann rejects, Bob is offered it');
SELECT omniroute.reject(9101);
SELECT is(pg_temp.holder(9101), 9103::bigint, 'limit 1: Bob rejects, Carl is offered it');
SELECT omniroute.reject(9101);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9101), 'open',
          'limit 1: all three rejected it: open, never back to any of them');
SELECT is(omniroute.tick(now() + interval '1 second'), 0, 'limit 1: tick offers it to nobody');
SELECT is((SELECT declined_agents FROM omniroute.work_item WHERE id = 9101), '{9101,9102,9103}'::bigint[],
          'limit 1: declined_agents lists the three');
SELECT ok((SELECT bool_and(m->'reasons' ? 'rejected or missed this item before')
             FROM jsonb_array_elements(omniroute.explain(9101)->'members') m),
          'limit 1: explain() says each rejected or missed it before, as it always did');

-- ---------------------------------------------------------------------------
-- Limit 2: everyone else first, then back to the decliners, never a third time
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9111, 9102);
SELECT is(pg_temp.holder(9111), 9101::bigint, 'limit 2: Ann is offered the item first (offer 1 of hers)');
SELECT omniroute.reject(9111);
SELECT is(pg_temp.holder(9111), 9102::bigint,
          'limit 2: Ann rejects: Bob, who never declined it, before Ann (who has the most room)');
SELECT omniroute.reject(9111);
SELECT is(pg_temp.holder(9111), 9103::bigint, 'limit 2: Bob rejects: Carl, who never declined it, next');
SELECT omniroute.reject(9111);
SELECT is(pg_temp.holder(9111), 9101::bigint,
          'limit 2: everyone had their turn: back to Ann (one decline each, then the method)');
SELECT is((SELECT diagnostics->'assignment'->>'reoffer' FROM omniroute.work_item WHERE id = 9111),
          'declined 1 of 2 times before; nobody who declined it fewer times was eligible',
          'limit 2: diagnostics say it is a re-offer, and why');
SELECT is((SELECT m->>'declined' FROM jsonb_array_elements(omniroute.explain(9111)->'members') m
            WHERE m->>'agent_id' = '9102'),
          'declined 1 of 2 times: offered again only when nobody who declined it fewer times is eligible',
          'limit 2: explain() counts a decline under the limit');
SELECT omniroute.reject(9111);
SELECT is(pg_temp.holder(9111), 9102::bigint, 'limit 2: Ann rejects again: Bob (one decline) before her (two)');
SELECT omniroute.reject(9111);
SELECT is(pg_temp.holder(9111), 9103::bigint, 'limit 2: Bob rejects again: Carl');
SELECT omniroute.reject(9111);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9111), 'open',
          'limit 2: each rejected it twice: open, never a third time');
SELECT is((SELECT declined_agents FROM omniroute.work_item WHERE id = 9111),
          '{9101,9102,9103,9101,9102,9103}'::bigint[], 'limit 2: declined_agents records each decline');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 9111 AND event = 'offered'),
          6::bigint, 'limit 2: six offers, two to each agent');
SELECT is(omniroute.tick(now() + interval '1 second'), 0, 'limit 2: tick offers it to nobody');
SELECT is((SELECT array_agg(m->'reasons'->>0 ORDER BY m->>'agent_id')
             FROM jsonb_array_elements(omniroute.explain(9111)->'members') m),
          ARRAY['declined 2 of 2 times', 'declined 2 of 2 times', 'declined 2 of 2 times'],
          'limit 2: explain() says declined 2 of 2 times for each');

-- ---------------------------------------------------------------------------
-- Misses count as declines (tick), and serving agrees
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9131, 9103);
SELECT is(pg_temp.holder(9131), 9101::bigint, 'misses: Ann is offered the item');
SELECT omniroute.tick(now() + interval '2 minutes');
SELECT is(pg_temp.holder(9131), 9102::bigint, 'misses: Ann missed it (now inactive): Bob');
SELECT omniroute.tick(now() + interval '4 minutes');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9131), 'open',
          'misses: Bob missed it too; both inactive: open');
SELECT omniroute.set_presence(9101, 'available');
SELECT is(pg_temp.holder(9131), 9101::bigint,
          'misses: Ann comes back: only she is eligible, one miss of two: she is offered it again');
SELECT omniroute.tick(now() + interval '6 minutes');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9131), 'open', 'misses: Ann misses it a second time');
SELECT omniroute.set_presence(9101, 'available');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9131), 'open',
          'misses: Ann back again: two misses of two, never a third offer');
SELECT omniroute.set_presence(9102, 'available');
SELECT is(pg_temp.holder(9131), 9102::bigint, 'misses: Bob back: one miss of two, he gets it again');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 9131 AND event = 'missed'),
          3::bigint, 'misses: three missed events (Ann, Bob, Ann)');


-- ---------------------------------------------------------------------------
-- Limit 3: fewer declines first, whatever the method says
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9121, 9104);
SELECT omniroute.reject(9121);        -- Ann: 1
SELECT omniroute.reject(9121);        -- Bob: 1
SELECT is(pg_temp.holder(9121), 9101::bigint, 'limit 3: one decline each: Ann by the method');
SELECT omniroute.reject(9121);        -- Ann: 2
SELECT is(pg_temp.holder(9121), 9102::bigint, 'limit 3: Bob (one decline) before Ann (two), though she has more room');

-- Serving freed capacity: a decliner under the limit takes the item only
-- when nobody who declined it fewer times is eligible.  Set up the state
-- "open, Ann declined it once, Ann and Bob both eligible" without serving
-- anyone (triggers off), then serve Ann first.
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (9104, 'reo dan', 10, 'offline');
INSERT INTO omniroute.queue (id, name) VALUES (9104, 'reo: serve');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9104, 9101), (9104, 9104);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, max_offers_per_agent)
     VALUES (9105, 'reo: serve', 9104, 2);
UPDATE omniroute.agent SET presence = 'offline' WHERE id = 9101;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9141, 9105), (9142, 9105);
UPDATE omniroute.work_item SET declined_agents = '{9101}' WHERE id IN (9141, 9142);
SET LOCAL session_replication_role = replica;
UPDATE omniroute.agent SET presence = 'available' WHERE id IN (9101, 9104);
UPDATE omniroute.queue_member SET presence = 'available' WHERE agent_id IN (9101, 9104);
SET LOCAL session_replication_role = origin;
SELECT is(omniroute.serve_agent(9101), 0,
          'serving: Ann declined both once and Dan, who never did, is eligible: she takes neither');
SELECT is(omniroute.serve_agent(9104), 2, 'serving: Dan takes both');
SELECT omniroute.reject(9142);
SELECT is(pg_temp.holder(9142), 9101::bigint,
          'serving: Dan rejects one: only decliners left, Ann (one of two) gets it again');

-- ---------------------------------------------------------------------------
-- transfer_to_agent and pick agree with the limit
-- ---------------------------------------------------------------------------
-- 9131 is with Bob (one miss each); Ann (two misses) may not be handed it
UPDATE omniroute.agent SET presence = 'available' WHERE id = 9101;
SET LOCAL ROLE reo_bob;
SELECT is(pg_temp.err('SELECT omniroute.transfer_to_agent(9131, 9101)'),
          '55000: cannot transfer work item 9131 to agent 9101: agent 9101 declined work item 9131 2 of 2 times',
          'transfer_to_agent: not to an agent at the limit');
RESET ROLE;
-- 9121 (limit 3) is with Bob; Ann declined it twice of three: she may be handed it
SET LOCAL ROLE reo_bob;
SELECT is((omniroute.transfer_to_agent(9121, 9101)).agent_id, 9101::bigint,
          'transfer_to_agent: to an agent under the limit');
RESET ROLE;

-- pick mode: an agent under the limit may pick an item they declined; at it, not
INSERT INTO omniroute.queue (id, name) VALUES (9105, 'reo: cases');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9105, 9101);
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id, max_offers_per_agent)
     VALUES (9106, 'reo: cases', 'pick', 9105, 2);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9151, 9106), (9152, 9106);
UPDATE omniroute.work_item SET declined_agents = '{9101}' WHERE id = 9151;
UPDATE omniroute.work_item SET declined_agents = '{9101,9101}' WHERE id = 9152;
SET LOCAL ROLE reo_ann;
SELECT is(pg_temp.err('SELECT omniroute.pick(9152)'),
          '55000: agent 9101 cannot pick work item 9152: agent 9101 declined work item 9152 2 of 2 times',
          'pick: not an item the agent declined as often as the limit');
SELECT is(omniroute.pick_next(), 9151::bigint, 'pick_next: an item declined once of two is pickable');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: the one at the limit is not');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
