-- test/pgtap/preferred.sql — preferred agents (issue 19):
--   * preferred_agents 'off': a customer's preferred agents change nothing;
--   * 'prefer': the best-ranked eligible preferred agent gets the item,
--     diagnostics.assignment.method 'preferred_agent' with its rank;
--     preferred agents who are not members, not allowed by presence or
--     without room are skipped by rank; ties in rank go by the queue's
--     method; none eligible with preferred_wait NULL: the queue's method
--     at once, the diagnostics say why;
--   * preferred_wait: the item waits open, held for its preferred agents
--     (preferred_hold); other agents with room pass over it (serving and
--     tick before the wait ends); a preferred agent who frees capacity gets
--     it; a tick after the wait lets anyone take it; explicit instants;
--   * affinity (keep_same_agent) before preference;
--   * reject re-routes to the next preferred agent, never back to a
--     decliner, and does not wait for a decliner;
--   * simulate() shows the preference.
-- Configuration as a login role granted omniroute_admin, inserts as one
-- granted omniroute_app, lifecycle calls and tick as the admin.
BEGIN;
SELECT plan(41);

SET LOCAL client_min_messages = warning;

CREATE ROLE pf_admin;  CREATE ROLE pf_app;
GRANT omniroute_admin TO pf_admin;
GRANT omniroute_app TO pf_app;

SET LOCAL ROLE pf_admin;

INSERT INTO omniroute.queue (id, name, assignment) VALUES (901, 'pf queue', 'highest_capacity');
-- A and B: preferred by some; C: the queue's method's choice (most room);
-- D: not a member; E: a member who is offline
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (9001, 'pf A', 'available', 3),
    (9002, 'pf B', 'available', 3),
    (9003, 'pf C', 'available', 50),
    (9004, 'pf D', 'available', 50),
    (9005, 'pf E', 'offline', 50);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (901, 9001), (901, 9002), (901, 9003), (901, 9005);

INSERT INTO omniroute.workstream (id, name, fallback_queue_id, auto_accept, offer_timeout,
                                  preferred_agents, preferred_wait, keep_same_agent) VALUES
    (901, 'pf off', 901, true, '1 day', 'off', NULL, false),
    (902, 'pf prefer', 901, false, '1 day', 'prefer', NULL, false),
    (903, 'pf wait', 901, true, '1 day', 'prefer', '1 hour', false),
    (904, 'pf affinity', 901, true, '1 day', 'prefer', NULL, true),
    (905, 'pf wait offer', 901, false, '1 day', 'prefer', '1 hour', false);

INSERT INTO omniroute.preferred_agent (customer_id, agent_id, rank) VALUES
    ('alice', 9001, 1),
    ('bob', 9004, 1), ('bob', 9005, 2), ('bob', 9002, 3), ('bob', 9001, 4),
    ('carol', 9001, 2), ('carol', 9002, 2),
    ('dave', 9004, 1),
    ('frank', 9001, 1),
    ('gina', 9001, 1), ('gina', 9002, 2),
    ('hank', 9001, 1);

SELECT throws_ok($$INSERT INTO omniroute.preferred_agent VALUES ('x', 9001, 11)$$, '23514',
                 NULL, 'rank is 1..10');
SELECT throws_ok($$UPDATE omniroute.workstream SET preferred_agents = 'always' WHERE id = 901$$,
                 '23514', NULL, 'preferred_agents is off or prefer');
SELECT throws_ok($$UPDATE omniroute.workstream SET preferred_wait = '0' WHERE id = 901$$,
                 '23514', NULL, 'preferred_wait is positive');

CREATE TEMP TABLE pf_item (name text PRIMARY KEY, id bigint);
GRANT SELECT, INSERT ON pf_item TO pf_app, pf_admin;

CREATE FUNCTION pg_temp.pf_new(n text, ws bigint, customer text, ext text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
    WITH i AS (INSERT INTO omniroute.work_item (workstream_id, customer_id, external_id)
               VALUES (ws, customer, ext) RETURNING id)
    INSERT INTO pf_item SELECT n, id FROM i RETURNING id
$$;
CREATE FUNCTION pg_temp.pf(n text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT id FROM pf_item WHERE name = n $$;
CREATE FUNCTION pg_temp.pf_where(n text) RETURNS text LANGUAGE sql AS $$
    SELECT state || coalesce('@' || agent_id, '') || ' ' || coalesce(diagnostics #>> '{assignment,method}', '')
      FROM omniroute.work_item WHERE id = pg_temp.pf(n)
$$;
CREATE FUNCTION pg_temp.pf_diag(n text, k text) RETURNS text LANGUAGE sql AS $$
    SELECT diagnostics -> 'assignment' ->> k FROM omniroute.work_item WHERE id = pg_temp.pf(n)
$$;

-- ---------------------------------------------------------------------------
-- off, prefer, ranks, ties, none eligible
-- ---------------------------------------------------------------------------
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('off', 901, 'alice');
SELECT pg_temp.pf_new('alice', 902, 'alice');
SELECT pg_temp.pf_new('bob', 902, 'bob');
SELECT pg_temp.pf_new('dave', 902, 'dave');
SELECT pg_temp.pf_new('erin', 902, 'erin');
SELECT pg_temp.pf_new('anon', 902, NULL);
SET LOCAL ROLE pf_admin;

SELECT is(pg_temp.pf_where('off'), 'active@9003 highest_capacity',
          'off: the queue''s method decides, preferred agents or not');
SELECT is(pg_temp.pf_where('alice'), 'offered@9001 preferred_agent',
          'prefer: the preferred agent gets the item');
SELECT is(pg_temp.pf_diag('alice', 'rank'), '1', 'diagnostics: the rank');
SELECT is(pg_temp.pf_where('bob'), 'offered@9002 preferred_agent',
          'not a member (rank 1) and offline (rank 2) skipped: rank 3 before rank 4');
SELECT is(pg_temp.pf_diag('bob', 'rank'), '3', 'diagnostics: rank 3');
SELECT is(pg_temp.pf_where('dave'), 'offered@9003 highest_capacity',
          'no preferred agent eligible, no wait: the queue''s method at once');
SELECT is(pg_temp.pf_diag('dave', 'preferred'), 'none of 1 preferred agent(s) eligible',
          'diagnostics: why not a preferred agent');
SELECT is(pg_temp.pf_where('erin'), 'offered@9003 highest_capacity',
          'a customer without preferred agents: the queue''s method');
SELECT ok(NOT (SELECT diagnostics -> 'assignment' ? 'preferred' FROM omniroute.work_item
                WHERE id = pg_temp.pf('erin')), '... and no preferred note');
SELECT is(pg_temp.pf_where('anon'), 'offered@9003 highest_capacity', 'no customer_id: the method');

-- ties: A and B both rank 2 for carol; A holds 1 unit, B 1 unit; give B
-- more room: the queue's method (highest_capacity) picks B
SELECT omniroute.close(pg_temp.pf('bob'));
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('carol', 902, 'carol');
SET LOCAL ROLE pf_admin;
SELECT is(pg_temp.pf_where('carol'), 'offered@9002 preferred_agent',
          'a tie in rank: the queue''s method order (more free units)');

SELECT is((omniroute.simulate(902, '{"customer_id": "alice"}') -> 'assignment' ->> 'method'),
          'preferred_agent', 'simulate() shows the preferred agent');
SELECT is((omniroute.simulate(902, '{"customer_id": "alice"}') -> 'assignment' ->> 'agent_id'),
          '9001', '... and who');
SELECT is((omniroute.simulate(901, '{"customer_id": "alice"}') -> 'assignment' ->> 'method'),
          'highest_capacity', 'simulate() with preference off: the method');

-- ---------------------------------------------------------------------------
-- preferred_wait: waits, passed over, served to a preferred agent, tick
-- ---------------------------------------------------------------------------
-- A full: alice (1 unit) and two fillers given to A
INSERT INTO omniroute.preferred_agent VALUES ('fill', 9001, 1);
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('fill1', 903, 'fill');
SELECT pg_temp.pf_new('fill2', 903, 'fill');
SELECT pg_temp.pf_new('frank1', 903, 'frank');
SET LOCAL ROLE pf_admin;
SELECT is((SELECT capacity - used_units FROM omniroute.agent WHERE id = 9001), 0, 'A is full');
SELECT is(pg_temp.pf_where('frank1'), 'open preferred_agent',
          'no preferred agent has room: the item waits open for one');
SELECT is(pg_temp.pf_diag('frank1', 'reason'), 'waiting for a preferred agent', '... the reason');
SELECT results_eq(
    $$SELECT agent_id, until FROM omniroute.preferred_hold WHERE work_item_id = pg_temp.pf('frank1')$$,
    $$VALUES (9001::bigint, now() + interval '1 hour')$$,
    'held for A until queued_at + preferred_wait');
SELECT is((SELECT count(*) FROM omniroute.preferred_hold WHERE work_item_id <> pg_temp.pf('frank1')),
          0::bigint, 'nothing is held for items that did not wait');

-- C has room: serving C and ticks before the wait ends pass over it
SELECT is(omniroute.serve_agent(9003), 0, 'serving another agent passes over the held item');
SELECT omniroute.tick(now() + interval '30 minutes');
SELECT is(pg_temp.pf_where('frank1'), 'open preferred_agent', 'a tick before the wait ends too');

-- A frees capacity: the held item is theirs, and its hold goes
SELECT omniroute.close(pg_temp.pf('fill1'));
SELECT is(pg_temp.pf_where('frank1'), 'active@9001 preferred_agent',
          'the preferred agent who frees capacity gets the item');
SELECT is(pg_temp.pf_diag('frank1', 'reason'), 'a preferred agent freed capacity', '... the reason');
SELECT is((SELECT count(*) FROM omniroute.preferred_hold WHERE work_item_id = pg_temp.pf('frank1')),
          0::bigint, '... and the hold is gone');

-- another one waits; after the wait a tick gives it to anyone (C)
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('frank2', 903, 'frank');
SET LOCAL ROLE pf_admin;
SELECT is(pg_temp.pf_where('frank2'), 'open preferred_agent', 'A full again: the next one waits');
SELECT omniroute.tick(now() + interval '59 minutes');
SELECT is(pg_temp.pf_where('frank2'), 'open preferred_agent', 'still held a minute before the end');
SELECT cmp_ok(omniroute.tick(now() + interval '61 minutes'), '>=', 1, 'the tick after the wait acts');
SELECT is(pg_temp.pf_where('frank2'), 'active@9003 highest_capacity',
          'after the wait, anyone eligible takes it (the queue''s method)');
SELECT is((SELECT count(*) FROM omniroute.preferred_hold), 0::bigint, 'no hold is left');
SELECT ok((SELECT diagnostics -> 'assignment' ->> 'preferred' FROM omniroute.work_item
            WHERE id = pg_temp.pf('frank2')) LIKE 'none of 1 preferred agent(s) eligible; the wait for them ended at %',
          'diagnostics: the wait ended');

-- ---------------------------------------------------------------------------
-- affinity before preference
-- ---------------------------------------------------------------------------
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('conv1', 904, 'erin', 'conv-1');
SELECT pg_temp.pf_new('conv2', 904, 'alice', 'conv-1');
SET LOCAL ROLE pf_admin;
SELECT is(pg_temp.pf_where('conv1'), 'active@9003 highest_capacity', 'the conversation starts with C');
SELECT is(pg_temp.pf_where('conv2'), 'active@9003 keep_same_agent',
          'keep_same_agent before the customer''s preferred agent');

-- ---------------------------------------------------------------------------
-- re-route on reject
-- ---------------------------------------------------------------------------
SELECT omniroute.close(id) FROM omniroute.work_item WHERE agent_id IN (9001, 9002) AND state <> 'closed';
SET LOCAL ROLE pf_app;
SELECT pg_temp.pf_new('gina', 902, 'gina');
SELECT pg_temp.pf_new('hank', 905, 'hank');
SET LOCAL ROLE pf_admin;
SELECT is(pg_temp.pf_where('gina'), 'offered@9001 preferred_agent', 'gina: rank 1 (A)');
SELECT omniroute.reject(pg_temp.pf('gina'));
SELECT is(pg_temp.pf_where('gina'), 'offered@9002 preferred_agent',
          'reject: re-routed to the next preferred agent (B)');
SELECT omniroute.reject(pg_temp.pf('gina'));
SELECT is(pg_temp.pf_where('gina'), 'offered@9003 highest_capacity',
          'both preferred agents declined: the queue''s method, never back to them');
SELECT is(pg_temp.pf_diag('gina', 'preferred'),
          'every preferred agent of customer "gina" rejected or missed it', '... and why');

SELECT is(pg_temp.pf_where('hank'), 'offered@9001 preferred_agent', 'hank (with a wait): A');
SELECT omniroute.reject(pg_temp.pf('hank'));
SELECT is(pg_temp.pf_where('hank'), 'offered@9003 highest_capacity',
          'the only preferred agent declined: no wait for them, the method at once');

SELECT * FROM finish();
ROLLBACK;
