--
-- rule_errors: every way a rule, a classification output or a work item's
-- context is refused (README, "The rule language"), with its SQLSTATE and
-- message.
--
-- A rule is checked when it is inserted or updated, so a bad rule never
-- lands.  Messages name the rule and the 1-based character position; the
-- DETAIL repeats the rule with a caret under that position.
--
-- pg_temp.err(sql) runs a statement and shows "SQLSTATE: message", the
-- DETAIL, and the CONTEXT lines that come from omniroute (not those of this
-- helper), or "ok".
--
-- Everything this file creates uses ids 1101..1102 and names starting with
-- "rule_errors", and is deleted at the end.
--
CREATE FUNCTION pg_temp.err(sql text) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    st text;
    msg text;
    det text;
    ctx text;
    line text;
    result text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, ctx = PG_EXCEPTION_CONTEXT;
    result := st || ': ' || msg;
    IF det <> '' THEN
        result := result || E'\n' || det;
    END IF;
    -- the statement itself may span lines: take it out whole
    ctx := replace(ctx, 'SQL statement "' || sql || '"', '');
    FOR line IN
        SELECT l FROM regexp_split_to_table(ctx, E'\n') AS l
         WHERE l <> '' AND l NOT LIKE 'PL/pgSQL function %'
           AND l NOT LIKE 'SQL statement %' AND l NOT LIKE 'SQL function %'
    LOOP
        result := result || E'\nCONTEXT: ' || line;
    END LOOP;
    RETURN result;
END
$f$;

-- insert a route rule / a classification rule of workstream 1101
CREATE FUNCTION pg_temp.route_rule(name text, condition text) RETURNS text
LANGUAGE sql AS $f$
    SELECT pg_temp.err(format(
        'INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)'
        ' VALUES (1101, 1, %L, %L, 1101)', name, condition));
$f$;
CREATE FUNCTION pg_temp.class_rule(name text, condition text, output text DEFAULT '{}') RETURNS text
LANGUAGE sql AS $f$
    SELECT pg_temp.err(format(
        'INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)'
        ' VALUES (1101, 1, %L, %L, %L)', name, condition, output));
$f$;

-- Setup: a queue, two workstreams and their context variables.
INSERT INTO omniroute.queue (id, name) VALUES (1101, 'rule_errors: general');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES
    (1101, 'rule_errors: chat', 1101),
    (1102, 'rule_errors: other', 1101);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (1101, 'topic', 'text'),
    (1101, 'amount', 'number'),
    (1101, 'Region', 'text'),
    (1102, 'color', 'text');
INSERT INTO omniroute.skill (name) VALUES ('rule_errors_english');

-- the results below are bare text, one error per statement
\pset format unaligned
\pset tuples_only on

SELECT 'route rules: ' || count(*) FROM omniroute.route_rule WHERE workstream_id = 1101;
SELECT 'classification rules: ' || count(*) FROM omniroute.classification_rule WHERE workstream_id = 1101;

--
-- 1. Syntax errors: 42601, with the position.
--

-- unbalanced parentheses
SELECT pg_temp.route_rule('open paren', $$(topic = 'a'$$);
SELECT pg_temp.route_rule('close paren', $$topic = 'a')$$);
SELECT pg_temp.route_rule('nested', $$((topic = 'a') OR (amount > 1)$$);
SELECT pg_temp.route_rule('empty parens', $$()$$);
-- a missing operand
SELECT pg_temp.route_rule('no right operand', $$topic =$$);
SELECT pg_temp.route_rule('no left operand', $$= 'a'$$);
SELECT pg_temp.route_rule('dangling AND', $$topic = 'a' AND$$);
SELECT pg_temp.route_rule('double OR', $$topic = 'a' OR OR amount > 1$$);
SELECT pg_temp.route_rule('lone NOT', $$NOT$$);
SELECT pg_temp.route_rule('no operator', $$topic$$);
SELECT pg_temp.route_rule('double operator', $$topic == == 'a'$$);
SELECT pg_temp.route_rule('minus alone', $$amount > -$$);
-- an unterminated string, in either quote style, also after an escaped quote
SELECT pg_temp.route_rule('unterminated', $$topic = 'abc$$);
SELECT pg_temp.route_rule('unterminated double', $$topic = "abc$$);
SELECT pg_temp.route_rule('unterminated escape', $$topic = 'it''s$$);
-- stray characters
SELECT pg_temp.route_rule('semicolon', $$topic = 'a' ;$$);
SELECT pg_temp.route_rule('ampersands', $$topic = 'a' && amount > 1$$);
SELECT pg_temp.route_rule('bang', $$!topic$$);
SELECT pg_temp.route_rule('dot', $$amount > 1.5.2$$);
SELECT pg_temp.route_rule('number glued to a word', $$amount > 12x$$);
-- positions count characters, not bytes
SELECT pg_temp.route_rule('non-ASCII', $$topic = 'é' AND ü$$);
-- trailing tokens
SELECT pg_temp.route_rule('two strings', $$topic = 'a' 'b'$$);
SELECT pg_temp.route_rule('missing AND', $$topic = 'a' amount > 1$$);
-- an empty condition
SELECT pg_temp.route_rule('empty', '');
SELECT pg_temp.route_rule('blank', '   ');
-- NOT must be followed by IN after a value, STARTS and ENDS by WITH
SELECT pg_temp.route_rule('NOT without IN', $$topic NOT 'a'$$);
SELECT pg_temp.route_rule('NOT LIKE', $$topic NOT LIKE 'a'$$);
SELECT pg_temp.route_rule('STARTS without WITH', $$topic STARTS 'a'$$);
SELECT pg_temp.route_rule('ENDS without WITH', $$topic ENDS 'a'$$);
-- IN takes a parenthesised, non-empty list of literals
SELECT pg_temp.route_rule('IN identifier', $$topic IN (Region)$$);
SELECT pg_temp.route_rule('IN no parens', $$topic IN 'a'$$);
SELECT pg_temp.route_rule('IN empty', $$topic IN ()$$);
SELECT pg_temp.route_rule('IN trailing comma', $$topic IN ('a',)$$);
SELECT pg_temp.route_rule('IN missing comma', $$topic IN ('a' 'b')$$);
-- IS takes [NOT] NULL; NULL is not a value
SELECT pg_temp.route_rule('IS value', $$topic IS 'a'$$);
SELECT pg_temp.route_rule('IS NOT', $$topic IS NOT$$);
SELECT pg_temp.route_rule('= NULL', $$topic = NULL$$);
-- the same errors for a classification rule
SELECT pg_temp.class_rule('class open paren', $$(amount > 1$$, '{"priority": 1}');

--
-- 2. Unknown identifiers: 42703.  Identifiers are the workstream's own
--    context variables and the built-ins, spelt exactly.
--
SELECT pg_temp.route_rule('unknown', $$nope = 1$$);
SELECT pg_temp.route_rule('wrong case', $$Topic = 'a'$$);
SELECT pg_temp.route_rule('upper case', $$TOPIC = 'a'$$);
SELECT pg_temp.route_rule('wrong case Region', $$region = 'a'$$);
SELECT pg_temp.route_rule('built-in wrong case', $$Channel = 'a'$$);
SELECT pg_temp.route_rule('other workstream', $$color = 'red'$$);
SELECT pg_temp.route_rule('unknown later', $$topic = 'a' AND nope IS NULL$$);
SELECT pg_temp.route_rule('unknown in list', $$topic IN ('a') OR amount IN (1) OR nope IN (2)$$);
SELECT pg_temp.class_rule('class unknown', $$Amount > 1$$);

--
-- 3. Type mismatches: 42804.
--

-- a number variable against a string, a text variable against a number
SELECT pg_temp.route_rule('number = string', $$amount = 'a'$$);
SELECT pg_temp.route_rule('string = number', $$'a' = amount$$);
SELECT pg_temp.route_rule('number <> string', $$amount <> '1'$$);
SELECT pg_temp.route_rule('text = number', $$topic = 5$$);
SELECT pg_temp.route_rule('text = number variable', $$topic = amount$$);
SELECT pg_temp.route_rule('built-in priority', $$priority = 'high'$$);
SELECT pg_temp.route_rule('number = boolean', $$amount = TRUE$$);
-- ordering applies to numbers only
SELECT pg_temp.route_rule('ordering text', $$topic > 'a'$$);
SELECT pg_temp.route_rule('ordering literals', $$'a' < 'b'$$);
SELECT pg_temp.route_rule('ordering channel', $$channel >= 'a'$$);
SELECT pg_temp.route_rule('ordering booleans', $$TRUE > FALSE$$);
-- CONTAINS, STARTS WITH and ENDS WITH apply to text only
SELECT pg_temp.route_rule('contains number', $$amount CONTAINS 1$$);
SELECT pg_temp.route_rule('starts number', $$amount STARTS WITH '1'$$);
SELECT pg_temp.route_rule('ends number', $$topic ENDS WITH 1$$);
-- an IN list must match the value's type, item by item
SELECT pg_temp.route_rule('IN text for number', $$amount IN ('a', 'b')$$);
SELECT pg_temp.route_rule('IN number for text', $$topic IN (1, 2)$$);
SELECT pg_temp.route_rule('IN mixed', $$amount IN (1, 'a')$$);
SELECT pg_temp.class_rule('class mismatch', $$amount = '12'$$);

--
-- 4. Limits.
--

-- nesting of parentheses and NOT deeper than the limit: 54001 (no caret: the
-- rule is too long to repeat); a flat chain of AND/OR has no such limit
SELECT pg_temp.route_rule('deep parens', repeat('(', 100) || 'TRUE' || repeat(')', 100));
SELECT pg_temp.route_rule('deep NOT', repeat('NOT ', 100) || 'TRUE');
-- rule text over 65536 bytes: 54000 (bytes, not characters)
SELECT pg_temp.route_rule('too long', 'topic = ''' || repeat('x', 65527) || '''');
SELECT pg_temp.route_rule('too long multibyte', 'topic = ''' || repeat('é', 32764) || '''');
-- a number literal out of range: 22003
SELECT pg_temp.route_rule('huge number', $$amount > 1e999$$);

-- none of the rules above landed
SELECT 'route rules: ' || count(*) FROM omniroute.route_rule WHERE workstream_id = 1101;
SELECT 'classification rules: ' || count(*) FROM omniroute.classification_rule WHERE workstream_id = 1101;

-- within the limits, the same shapes are fine
SELECT pg_temp.route_rule('within limits', repeat('(', 20) || 'TRUE' || repeat(')', 20));
SELECT pg_temp.err($$UPDATE omniroute.route_rule SET condition = repeat('NOT ', 20) || 'TRUE'
                     WHERE workstream_id = 1101 AND position = 1$$);
SELECT pg_temp.err($$UPDATE omniroute.route_rule SET condition = 'topic = ''' || repeat('x', 65526) || ''''
                     WHERE workstream_id = 1101 AND position = 1$$);
SELECT 'length of the rule: ' || octet_length(condition) FROM omniroute.route_rule
 WHERE workstream_id = 1101 AND position = 1;

-- a multi-row INSERT with one bad rule inserts nothing
SELECT 'route rules: ' || count(*) FROM omniroute.route_rule WHERE workstream_id = 1101;
SELECT pg_temp.err($$INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
                     VALUES (1101, 2, 'good', 'amount > 1', 1101),
                            (1101, 3, 'bad', 'amount > ', 1101)$$);
SELECT 'route rules: ' || count(*) FROM omniroute.route_rule WHERE workstream_id = 1101;

-- an UPDATE that would break a rule is refused, and the rule is unchanged
SELECT pg_temp.err($$UPDATE omniroute.route_rule SET condition = 'amount > ''1'''
                     WHERE workstream_id = 1101 AND position = 1$$);
SELECT pg_temp.err($$UPDATE omniroute.route_rule SET condition = 'topic = "open'
                     WHERE workstream_id = 1101 AND position = 1$$);
SELECT 'unchanged: ' || (octet_length(condition) = 65536) FROM omniroute.route_rule
 WHERE workstream_id = 1101 AND position = 1;
DELETE FROM omniroute.route_rule WHERE workstream_id = 1101;

-- test_condition() reports the same errors, for a rule it calls "test"
SELECT pg_temp.err($$SELECT omniroute.test_condition(1101, 'amount >', '{}')$$);
SELECT pg_temp.err($$SELECT omniroute.test_condition(1101, 'topic = amount', '{}')$$);
SELECT pg_temp.err($$SELECT omniroute.test_condition(1101, 'color = ''red''', '{}')$$);
SELECT pg_temp.err($$SELECT omniroute.test_condition(1101, '', '{}')$$);
SELECT pg_temp.err($$SELECT omniroute.test_condition(9999999, 'TRUE', '{}')$$);
SELECT pg_temp.err($$SELECT omniroute.test_condition(1101, 'TRUE', '[1, 2]')$$);

--
-- 5. Classification outputs: keys are "priority" (an integer), "skills" (an
--    object of existing skill -> proficiency 1..10) and the workstream's
--    context variables (a value of their type).
--
SELECT pg_temp.class_rule('unknown key', 'TRUE', '{"nope": 1}');
SELECT pg_temp.class_rule('key wrong case', 'TRUE', '{"Topic": "a"}');
SELECT pg_temp.class_rule('key of other workstream', 'TRUE', '{"color": "red"}');
SELECT pg_temp.class_rule('built-in key', 'TRUE', '{"channel": "email"}');
SELECT pg_temp.class_rule('priority string', 'TRUE', '{"priority": "5"}');
SELECT pg_temp.class_rule('priority decimal', 'TRUE', '{"priority": 1.5}');
SELECT pg_temp.class_rule('priority too big', 'TRUE', '{"priority": 3000000000}');
SELECT pg_temp.class_rule('priority null', 'TRUE', '{"priority": null}');
SELECT pg_temp.class_rule('skills not an object', 'TRUE', '{"skills": ["rule_errors_english"]}');
SELECT pg_temp.class_rule('proficiency 0', 'TRUE', '{"skills": {"rule_errors_english": 0}}');
SELECT pg_temp.class_rule('proficiency 11', 'TRUE', '{"skills": {"rule_errors_english": 11}}');
SELECT pg_temp.class_rule('proficiency decimal', 'TRUE', '{"skills": {"rule_errors_english": 2.5}}');
SELECT pg_temp.class_rule('proficiency string', 'TRUE', '{"skills": {"rule_errors_english": "5"}}');
SELECT pg_temp.class_rule('unknown skill', 'TRUE', '{"skills": {"rule_errors_klingon": 5}}');
SELECT pg_temp.class_rule('number variable string', 'TRUE', '{"amount": "lots"}');
SELECT pg_temp.class_rule('number variable boolean', 'TRUE', '{"amount": true}');
SELECT pg_temp.class_rule('text variable object', 'TRUE', '{"topic": {"a": 1}}');
SELECT pg_temp.class_rule('text variable array', 'TRUE', '{"topic": ["a"]}');
SELECT pg_temp.class_rule('output array', 'TRUE', '[1]');
-- the condition is checked before the output
SELECT pg_temp.class_rule('both bad', 'nope = 1', '{"nope": 1}');

SELECT 'classification rules: ' || count(*) FROM omniroute.classification_rule WHERE workstream_id = 1101;

--
-- 6. A context variable that a rule uses can be neither dropped, renamed
--    nor retyped under it.
--
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (1101, 'spare', 'text');
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
VALUES (1101, 1, 'big amount', 'amount >= 1000', '{"priority": 5}'),
       (1101, 2, 'tag region', 'TRUE', '{"Region": "north"}');
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
VALUES (1101, 1, 'refunds', $$topic CONTAINS 'refund'$$, 1101);

SELECT pg_temp.err($$DELETE FROM omniroute.context_variable WHERE workstream_id = 1101 AND name = 'amount'$$);
SELECT pg_temp.err($$UPDATE omniroute.context_variable SET name = 'total' WHERE workstream_id = 1101 AND name = 'amount'$$);
SELECT pg_temp.err($$UPDATE omniroute.context_variable SET type = 'text' WHERE workstream_id = 1101 AND name = 'amount'$$);
SELECT pg_temp.err($$UPDATE omniroute.context_variable SET type = 'number' WHERE workstream_id = 1101 AND name = 'topic'$$);
SELECT pg_temp.err($$DELETE FROM omniroute.context_variable WHERE workstream_id = 1101 AND name = 'topic'$$);
-- a variable used only by an output
SELECT pg_temp.err($$DELETE FROM omniroute.context_variable WHERE workstream_id = 1101 AND name = 'Region'$$);
SELECT pg_temp.err($$UPDATE omniroute.context_variable SET type = 'number' WHERE workstream_id = 1101 AND name = 'Region'$$);
-- the variables are all still there
SELECT string_agg(name || ' ' || type, ', ' ORDER BY name) FROM omniroute.context_variable WHERE workstream_id = 1101;
-- a variable no rule uses can go
SELECT pg_temp.err($$DELETE FROM omniroute.context_variable WHERE workstream_id = 1101 AND name = 'spare'$$);
SELECT string_agg(name || ' ' || type, ', ' ORDER BY name) FROM omniroute.context_variable WHERE workstream_id = 1101;

--
-- 7. Work items: the context must fit the declared types (22P02), and
--    nothing is inserted when it does not.
--
SELECT 'work items: ' || count(*) FROM omniroute.work_item WHERE workstream_id = 1101;
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": 12}')$$);
SELECT 'work items: ' || count(*) FROM omniroute.work_item WHERE workstream_id = 1101;

-- a number variable with a non-numeric value
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": "lots"}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": ""}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": "12 euros"}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": "NaN"}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": true}')$$);
-- blank, hexadecimal and out-of-range numbers are not numbers either
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": "  "}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": "0x10"}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": 1e400}')$$);
-- while a numeric string with spaces around it is a number
SELECT omniroute.test_condition(1101, 'amount = 5', '{"amount": " 5 "}') AS padded_number_is_five;
-- an object or an array in a declared variable, of either type
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": {"value": 1}}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"amount": [1]}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"topic": {"a": "b"}}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '{"topic": ["a"]}')$$);
-- one bad row refuses the whole statement
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context)
                     VALUES (1101, '{"amount": 1}'), (1101, '{"amount": "one"}')$$);
-- the context itself must be an object
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, context) VALUES (1101, '[1]')$$);
-- required_skills: an object of skill -> integer proficiency 1..10
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, required_skills) VALUES (1101, '{"rule_errors_english": 11}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, required_skills) VALUES (1101, '{"rule_errors_english": 0}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, required_skills) VALUES (1101, '{"rule_errors_english": 2.5}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, required_skills) VALUES (1101, '{"rule_errors_english": "high"}')$$);
SELECT pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, required_skills) VALUES (1101, '["rule_errors_english"]')$$);
-- nothing was inserted
SELECT 'work items: ' || count(*) FROM omniroute.work_item WHERE workstream_id = 1101;

-- simulate() checks the context the same way
SELECT pg_temp.err($$SELECT omniroute.simulate(1101, '{"amount": "lots"}')$$);
SELECT pg_temp.err($$SELECT omniroute.simulate(1101, '{"topic": [1]}')$$);
SELECT pg_temp.err($$SELECT omniroute.simulate(1101, '[]')$$);

--
-- 8. A workstream's mode is fixed at creation: 0A000.
--
SELECT pg_temp.err($$UPDATE omniroute.workstream SET mode = 'pick' WHERE id = 1101$$);
SELECT 'mode: ' || mode FROM omniroute.workstream WHERE id = 1101;

\pset format aligned
\pset tuples_only off

--
-- Cleanup
--
DELETE FROM omniroute.work_item_event
 WHERE work_item_id IN (SELECT id FROM omniroute.work_item WHERE workstream_id IN (1101, 1102));
DELETE FROM omniroute.work_item WHERE workstream_id IN (1101, 1102);
DELETE FROM omniroute.workstream WHERE id IN (1101, 1102);
DELETE FROM omniroute.queue WHERE id = 1101;
DELETE FROM omniroute.skill WHERE name = 'rule_errors_english';
