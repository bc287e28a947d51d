-- test/pgtap/agent_condition.sql — queue.agent_condition and agent.attributes
-- (README, "Agent conditions"): checked when the queue is written; applied
-- to every candidate in push, re-routing (reject, tick), serving, pick and
-- pick_next; explain() names it; agent.<key> nowhere else.
BEGIN;
SELECT plan(42);

INSERT INTO omniroute.queue (id, name) VALUES (9401, 'ac: gold'), (9402, 'ac: cases'), (9403, 'ac: plain');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout) VALUES
    (9401, 'ac: chat', 9401, '1 minute'),
    (9402, 'ac: other', 9403, '1 minute');
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES (9403, 'ac: pick', 'pick', 9402);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (9401, 'region', 'text'), (9402, 'lang', 'text'), (9402, 'amount', 'number');

-- ---------------------------------------------------------------------------
-- Checked when the queue is written
-- ---------------------------------------------------------------------------
SELECT throws_ok($$UPDATE omniroute.queue SET agent_condition = 'agent.tier = ' WHERE id = 9401$$,
                 '42601', 'agent condition of queue "ac: gold": expected a value but found end of rule at position 14',
                 'a syntax error: 42601 with its position');
SELECT throws_ok($$UPDATE omniroute.queue SET agent_condition = 'agent.tier = ''gold'' AND regio = ''eu''' WHERE id = 9401$$,
                 '42703', 'agent condition of queue "ac: gold": unknown identifier "regio" at position 25',
                 'an identifier that is no built-in nor any workstream''s context variable: 42703');
SELECT throws_ok($$INSERT INTO omniroute.queue (id, name, agent_condition) VALUES (9409, 'ac: bad', 'agent.x >')$$,
                 '42601', NULL, 'a bad condition on insert: 42601');
SELECT is((SELECT count(*) FROM omniroute.queue WHERE id = 9409 OR agent_condition IS NOT NULL), 0::bigint,
          'the refused writes changed nothing');
SELECT lives_ok($$UPDATE omniroute.queue SET agent_condition = 'lang = ''fr'' AND amount > 2 AND agent.x = TRUE' WHERE id = 9403$$,
                'another workstream''s context variables are accepted; types are not checked when written');
SELECT lives_ok($$UPDATE omniroute.queue SET agent_condition = 'channel = 1 OR priority CONTAINS ''x''' WHERE id = 9403$$,
                'a type mismatch is not an error when written');
UPDATE omniroute.queue SET agent_condition = NULL WHERE id = 9403;
SELECT throws_ok($$INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
                   VALUES (9401, 1, 'by tier', 'agent.tier = ''gold''', 9401)$$,
                 '42703', 'route rule "by tier": unknown identifier "agent.tier" at position 1',
                 'agent. in a route rule: 42703');
SELECT throws_ok($$INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
                   VALUES (9401, 1, 'vip', 'agent.vip = TRUE', '{"priority": 5}')$$,
                 '42703', NULL, 'agent. in a classification rule: 42703');
SELECT throws_ok($$INSERT INTO omniroute.agent (name, attributes) VALUES ('ac array', '[1]')$$,
                 '23514', NULL, 'attributes must be an object');

-- ---------------------------------------------------------------------------
-- Push: the method's order, members who fail the condition passed over
-- ---------------------------------------------------------------------------
INSERT INTO omniroute.agent (id, name, capacity, presence, attributes) VALUES
    (9401, 'ac silver', 100, 'available', '{"tier": "silver", "region": "EU", "level": 5}'),
    (9402, 'ac gold',    50, 'available', '{"tier": "Gold",   "region": "eu", "level": "5"}'),
    (9403, 'ac gold 2',  40, 'available', '{"tier": "gold",   "region": "US", "level": 2, "vip": true}'),
    (9404, 'ac bare',    90, 'available', DEFAULT);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (9401, 9401), (9401, 9402), (9401, 9403), (9401, 9404),
    (9403, 9401), (9403, 9402), (9403, 9403), (9403, 9404);

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9411, 9401);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9411), 9401::bigint,
          'without a condition the most free capacity wins');
UPDATE omniroute.queue SET agent_condition = 'agent.tier = ''gold''' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9412, 9401);
SELECT results_eq($$SELECT agent_id, (diagnostics->'assignment'->>'agent_condition_failed')::int
                      FROM omniroute.work_item WHERE id = 9412$$,
                  $$VALUES (9402::bigint, 2)$$,
                  'a condition change applies to the next insert: the best member satisfying it (text ignores case); diagnostics count those passed over');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9412) <> 9401, true,
          'the member with the most room but the wrong tier is passed over');

-- item values: a context variable of the item's workstream and a built-in
UPDATE omniroute.queue SET agent_condition = 'agent.region = region AND agent.level >= 2' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9413, 9401, '{"region": "us"}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9413), 9403::bigint,
          'agent.region = region: the member of the item''s region');
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9414, 9401, '{"region": "eu"}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9414), 9401::bigint,
          'a number attribute compares with a number (9401, level 5); a string "5" does not (9402)');
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9415, 9401, '{}');
SELECT results_eq($$SELECT state, agent_id, diagnostics->'assignment'->>'reason'
                      FROM omniroute.work_item WHERE id = 9415$$,
                  $$VALUES ('open'::text, NULL::bigint,
                            '4 member(s) with room, none satisfying the agent condition of queue "ac: gold"'::text)$$,
                  'nobody satisfies it (no region: the test is false): the item waits, and diagnostics say why');
SELECT ok(omniroute.simulate(9401, '{"region": "US"}')->'assignment' @> '{"agent_id": 9403}',
          'simulate() applies the condition');
SELECT is((SELECT (m->'reasons') ? 'does not satisfy the agent condition: agent.region = region AND agent.level >= 2'
             FROM jsonb_array_elements(omniroute.explain(9415)->'members') m WHERE m->>'agent_id' = '9401'),
          true, 'explain() says a member does not satisfy the agent condition');
SELECT is((SELECT count(*) FROM jsonb_array_elements(omniroute.explain(9413)->'members') m
            WHERE m->'reasons' ? 'does not satisfy the agent condition: agent.region = region AND agent.level >= 2'),
          3::bigint, 'explain(): the three members outside the item''s region');
UPDATE omniroute.queue SET agent_condition = 'customer_id STARTS WITH ''vip'' AND agent.vip = TRUE OR priority < 0' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id, customer_id) VALUES (9416, 9401, 'VIP-1');
INSERT INTO omniroute.work_item (id, workstream_id, customer_id) VALUES (9417, 9401, 'c-2');
SELECT results_eq('SELECT agent_id FROM omniroute.work_item WHERE id IN (9416, 9417) ORDER BY id',
                  $$VALUES (9403::bigint), (NULL)$$,
                  'built-ins customer_id and priority; agent.vip = TRUE reads a JSON true');

-- attribute types and missing keys
CREATE FUNCTION pg_temp.winner(cond text) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN
    UPDATE omniroute.queue SET agent_condition = cond WHERE id = 9401;
    RETURN (omniroute.simulate(9401, '{}')->'assignment'->>'agent_id')::bigint;
END
$f$;
SELECT is(pg_temp.winner('agent.vip IS NULL AND agent.tier IS NULL'), 9404::bigint, 'a missing key is null');
SELECT is(pg_temp.winner('agent.level = ''5'''), 9402::bigint, 'a string attribute is text');
SELECT is(pg_temp.winner('agent.level > 4'), 9401::bigint, 'a number attribute is a number');
SELECT is(pg_temp.winner('agent.vip = ''true'''), 9403::bigint, 'true compares with TRUE, and as text');
SELECT is(pg_temp.winner('agent.tier > 1'), NULL::bigint, 'ordering text: a mismatch, false');
SELECT is(pg_temp.winner('NOT agent.tier > 1'), 9401::bigint, '... and NOT inverts it');
SELECT is(pg_temp.winner('agent.tier IN (1, 2)'), NULL::bigint, 'IN with no item of its type: false');
UPDATE omniroute.agent SET attributes = '{"tier": {"a": 1}, "level": null}' WHERE id = 9401;
SELECT is(pg_temp.winner('agent.tier IS NULL AND agent.level IS NULL AND agent.vip IS NULL'), 9401::bigint,
          'an object and a JSON null are null');
UPDATE omniroute.agent SET attributes = '{"tier": "silver", "region": "EU", "level": 5}' WHERE id = 9401;

-- a context variable of the item's workstream: resolved against it, even one added later
UPDATE omniroute.queue SET agent_condition = 'agent.tier = lang' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9418, 9401, '{"lang": "gold"}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9418), NULL::bigint,
          'a variable the item''s workstream does not declare is null');
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (9401, 'lang', 'text');
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9419, 9401, '{"lang": "GOLD"}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9419), 9402::bigint,
          'declared later, it is read from the item''s context');

-- ---------------------------------------------------------------------------
-- Re-routing: reject and the tick's missed offers pass over those who fail it
-- ---------------------------------------------------------------------------
UPDATE omniroute.queue SET agent_condition = 'agent.tier = ''gold''' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9420, 9401);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9420), 9402::bigint, 'offered to a gold member');
SELECT omniroute.reject(9420);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9420), 9403::bigint,
          'reject: re-offered to the other gold member, not to the freer silver one');
SELECT omniroute.tick(now() + interval '2 minutes');
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 9420',
                  $$VALUES ('open'::text, NULL::bigint)$$,
                  'tick: the missed offer goes to nobody else (the rest fail the condition)');

-- ---------------------------------------------------------------------------
-- Serving: capacity freed by a member who fails the condition serves nothing
-- ---------------------------------------------------------------------------
UPDATE omniroute.agent SET presence = 'offline' WHERE id IN (9401, 9402, 9403, 9404);
UPDATE omniroute.queue SET agent_condition = 'agent.region = region' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (9421, 9401, '{"region": "US"}');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9421), 'open', 'nobody available: the item waits');
SELECT omniroute.set_presence(9401, 'available');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9421), 'open',
          'serving: an EU member freed is not given the US item');
SELECT omniroute.set_presence(9403, 'available');
SELECT results_eq('SELECT state, agent_id FROM omniroute.work_item WHERE id = 9421',
                  $$VALUES ('offered'::text, 9403::bigint)$$,
                  'serving: the US member freed is');
SELECT omniroute.set_presence(9403, 'offline');
UPDATE omniroute.queue SET agent_condition = 'agent.tier = ''gold''' WHERE id = 9401;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9422, 9401);
SELECT omniroute.set_presence(9404, 'available');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 9422), 'open',
          'serving: a condition on the agent alone passes the group over for a member who fails it');
SELECT omniroute.set_presence(9402, 'available');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 9422), 9402::bigint,
          'serving: ... and serves a member who satisfies it');

-- exact skills that few members have: those members are looked up by key,
-- then the condition is checked in the method's order
INSERT INTO omniroute.skill VALUES ('ac_fr');
INSERT INTO omniroute.agent_skill VALUES (9401, 'ac_fr', 5), (9402, 'ac_fr', 5);
INSERT INTO omniroute.queue (id, name, agent_condition) VALUES (9404, 'ac: french', 'agent.tier = ''gold''');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9404, 9401), (9404, 9402), (9404, 9404);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9404, 'ac: french', 9404);
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (9423, 9404, '{"ac_fr": 3}');
SELECT results_eq($$SELECT agent_id, (diagnostics->'assignment'->>'agent_condition_failed')::int
                      FROM omniroute.work_item WHERE id = 9423$$,
                  $$VALUES (9402::bigint, 1)$$,
                  'skill first: the qualified member with more room but the wrong tier is passed over');

-- ---------------------------------------------------------------------------
-- Pick mode: pick(id) and pick_next() as the agent
-- ---------------------------------------------------------------------------
CREATE ROLE ac_silver LOGIN;
CREATE ROLE ac_gold2 LOGIN;
GRANT omniroute_agent TO ac_silver, ac_gold2;
UPDATE omniroute.queue SET agent_condition = 'agent.level >= 3' WHERE id = 9402;
UPDATE omniroute.agent SET login_role = 'ac_silver' WHERE id = 9401;
UPDATE omniroute.agent SET login_role = 'ac_gold2' WHERE id = 9403;
SELECT omniroute.set_presence(9403, 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9402, 9401), (9402, 9403);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (9431, 9403), (9432, 9403);
SET LOCAL ROLE ac_gold2;
SELECT throws_ok('SELECT omniroute.pick(9431)', '55000',
                 'agent 9403 cannot pick work item 9431: agent 9403 does not satisfy the agent condition of queue "ac: cases": agent.level >= 3',
                 'pick: a member who fails the condition is refused, and told why');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: nothing for a member who fails it');
RESET ROLE;
SET LOCAL ROLE ac_silver;
SELECT is((omniroute.pick(9431)).agent_id, 9401::bigint, 'pick: a member who satisfies it takes the item');
SELECT is(omniroute.pick_next(), 9432::bigint, 'pick_next: and the next');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
