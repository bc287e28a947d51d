-- test/pgtap/privileges.sql — what a role below the extension owner can and
-- cannot do to the tables the extension writes as their owner, a superuser.
-- Every attack is mounted as the role that would mount it (SET LOCAL ROLE).
--
--   1. no role can attach code that the extension would then run with the
--      owner's rights: triggers, foreign keys (whose check runs as the
--      referenced table's owner and calls the referencing type's cast),
--      rules, policies, defaults, checks, indexes, children; nor shadow
--      what the extension's SQL names through search_path or pg_temp
--   2. plain DML cannot break the books: it is refused, naming the
--      function to use, while what an admin configures still works
--   3. the application inserts only its own columns; an agent does not
--      read the roles the other agents log in as
--   4. an update from 0.1.0 stops while code made with 0.1.0's grants is
--      still attached to the tables
BEGIN;
SELECT plan(101);

SET LOCAL client_min_messages = warning;

-- 'SQLSTATE: message' of the error a statement raises (with its hint, if
-- any, after ' | '), or 'no error'.  The statement's effects are rolled
-- back either way.
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
        RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' | ' || nullif(hint, ''), '');
    END;
    RAISE EXCEPTION 'no error' USING ERRCODE = 'ZZ999';
EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
    RETURN 'no error';
END
$$;

-- 'ok', keeping what the statement did, or 'SQLSTATE: message'
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE FUNCTION pg_temp.is_super(r name) RETURNS boolean LANGUAGE sql AS
$$ SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = r $$;

-- every ordinary table of the schema on which DDL (a format() template
-- with %s for the table) does not fail with 42501, as 'table: outcome';
-- whatever succeeds is rolled back
CREATE FUNCTION pg_temp.not_refused(ddl text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    outcome text;
    found text[] := '{}';
BEGIN
    FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'omniroute'::regnamespace AND c.relkind = 'r'
              ORDER BY c.relname LOOP
        outcome := pg_temp.err(format(ddl, t));
        IF outcome NOT LIKE '42501:%' THEN
            found := found || (t::text || ': ' || outcome);
        END IF;
    END LOOP;
    RETURN found;
END
$$;

CREATE ROLE priv_adm;  CREATE ROLE priv_app;  CREATE ROLE priv_ann;  CREATE ROLE priv_bob;  CREATE ROLE priv_rep;
GRANT omniroute_admin TO priv_adm;
GRANT omniroute_app TO priv_app;
GRANT omniroute_agent TO priv_ann, priv_bob;
GRANT omniroute_reporter TO priv_rep;
-- a schema of the admin's own, as an admin has one for the application
CREATE SCHEMA priv_own AUTHORIZATION priv_adm;

-- ---------------------------------------------------------------------------
-- The admin configures everything (as the admin, not as a superuser)
-- ---------------------------------------------------------------------------

SET LOCAL ROLE priv_adm;
SELECT lives_ok($$
    INSERT INTO omniroute.presence (name, base) VALUES ('priv: lunch', 'away');
    INSERT INTO omniroute.skill (name) VALUES ('priv: french');
    INSERT INTO omniroute.capacity_profile (name, max_items) VALUES ('priv: chats', 5);
    INSERT INTO omniroute.queue (id, name) VALUES (8801, 'priv: chat'), (8802, 'priv: cases'), (8803, 'priv: spare');
    INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
        (8801, 'priv Ann', 10, 'available', 'priv_ann'),
        (8802, 'priv Bob', 10, 'available', 'priv_bob');
    INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (8801, 'priv: french', 5);
    INSERT INTO omniroute.agent_profile (agent_id, profile) VALUES (8801, 'priv: chats');
    INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8801, 8801), (8802, 8802), (8803, 8802);
    INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, capacity_profile)
        VALUES (8801, 'priv: chat', 8801, 'none', 'priv: chats');
    INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES (8802, 'priv: cases', 'pick', 8802);
    INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES (8801, 'topic', 'text');
    INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
        VALUES (8801, 1, 'vip', 'topic = ''vip''', '{"priority": 5}');
    INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
        VALUES (8801, 1, 'spare', 'topic = ''spare''', 8803);
$$, 'admin: configures presences, skills, profiles, queues, agents, memberships, workstreams and rules');
SELECT lives_ok($$
    UPDATE omniroute.agent SET name = 'priv Ann B.', timezone = 'Europe/Paris', is_bot = false WHERE id = 8801;
    UPDATE omniroute.agent_profile SET max_items = 4 WHERE agent_id = 8801;
    UPDATE omniroute.queue_member SET joined_at = joined_at WHERE agent_id = 8801;
    UPDATE omniroute.classification_rule SET condition = 'topic = ''VIP''' WHERE workstream_id = 8801;
    UPDATE omniroute.presence SET base = 'busy' WHERE name = 'priv: lunch';
$$, 'admin: changes configuration');
SELECT isnt(omniroute.copy_workstream(8801), NULL::bigint, 'admin: copies a workstream');
SELECT lives_ok($$INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context, priority, required_skills)
                  VALUES (8801, 'conv-1', 'cust-1', '{"topic": "x"}', 1, '{}')$$,
                'admin: inserts a work item with the application''s columns');
RESET ROLE;
SELECT is((SELECT (state, agent_id)::text FROM omniroute.work_item WHERE external_id = 'conv-1'),
          '(offered,8801)', 'the admin''s item was routed to Ann');

-- ---------------------------------------------------------------------------
-- 1. No role can attach code the extension would run as its owner
-- ---------------------------------------------------------------------------

-- the attack of the issue: a trigger on the history, which the extension
-- writes as its owner whenever it routes
SET LOCAL ROLE priv_adm;
CREATE FUNCTION pg_temp.own() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN EXECUTE 'ALTER ROLE priv_adm SUPERUSER'; RETURN NULL; END$$;
-- and a function for what is not a trigger
CREATE FUNCTION pg_temp.esc() RETURNS int LANGUAGE plpgsql IMMUTABLE AS
    $$BEGIN EXECUTE 'ALTER ROLE priv_adm SUPERUSER'; RETURN 1; END$$;
SELECT throws_ok($$CREATE TRIGGER priv_own AFTER INSERT ON omniroute.work_item_event
                     FOR EACH ROW EXECUTE FUNCTION pg_temp.own()$$, '42501', NULL,
                 'admin: cannot put a trigger on work_item_event');
SELECT lives_ok($$INSERT INTO omniroute.work_item (workstream_id) VALUES (8801)$$,
                'admin: a work item is routed, writing history as the extension owner');
RESET ROLE;
SELECT ok(NOT pg_temp.is_super('priv_adm'), 'the issue''s attack: the admin did not become a superuser');
-- (had the attack worked, what follows would prove nothing)
ALTER ROLE priv_adm NOSUPERUSER;
DROP TRIGGER IF EXISTS priv_own ON omniroute.work_item_event;

-- every table, every kind of attachment, as the admin
SET LOCAL ROLE priv_adm;
SELECT is(pg_temp.not_refused('CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.own()'),
          '{}', 'admin: no table takes a trigger');
SELECT is(pg_temp.not_refused('CREATE CONSTRAINT TRIGGER priv_t AFTER INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION pg_temp.own()'),
          '{}', 'admin: no table takes a constraint trigger');
SELECT is(pg_temp.not_refused('CREATE RULE priv_r AS ON INSERT TO %s DO ALSO SELECT pg_temp.esc()'),
          '{}', 'admin: no table takes a rule');
SELECT is(pg_temp.not_refused('CREATE POLICY priv_p ON %s USING (pg_temp.esc() > 0)'),
          '{}', 'admin: no table takes a policy');
SELECT is(pg_temp.not_refused('ALTER TABLE %s ADD COLUMN priv_c int DEFAULT pg_temp.esc()'),
          '{}', 'admin: no table takes a column with a default');
SELECT is(pg_temp.not_refused('ALTER TABLE %s ADD CONSTRAINT priv_k CHECK (pg_temp.esc() > 0) NOT VALID'),
          '{}', 'admin: no table takes a check');
SELECT is(pg_temp.not_refused('CREATE INDEX priv_i ON %s ((pg_temp.esc()))'),
          '{}', 'admin: no table takes an index');
SELECT is(pg_temp.not_refused('CREATE TABLE priv_own.priv_child () INHERITS (%s)'),
          '{}', 'admin: no table takes a child');
SELECT is(pg_temp.not_refused('ALTER TABLE %s DISABLE TRIGGER USER'),
          '{}', 'admin: no table''s triggers can be switched off');
SELECT throws_ok($$CREATE FUNCTION omniroute.priv_f() RETURNS int LANGUAGE sql AS 'SELECT 1'$$, '42501', NULL,
                 'admin: cannot create objects in the extension''s schema');
SELECT throws_ok($$SELECT setval('omniroute.work_item_id_seq', 1)$$, '42501', NULL,
                 'admin: cannot move the work item sequence');

-- a foreign key's check runs as the referenced table's owner, and through
-- a cast of the referencing column's type calls the admin's code
CREATE TYPE priv_own.box AS (v bigint);
CREATE FUNCTION priv_own.unbox(priv_own.box) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'priv_adm' THEN
        EXECUTE 'ALTER ROLE priv_adm SUPERUSER';
    END IF;
    RETURN ($1).v;
END
$$;
CREATE CAST (priv_own.box AS bigint) WITH FUNCTION priv_own.unbox(priv_own.box) AS IMPLICIT;
CREATE TABLE priv_own.refs (a priv_own.box);
SELECT throws_ok($$ALTER TABLE priv_own.refs ADD FOREIGN KEY (a) REFERENCES omniroute.agent (id)$$, '42501', NULL,
                 'admin: cannot refer to the agent table with a foreign key');
SELECT lives_ok($$INSERT INTO priv_own.refs VALUES (ROW(8801))$$, 'admin: writes the table that would have referred');
RESET ROLE;
SELECT ok(NOT pg_temp.is_super('priv_adm'), 'foreign key attack: the admin did not become a superuser');
ALTER ROLE priv_adm NOSUPERUSER;
ALTER TABLE priv_own.refs DROP CONSTRAINT IF EXISTS refs_a_fkey;

-- search_path and pg_temp: the admin shadows operators and functions the
-- extension's SQL uses, and the tables it names, then has it route, work
-- and tick; the extension's SQL names everything by schema and runs with
-- search_path pinned, so none of it runs
SET LOCAL ROLE priv_adm;
CREATE FUNCTION priv_own.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'priv_adm' THEN
        EXECUTE 'ALTER ROLE priv_adm SUPERUSER';
    END IF;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END
$$;
CREATE FUNCTION priv_own.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'priv_adm' THEN
        EXECUTE 'ALTER ROLE priv_adm SUPERUSER';
    END IF;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END
$$;
CREATE OPERATOR priv_own.= (FUNCTION = priv_own.eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE OPERATOR priv_own.= (FUNCTION = priv_own.eq, LEFTARG = text, RIGHTARG = text);
CREATE FUNCTION priv_own.now() RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF current_user <> 'priv_adm' THEN
        EXECUTE 'ALTER ROLE priv_adm SUPERUSER';
    END IF;
    RETURN pg_catalog.now();
END
$$;
CREATE TEMP TABLE work_item (id bigint, workstream_id bigint, state text);
CREATE TEMP TABLE work_item_event (id bigint, work_item_id bigint);
CREATE TEMP TABLE agent (id bigint, presence text);
CREATE TEMP TABLE queue_member (queue_id bigint, agent_id bigint);
CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.work_item FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.own();
CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.work_item_event FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.own();
CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.agent FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.own();
CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.queue_member FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.own();
-- (pgTAP is not on that search_path: the outcome waits in a temp table)
SET LOCAL search_path = pg_temp, priv_own, pg_catalog;
CREATE TEMP TABLE shadowed AS SELECT pg_temp.try($$
    INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (8801, 'shadow-1'), (8802, 'shadow-2');
    SELECT omniroute.accept((SELECT id FROM omniroute.work_item WHERE external_id OPERATOR(pg_catalog.=) 'shadow-1'));
    SELECT omniroute.transfer((SELECT id FROM omniroute.work_item WHERE external_id OPERATOR(pg_catalog.=) 'shadow-1'), 8803);
    SELECT omniroute.close((SELECT id FROM omniroute.work_item WHERE external_id OPERATOR(pg_catalog.=) 'shadow-2'));
    SELECT omniroute.set_presence(8802, 'priv: lunch');
    UPDATE omniroute.agent SET presence = 'available', capacity = 11 WHERE id OPERATOR(pg_catalog.=) 8802;
    UPDATE omniroute.queue SET assignment = 'round_robin' WHERE id OPERATOR(pg_catalog.=) 8803;
    INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8803, 8801);
    SELECT omniroute.tick();
    SELECT omniroute.explain((SELECT max(id) FROM omniroute.work_item));
    SELECT omniroute.simulate(8801, '{"topic": "spare"}');
    SELECT omniroute.copy_workstream(8801);
    SELECT count(*) FROM omniroute.queue_stats;
    SELECT count(*) FROM omniroute.agent_stats;
$$) AS outcome;
RESET search_path;
SELECT is((SELECT outcome FROM pg_temp.shadowed), 'ok',
          'admin, with hostile operators, functions and temp tables on search_path: routes, works, ticks, explains');
RESET ROLE;
SELECT ok(NOT pg_temp.is_super('priv_adm'), 'search_path attack: the admin did not become a superuser');
ALTER ROLE priv_adm NOSUPERUSER;

-- the same for an agent (temp tables only: an agent has no schema of its own)
SET LOCAL ROLE priv_bob;
CREATE FUNCTION pg_temp.bob_own() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN EXECUTE 'ALTER ROLE priv_bob SUPERUSER'; RETURN NULL; END$$;
SET LOCAL search_path = pg_temp, pg_catalog;
CREATE TEMP TABLE bob_tried AS
SELECT pg_temp.not_refused('CREATE TRIGGER priv_t BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.bob_own()') AS triggers,
       pg_temp.try($$SELECT omniroute.pick_next(); SELECT omniroute.set_presence('busy')$$) AS outcome;
RESET search_path;
SELECT is((SELECT triggers FROM pg_temp.bob_tried), '{}', 'agent: no table takes a trigger');
SELECT is((SELECT outcome FROM pg_temp.bob_tried), 'ok',
          'agent, with temp tables on search_path: picks and sets a presence');
RESET ROLE;
SELECT ok(NOT pg_temp.is_super('priv_bob'), 'the agent did not become a superuser');
ALTER ROLE priv_bob NOSUPERUSER;

-- no role but the owner holds TRIGGER or REFERENCES on anything in the
-- schema, and TRUNCATE only where it bypasses nothing
SELECT is((SELECT array_agg(r.rolname || ' ' || p.priv || ' ' || c.relname ORDER BY r.rolname, p.priv, c.relname)
             FROM pg_catalog.pg_class c
            CROSS JOIN pg_catalog.pg_roles r
            CROSS JOIN (VALUES ('TRIGGER'), ('REFERENCES')) AS p (priv)
            WHERE c.relnamespace = 'omniroute'::regnamespace AND c.relkind IN ('r', 'v', 'p')
              AND r.rolname IN ('omniroute_admin', 'omniroute_app', 'omniroute_agent', 'omniroute_reporter')
              AND CASE p.priv WHEN 'TRIGGER' THEN has_table_privilege(r.oid, c.oid, 'TRIGGER')
                              ELSE has_any_column_privilege(r.oid, c.oid, 'REFERENCES') END),
          NULL, 'no omniroute role holds TRIGGER or REFERENCES on a table or view of the schema, nor on a column');
SELECT is((SELECT array_agg(r.rolname || ' ' || c.relname ORDER BY r.rolname, c.relname)
             FROM pg_catalog.pg_class c
            CROSS JOIN pg_catalog.pg_roles r
            WHERE c.relnamespace = 'omniroute'::regnamespace AND c.relkind IN ('r', 'v', 'p')
              AND r.rolname IN ('omniroute_admin', 'omniroute_app', 'omniroute_agent', 'omniroute_reporter')
              AND has_table_privilege(r.oid, c.oid, 'TRUNCATE')),
          ARRAY['omniroute_admin agent_skill', 'omniroute_admin classification_rule',
                'omniroute_admin route_rule', 'omniroute_admin route_rule_split', 'omniroute_admin skill'],
          'TRUNCATE: the admin, on skills and rules only');
SELECT is((SELECT array_agg(c.relname ORDER BY c.relname)
             FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'omniroute'::regnamespace AND c.relkind IN ('r', 'v', 'p')
              AND NOT has_table_privilege('omniroute_admin', c.oid, 'SELECT')),
          NULL, 'the admin reads every table and view of the schema');
SELECT is((SELECT array_agg(r.rolname || ' ' || c.relname || '.' || a.attname ORDER BY r.rolname, a.attname)
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            CROSS JOIN pg_catalog.pg_roles r
            WHERE c.oid = 'omniroute.work_item'::regclass
              AND r.rolname IN ('omniroute_admin', 'omniroute_app', 'omniroute_agent', 'omniroute_reporter')
              AND has_column_privilege(r.oid, c.oid, a.attnum, 'INSERT')),
          ARRAY['omniroute_admin work_item.context', 'omniroute_admin work_item.customer_id',
                'omniroute_admin work_item.external_id', 'omniroute_admin work_item.priority',
                'omniroute_admin work_item.queue_id', 'omniroute_admin work_item.required_skills',
                'omniroute_admin work_item.workstream_id',
                'omniroute_app work_item.context', 'omniroute_app work_item.customer_id',
                'omniroute_app work_item.external_id', 'omniroute_app work_item.priority',
                'omniroute_app work_item.queue_id', 'omniroute_app work_item.required_skills',
                'omniroute_app work_item.workstream_id'],
          'work_item: only the application''s columns may be inserted, by the app and the admin');

-- ---------------------------------------------------------------------------
-- 2. Plain DML cannot break the books
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name) VALUES (8810, 'priv: books');
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (8810, 'priv Cleo', 3, 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8810, 8810);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, capacity_units)
    VALUES (8810, 'priv: books', 8810, 'none', 2);
INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (8810, 'books-1');
CREATE TEMP TABLE books AS SELECT id FROM omniroute.work_item WHERE external_id = 'books-1';
GRANT SELECT ON books TO priv_adm;
SELECT is((SELECT (state, agent_id, reserved_units)::text FROM omniroute.work_item WHERE external_id = 'books-1'),
          '(offered,8810,2)', 'books: an item holds 2 of Cleo''s units');

SET LOCAL ROLE priv_adm;
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET state = 'closed' WHERE id = (SELECT id FROM books)$$),
               '^42501: cannot update column "state" of work item [0-9]+: it is kept by omniroute \| .*omniroute\.accept\(\).*close\(\)',
               'admin: closing an item by UPDATE is refused, naming the lifecycle functions');
SELECT matches(pg_temp.err($$DELETE FROM omniroute.work_item WHERE id = (SELECT id FROM books)$$),
               '^55000: cannot delete work item [0-9]+: it is offered, not closed \| Close it first with omniroute\.close\([0-9]+\)\.$',
               'admin: deleting an item that is not closed is refused, naming close()');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET queue_id = 8801 WHERE id = (SELECT id FROM books)$$),
               '^42501: cannot update column "queue_id" .* omniroute\.transfer\(',
               'admin: moving an item by UPDATE is refused, naming transfer()');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET agent_id = 8801 WHERE id = (SELECT id FROM books)$$),
               '^42501: cannot update column "agent_id" .* omniroute\.transfer_to_agent\(',
               'admin: giving an item to an agent by UPDATE is refused, naming transfer_to_agent()');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET reserved_units = 0 WHERE id = (SELECT id FROM books)$$),
               '^42501: cannot update column "reserved_units" ',
               'admin: the reserved units of an item cannot be updated');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET created_at = '1970-01-01', diagnostics = NULL WHERE id = (SELECT id FROM books)$$),
               '^42501: cannot update column "created_at" ',
               'admin: the times and diagnostics of an item cannot be updated');
SELECT matches(pg_temp.err($$TRUNCATE omniroute.work_item$$), '^42501: ', 'admin: cannot truncate work items');
SELECT matches(pg_temp.err($$TRUNCATE omniroute.work_item_event$$), '^42501: ', 'admin: cannot truncate the history');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item_event (work_item_id, event) VALUES (1, 'closed')$$),
               '^42501: ', 'admin: cannot write history');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item_event SET event = 'closed'$$),
               '^42501: ', 'admin: cannot rewrite history');
SELECT matches(pg_temp.err($$UPDATE omniroute.agent SET used_units = 0 WHERE id = 8810$$),
               '^42501: cannot update column "used_units" of agent 8810: it is routing state kept by omniroute \| .*omniroute\.close\(\)',
               'admin: an agent''s used units cannot be updated, naming the functions that change them');
SELECT matches(pg_temp.err($$UPDATE omniroute.agent SET last_assigned_at = NULL WHERE id = 8810$$),
               '^42501: cannot update column "last_assigned_at" of agent 8810',
               'admin: an agent''s last assignment cannot be updated');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.agent (name, used_units) VALUES ('priv: ghost', 2)$$),
               '^42501: ', 'admin: cannot insert an agent with used units');
SELECT matches(pg_temp.err($$UPDATE omniroute.queue_member SET free_units = 100 WHERE agent_id = 8810$$),
               '^42501: ', 'admin: cannot update a membership''s copy of routing state');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.queue_member (queue_id, agent_id, free_units) VALUES (8801, 8810, 100)$$),
               '^42501: ', 'admin: cannot insert a membership with routing state');
SELECT matches(pg_temp.err($$UPDATE omniroute.agent_profile SET active_items = 0$$),
               '^42501: ', 'admin: cannot update a capacity profile''s count');
SELECT matches(pg_temp.err($$TRUNCATE omniroute.agent$$), '^42501: ', 'admin: cannot truncate agents');
SELECT matches(pg_temp.err($$TRUNCATE omniroute.context_variable$$), '^42501: ',
               'admin: cannot truncate context variables (recheck_rules would not see it)');
SELECT is(pg_temp.err($$TRUNCATE omniroute.classification_rule$$), 'no error', 'admin: may truncate the classification rules');
-- what the admin may do
SELECT lives_ok($$UPDATE omniroute.work_item SET priority = 7, context = '{"note": "vip"}', required_skills = '{}'
                   WHERE id = (SELECT id FROM books)$$,
                'admin: updates an item''s priority, context and required skills');
SELECT lives_ok($$UPDATE omniroute.agent SET capacity = 5, presence = 'busy' WHERE id = 8810$$,
                'admin: updates an agent''s capacity and presence');
RESET ROLE;
SELECT is((SELECT (presence, free_units)::text FROM omniroute.queue_member WHERE agent_id = 8810),
          '(busy,3)', 'the admin''s change of capacity and presence is copied to the membership');
SET LOCAL ROLE priv_adm;
SELECT lives_ok($$UPDATE omniroute.queue SET assignment = 'least_active' WHERE id = 8810$$,
                'admin: changes a queue''s assignment method');
RESET ROLE;
SELECT is((SELECT method FROM omniroute.queue_member WHERE agent_id = 8810), 'least_active',
          'the admin''s change of method is copied to the membership');
SELECT is((SELECT (state, priority, reserved_units)::text FROM omniroute.work_item WHERE id = (SELECT id FROM books)),
          '(offered,7,2)', 'books: the item is as the lifecycle left it, with the admin''s priority');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 8810), 2, 'books: Cleo still holds its 2 units');

-- through the function, then DELETE
SET LOCAL ROLE priv_adm;
SELECT is((omniroute.close((SELECT id FROM books))).state, 'closed', 'admin: closes the item with close()');
SELECT lives_ok($$DELETE FROM omniroute.work_item WHERE id = (SELECT id FROM books)$$,
                'admin: deletes a closed item');
SELECT lives_ok($$DELETE FROM omniroute.work_item_event WHERE work_item_id = (SELECT id FROM books)$$,
                'admin: prunes the history of a deleted item');
RESET ROLE;
SELECT is((SELECT (used_units, capacity)::text FROM omniroute.agent WHERE id = 8810), '(0,5)',
          'books: Cleo''s units are back');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE agent_id = 8810), 5,
          'books: and so are the membership''s');

-- a superuser (the extension itself, pg_restore, a repair by hand) passes
INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (8810, 'books-2');
SELECT lives_ok($$UPDATE omniroute.work_item SET created_at = created_at - interval '1 hour' WHERE external_id = 'books-2'$$,
                'superuser: updates any column of an item');
SELECT lives_ok($$DELETE FROM omniroute.work_item WHERE external_id = 'books-2'$$,
                'superuser: deletes an item that is not closed');

-- the lifecycle functions, run by agents, still work under the guards
SET LOCAL ROLE priv_ann;
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE external_id = 'conv-1'), 1::bigint,
          'agent Ann sees her offered item');
SELECT is((omniroute.accept((SELECT id FROM omniroute.work_item WHERE external_id = 'conv-1'))).state, 'active',
          'agent Ann accepts it');
SELECT is((omniroute.close((SELECT id FROM omniroute.work_item WHERE external_id = 'conv-1'))).state, 'closed',
          'agent Ann closes it');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET priority = 1$$), '^42501: ',
               'agent: no direct updates, not even of the priority');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- 3. The application's columns; the agents' view of each other
-- ---------------------------------------------------------------------------

SET LOCAL ROLE priv_app;
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, reserved_units) VALUES (8810, 99999)$$),
               '^42501: ', 'app: cannot insert reserved units');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, created_at) VALUES (8810, '1970-01-01')$$),
               '^42501: ', 'app: cannot insert a creation time');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (id, workstream_id) VALUES ((SELECT max(id) + 1 FROM omniroute.work_item), 8810)$$),
               '^42501: ', 'app: cannot choose an id');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, diagnostics) VALUES (8810, '{}')$$),
               '^42501: ', 'app: cannot insert diagnostics (a restore, for a superuser only)');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, state, closed_at) VALUES (8810, 'open', now())$$),
               '^42501: ', 'app: cannot insert a state or a close time');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (workstream_id, declined_agents, profile) VALUES (8810, '{8810}', 'x')$$),
               '^42501: ', 'app: cannot insert declined agents or a profile slot');
SELECT lives_ok($$INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context, priority, required_skills, queue_id)
                  VALUES (8810, 'app-1', 'cust-1', '{}', 2, '{}', 8803)$$,
                'app: inserts an item with every column of its own, the queue named');
SELECT is((SELECT queue_id FROM omniroute.work_item WHERE external_id = 'app-1'), 8803::bigint,
          'app: the queue it named is kept');
SELECT lives_ok($$INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (8810, 'app-2')$$,
                'app: the next default id is free');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET priority = 1$$), '^42501: ', 'app: no updates');
SELECT matches(pg_temp.err($$DELETE FROM omniroute.work_item$$), '^42501: ', 'app: no deletes');
SELECT matches(pg_temp.err($$SELECT login_role FROM omniroute.agent$$), '^42501: ', 'app: does not read agents');
RESET ROLE;
SET LOCAL ROLE priv_adm;
SELECT matches(pg_temp.err($$INSERT INTO omniroute.work_item (id, workstream_id) VALUES (88999, 8810)$$),
               '^42501: ', 'admin: cannot choose a work item''s id either');
RESET ROLE;

SET LOCAL ROLE priv_ann;
SELECT matches(pg_temp.err($$SELECT login_role FROM omniroute.agent$$), '^42501: ',
               'agent: cannot read the roles agents log in as');
SELECT matches(pg_temp.err($$SELECT * FROM omniroute.agent$$), '^42501: ',
               'agent: not with SELECT * either');
SELECT results_eq($$SELECT id, name, presence FROM omniroute.agent WHERE id IN (8801, 8802) ORDER BY id$$,
                  $$VALUES (8801::bigint, 'priv Ann B.'::text, 'available'::text), (8802, 'priv Bob', 'busy')$$,
                  'agent: reads the other agents'' names and presences');
SELECT results_eq($$SELECT id, name, login_role FROM omniroute.my_agent$$,
                  $$VALUES (8801::bigint, 'priv Ann B.'::text, 'priv_ann'::name)$$,
                  'agent: my_agent is her own row');
-- a function in her WHERE clause sees only the row the view lets through
CREATE TEMP TABLE seen (login_role name);
CREATE FUNCTION pg_temp.peek(r name) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS
    $$BEGIN INSERT INTO pg_temp.seen VALUES (r); RETURN true; END$$;
SELECT is((SELECT count(*) FROM omniroute.my_agent WHERE pg_temp.peek(login_role)), 1::bigint,
          'agent: a cheap function filtering my_agent');
SELECT results_eq('SELECT login_role FROM pg_temp.seen', $$VALUES ('priv_ann'::name)$$,
                  'agent: saw her own login role only');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE agent_id IS DISTINCT FROM 8801), 0::bigint,
          'agent Ann: row-level security still shows her only her own items');
RESET ROLE;
SET LOCAL ROLE priv_bob;
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE workstream_id = 8802 AND state = 'open'), 0::bigint,
          'agent Bob: no open pick item yet');
RESET ROLE;
INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (8802, 'pick-1');
SET LOCAL ROLE priv_bob;
SELECT results_eq($$SELECT external_id FROM omniroute.work_item WHERE workstream_id = 8802 AND state = 'open'$$,
                  $$VALUES ('pick-1'::text)$$, 'agent Bob: sees the open item of his pick-mode queue');
RESET ROLE;
SET LOCAL ROLE priv_ann;
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE external_id = 'pick-1'), 0::bigint,
          'agent Ann: not a member of that queue, does not see it');
RESET ROLE;
SET LOCAL ROLE priv_rep;
SELECT matches(pg_temp.err($$SELECT count(*) FROM omniroute.agent$$), '^42501: ', 'reporter: does not read agents');
SELECT matches(pg_temp.err($$SELECT count(*) FROM omniroute.my_agent$$), '^42501: ', 'reporter: nor my_agent');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- 4. An update from 0.1.0 stops while code made with its grants is attached
-- ---------------------------------------------------------------------------

DROP EXTENSION omniroute;
CREATE EXTENSION omniroute VERSION '0.1.0';
SET LOCAL ROLE priv_adm;
SELECT lives_ok($$CREATE TRIGGER priv_own AFTER INSERT ON omniroute.work_item_event
                    FOR EACH ROW EXECUTE FUNCTION pg_temp.own()$$,
                '0.1.0: the admin could put a trigger on work_item_event');
CREATE TABLE priv_own.refs2 (a priv_own.box);
SELECT lives_ok($$ALTER TABLE priv_own.refs2 ADD CONSTRAINT priv_fk FOREIGN KEY (a) REFERENCES omniroute.agent (id)$$,
                '0.1.0: and a foreign key to the agent table');
RESET ROLE;
SELECT matches(pg_temp.err('ALTER EXTENSION omniroute UPDATE'),
               '^55000: cannot update extension omniroute: .*: foreign key priv_fk of priv_own\.refs2, owned by priv_adm, refers to omniroute\.agent; trigger priv_own on omniroute\.work_item_event runs pg_temp_[0-9]+\.own\(\), owned by priv_adm \| Drop them',
               'update from 0.1.0: refused, naming the trigger and the foreign key');
DROP TRIGGER priv_own ON omniroute.work_item_event;
ALTER TABLE priv_own.refs2 DROP CONSTRAINT priv_fk;
SELECT lives_ok('ALTER EXTENSION omniroute UPDATE', 'update from 0.1.0: goes through once they are dropped');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'omniroute'), '0.2.0', 'update from 0.1.0: at 0.2.0');
SELECT ok(NOT has_table_privilege('omniroute_admin', 'omniroute.work_item_event', 'TRIGGER')
          AND NOT has_table_privilege('omniroute_admin', 'omniroute.agent', 'REFERENCES'),
          'update from 0.1.0: the admin holds neither TRIGGER nor REFERENCES');
SET LOCAL ROLE priv_adm;
SELECT throws_ok($$CREATE TRIGGER priv_own AFTER INSERT ON omniroute.work_item_event
                     FOR EACH ROW EXECUTE FUNCTION pg_temp.own()$$, '42501', NULL,
                 'update from 0.1.0: the admin can no longer put a trigger on work_item_event');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
