--
-- rules: the rule language (README, "The rule language"), and classification
-- and the choice of queue on insert (README, "Concepts"), shown by example.
--
-- omniroute.test_condition(workstream_id, condition, context) compiles a
-- condition against the workstream's context variables and evaluates it on a
-- context.  The built-ins customer_id, external_id and priority may be given
-- in the context; channel comes from the context, else from the workstream.
--
-- Everything this file creates uses ids 1001..1004 and names starting with
-- "rules", and is deleted at the end.
--

-- Setup: four queues, one workstream and its context variables.
INSERT INTO omniroute.queue (id, name) VALUES
    (1001, 'rules: general'),
    (1002, 'rules: urgent'),
    (1003, 'rules: billing'),
    (1004, 'rules: spanish');
INSERT INTO omniroute.workstream (id, name, channel, fallback_queue_id)
VALUES (1001, 'rules: chat', 'chat', 1001);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (1001, 'topic', 'text'),
    (1001, 'lang', 'text'),
    (1001, 'vip', 'text'),
    (1001, 'amount', 'number'),
    (1001, 'Region', 'text'),
    (1001, 'region', 'text');

--
-- 1. Comparison operators.  Each has a true case, a false case, and the two
--    ways a value can be missing: the key is absent, or it is JSON null.
--    Any test on a missing value is false.
--

-- = and == are the same operator; text comparisons ignore case
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = 'billing'$$,  '{"topic": "billing"}'),
    ($$topic = 'billing'$$,  '{"topic": "BILLING"}'),
    ($$topic = 'billing'$$,  '{"topic": "sales"}'),
    ($$topic = 'billing'$$,  '{"topic": "billing "}'),
    ($$topic = 'billing'$$,  '{}'),
    ($$topic = 'billing'$$,  '{"topic": null}'),
    ($$topic == 'Billing'$$, '{"topic": "billing"}'),
    ($$topic == 'billing'$$, '{"topic": "sales"}'),
    ($$topic == 'billing'$$, '{}'),
    ($$topic == 'billing'$$, '{"topic": null}'),
    ($$amount = 42$$,        '{"amount": 42}'),
    ($$amount == 42$$,       '{"amount": 43}'),
    ($$amount = 42$$,        '{}'),
    ($$amount = 42$$,        '{"amount": null}')
) AS v(cond, ctx);

-- != and <> are the same operator; a missing value is not "different"
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic != 'billing'$$, '{"topic": "sales"}'),
    ($$topic != 'billing'$$, '{"topic": "Billing"}'),
    ($$topic != 'billing'$$, '{}'),
    ($$topic != 'billing'$$, '{"topic": null}'),
    ($$topic <> 'billing'$$, '{"topic": "sales"}'),
    ($$topic <> 'billing'$$, '{"topic": "BILLING"}'),
    ($$topic <> 'billing'$$, '{}'),
    ($$topic <> 'billing'$$, '{"topic": null}'),
    ($$amount <> 42$$,       '{"amount": 41}'),
    ($$amount != 42$$,       '{"amount": 42}'),
    ($$amount <> 42$$,       '{}'),
    ($$amount != 42$$,       '{"amount": null}')
) AS v(cond, ctx);

-- <, <=, >, >= compare numbers
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$amount < 100$$,  '{"amount": 99}'),
    ($$amount < 100$$,  '{"amount": 100}'),
    ($$amount < 100$$,  '{}'),
    ($$amount < 100$$,  '{"amount": null}'),
    ($$amount <= 100$$, '{"amount": 100}'),
    ($$amount <= 100$$, '{"amount": 101}'),
    ($$amount <= 100$$, '{}'),
    ($$amount <= 100$$, '{"amount": null}'),
    ($$amount > 100$$,  '{"amount": 101}'),
    ($$amount > 100$$,  '{"amount": 100}'),
    ($$amount > 100$$,  '{}'),
    ($$amount > 100$$,  '{"amount": null}'),
    ($$amount >= 100$$, '{"amount": 100}'),
    ($$amount >= 100$$, '{"amount": 99.99}'),
    ($$amount >= 100$$, '{}'),
    ($$amount >= 100$$, '{"amount": null}'),
    ($$100 > amount$$,  '{"amount": 5}')
) AS v(cond, ctx);

-- CONTAINS, STARTS WITH, ENDS WITH work on text and ignore case
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic CONTAINS 'fund'$$,      '{"topic": "refund request"}'),
    ($$topic CONTAINS 'FUND'$$,      '{"topic": "Refund request"}'),
    ($$topic CONTAINS 'fund'$$,      '{"topic": "invoice"}'),
    ($$topic CONTAINS 'fund'$$,      '{}'),
    ($$topic CONTAINS 'fund'$$,      '{"topic": null}'),
    ($$topic CONTAINS ''$$,          '{"topic": "anything"}'),
    ($$topic STARTS WITH 'ref'$$,    '{"topic": "Refund"}'),
    ($$topic STARTS WITH 'fund'$$,   '{"topic": "refund"}'),
    ($$topic STARTS WITH 'refunds'$$,'{"topic": "refund"}'),
    ($$topic STARTS WITH 'ref'$$,    '{}'),
    ($$topic STARTS WITH 'ref'$$,    '{"topic": null}'),
    ($$topic ENDS WITH 'UND'$$,      '{"topic": "refund"}'),
    ($$topic ENDS WITH 'ref'$$,      '{"topic": "refund"}'),
    ($$topic ENDS WITH 'und'$$,      '{}'),
    ($$topic ENDS WITH 'und'$$,      '{"topic": null}')
) AS v(cond, ctx);

-- IN and NOT IN take a list of literals; NOT IN on a missing value is false
-- too (it is a test on that value), whereas NOT (x IN ...) inverts the test
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$lang IN ('en', 'fr')$$,       '{"lang": "fr"}'),
    ($$lang IN ('en', 'fr')$$,       '{"lang": "FR"}'),
    ($$lang IN ('en', 'fr')$$,       '{"lang": "de"}'),
    ($$lang IN ('en', 'fr')$$,       '{}'),
    ($$lang IN ('en', 'fr')$$,       '{"lang": null}'),
    ($$lang IN ('en')$$,             '{"lang": "en"}'),
    ($$lang NOT IN ('en', 'fr')$$,   '{"lang": "de"}'),
    ($$lang NOT IN ('en', 'fr')$$,   '{"lang": "EN"}'),
    ($$lang NOT IN ('en', 'fr')$$,   '{}'),
    ($$lang NOT IN ('en', 'fr')$$,   '{"lang": null}'),
    ($$NOT lang IN ('en', 'fr')$$,   '{}'),
    ($$amount IN (1, 2.5, -3)$$,     '{"amount": 2.5}'),
    ($$amount IN (1, 2.5, -3)$$,     '{"amount": -3}'),
    ($$amount IN (1, 2.5, -3)$$,     '{"amount": 3}'),
    ($$amount NOT IN (1, 2)$$,       '{"amount": 3}'),
    ($$amount NOT IN (1, 2)$$,       '{"amount": 2}'),
    ($$amount NOT IN (1, 2)$$,       '{}')
) AS v(cond, ctx);

-- IS NULL is the one test that holds for a missing value; an empty string is
-- a value
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic IS NULL$$,      '{}'),
    ($$topic IS NULL$$,      '{"topic": null}'),
    ($$topic IS NULL$$,      '{"topic": "billing"}'),
    ($$topic IS NULL$$,      '{"topic": ""}'),
    ($$topic IS NOT NULL$$,  '{"topic": "billing"}'),
    ($$topic IS NOT NULL$$,  '{"topic": ""}'),
    ($$topic IS NOT NULL$$,  '{}'),
    ($$topic IS NOT NULL$$,  '{"topic": null}'),
    ($$amount IS NULL$$,     '{"amount": null}'),
    ($$amount IS NOT NULL$$, '{"amount": 0}')
) AS v(cond, ctx);

--
-- 2. AND, OR, NOT, parentheses, bare TRUE and FALSE.
--

-- AND and OR; a false test on a missing value does not stop OR
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = 'billing' AND amount > 10$$, '{"topic": "billing", "amount": 11}'),
    ($$topic = 'billing' AND amount > 10$$, '{"topic": "billing", "amount": 10}'),
    ($$topic = 'billing' AND amount > 10$$, '{"topic": "billing"}'),
    ($$topic = 'billing' AND amount > 10$$, '{"topic": "billing", "amount": null}'),
    ($$topic = 'billing' OR amount > 10$$,  '{"topic": "sales", "amount": 11}'),
    ($$topic = 'billing' OR amount > 10$$,  '{"topic": "sales", "amount": 10}'),
    ($$topic = 'billing' OR amount > 10$$,  '{"amount": 11}'),
    ($$topic = 'billing' OR amount > 10$$,  '{}'),
    ($$topic = 'a' OR topic = 'b' OR topic = 'c'$$, '{"topic": "c"}'),
    ($$amount > 1 AND amount > 2 AND amount > 3$$,  '{"amount": 3}')
) AS v(cond, ctx);

-- NOT inverts the whole test, so NOT over a missing value is true
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$NOT topic = 'billing'$$,      '{"topic": "sales"}'),
    ($$NOT topic = 'billing'$$,      '{"topic": "billing"}'),
    ($$NOT topic = 'billing'$$,      '{}'),
    ($$NOT topic = 'billing'$$,      '{"topic": null}'),
    ($$NOT topic != 'billing'$$,     '{}'),
    ($$NOT amount > 10$$,            '{"amount": null}'),
    ($$NOT topic IS NULL$$,          '{}'),
    ($$NOT NOT topic = 'billing'$$,  '{"topic": "billing"}'),
    ($$NOT (topic = 'billing')$$,    '{"topic": "billing"}')
) AS v(cond, ctx);

-- precedence is NOT > AND > OR; parentheses override it
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    -- a OR b AND c  is  a OR (b AND c)
    ($$topic = 'x' OR lang = 'en' AND amount > 10$$,   '{"topic": "x", "lang": "fr"}'),
    ($$(topic = 'x' OR lang = 'en') AND amount > 10$$, '{"topic": "x", "lang": "fr"}'),
    ($$topic = 'x' OR (lang = 'en' AND amount > 10)$$, '{"topic": "x", "lang": "fr"}'),
    -- a AND b OR c  is  (a AND b) OR c
    ($$topic = 'x' AND lang = 'en' OR amount > 10$$,   '{"amount": 11}'),
    ($$topic = 'x' AND (lang = 'en' OR amount > 10)$$, '{"amount": 11}'),
    -- NOT a AND b  is  (NOT a) AND b
    ($$NOT topic = 'x' AND lang = 'en'$$,              '{"topic": "x", "lang": "fr"}'),
    ($$NOT (topic = 'x' AND lang = 'en')$$,            '{"topic": "x", "lang": "fr"}'),
    -- NOT a OR b  is  (NOT a) OR b
    ($$NOT topic = 'x' OR lang = 'en'$$,               '{"topic": "x", "lang": "en"}'),
    ($$NOT (topic = 'x' OR lang = 'en')$$,             '{"topic": "x", "lang": "en"}'),
    ($$((topic = 'x'))$$,                              '{"topic": "x"}')
) AS v(cond, ctx);

-- a bare TRUE or FALSE is a whole condition (a rule that always or never fires)
SELECT cond, omniroute.test_condition(1001, cond, '{}') AS result
FROM (VALUES
    ($$TRUE$$),
    ($$FALSE$$),
    ($$NOT FALSE$$),
    ($$(TRUE)$$),
    ($$TRUE AND FALSE$$),
    ($$FALSE OR TRUE$$),
    ($$TRUE AND topic IS NULL$$),
    ($$true$$),
    ($$False$$)
) AS v(cond);

--
-- 3. Letters, quotes and numbers.
--

-- keywords are case-insensitive
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = 'a' and lang = 'en'$$,            '{"topic": "a", "lang": "en"}'),
    ($$topic = 'a' Or lang = 'en'$$,             '{"lang": "en"}'),
    ($$not topic = 'a'$$,                        '{"topic": "b"}'),
    ($$topic Contains 'A'$$,                     '{"topic": "cat"}'),
    ($$topic starts with 'C'$$,                  '{"topic": "cat"}'),
    ($$topic Ends With 'T'$$,                    '{"topic": "cat"}'),
    ($$lang in ('en') AND lang Not In ('fr')$$,  '{"lang": "en"}'),
    ($$topic is null$$,                          '{}'),
    ($$topic Is Not Null$$,                      '{"topic": "a"}'),
    ($$vip = True$$,                             '{"vip": true}')
) AS v(cond, ctx);

-- identifiers are case-sensitive: Region and region are two variables
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$Region = 'north'$$, '{"Region": "north", "region": "south"}'),
    ($$region = 'north'$$, '{"Region": "north", "region": "south"}'),
    ($$region = 'south'$$, '{"Region": "north", "region": "south"}'),
    ($$Region IS NULL$$,   '{"region": "south"}')
) AS v(cond, ctx);

-- strings take single or double quotes; the quote character is doubled to
-- write it inside a string of its own kind, and the other kind needs nothing
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = 'billing'$$,          '{"topic": "billing"}'),
    ($$topic = "billing"$$,          '{"topic": "billing"}'),
    ($$topic = 'it''s late'$$,       '{"topic": "it''s late"}'),
    ($$topic = "say ""hi"""$$,       '{"topic": "say \"hi\""}'),
    ($$topic = 'say "hi"'$$,         '{"topic": "say \"hi\""}'),
    ($$topic = "it's late"$$,        '{"topic": "it''s late"}'),
    ($$topic = 'it''s late'$$,       '{"topic": "its late"}'),
    ($$topic = ''$$,                 '{"topic": ""}'),
    ($$topic IN ('a''b', "c""d")$$,  '{"topic": "c\"d"}'),
    ($$topic = 'a AND b'$$,          '{"topic": "a and b"}')
) AS v(cond, ctx);

-- numbers: negative, decimal, with an exponent; a number variable may be
-- given in the context as a number or as a numeric string
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$amount = -5$$,        '{"amount": -5}'),
    ($$amount > -5$$,        '{"amount": -4.5}'),
    ($$amount < -5$$,        '{"amount": -4.5}'),
    ($$amount = 2.75$$,      '{"amount": 2.75}'),
    ($$amount = 0.5$$,       '{"amount": 0.50}'),
    ($$amount = .5$$,        '{"amount": 0.5}'),
    ($$amount = 1e3$$,       '{"amount": 1000}'),
    ($$amount = 42$$,        '{"amount": "42"}'),
    ($$amount > 41.5$$,      '{"amount": "42"}'),
    ($$amount = 42$$,        '{"amount": "42.0"}'),
    ($$amount = -0.25$$,     '{"amount": "-0.25"}'),
    ($$amount = 1000$$,      '{"amount": "1e3"}'),
    ($$amount IN (42, 43)$$, '{"amount": "43"}')
) AS v(cond, ctx);

-- a JSON boolean in a text variable reads as the text 'true' or 'false', so
-- it compares with TRUE and FALSE (and with 'true' and 'false')
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$vip = TRUE$$,       '{"vip": true}'),
    ($$vip = TRUE$$,       '{"vip": false}'),
    ($$vip = FALSE$$,      '{"vip": false}'),
    ($$vip != FALSE$$,     '{"vip": true}'),
    ($$vip = 'true'$$,     '{"vip": true}'),
    ($$vip = TRUE$$,       '{"vip": "True"}'),
    ($$vip IN (TRUE)$$,    '{"vip": true}'),
    ($$vip = TRUE$$,       '{}'),
    ($$vip = FALSE$$,      '{}'),
    ($$vip = TRUE$$,       '{"vip": null}')
) AS v(cond, ctx);

-- a JSON number in a text variable reads as its text
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = '42'$$,           '{"topic": 42}'),
    ($$topic STARTS WITH '4'$$,  '{"topic": 42}')
) AS v(cond, ctx);

-- non-ASCII text, case-insensitive whatever the database's locale
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$topic = 'école'$$,             '{"topic": "école"}'),
    ($$topic = 'ÉCOLE'$$,             '{"topic": "école"}'),
    ($$topic STARTS WITH 'ÉC'$$,      '{"topic": "école"}'),
    ($$topic = 'ΑΘΗΝΑ'$$,             '{"topic": "αθηνα"}'),
    ($$topic = 'Naïve CAFÉ'$$,        '{"topic": "naïve CAFÉ"}'),
    ($$topic CONTAINS 'ï'$$,          '{"topic": "naïve"}'),
    ($$topic ENDS WITH 'É'$$,         '{"topic": "CAFÉ"}'),
    ($$topic = 'école'$$,             '{"topic": "ecole"}'),
    ($$lang IN ('日本語', '中文')$$,   '{"lang": "中文"}')
) AS v(cond, ctx);

-- the built-ins: channel (from the context, else the workstream's),
-- customer_id, external_id and priority (0 unless given)
SELECT cond, ctx, omniroute.test_condition(1001, cond, ctx::jsonb) AS result
FROM (VALUES
    ($$channel = 'chat'$$,                '{}'),
    ($$channel = 'CHAT'$$,                '{}'),
    ($$channel = 'email'$$,               '{"channel": "email"}'),
    ($$customer_id = 'c-42'$$,            '{"customer_id": "C-42"}'),
    ($$customer_id IS NULL$$,             '{}'),
    ($$customer_id = 'c-42'$$,            '{}'),
    ($$external_id STARTS WITH 'ord-'$$,  '{"external_id": "ORD-7"}'),
    ($$external_id IS NOT NULL$$,         '{}'),
    ($$priority = 0$$,                    '{}'),
    ($$priority >= 5$$,                   '{"priority": 7}'),
    ($$priority >= 5$$,                   '{"priority": 3}')
) AS v(cond, ctx);

-- whitespace (spaces, tabs, newlines) separates tokens and is otherwise ignored
SELECT omniroute.test_condition(1001, E'topic = ''a''\n\tAND\n\tamount>1', '{"topic": "a", "amount": 2}') AS result;
SELECT omniroute.test_condition(1001, $$topic='a'AND(amount>=1)$$, '{"topic": "a", "amount": 2}') AS result;

-- a long chain of AND is one flat node, not a deep nesting: 2000 tests compile
SELECT omniroute.test_condition(1001,
    'amount >= 0' || repeat(' AND amount >= 0', 1999), '{"amount": 1}') AS result;

--
-- 4. Classification, then the route rule that chooses the queue, through
--    omniroute.simulate(workstream_id, context), which changes nothing.
--
INSERT INTO omniroute.skill (name) VALUES ('rules_billing'), ('rules_english');

-- Classification rules apply in position order, whatever the order they
-- were inserted in; each sees the outputs of the ones before it.
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (1001, 30, 'vip is urgent', $$vip = TRUE$$,
        '{"priority": 9, "skills": {"rules_billing": 6}}'),
    (1001, 10, 'large amount is billing', $$amount >= 1000$$,
        '{"topic": "billing", "skills": {"rules_billing": 3}}'),
    (1001, 40, 'urgent needs fluent english', $$priority >= 9$$,
        '{"skills": {"rules_english": 8}}'),
    (1001, 20, 'billing', $$topic = 'billing'$$,
        '{"priority": 5, "skills": {"rules_billing": 2, "rules_english": 4}}'),
    (1001, 5, 'key account', $$customer_id IN ('cust-42', 'cust-43')$$,
        '{"vip": true}');

-- Route rules: the first that holds, by position, names the queue.
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id) VALUES
    (1001, 20, 'billing', $$topic = 'billing'$$, 1003),
    (1001, 30, 'spanish', $$lang STARTS WITH 'es'$$, 1004),
    (1001, 10, 'urgent', $$priority >= 9$$, 1002);

-- the whole document for one context (less the assignment, which depends on
-- agents and is not the subject here)
SELECT jsonb_pretty(omniroute.simulate(1001, '{"amount": 5000}') - 'assignment');

-- one row per context: which classification rules fired, in order, and
-- where the item goes
SELECT ctx,
       (SELECT string_agg(c->>'rule', ', ' ORDER BY ord)
          FROM jsonb_array_elements(s->'classification') WITH ORDINALITY AS c(c, ord)) AS fired,
       s->'priority' AS priority,
       s->'required_skills' AS required_skills,
       s->'route' AS route
FROM (VALUES
    -- nothing holds: the workstream's fallback queue
    ('{}'),
    ('{"topic": "sales", "amount": 999}'),
    -- rule 10 sets topic, which rule 20 then sees; rule 20's lower
    -- rules_billing requirement (2) does not lower rule 10's (3)
    ('{"amount": 5000}'),
    -- a string number
    ('{"amount": "1000"}'),
    -- rule 30 overrides the priority set by rule 20 and raises rules_billing
    -- to 6; rule 40 sees priority 9; both "urgent" (10) and "billing" (20)
    -- hold, and the first by position wins
    ('{"amount": 5000, "vip": true}'),
    -- rule 5 sets vip from a built-in, rule 30 then fires on it
    ('{"customer_id": "CUST-42"}'),
    -- "billing" (20) comes before "spanish" (30)
    ('{"topic": "Billing", "lang": "es"}'),
    ('{"lang": "es-MX"}'),
    -- the priority given with the item is what rules see
    ('{"priority": 9}')
) AS v(ctx), LATERAL omniroute.simulate(1001, ctx::jsonb) AS s;

-- the context as classification leaves it: outputs set context variables
SELECT omniroute.simulate(1001, '{"amount": 5000, "lang": "en"}')->'context' AS context,
       omniroute.simulate(1001, '{"customer_id": "cust-43"}')->'context' AS context_key_account;

-- moving a rule changes the order at once
UPDATE omniroute.route_rule SET position = 5 WHERE workstream_id = 1001 AND name = 'spanish';
SELECT omniroute.simulate(1001, '{"topic": "billing", "lang": "es"}')->'route' AS route;
UPDATE omniroute.route_rule SET position = 30 WHERE workstream_id = 1001 AND name = 'spanish';
SELECT omniroute.simulate(1001, '{"topic": "billing", "lang": "es"}')->'route' AS route;

-- a rule that never fires, and a rule whose condition is TRUE as a catch-all
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
VALUES (1001, 90, 'never', 'FALSE', 1002),
       (1001, 99, 'everything else', 'TRUE', 1004);
SELECT omniroute.simulate(1001, '{}')->'route' AS route;
DELETE FROM omniroute.route_rule WHERE workstream_id = 1001 AND position IN (90, 99);
SELECT omniroute.simulate(1001, '{}')->'route' AS route;

--
-- 5. A real INSERT: classification and routing happen in the inserting
--    statement.  The queues have no members, so no agent is involved and the
--    items stay open.
--
INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, priority, context, required_skills)
VALUES (1001, 'rules-1', 'cust-1', 1, '{"amount": "2500", "lang": "en"}', '{"rules_english": 7}'),
       (1001, 'rules-2', 'CUST-42', 1, '{"lang": "fr"}', '{}'),
       (1001, 'rules-3', 'cust-3', 2, '{"lang": "fr"}', '{"rules_english": 3}')
RETURNING external_id, context, priority, required_skills, queue_id, state;

-- diagnostics record which classification rules fired and which route rule
-- matched (or the fallback)
SELECT external_id,
       (SELECT jsonb_agg(c->'rule') FROM jsonb_array_elements(diagnostics->'classification') AS c) AS fired,
       diagnostics->'route' AS route
FROM omniroute.work_item
WHERE workstream_id = 1001
ORDER BY external_id;

--
-- Cleanup
--
DELETE FROM omniroute.work_item_event
 WHERE work_item_id IN (SELECT id FROM omniroute.work_item WHERE workstream_id = 1001);
DELETE FROM omniroute.work_item WHERE workstream_id = 1001;
DELETE FROM omniroute.workstream WHERE id = 1001;
DELETE FROM omniroute.queue WHERE id BETWEEN 1001 AND 1004;
DELETE FROM omniroute.skill WHERE name IN ('rules_billing', 'rules_english');
