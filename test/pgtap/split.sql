-- Percentage split: route_rule_split sends each item a route rule matches
-- to one of its queues in the given proportions, chosen from the item's id
-- (every 100 consecutive ids divide exactly); the rows of a rule sum to
-- 100 when the transaction commits (a deferred constraint trigger, here
-- fired early with SET CONSTRAINTS ... IMMEDIATE, as COMMIT fires it).
BEGIN;
SELECT plan(32);

-- no agents: items stay open in the queue they were routed to
INSERT INTO omniroute.queue (id, name) VALUES
    (9201, 'split: a'), (9202, 'split: b'), (9203, 'split: c'),
    (9208, 'split: the rule''s own'), (9209, 'split: fallback');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (9201, 'split: chat', 9209);
INSERT INTO omniroute.context_variable VALUES (9201, 'tier', 'text');
INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
     VALUES (9201, 9201, 1, 'gold', 'tier = ''gold''', 9208);

SELECT ok((SELECT tgdeferrable AND tginitdeferred FROM pg_trigger
            WHERE tgrelid = 'omniroute.route_rule_split'::regclass AND tgname = 'check_split_sum'),
          'the sum is checked by a constraint trigger deferred to commit');

-- a split written in steps: invalid between statements, checked at commit
INSERT INTO omniroute.route_rule_split VALUES (9201, 9201, 70);
SELECT is((SELECT sum(percent) FROM omniroute.route_rule_split WHERE route_rule_id = 9201), 70::bigint,
          'a split may sum to 70 between statements');
INSERT INTO omniroute.route_rule_split VALUES (9201, 9202, 30);
SELECT lives_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE', 'a split of 70 and 30 passes the check');
SET CONSTRAINTS omniroute.check_split_sum DEFERRED;

INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (920000, 9201, '{"tier": "gold"}');
SELECT ok((SELECT queue_id IN (9201, 9202) FROM omniroute.work_item WHERE id = 920000),
          'an item the rule matches goes to a queue of its split, not the rule''s own');

-- edited inside one transaction: 70/30 becomes 50/30/20
UPDATE omniroute.route_rule_split SET percent = 50 WHERE route_rule_id = 9201 AND queue_id = 9201;
INSERT INTO omniroute.route_rule_split VALUES (9201, 9203, 20);
SELECT lives_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE', 'edited in steps to 50/30/20: passes');
SET CONSTRAINTS omniroute.check_split_sum DEFERRED;

-- a sum other than 100 is 23514 naming the rule and the sum
UPDATE omniroute.route_rule_split SET percent = 25 WHERE route_rule_id = 9201 AND queue_id = 9203;
SELECT throws_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE', '23514',
                 'the split of route rule 9201 ("gold") sums to 105, not 100',
                 'a split summing to 105: 23514 names the rule and the sum');
DELETE FROM omniroute.route_rule_split WHERE route_rule_id = 9201 AND queue_id = 9203;
SELECT throws_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE', '23514',
                 'the split of route rule 9201 ("gold") sums to 80, not 100',
                 'a row deleted: the sum is checked again');
INSERT INTO omniroute.route_rule_split VALUES (9201, 9203, 20);
SELECT lives_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE', 'put back: passes');
SET CONSTRAINTS omniroute.check_split_sum DEFERRED;
SELECT throws_ok($$INSERT INTO omniroute.route_rule_split VALUES (9201, 9209, 0)$$, '23514', NULL,
                 'a percent below 1 is refused at once');
SELECT throws_ok($$INSERT INTO omniroute.route_rule_split VALUES (9201, 999999, 10)$$, '23503', NULL,
                 'a queue that does not exist is refused');

-- 1,000 consecutive ids the rule matches, from an aligned and an unaligned start
INSERT INTO omniroute.work_item (id, workstream_id, context)
SELECT g, 9201, '{"tier": "gold"}' FROM generate_series(921000, 921999) g;
INSERT INTO omniroute.work_item (id, workstream_id, context)
SELECT g, 9201, '{"tier": "gold"}' FROM generate_series(923037, 924036) g;
SELECT results_eq($$SELECT queue_id, count(*) FROM omniroute.work_item
                     WHERE id BETWEEN 921000 AND 921999 GROUP BY queue_id ORDER BY queue_id$$,
                  $$VALUES (9201::bigint, 500::bigint), (9202, 300), (9203, 200)$$,
                  '1,000 consecutive ids: exactly 50%, 30%, 20%');
SELECT results_eq($$SELECT queue_id, count(*) FROM omniroute.work_item
                     WHERE id BETWEEN 923037 AND 924036 GROUP BY queue_id ORDER BY queue_id$$,
                  $$VALUES (9201::bigint, 500::bigint), (9202, 300), (9203, 200)$$,
                  '1,000 consecutive ids from an unaligned start: exactly 50%, 30%, 20%');
SELECT is((SELECT max(abs(share - s.percent)) FROM omniroute.route_rule_split s
             JOIN (SELECT queue_id, 100.0 * count(*) / 1000 AS share FROM omniroute.work_item
                    WHERE id BETWEEN 923037 AND 924036 GROUP BY queue_id) w USING (queue_id)
            WHERE s.route_rule_id = 9201) <= 2, true,
          'each queue''s share is within 2 points of its percent');
-- the queues alternate rather than come in runs: no 10 consecutive ids in one queue
SELECT is((SELECT max(n) FROM (SELECT count(*) AS n FROM (
             SELECT queue_id, id - row_number() OVER (PARTITION BY queue_id ORDER BY id) AS run
               FROM omniroute.work_item WHERE id BETWEEN 921000 AND 921999) r
            GROUP BY queue_id, run) x) < 10, true,
          'the split spreads consecutive ids (no run of 10 in one queue)');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE queue_id = 9208), 0::bigint,
          'no item went to the rule''s own queue');

-- deterministic: the same id always gives the same queue (simulate with
-- the id agrees with every routed item)
SELECT is((SELECT count(*) FROM omniroute.work_item w
            WHERE w.id BETWEEN 921000 AND 921199
              AND (omniroute.simulate(9201, jsonb_build_object('tier', 'gold', 'work_item_id', w.id))
                     ->'route'->>'queue_id')::bigint <> w.queue_id), 0::bigint,
          'the same id gives the same queue: simulate(work_item_id) agrees with 200 routed items');
SELECT is((omniroute.simulate(9201, '{"tier": "gold", "work_item_id": 921007}')->'route'->>'queue_id'),
          (omniroute.simulate(9201, '{"tier": "gold", "work_item_id": 921007}')->'route'->>'queue_id'),
          'simulate twice with one id: one queue');

-- diagnostics.route names the rule, the split and the chosen queue
SELECT is((SELECT diagnostics->'route' FROM omniroute.work_item WHERE id = 921001),
          '{"rule": "gold", "position": 1, "split": [{"queue_id": 9201, "percent": 50},
            {"queue_id": 9202, "percent": 30}, {"queue_id": 9203, "percent": 20}],
            "bucket": 37, "queue_id": 9201, "queue": "split: a"}'::jsonb,
          'diagnostics.route: the rule, its split, the item''s bucket and the chosen queue');
SELECT is((SELECT diagnostics->'route'->>'queue_id' FROM omniroute.work_item WHERE id = 921005), '9203',
          'bucket 85 falls in the last 20%: queue c');

-- simulate without an id: the split, the largest share, and how to ask for an item's queue
SELECT is(omniroute.simulate(9201, '{"tier": "gold"}')->'route'->'split',
          '[{"queue_id": 9201, "percent": 50}, {"queue_id": 9202, "percent": 30},
            {"queue_id": 9203, "percent": 20}]'::jsonb, 'simulate shows the split');
SELECT is(omniroute.simulate(9201, '{"tier": "gold"}')->'route'->>'queue_id', '9201',
          'simulate without an id: the queue of the largest share');
SELECT ok(omniroute.simulate(9201, '{"tier": "gold"}')->'route'->>'split_choice' LIKE 'the largest share%',
          'simulate without an id says how it chose');
SELECT is(omniroute.simulate(9201, '{"tier": "gold", "work_item_id": 921005}')->'route'->>'queue_id', '9203',
          'simulate with work_item_id: that item''s queue');

-- an item the rule does not match: the fallback, as before
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (925000, 9201, '{"tier": "tin"}');
SELECT is((SELECT queue_id FROM omniroute.work_item WHERE id = 925000), 9209::bigint,
          'an item the split rule does not match: fallback');

-- overflow applies to the chosen queue: queue c full (max_open 1) sends to b
UPDATE omniroute.queue SET max_open = 1, overflow_action = 'transfer', overflow_queue_id = 9202 WHERE id = 9203;
INSERT INTO omniroute.work_item (id, workstream_id, context) VALUES (926005, 9201, '{"tier": "gold"}');
SELECT is((SELECT (diagnostics->'overflow'->0->>'queue_id', queue_id) FROM omniroute.work_item WHERE id = 926005),
          ('9203'::text, 9202::bigint), 'the split chose queue c, full: its overflow moved the item to b');
UPDATE omniroute.queue SET max_open = NULL, overflow_action = 'queue', overflow_queue_id = NULL WHERE id = 9203;

-- copy_workstream copies the split with the rule
CREATE TEMP TABLE copied AS SELECT omniroute.copy_workstream(9201) AS id;
SELECT is((SELECT array_agg(s.queue_id || ':' || s.percent ORDER BY s.queue_id)
             FROM omniroute.route_rule_split s JOIN omniroute.route_rule r ON r.id = s.route_rule_id
            WHERE r.workstream_id = (SELECT id FROM copied)),
          ARRAY['9201:50', '9202:30', '9203:20'], 'copy_workstream copies the split');

-- queue_stats counts a queue reached only through a split as routed to by
-- its workstream: a busy member (allowed by the workstream) is eligible
INSERT INTO omniroute.queue (id, name) VALUES (9204, 'split: d');
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (9204, 'split busy', 5, 'busy');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (9204, 9204);
INSERT INTO omniroute.route_rule (id, workstream_id, position, name, condition, queue_id)
     VALUES (9202, 9201, 2, 'never', 'tier = ''none''', 9209);
INSERT INTO omniroute.route_rule_split VALUES (9202, 9204, 100);
SELECT is((SELECT eligible_agents_now FROM omniroute.queue_stats WHERE queue_id = 9204), 1::bigint,
          'queue_stats: a queue reached through a split counts the members its workstream allows');

-- a split's queue cannot be deleted under it; deleting the rule deletes its split
SELECT throws_ok('DELETE FROM omniroute.queue WHERE id = 9203', '23503', NULL,
                 'a queue in a split cannot be deleted');
DELETE FROM omniroute.route_rule WHERE id = 9201;
SELECT is((SELECT count(*) FROM omniroute.route_rule_split WHERE route_rule_id = 9201), 0::bigint,
          'deleting the rule deletes its split rows');
SELECT lives_ok('SET CONSTRAINTS omniroute.check_split_sum IMMEDIATE',
                'a deleted rule''s rows are not checked');

-- the admin configures splits; nobody else may read them
SELECT ok(has_table_privilege('omniroute_admin', 'omniroute.route_rule_split', 'INSERT, UPDATE, DELETE'),
          'the admin writes splits');
SELECT ok(NOT has_table_privilege('omniroute_agent', 'omniroute.route_rule_split', 'SELECT')
          AND NOT has_table_privilege('omniroute_app', 'omniroute.route_rule_split', 'SELECT'),
          'agents and apps do not read splits');

SELECT * FROM finish();
ROLLBACK;
