--
-- fuzz: hostile and malformed input to the rule language and to work items.
--
-- Over a thousand generated rule texts -- token soup, unbalanced and
-- 10,000-deep parentheses and NOTs, megabyte strings, random characters
-- from every Unicode plane (never NUL), quotes and SQL fragments -- and
-- hundreds of malformed work item contexts and classification outputs; the
-- same texts, and with agent.<key>, as queue agent conditions.
-- Each must be a valid rule (or accepted input) or a clean SQL error with
-- one of the documented SQLSTATEs; anything else (an internal error XX000,
-- a crash) is listed with its input.  The server must not restart.
--
-- Generation is deterministic: every part starts with setseed(), and
-- nothing else in this session draws random numbers.  Only aggregates are
-- shown, so the expected output does not depend on the texts themselves.
--
-- Everything this file creates uses ids 7501..7506 and names starting with
-- "fuzz", and is deleted at the end.
--

\pset format unaligned
\pset tuples_only on

SELECT pg_postmaster_start_time() AS fuzz_start, pg_backend_pid() AS fuzz_pid \gset

-- Setup: a queue, two workstreams with text and number variables, a skill.
INSERT INTO omniroute.queue (id, name) VALUES (7501, 'fuzz: general');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES
    (7501, 'fuzz: rules', 7501),
    (7502, 'fuzz: outputs', 7501);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (7501, 'topic', 'text'), (7501, 'amount', 'number'),
    (7501, 'Region', 'text'), (7501, 'score', 'number'),
    (7502, 'topic', 'text'), (7502, 'amount', 'number'),
    (7502, 'Region', 'text'), (7502, 'score', 'number');
INSERT INTO omniroute.skill (name) VALUES ('fuzz_english');

--
-- Generators
--

-- 0 .. n-1
CREATE FUNCTION pg_temp.rnd(n int) RETURNS int
LANGUAGE sql VOLATILE AS $f$ SELECT floor(random() * n)::int $f$;

-- one element of an array
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text
LANGUAGE sql VOLATILE AS $f$ SELECT a[1 + floor(random() * cardinality(a))::int] $f$;

-- a string literal of the rule language, quote doubled inside
CREATE FUNCTION pg_temp.quoted(s text, q text DEFAULT '''') RETURNS text
LANGUAGE sql IMMUTABLE AS $f$ SELECT q || replace(s, q, q || q) || q $f$;

-- n random characters from every plane: C0 and C1 controls (never NUL),
-- ASCII, two- and three-byte characters, private use, BOM, supplementary
-- planes, emoji, combining marks and joiners; never a surrogate
CREATE FUNCTION pg_temp.junk(n int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    s text := '';
BEGIN
    FOR i IN 1..n LOOP
        s := s || chr(CASE pg_temp.rnd(9)
            WHEN 0 THEN 1 + pg_temp.rnd(31)
            WHEN 1 THEN 32 + pg_temp.rnd(95)
            WHEN 2 THEN 32 + pg_temp.rnd(95)
            WHEN 3 THEN 127 + pg_temp.rnd(1921)
            WHEN 4 THEN 2048 + pg_temp.rnd(55296 - 2048)
            WHEN 5 THEN 57344 + pg_temp.rnd(65534 - 57344)
            WHEN 6 THEN 65536 + pg_temp.rnd(1114112 - 65536)
            WHEN 7 THEN 127744 + pg_temp.rnd(1024)
            ELSE (ARRAY[768, 769, 824, 8203, 8205, 8232, 8238, 65039, 65279, 160])[1 + pg_temp.rnd(10)]
        END);
    END LOOP;
    RETURN s;
END
$f$;

-- n random bytes 1..255 read as LATIN1: "binary junk" as valid text
CREATE FUNCTION pg_temp.bytes(n int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    b bytea := '';
BEGIN
    FOR i IN 1..n LOOP
        b := b || set_byte('\x00'::bytea, 0, 1 + pg_temp.rnd(255));
    END LOOP;
    RETURN convert_from(b, 'LATIN1');
END
$f$;

-- the tokens of the grammar, misspelt ones, and junk
CREATE FUNCTION pg_temp.token() RETURNS text
LANGUAGE sql VOLATILE AS $f$
SELECT pg_temp.pick(ARRAY[
    '(', ')', '(', ')', ',', '-', '=', '==', '!=', '<>', '<', '<=', '>', '>=',
    'AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'TRUE', 'FALSE', 'CONTAINS',
    'STARTS', 'ENDS', 'WITH', 'STARTS WITH', 'ENDS WITH', 'and', 'Or', 'nOt',
    'in', 'is not null', 'not in',
    'topic', 'amount', 'Region', 'score', 'channel', 'customer_id',
    'external_id', 'priority', 'nope', 'Topic', 'AMOUNT', '_', 'x1', 'null',
    '''a''', '"b"', '''''', '""', '''it''''s''', '''ÉCOLE''', '"Refund"',
    '0', '1', '-1', '1.5', '.5', '5.', '1e3', '1e999', '1e-999', '1e', '0x10',
    '12x', '1.2.3', '00042', '-0', '1e+5', '9999999999999999999999',
    '!', '&&', '||', ';', ':', '.', '[', ']', '{', '}', '$', '$$', '@', '#',
    '%', '^', '*', '+', '/', '\', '`', '~', '?', '|', '&', 'é', '😀', 'ß',
    E'\t', E'\n', E'\r', chr(1), chr(127), chr(160), chr(8203), chr(65279),
    '''', '"', '--', '/*', '*/', '::', '=>', '=<', '===', '!==', '<<', '>>'])
$f$;

-- a literal of a type
CREATE FUNCTION pg_temp.gen_literal(ty text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    words text[] := ARRAY['refund', 'Refund', 'ÉCOLE', 'école', 'İstanbul', 'straße',
                          'STRASSE', '😀', '', 'north', 'email', 'it''s', 'a"b',
                          '7.5', '42', 'true', 'false', 'c1', 'ΣΊΣΥΦΟΣ', 'for'];
BEGIN
    IF ty = 'text' THEN
        CASE pg_temp.rnd(4)
            WHEN 0 THEN RETURN pg_temp.quoted(pg_temp.pick(words), '"');
            WHEN 1 THEN RETURN pg_temp.quoted(pg_temp.junk(1 + pg_temp.rnd(6)),
                                              pg_temp.pick(ARRAY['''', '"']));
            ELSE RETURN pg_temp.quoted(pg_temp.pick(words));
        END CASE;
    ELSIF ty = 'number' THEN
        RETURN pg_temp.pick('{0,42,-1.5,1e3,.5,5.,-0,7.5,2147483648,3,-42,1E2,0.0001,- 7}');
    ELSE
        RETURN pg_temp.pick('{TRUE,FALSE,true,False}');
    END IF;
END
$f$;

-- a variable or a literal of a type
CREATE FUNCTION pg_temp.gen_operand(ty text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
    IF ty <> 'bool' AND random() < 0.5 THEN
        IF ty = 'text' THEN
            RETURN pg_temp.pick('{topic,Region,channel,customer_id,external_id}');
        END IF;
        RETURN pg_temp.pick('{amount,score,priority}');
    END IF;
    RETURN pg_temp.gen_literal(ty);
END
$f$;

-- a test: mostly well typed, sometimes not, rarely an unknown identifier
CREATE FUNCTION pg_temp.gen_test() RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    ty text := pg_temp.pick('{text,text,number,number,bool}');
    rty text;
    l text;
    op text;
    list text;
BEGIN
    rty := CASE WHEN random() < 0.85 THEN ty ELSE pg_temp.pick('{text,number,bool}') END;
    IF random() < 0.03 THEN
        l := pg_temp.pick('{nope,Topic,AMOUNT,region,Channel}');
    ELSE
        l := pg_temp.gen_operand(ty);
    END IF;
    CASE pg_temp.rnd(10)
        WHEN 5, 6 THEN
            list := pg_temp.gen_literal(rty);
            FOR i IN 1..pg_temp.rnd(4) LOOP
                list := list || ', ' || pg_temp.gen_literal(
                    CASE WHEN random() < 0.9 THEN rty ELSE pg_temp.pick('{text,number,bool}') END);
            END LOOP;
            RETURN l || pg_temp.pick('{" IN "," NOT IN "," in ","  not  in  "}') || '(' || list || ')';
        WHEN 7 THEN
            RETURN l || pg_temp.pick('{" IS NULL"," IS NOT NULL"," is null"," Is Not Null"}');
        WHEN 8 THEN
            RETURN pg_temp.pick('{TRUE,FALSE,true,false}');
        ELSE
            IF random() < 0.1 THEN
                op := pg_temp.pick('{=,==,!=,<>,<,<=,>,>=,CONTAINS,"STARTS WITH","ENDS WITH"}');
            ELSIF ty = 'text' THEN
                op := pg_temp.pick('{=,==,!=,<>,CONTAINS,"STARTS WITH","ENDS WITH",contains,"starts with"}');
            ELSIF ty = 'number' THEN
                op := pg_temp.pick('{=,==,!=,<>,<,<=,>,>=}');
            ELSE
                op := pg_temp.pick('{=,!=}');
            END IF;
            RETURN l || ' ' || op || ' ' || pg_temp.gen_operand(rty);
    END CASE;
END
$f$;

-- an expression of depth at most d
CREATE FUNCTION pg_temp.gen_expr(d int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    a text;
    b text;
BEGIN
    IF d <= 0 OR random() < 0.3 THEN
        RETURN pg_temp.gen_test();
    END IF;
    CASE pg_temp.rnd(5)
        WHEN 0 THEN
            a := pg_temp.gen_expr(d - 1);
            b := pg_temp.gen_expr(d - 1);
            RETURN a || pg_temp.pick(ARRAY[' AND ', ' and ', E' AND\n', E'\tAND\t']) || b;
        WHEN 1 THEN
            a := pg_temp.gen_expr(d - 1);
            b := pg_temp.gen_expr(d - 1);
            RETURN a || pg_temp.pick(ARRAY[' OR ', ' or ', E'\r\nOR ']) || b;
        WHEN 2 THEN
            RETURN pg_temp.pick('{"NOT ","not ","NOT NOT "}') || pg_temp.gen_expr(d - 1);
        WHEN 3 THEN
            RETURN '(' || pg_temp.gen_expr(d - 1) || ')';
        ELSE
            a := pg_temp.gen_test();
            FOR i IN 1..2 + pg_temp.rnd(5) LOOP
                b := pg_temp.gen_test();
                a := a || pg_temp.pick('{" AND "," OR "}') || b;
            END LOOP;
            RETURN a;
    END CASE;
END
$f$;

-- a damaged copy: a character dropped, a token inserted, cut short, a piece
-- repeated, a character replaced by junk
CREATE FUNCTION pg_temp.mutate(s text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    n int := length(s);
    p int := pg_temp.rnd(length(s) + 1);
    q int := pg_temp.rnd(length(s) + 1);
BEGIN
    CASE pg_temp.rnd(5)
        WHEN 0 THEN RETURN left(s, p) || substr(s, p + 2);
        WHEN 1 THEN RETURN left(s, p) || ' ' || pg_temp.token() || ' ' || substr(s, p + 1);
        WHEN 2 THEN RETURN left(s, p);
        WHEN 3 THEN RETURN left(s, greatest(p, q)) || substr(s, least(p, q) + 1);
        ELSE RETURN left(s, p) || pg_temp.junk(1) || substr(s, p + 2);
    END CASE;
END
$f$;

-- a JSON value: numeric-looking and NaN-like strings, numbers out of range,
-- booleans, nulls, nested arrays and objects, Unicode junk
CREATE FUNCTION pg_temp.gen_jval(d int) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
    v jsonb;
BEGIN
    CASE pg_temp.rnd(11)
        WHEN 0, 1 THEN
            RETURN to_jsonb(pg_temp.pick(ARRAY['NaN', 'nan', 'Infinity', '-Infinity', 'inf',
                '1e400', '-1e400', '1e-400', '0x10', '1_000', '1,5', ' 5 ', '', ' ', '--5',
                '+5', '5e', '.', 'e5', '١٢٣', '５', '1e+', '++1', '1.2.3', '0b101', '42',
                ' 42 ', '4 2', '-1.5e3', E'\t5', E'5\n', '1e308', '1e309', 'null', 'true',
                '0.000000000000000000000000000001', '99999999999999999999999999999999']));
        WHEN 2 THEN
            RETURN to_jsonb(pg_temp.junk(pg_temp.rnd(20)));
        WHEN 3, 4 THEN
            RETURN pg_temp.pick(ARRAY['0', '-0', '42', '1.5', '1e400', '-1e400', '1e-400',
                '123456789012345678901234567890.5', '2147483648', '-2147483649', '1e308',
                '1.7976931348623157e309', '4.9e-324', '-7', '2.5', '1e2'])::jsonb;
        WHEN 5 THEN
            RETURN to_jsonb(random() < 0.5);
        WHEN 6 THEN
            RETURN 'null'::jsonb;
        WHEN 7 THEN
            v := '[]';
            IF d > 0 THEN
                FOR i IN 1..pg_temp.rnd(4) LOOP
                    v := v || jsonb_build_array(pg_temp.gen_jval(d - 1));
                END LOOP;
            END IF;
            RETURN v;
        WHEN 8 THEN
            v := '{}';
            IF d > 0 THEN
                FOR i IN 1..pg_temp.rnd(3) LOOP
                    v := v || jsonb_build_object(
                        pg_temp.pick(ARRAY['topic', 'amount', 'value', '', 'priority', pg_temp.junk(3)]),
                        pg_temp.gen_jval(d - 1));
                END LOOP;
            END IF;
            RETURN v;
        ELSE
            RETURN to_jsonb(pg_temp.pick(ARRAY['refund', 'ÉCOLE', 'north', 'email', '😀',
                                                'İstanbul', 'a''b', 'x"y', '\', '']));
    END CASE;
END
$f$;

-- whether a message is valid UTF-8 (convert_to checks its input)
CREATE FUNCTION pg_temp.valid_utf8(s text) RETURNS bool
LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM convert_to(s, 'UTF8');
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$f$;

-- an input for listings: at most 80 characters, control characters escaped
CREATE FUNCTION pg_temp.shown(s text) RETURNS text
LANGUAGE sql AS $f$ SELECT to_json(left(s, 80))::text || CASE WHEN length(s) > 80 THEN '...' ELSE '' END $f$;

--
-- 1. Rule texts
--
CREATE TEMP TABLE fuzz_rule (
    id      int PRIMARY KEY,
    cat     text NOT NULL,
    t       text NOT NULL,
    tc      text,       -- test_condition(): 'true', 'false' or the SQLSTATE
    tc_msg  text,
    ins     text,       -- INSERT as a route rule: 'ok' or the SQLSTATE
    ins_msg text,
    cls     text,       -- INSERT as a classification rule: 'ok' or the SQLSTATE
    bad_utf8 bool NOT NULL DEFAULT false
);
CREATE FUNCTION pg_temp.add_rule(p_cat text, p_t text) RETURNS void
LANGUAGE sql AS $f$
    INSERT INTO fuzz_rule (id, cat, t)
    SELECT coalesce(max(id), 0) + 1, p_cat, p_t FROM fuzz_rule;
$f$;

-- 1a. token soup
SELECT setseed(0.11);
DO $$
DECLARE
    s text;
BEGIN
    FOR i IN 1..500 LOOP
        s := '';
        FOR j IN 1..1 + pg_temp.rnd(30) LOOP
            s := s || pg_temp.token() || CASE pg_temp.rnd(8) WHEN 0 THEN '' WHEN 1 THEN E'\n' ELSE ' ' END;
        END LOOP;
        PERFORM pg_temp.add_rule('token soup', s);
    END LOOP;
END
$$;

-- 1b. generated expressions, and damaged copies of them
SELECT setseed(0.22);
DO $$
DECLARE
    s text;
BEGIN
    FOR i IN 1..300 LOOP
        PERFORM pg_temp.add_rule('generated', pg_temp.gen_expr(1 + pg_temp.rnd(4)));
    END LOOP;
    FOR i IN 1..200 LOOP
        s := pg_temp.gen_expr(1 + pg_temp.rnd(3));
        FOR j IN 1..1 + pg_temp.rnd(2) LOOP
            s := pg_temp.mutate(s);
        END LOOP;
        PERFORM pg_temp.add_rule('mutated', s);
    END LOOP;
END
$$;

-- 1c. parentheses and NOT: around the depth limit, 10,000 deep, unbalanced
SELECT setseed(0.33);
DO $$
DECLARE
    pre text;
    post text;
    core text;
BEGIN
    FOR d IN 60..68 LOOP
        PERFORM pg_temp.add_rule('nesting', repeat('(', d) || 'TRUE' || repeat(')', d));
        PERFORM pg_temp.add_rule('nesting', repeat('NOT ', d) || 'TRUE');
        PERFORM pg_temp.add_rule('nesting', repeat('NOT (', d) || 'topic = ''a''' || repeat(')', d));
        PERFORM pg_temp.add_rule('nesting', repeat('(NOT ', d) || 'amount > 1' || repeat(')', d));
    END LOOP;
    PERFORM pg_temp.add_rule('nesting', repeat('(', 10000) || 'TRUE' || repeat(')', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('NOT ', 10000) || 'TRUE');
    PERFORM pg_temp.add_rule('nesting', repeat('NOT (', 10000) || 'topic = ''a''' || repeat(')', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('(', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat(')', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('(', 10000) || repeat(')', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat(')', 10000) || 'TRUE' || repeat('(', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('()', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('NOT', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('NOT NOT ', 5000));
    PERFORM pg_temp.add_rule('nesting', repeat('-', 10000) || '1');
    PERFORM pg_temp.add_rule('nesting', repeat('(', 10000) || 'TRUE' || repeat(')', 9999));
    PERFORM pg_temp.add_rule('nesting', repeat('(', 9999) || 'TRUE' || repeat(')', 10000));
    PERFORM pg_temp.add_rule('nesting', repeat('topic IN (', 10000) || '''a''' || repeat(')', 10000));
    -- flat chains within the length limit are no nesting at all
    PERFORM pg_temp.add_rule('nesting', repeat('(TRUE) AND ', 5000) || 'TRUE');
    PERFORM pg_temp.add_rule('nesting', repeat('NOT FALSE OR ', 5000) || 'FALSE');
    PERFORM pg_temp.add_rule('nesting', repeat('amount > 1 AND ', 4000) || 'TRUE');
    -- random runs of parentheses around and inside expressions
    FOR i IN 1..100 LOOP
        pre := '';
        post := '';
        FOR j IN 1..pg_temp.rnd(6) LOOP
            pre := pre || pg_temp.pick('{(,(,),"NOT ","NOT ("}');
        END LOOP;
        FOR j IN 1..pg_temp.rnd(6) LOOP
            post := post || pg_temp.pick('{),),(}');
        END LOOP;
        core := pg_temp.gen_expr(2);
        IF random() < 0.3 THEN
            core := replace(core, ' AND ', pg_temp.pick('{" AND (", ") AND ", " AND ()"}'));
        END IF;
        PERFORM pg_temp.add_rule('parentheses', pre || core || post);
    END LOOP;
END
$$;

-- 1d. long texts: megabytes, and just under and over the 65536-byte limit
SELECT setseed(0.44);
DO $$
DECLARE
    block text := '';
BEGIN
    FOR j IN 1..200 LOOP
        block := block || pg_temp.token() || ' ';
    END LOOP;
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('x', 1048576) || '''');
    PERFORM pg_temp.add_rule('long', repeat('a', 1048576) || ' = 1');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('é', 524288) || '''');
    PERFORM pg_temp.add_rule('long', repeat(' ', 1048576) || 'TRUE');
    PERFORM pg_temp.add_rule('long', repeat('(', 1048576));
    PERFORM pg_temp.add_rule('long', 'amount > ' || repeat('9', 1048576));
    PERFORM pg_temp.add_rule('long', repeat('😀', 262144));
    PERFORM pg_temp.add_rule('long', left(repeat(block, 1048576 / length(block) + 1), 1048576));
    -- the limit is 65536 bytes
    PERFORM pg_temp.add_rule('long', 'TRUE' || repeat(' ', 65532));
    PERFORM pg_temp.add_rule('long', 'TRUE' || repeat(' ', 65533));
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('x', 65526) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('x', 65527) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('é', 32763) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('é', 32764) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('😀', 16381) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('😀', 16382) || '''');
    PERFORM pg_temp.add_rule('long', 'nope' || repeat('x', 65000) || ' = 1');
    PERFORM pg_temp.add_rule('long', 'topic = ' || repeat('x', 65000));
    PERFORM pg_temp.add_rule('long', 'amount > ' || repeat('1', 65000));
    PERFORM pg_temp.add_rule('long', 'amount > 0.' || repeat('0', 65000) || '1');
    PERFORM pg_temp.add_rule('long', 'amount > ' || repeat('0', 65000) || '1');
    PERFORM pg_temp.add_rule('long', 'amount IN (' ||
        (SELECT string_agg(g::text, ',' ORDER BY g) FROM generate_series(1, 10000) g) || ')');
    PERFORM pg_temp.add_rule('long', 'topic CONTAINS ''' || repeat('ab', 30000) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('''''', 30000) || '''');
    PERFORM pg_temp.add_rule('long', 'topic = ''' || repeat('''''', 30000));
    PERFORM pg_temp.add_rule('long', repeat(E'\n', 65000) || 'nope = 1');
    PERFORM pg_temp.add_rule('long', left(repeat(block, 65536 / length(block) + 1), 65536));
END
$$;

-- 1e. random characters and bytes (never NUL): raw, inside quotes, glued
--     into rules, as identifiers
SELECT setseed(0.55);
DO $$
DECLARE
    s text;
    p int;
BEGIN
    FOR i IN 1..80 LOOP
        PERFORM pg_temp.add_rule('junk', pg_temp.junk(1 + pg_temp.rnd(60)));
    END LOOP;
    FOR i IN 1..40 LOOP
        PERFORM pg_temp.add_rule('junk', pg_temp.bytes(1 + pg_temp.rnd(60)));
    END LOOP;
    FOR i IN 1..60 LOOP
        PERFORM pg_temp.add_rule('junk', 'topic ' || pg_temp.pick('{=,!=,CONTAINS,"STARTS WITH","ENDS WITH"}')
            || ' ' || pg_temp.quoted(CASE WHEN random() < 0.5 THEN pg_temp.junk(1 + pg_temp.rnd(60))
                                          ELSE pg_temp.bytes(1 + pg_temp.rnd(60)) END,
                                     pg_temp.pick(ARRAY['''', '"'])));
    END LOOP;
    FOR i IN 1..40 LOOP
        s := pg_temp.gen_expr(2);
        p := pg_temp.rnd(length(s) + 1);
        PERFORM pg_temp.add_rule('junk', left(s, p) || pg_temp.junk(1 + pg_temp.rnd(3)) || substr(s, p + 1));
    END LOOP;
    FOR i IN 1..30 LOOP
        PERFORM pg_temp.add_rule('junk', pg_temp.pick('{topic,amount,a,_}') || pg_temp.junk(1 + pg_temp.rnd(3))
            || pg_temp.pick('{" = ''a''"," > 1",""}'));
    END LOOP;
END
$$;

-- 1f. quotes and SQL fragments: alone, quoted properly, quoted naively,
--     after a rule, before a rule, in double quotes
SELECT setseed(0.66);
DO $do$
DECLARE
    frags text[] := ARRAY[
        $q$'; DROP TABLE omniroute.agent; --$q$,
        $q$' OR '1'='1$q$,
        $q$" OR ""="$q$,
        $q$'); DELETE FROM omniroute.route_rule; --$q$,
        $q$'; SELECT pg_terminate_backend(pg_backend_pid()); --$q$,
        $q$$$$q$, $q$$f$ SELECT 1 $f$$q$, $q$E'\\x'$q$, $q$E'\x00'$q$, $q$\x00$q$,
        $q$\0$q$, $q$\\$q$, $q$\'$q$, '/* comment */', '-- comment', '/*', '*/',
        'SELECT pg_sleep(10)', 'pg_terminate_backend(pg_backend_pid())',
        '1; SELECT 1', 'topic = 1::text', 'topic::int = 1', '$1', '%s %n %x %p %999999999s',
        '%%', $q$LIKE '%'$q$, 'ILIKE', 'BETWEEN 1 AND 2', 'IS DISTINCT FROM', 'COPY',
        '\copy', '\! rm -rf /', $q$U&'\0041'$q$, $q$B'101'$q$, $q$X'ff'$q$, $q$E'\n'$q$,
        $q$''''$q$, '"""', $q$'"'"$q$, $q$topic = 'a\' OR TRUE --'$q$,
        $q$topic = 'a'; DROP TABLE omniroute.queue$q$, 'current_user', 'NULL::text',
        '(SELECT 1)', 'ARRAY[1,2]', '{"a": 1}', '<script>alert(1)</script>',
        '${jndi:ldap://x}', '../../etc/passwd', $q$'||'$q$, $q$"||"$q$, '::=', '\u0000',
        $q$'\u0000'$q$, 'ÉCOLE'' OR ''x'' = ''x'];
    f text;
BEGIN
    FOREACH f IN ARRAY frags LOOP
        PERFORM pg_temp.add_rule('quotes and SQL', f);
        PERFORM pg_temp.add_rule('quotes and SQL', 'topic = ' || pg_temp.quoted(f));
        PERFORM pg_temp.add_rule('quotes and SQL', 'topic = ''' || f || '''');
        PERFORM pg_temp.add_rule('quotes and SQL', 'topic = ''a'' ' || f);
        PERFORM pg_temp.add_rule('quotes and SQL', f || ' AND TRUE');
        PERFORM pg_temp.add_rule('quotes and SQL', 'topic = "' || f || '"');
    END LOOP;
    -- a long string where a token is expected: the message shows its start,
    -- which must not end in half a character
    FOREACH f IN ARRAY ARRAY['é', '€', '😀'] LOOP
        FOR k IN 35..38 LOOP
            PERFORM pg_temp.add_rule('quotes and SQL', 'topic = ''a'' ''' || repeat('x', k) || repeat(f, 5) || '''');
            PERFORM pg_temp.add_rule('quotes and SQL', 'topic IN "' || repeat('x', k) || repeat(f, 5) || '"');
        END LOOP;
    END LOOP;
    -- quote soup
    FOR i IN 1..60 LOOP
        f := '';
        FOR j IN 1..1 + pg_temp.rnd(20) LOOP
            f := f || pg_temp.pick(ARRAY['''', '"', '''''', '""', '\', '$', '$$', 'a', ' ', '=', 'topic',
                                          'é', E'\n', '--', ';', '(', ')']);
        END LOOP;
        PERFORM pg_temp.add_rule('quotes and SQL', f);
    END LOOP;
END
$do$;

-- Try every text with test_condition() first (the workstream as loaded
-- once), then as a route and a classification rule of workstream 7501;
-- valid rules are kept, at position = id.
DO $$
DECLARE
    r record;
    ctx jsonb := '{"topic": "Refund for the ÉCOLE order", "amount": 42, "Region": "North",
                   "score": " 7.5 ", "channel": "email", "customer_id": "c1",
                   "external_id": "ext-1", "priority": 3}';
    st text;
    msg text;
    det text;
BEGIN
    FOR r IN SELECT id, t FROM fuzz_rule ORDER BY id LOOP
        BEGIN
            UPDATE fuzz_rule SET tc = omniroute.test_condition(7501, r.t, ctx)::text WHERE id = r.id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            UPDATE fuzz_rule SET tc = st, tc_msg = msg,
                                 bad_utf8 = NOT pg_temp.valid_utf8(msg || coalesce(det, ''))
             WHERE id = r.id;
        END;
    END LOOP;
END
$$;
DO $$
DECLARE
    r record;
    st text;
    msg text;
    det text;
    v_ins text;
    v_ins_msg text;
    v_cls text;
    bad bool;
BEGIN
    FOR r IN SELECT id, t FROM fuzz_rule ORDER BY id LOOP
        bad := false;
        v_ins_msg := NULL;
        BEGIN
            INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
            VALUES (7501, r.id, 'fuzz ' || r.id, r.t, 7501);
            v_ins := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            v_ins := st;
            v_ins_msg := msg;
            bad := bad OR NOT pg_temp.valid_utf8(msg || coalesce(det, ''));
        END;
        BEGIN
            INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition)
            VALUES (7501, r.id, 'fuzz ' || r.id, r.t);
            v_cls := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            v_cls := st;
            bad := bad OR NOT pg_temp.valid_utf8(msg || coalesce(det, ''));
        END;
        UPDATE fuzz_rule SET ins = v_ins, ins_msg = v_ins_msg, cls = v_cls, bad_utf8 = bad_utf8 OR bad
         WHERE id = r.id;
    END LOOP;
END
$$;

SELECT 'rules tried: ' || count(*) FROM fuzz_rule;
SELECT '  ' || cat || ': ' || count(*) FROM fuzz_rule GROUP BY cat ORDER BY min(id);
SELECT 'megabyte texts: ' || count(*) FROM fuzz_rule WHERE octet_length(t) >= 1048576;
SELECT 'texts with 10,000-deep nesting: ' || count(*) FROM fuzz_rule WHERE t LIKE repeat('(', 10000) || '%' OR t LIKE repeat('NOT ', 10000) || '%' OR t LIKE repeat('NOT (', 10000) || '%';
-- outcomes by SQLSTATE ("valid": compiled, and evaluated on the sample
-- context; whether to true or false is not shown here, as case folding of
-- non-ASCII text depends on the server's ICU)
SELECT 'outcome ' || o || ': ' || count(*)
  FROM (SELECT CASE WHEN tc IN ('true', 'false') THEN 'valid' ELSE tc END AS o FROM fuzz_rule) s
 GROUP BY o ORDER BY o;
SELECT 'outcome by category: ' || cat || ': ' ||
       string_agg(o || ' ' || n, ', ' ORDER BY o)
  FROM (SELECT cat, min(id) AS first, CASE WHEN tc IN ('true', 'false') THEN 'valid' ELSE tc END AS o, count(*) AS n
          FROM fuzz_rule GROUP BY 1, 3) s
 GROUP BY cat ORDER BY min(first);
-- anything but a valid rule or a documented rule error is a bug
SELECT 'unexpected outcomes: ' || count(*) FROM fuzz_rule
 WHERE tc NOT IN ('true', 'false', '42601', '42703', '42804', '54000', '54001', '22003')
    OR ins NOT IN ('ok', '42601', '42703', '42804', '54000', '54001', '22003')
    OR cls NOT IN ('ok', '42601', '42703', '42804', '54000', '54001', '22003');
SELECT 'UNEXPECTED: rule ' || id || ' (' || cat || ') test_condition ' || tc || ', route rule ' || ins
       || ', classification rule ' || cls || ': ' || pg_temp.shown(t)
       || E'\n    ' || coalesce(left(tc_msg, 200), left(ins_msg, 200), '')
  FROM fuzz_rule
 WHERE tc NOT IN ('true', 'false', '42601', '42703', '42804', '54000', '54001', '22003')
    OR ins NOT IN ('ok', '42601', '42703', '42804', '54000', '54001', '22003')
    OR cls NOT IN ('ok', '42601', '42703', '42804', '54000', '54001', '22003')
 ORDER BY id;
-- test_condition() and both kinds of rule agree, message and all (but the
-- rule's name)
SELECT 'test_condition() and INSERT disagree: ' || count(*) FROM fuzz_rule
 WHERE (tc IN ('true', 'false')) <> (ins = 'ok') OR ins <> cls
    OR (ins <> 'ok' AND (tc <> ins OR replace(tc_msg, 'condition "test"', 'route rule "fuzz ' || id || '"') <> ins_msg));
SELECT 'DISAGREE: rule ' || id || ': ' || tc || ' / ' || ins || ' / ' || cls || ': ' || pg_temp.shown(t)
  FROM fuzz_rule
 WHERE (tc IN ('true', 'false')) <> (ins = 'ok') OR ins <> cls
    OR (ins <> 'ok' AND (tc <> ins OR replace(tc_msg, 'condition "test"', 'route rule "fuzz ' || id || '"') <> ins_msg))
 ORDER BY id;
-- error messages and details are valid UTF-8 (no character cut in two)
SELECT 'error messages not valid UTF-8: ' || count(*) FROM fuzz_rule WHERE bad_utf8;
SELECT 'BAD UTF-8 in the error for rule ' || id || ' (' || cat || '): ' || pg_temp.shown(t)
  FROM fuzz_rule WHERE bad_utf8 ORDER BY id;

-- the valid rules, and only they, landed, unchanged
SELECT 'route rules stored: ' || (SELECT count(*) FROM omniroute.route_rule WHERE workstream_id = 7501)
       || ' of ' || count(*) || ' valid' FROM fuzz_rule WHERE ins = 'ok';
SELECT 'classification rules stored: ' || (SELECT count(*) FROM omniroute.classification_rule WHERE workstream_id = 7501)
       || ' of ' || count(*) || ' valid' FROM fuzz_rule WHERE cls = 'ok';
SELECT 'stored rules that differ from their valid text: ' || count(*)
  FROM omniroute.route_rule r
  LEFT JOIN fuzz_rule f ON f.id = r.position AND f.ins = 'ok' AND f.t = r.condition
 WHERE r.workstream_id = 7501 AND f.id IS NULL;
SELECT 'longest stored rule: ' || max(octet_length(condition)) || ' bytes'
  FROM omniroute.route_rule WHERE workstream_id = 7501;

-- the stored rules compile and evaluate when the workstream is loaded: on
-- the sample context, simulate() fires the classification rules that
-- test_condition() found true, and routes by the first true route rule
SELECT 'valid rules true on the sample context: more than 100: ' || (count(*) > 100) FROM fuzz_rule WHERE tc = 'true';
SELECT 'classification rules fired by simulate() are those test_condition() found true: ' || (ARRAY(SELECT (e->>'position')::int FROM jsonb_array_elements(d->'classification') e)
                                          = ARRAY(SELECT id FROM fuzz_rule WHERE tc = 'true' ORDER BY id)),
       'route rule: the first true one: ' || (d->'route'->>'position' = (SELECT min(id) FROM fuzz_rule WHERE tc = 'true')::text)
  FROM omniroute.simulate(7501, '{"topic": "Refund for the ÉCOLE order", "amount": 42, "Region": "North",
                                   "score": " 7.5 ", "channel": "email", "customer_id": "c1",
                                   "external_id": "ext-1", "priority": 3}') d;
-- and the same when an item is inserted
WITH w AS (
    INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, priority, context)
    VALUES (7501, 'ext-1', 'c1', 3, '{"topic": "Refund for the ÉCOLE order", "amount": 42,
                                      "Region": "North", "score": " 7.5 ", "channel": "email"}')
    RETURNING diagnostics d, state
)
SELECT 'inserted item: ' || state,
       'classification as simulated: ' || (ARRAY(SELECT (e->>'position')::int FROM jsonb_array_elements(d->'classification') e)
                                         = ARRAY(SELECT id FROM fuzz_rule WHERE tc = 'true' ORDER BY id)),
       'route as simulated: ' || (d->'route'->>'position' = (SELECT min(id) FROM fuzz_rule WHERE tc = 'true')::text)
  FROM w;

--
-- 2. Work item contexts: wrong JSON types for the declared variables,
--    nested objects, huge arrays and strings, NaN-like strings, 1e400,
--    Unicode junk; also in the built-ins, and bad required_skills.  The
--    stored rules of workstream 7501 are all evaluated on each.
--
CREATE TEMP TABLE fuzz_ctx (
    id       int PRIMARY KEY,
    ctx      jsonb NOT NULL,
    skills   jsonb NOT NULL,
    prio     int NOT NULL,
    cust     text,
    ext      text,
    sim      text,      -- simulate(): 'ok' or the SQLSTATE
    tc       text,      -- test_condition()
    ins      text,      -- INSERT INTO work_item
    bad_utf8 bool NOT NULL DEFAULT false
);
SELECT setseed(0.77);
DO $$
DECLARE
    keys text[] := ARRAY['topic', 'amount', 'Region', 'score', 'channel', 'customer_id',
                         'external_id', 'priority'];
    c jsonb;
    k text;
    n int := 0;
    big_array jsonb := (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g);
    big_object jsonb := (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 10000) g);
    deep jsonb := (repeat('[', 1000) || '1' || repeat(']', 1000))::jsonb;
    skills jsonb[] := ARRAY['{}', '{}', '{}', '{"fuzz_english": 5}', '{"fuzz_english": 11}',
        '{"fuzz_english": 0}', '{"fuzz_english": "5"}', '{"fuzz_english": 1e400}',
        '{"fuzz_english": 2.5}', '[]', '"x"', 'null', '1', '{"fuzz_nope": 3}',
        '{"fuzz_english": null}', '{"fuzz_english": {"a": 1}}', '{"": 1}',
        '{"fuzz_english": [5]}', '{"fuzz_english": -1e400}', '{"fuzz_english": 10.0}']::jsonb[];
BEGIN
    -- random contexts
    FOR i IN 1..300 LOOP
        c := '{}';
        FOREACH k IN ARRAY keys LOOP
            IF random() < 0.45 THEN
                c := c || jsonb_build_object(k, pg_temp.gen_jval(2));
            END IF;
        END LOOP;
        IF random() < 0.2 THEN
            c := c || jsonb_build_object(pg_temp.junk(1 + pg_temp.rnd(5)), pg_temp.gen_jval(2));
        END IF;
        n := n + 1;
        INSERT INTO fuzz_ctx (id, ctx, skills, prio, cust, ext)
        VALUES (n, c, skills[1 + pg_temp.rnd(cardinality(skills))],
                (ARRAY[0, 0, 5, -2147483648, 2147483647])[1 + pg_temp.rnd(5)],
                CASE WHEN random() < 0.5 THEN NULL ELSE pg_temp.junk(pg_temp.rnd(10)) END,
                CASE WHEN random() < 0.5 THEN NULL ELSE pg_temp.junk(pg_temp.rnd(10)) END);
    END LOOP;
    -- huge, deep and odd contexts, and every required_skills on an empty one
    FOREACH c IN ARRAY ARRAY[
        jsonb_build_object('topic', big_array), jsonb_build_object('amount', big_array),
        jsonb_build_object('topic', repeat('x', 1048576)),
        jsonb_build_object('amount', repeat('9', 1048576)),
        jsonb_build_object('amount', '1' || repeat('0', 1000000)),
        jsonb_build_object('topic', repeat('é', 524288), 'Region', repeat('😀', 262144)),
        jsonb_build_object('topic', big_object), big_object, big_object || '{"amount": 1}',
        jsonb_build_object('topic', deep), jsonb_build_object('amount', deep), deep,
        ('{"amount": 1' || repeat('0', 1000) || '}')::jsonb,
        ('{"amount": 0.' || repeat('0', 1000) || '1}')::jsonb,
        '{"priority": 1e400}', '{"priority": -2147483649}', '{"priority": 2147483647.5}',
        '{"priority": "5"}', '{"priority": [1]}', '{"priority": {"a": 1}}', '{"priority": null}',
        '{"channel": {"a": 1}}', '{"channel": [1]}', '{"channel": 1e400}', '{"channel": null}',
        '{"customer_id": [1]}', '{"external_id": {"x": 1}}', '{"customer_id": 1e400}',
        '{"amount": "NaN"}', '{"amount": "Infinity"}', '{"amount": "-inf"}', '{"amount": "1e400"}',
        '{"amount": 1e400}', '{"amount": -1e400}', '{"amount": 1e-400}', '{"score": "1e-400"}',
        '{"topic": 1e400}', '{"topic": 1e-400}', '{"topic": true}', '{"topic": null, "amount": null}',
        '{"Topic": [1], "AMOUNT": "x", "region": {}}',
        '[]', '[1, 2]', '"topic"', '42', 'null', 'true', '[{"amount": 1}]']::jsonb[]
    LOOP
        n := n + 1;
        INSERT INTO fuzz_ctx (id, ctx, skills, prio) VALUES (n, c, '{}', 0);
    END LOOP;
    -- a long non-numeric value for a number variable: the message shows its
    -- start, which must not end in half a character
    FOREACH k IN ARRAY ARRAY['é', '€', '😀'] LOOP
        FOR j IN 56..59 LOOP
            n := n + 1;
            INSERT INTO fuzz_ctx (id, ctx, skills, prio)
            VALUES (n, jsonb_build_object('amount', repeat('x', j) || repeat(k, 10)), '{}', 0);
        END LOOP;
    END LOOP;
    FOR i IN 1..cardinality(skills) LOOP
        n := n + 1;
        INSERT INTO fuzz_ctx (id, ctx, skills, prio) VALUES (n, '{"amount": 1}', skills[i], 0);
    END LOOP;
    n := n + 1;
    INSERT INTO fuzz_ctx (id, ctx, skills, prio) VALUES (n, '{}', big_object, 0);
    n := n + 1;
    INSERT INTO fuzz_ctx (id, ctx, skills, prio, cust, ext)
    VALUES (n, '{}', '{}', 0, repeat('x', 1048576), repeat('😀', 262144));
END
$$;

DO $$
DECLARE
    r record;
    cond text := 'amount > 1 OR score < 0 OR topic CONTAINS ''a'' OR Region IS NULL OR channel = ''x'''
                 ' OR priority >= 0 OR customer_id IS NULL OR external_id STARTS WITH ''e''';
    st text;
    msg text;
    det text;
    v_sim text;
    v_tc text;
    v_ins text;
    bad bool;
BEGIN
    FOR r IN SELECT * FROM fuzz_ctx ORDER BY id LOOP
        bad := false;
        BEGIN
            PERFORM omniroute.simulate(7501, r.ctx);
            v_sim := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            v_sim := st;
            bad := bad OR NOT pg_temp.valid_utf8(msg || coalesce(det, ''));
        END;
        BEGIN
            PERFORM omniroute.test_condition(7501, cond, r.ctx);
            v_tc := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            v_tc := st;
            bad := bad OR NOT pg_temp.valid_utf8(msg || coalesce(det, ''));
        END;
        BEGIN
            INSERT INTO omniroute.work_item (workstream_id, context, required_skills, priority, customer_id, external_id)
            VALUES (7501, r.ctx, r.skills, r.prio, r.cust, r.ext);
            v_ins := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            v_ins := st;
            bad := bad OR NOT pg_temp.valid_utf8(msg || coalesce(det, ''));
        END;
        UPDATE fuzz_ctx SET sim = v_sim, tc = v_tc, ins = v_ins, bad_utf8 = bad WHERE id = r.id;
    END LOOP;
END
$$;

SELECT 'contexts tried: ' || count(*) FROM fuzz_ctx;
SELECT 'simulate() ' || sim || ': ' || count(*) FROM fuzz_ctx GROUP BY sim ORDER BY sim;
SELECT 'test_condition() ' || tc || ': ' || count(*) FROM fuzz_ctx GROUP BY tc ORDER BY tc;
SELECT 'INSERT ' || ins || ': ' || count(*) FROM fuzz_ctx GROUP BY ins ORDER BY ins;
SELECT 'unexpected outcomes: ' || count(*) FROM fuzz_ctx
 WHERE sim NOT IN ('ok', '22P02', '22023', '22003') OR tc NOT IN ('ok', '22P02', '22023', '22003')
    OR ins NOT IN ('ok', '22P02', '22023', '22003');
SELECT 'UNEXPECTED: context ' || id || ' simulate ' || sim || ', test_condition ' || tc || ', INSERT ' || ins
       || ': ' || pg_temp.shown(ctx::text) || ' skills ' || pg_temp.shown(skills::text)
  FROM fuzz_ctx
 WHERE sim NOT IN ('ok', '22P02', '22023', '22003') OR tc NOT IN ('ok', '22P02', '22023', '22003')
    OR ins NOT IN ('ok', '22P02', '22023', '22003')
 ORDER BY id;
-- simulate() and test_condition() check a context the same way
SELECT 'simulate() and test_condition() disagree: ' || count(*) FROM fuzz_ctx WHERE sim <> tc;
SELECT 'DISAGREE: context ' || id || ' simulate ' || sim || ', test_condition ' || tc || ': ' || pg_temp.shown(ctx::text)
  FROM fuzz_ctx WHERE sim <> tc ORDER BY id;
SELECT 'error messages not valid UTF-8: ' || count(*) FROM fuzz_ctx WHERE bad_utf8;
SELECT 'BAD UTF-8 in an error for context ' || id || ': ' || pg_temp.shown(ctx::text)
  FROM fuzz_ctx WHERE bad_utf8 ORDER BY id;
-- the accepted items, and only they, are there (and the one of part 1)
SELECT 'work items stored: ' || (SELECT count(*) - 1 FROM omniroute.work_item WHERE workstream_id = 7501)
       || ' of ' || count(*) || ' accepted' FROM fuzz_ctx WHERE ins = 'ok';

--
-- 3. Classification outputs: random keys and values of every JSON type.
--
CREATE TEMP TABLE fuzz_out (
    id       int PRIMARY KEY,
    output   jsonb NOT NULL,
    st       text,
    bad_utf8 bool NOT NULL DEFAULT false
);
SELECT setseed(0.88);
DO $$
DECLARE
    o jsonb;
    k text;
    n int := 0;
BEGIN
    FOR i IN 1..200 LOOP
        o := '{}';
        FOR j IN 1..1 + pg_temp.rnd(3) LOOP
            k := pg_temp.pick(ARRAY['priority', 'priority', 'skills', 'skills', 'topic', 'amount',
                                    'Region', 'score', 'channel', 'customer_id', 'priority ',
                                    'nope', 'Topic', '', 'fuzz_english']);
            IF k = 'skills' AND random() < 0.6 THEN
                o := o || jsonb_build_object(k, jsonb_build_object(
                    pg_temp.pick(ARRAY['fuzz_english', 'fuzz_english', 'fuzz_klingon', '', 'FUZZ_ENGLISH']),
                    CASE WHEN random() < 0.5 THEN to_jsonb(pg_temp.rnd(12)) ELSE pg_temp.gen_jval(1) END));
            ELSE
                o := o || jsonb_build_object(k, pg_temp.gen_jval(2));
            END IF;
        END LOOP;
        n := n + 1;
        INSERT INTO fuzz_out (id, output) VALUES (n, o);
    END LOOP;
    FOREACH o IN ARRAY ARRAY[
        '[]', '[{"priority": 1}]', '"priority"', '1', 'null',
        jsonb_build_object('topic', repeat('x', 1048576)),
        jsonb_build_object('skills', (SELECT jsonb_object_agg('fuzz_s' || g, 1) FROM generate_series(1, 1000) g)),
        (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 10000) g),
        jsonb_build_object('priority', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g)),
        '{"priority": 2147483648}', '{"priority": -2147483649}', '{"priority": 1e400}',
        '{"priority": 3.0}', '{"priority": -0}', '{"skills": {"fuzz_english": 10.0}}',
        '{"skills": {"fuzz_english": 1e400}}', '{"amount": "1e400"}', '{"amount": 1e400}']::jsonb[]
    LOOP
        n := n + 1;
        INSERT INTO fuzz_out (id, output) VALUES (n, o);
    END LOOP;
END
$$;

DO $$
DECLARE
    r record;
    v_st text;
    msg text;
    det text;
BEGIN
    FOR r IN SELECT * FROM fuzz_out ORDER BY id LOOP
        BEGIN
            INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
            VALUES (7502, r.id, 'fuzz ' || r.id, 'TRUE', r.output);
            UPDATE fuzz_out SET st = 'ok' WHERE id = r.id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
            UPDATE fuzz_out SET st = v_st, bad_utf8 = NOT pg_temp.valid_utf8(msg || coalesce(det, ''))
             WHERE id = r.id;
        END;
    END LOOP;
END
$$;

SELECT 'outputs tried: ' || count(*) FROM fuzz_out;
SELECT 'output ' || st || ': ' || count(*) FROM fuzz_out GROUP BY st ORDER BY st;
SELECT 'unexpected outcomes: ' || count(*) FROM fuzz_out
 WHERE st NOT IN ('ok', '42804', '22023', '42703', '23503');
SELECT 'UNEXPECTED: output ' || id || ' ' || st || ': ' || pg_temp.shown(output::text)
  FROM fuzz_out WHERE st NOT IN ('ok', '42804', '22023', '42703', '23503') ORDER BY id;
SELECT 'error messages not valid UTF-8: ' || count(*) FROM fuzz_out WHERE bad_utf8;
SELECT 'classification rules stored: ' || (SELECT count(*) FROM omniroute.classification_rule WHERE workstream_id = 7502)
       || ' of ' || count(*) || ' accepted' FROM fuzz_out WHERE st = 'ok';
-- every accepted output applies, in position order
SELECT 'simulate() fires: ' || jsonb_array_length(omniroute.simulate(7502, '{}')->'classification');
WITH w AS (
    INSERT INTO omniroute.work_item (workstream_id) VALUES (7502) RETURNING diagnostics d, state
)
SELECT 'inserted item: ' || state || ', rules fired: ' || jsonb_array_length(d->'classification') FROM w;

--
-- 4. Queue agent conditions: every rule text of part 1, and each with its
--    variables read as agent.<key>, as a queue's agent_condition.  Types
--    are not checked when written (never 42804); an accepted condition is
--    used by simulate() on members whose attributes hold every JSON type
--    and junk, and never fails there.
--
INSERT INTO omniroute.queue (id, name) VALUES (7502, 'fuzz: conditions');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (7503, 'fuzz: conditioned', 7502);
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (7503, 'topic', 'number'), (7503, 'amount', 'text');
SELECT setseed(0.44);
INSERT INTO omniroute.agent (id, name, capacity, presence, attributes)
SELECT 7500 + i, 'fuzz agent ' || i, 10, 'available',
       jsonb_build_object('topic', pg_temp.gen_jval(2), 'amount', pg_temp.gen_jval(1),
                          'Region', pg_temp.gen_jval(1), 'score', pg_temp.gen_jval(2),
                          pg_temp.junk(3), pg_temp.gen_jval(1))
  FROM generate_series(1, 6) i;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 7502, 7500 + i FROM generate_series(1, 6) i;
CREATE TEMP TABLE fuzz_cond (
    id   int PRIMARY KEY,
    t    text NOT NULL,
    rule text,          -- the text's outcome as a route rule (part 1)
    qc   text,          -- UPDATE of agent_condition: 'ok' or the SQLSTATE
    sim  text           -- simulate() with it: 'ok' or the SQLSTATE
);
INSERT INTO fuzz_cond (id, t, rule) SELECT id, t, ins FROM fuzz_rule;
INSERT INTO fuzz_cond (id, t)
SELECT 100000 + id, regexp_replace(t, '\m(topic|amount|Region|score)\M', 'agent.\1', 'g') FROM fuzz_rule
 WHERE t ~ '\m(topic|amount|Region|score)\M' AND octet_length(t) < 100000;
DO $$
DECLARE
    r record;
    st text;
BEGIN
    FOR r IN SELECT id, t FROM fuzz_cond ORDER BY id LOOP
        BEGIN
            UPDATE omniroute.queue SET agent_condition = r.t WHERE id = 7502;
            UPDATE fuzz_cond SET qc = 'ok' WHERE id = r.id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
            UPDATE fuzz_cond SET qc = st WHERE id = r.id;
            CONTINUE;
        END;
        BEGIN
            PERFORM omniroute.simulate(7503, '{"topic": 3, "amount": "x", "priority": 2}');
            UPDATE fuzz_cond SET sim = 'ok' WHERE id = r.id;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
            UPDATE fuzz_cond SET sim = st WHERE id = r.id;
        END;
    END LOOP;
END
$$;
SELECT 'conditions tried: ' || count(*) || ', with agent.<key>: ' || count(*) FILTER (WHERE id > 100000) FROM fuzz_cond;
SELECT 'condition outcome ' || qc || ': ' || count(*) FROM fuzz_cond GROUP BY qc ORDER BY qc;
SELECT 'unexpected condition outcomes: ' || count(*) FROM fuzz_cond
 WHERE qc NOT IN ('ok', '42601', '42703', '54000', '54001', '22003') OR sim <> 'ok';
SELECT 'UNEXPECTED: condition ' || id || ' ' || qc || ' / ' || coalesce(sim, '-') || ': ' || pg_temp.shown(t)
  FROM fuzz_cond
 WHERE qc NOT IN ('ok', '42601', '42703', '54000', '54001', '22003') OR sim <> 'ok' ORDER BY id;
SELECT 'valid rules refused as conditions: ' || count(*) FROM fuzz_cond WHERE rule = 'ok' AND qc <> 'ok';
-- a rule refused for its types (42804) is a valid condition, unless the
-- parser meets an error past the point a rule stops at
SELECT 'rules refused for their types, as conditions: ' || string_agg(qc || ' ' || n, ', ' ORDER BY qc)
  FROM (SELECT qc, count(*) AS n FROM fuzz_cond WHERE rule = '42804' GROUP BY qc) s;
-- and an item inserted into the queue under the last accepted condition
UPDATE omniroute.queue SET agent_condition = (SELECT t FROM fuzz_cond WHERE qc = 'ok' ORDER BY id DESC LIMIT 1)
 WHERE id = 7502;
WITH w AS (
    INSERT INTO omniroute.work_item (workstream_id, context) VALUES (7503, '{"topic": 1}')
    RETURNING state
)
SELECT 'conditioned item inserted: ' || (state IN ('open', 'offered')) FROM w;

--
-- The server never restarted, and this is still the same session.
--
SELECT 'server restarted: ' || (pg_postmaster_start_time() <> :'fuzz_start'::timestamptz);
SELECT 'same backend: ' || (pg_backend_pid() = :fuzz_pid);

\pset format aligned
\pset tuples_only off

--
-- Cleanup
--
DELETE FROM omniroute.work_item_event
 WHERE work_item_id IN (SELECT id FROM omniroute.work_item WHERE workstream_id IN (7501, 7502, 7503));
DELETE FROM omniroute.work_item WHERE workstream_id IN (7501, 7502, 7503);
DELETE FROM omniroute.workstream WHERE id IN (7501, 7502, 7503);
DELETE FROM omniroute.agent WHERE id BETWEEN 7501 AND 7506;
DELETE FROM omniroute.queue WHERE id IN (7501, 7502);
DELETE FROM omniroute.skill WHERE name = 'fuzz_english';
