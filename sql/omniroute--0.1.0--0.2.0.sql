\echo Use "ALTER EXTENSION omniroute UPDATE" to load this file. \quit

/*
 * omniroute 0.1.0 -> 0.2.0.  test/upgrade/run.sh proves that this reaches
 * exactly what sql/omniroute.sql installs.
 */

-- ---------------------------------------------------------------------------
-- Backups: pg_dump carries every table of configuration and work
-- ---------------------------------------------------------------------------

-- a superuser's insert keeps the round-robin turn it brings (pg_restore)
CREATE OR REPLACE FUNCTION omniroute.queue_member_init() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- an unknown agent keeps the defaults: the foreign key then refuses it (23503)
    SELECT a.presence, a.capacity - a.used_units,
           coalesce(a.last_assigned_at, '-infinity'), coalesce(a.last_released_at, '-infinity')
      INTO NEW.presence, NEW.free_units, NEW.agent_last_assigned_at, NEW.last_released_at
      FROM omniroute.agent a WHERE a.id = NEW.agent_id;
    IF NOT FOUND THEN
        NEW.presence := 'offline';
        NEW.free_units := 0;
        NEW.agent_last_assigned_at := '-infinity';
        NEW.last_released_at := '-infinity';
    END IF;
    SELECT q.assignment INTO NEW.method FROM omniroute.queue q WHERE q.id = NEW.queue_id;
    NEW.method := coalesce(NEW.method, 'highest_capacity');
    -- a new member has never been given this queue's work; a superuser's
    -- insert may say otherwise (pg_restore brings back the round-robin turn)
    IF TG_OP = 'INSERT' AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        NEW.queue_last_assigned_at := '-infinity';
    END IF;
    RETURN NEW;
END
$$;

SELECT pg_catalog.pg_extension_config_dump('omniroute.presence',
    $$WHERE name NOT IN ('available', 'busy', 'busy_dnd', 'away', 'offline', 'inactive')$$);
SELECT pg_catalog.pg_extension_config_dump('omniroute.skill', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.capacity_profile', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.agent', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.agent_skill', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.agent_profile', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.queue', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.queue_member', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.workstream', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.context_variable', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.classification_rule', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.route_rule', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.work_item', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.work_item_event', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.agent_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.queue_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.queue_member_join_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.workstream_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.classification_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.route_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.work_item_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.work_item_event_id_seq', '');

-- ---------------------------------------------------------------------------
-- Lifecycle rules: who may act on what (src/priv.c, src/lifecycle.c)
-- ---------------------------------------------------------------------------

-- the supervisor: acts on any item, reads every item and event, configures
-- nothing; made if missing, as the other four roles are
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'omniroute_supervisor') THEN
        CREATE ROLE omniroute_supervisor NOLOGIN;
    END IF;
END
$roles$;

GRANT USAGE ON SCHEMA omniroute TO omniroute_supervisor;
GRANT SELECT ON omniroute.work_item, omniroute.work_item_event TO omniroute_supervisor;
GRANT SELECT ON omniroute.agent, omniroute.presence, omniroute.queue, omniroute.queue_member,
                omniroute.workstream, omniroute.skill, omniroute.agent_skill TO omniroute_supervisor;
GRANT EXECUTE ON FUNCTION
    omniroute.accept(bigint), omniroute.reject(bigint), omniroute.close(bigint, text),
    omniroute.wait(bigint), omniroute.resume(bigint), omniroute.wrap_up(bigint),
    omniroute.transfer(bigint, bigint), omniroute.transfer_to_agent(bigint, bigint),
    omniroute.escalate(bigint), omniroute.pick(bigint), omniroute.pick_next(),
    omniroute.set_presence(bigint, text), omniroute.set_presence(text),
    omniroute.explain(bigint)
    TO omniroute_supervisor;
CREATE POLICY supervisor_read ON omniroute.work_item FOR SELECT TO omniroute_supervisor
    USING (true);
CREATE POLICY supervisor_read ON omniroute.work_item_event FOR SELECT TO omniroute_supervisor
    USING (true);
GRANT SELECT ON omniroute.queue_stats, omniroute.agent_stats, omniroute.workstream_stats
    TO omniroute_supervisor;

-- ---------------------------------------------------------------------------
-- Workstream intervals: at most 366 days, so that a time plus any of them
-- stays a time (0.1.0 took '178000000 years', and then every offer failed)
-- ---------------------------------------------------------------------------

-- a longer one is cut to 366 days, with a warning naming it: the update
-- must not fail on data 0.1.0 accepted, and a dump must restore
DO $clamp$
DECLARE
    w record;
BEGIN
    FOR w IN SELECT id, name, offer_timeout, auto_close_after, wrap_up_block
               FROM omniroute.workstream
              WHERE offer_timeout > interval '366 days' OR auto_close_after > interval '366 days'
                 OR wrap_up_block > interval '366 days'
              ORDER BY id LOOP
        RAISE WARNING 'omniroute: workstream % (%): offer_timeout %, auto_close_after %, wrap_up_block %: each longer than 366 days is now 366 days',
            w.id, w.name, w.offer_timeout, w.auto_close_after, w.wrap_up_block;
    END LOOP;
    UPDATE omniroute.workstream
       SET offer_timeout = least(offer_timeout, interval '366 days'),
           auto_close_after = least(auto_close_after, interval '366 days'),
           wrap_up_block = least(wrap_up_block, interval '366 days')
     WHERE offer_timeout > interval '366 days' OR auto_close_after > interval '366 days'
        OR wrap_up_block > interval '366 days';
END
$clamp$;

ALTER TABLE omniroute.workstream
    DROP CONSTRAINT workstream_auto_close_after_check,
    ADD CONSTRAINT workstream_auto_close_after_check
        CHECK (auto_close_after > interval '0' AND auto_close_after <= interval '366 days'),
    DROP CONSTRAINT workstream_wrap_up_block_check,
    ADD CONSTRAINT workstream_wrap_up_block_check
        CHECK (wrap_up_block >= interval '0' AND wrap_up_block <= interval '366 days'),
    DROP CONSTRAINT workstream_offer_timeout_check,
    ADD CONSTRAINT workstream_offer_timeout_check
        CHECK (offer_timeout > interval '0' AND offer_timeout <= interval '366 days');

-- ---------------------------------------------------------------------------
-- Dropping the extension while work is routed (src/dropguard.c)
-- ---------------------------------------------------------------------------

CREATE FUNCTION omniroute.drop_guard() RETURNS event_trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'omniroute_drop_guard';
REVOKE ALL ON FUNCTION omniroute.drop_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.drop_guard() TO omniroute_admin;
CREATE EVENT TRIGGER omniroute_drop_guard ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION omniroute.drop_guard();

-- ---------------------------------------------------------------------------
-- Privileges: no role but the owner may attach code to the tables the
-- extension writes as their owner, and routing state is kept off plain DML
-- ---------------------------------------------------------------------------

/*
 * 0.1.0 granted omniroute_admin ALL on every table, TRIGGER and REFERENCES
 * included: a trigger on a table the extension writes, or a foreign key
 * whose check calls a cast or operator of the referencing column's type,
 * ran its owner's code with the extension owner's rights.  Revoking the
 * privileges does not remove what was made with them: the update stops
 * while any is left, naming it.
 */
DO $foreign$
DECLARE
    found text;
BEGIN
    SELECT pg_catalog.string_agg(x.what, '; ' ORDER BY x.what) INTO found
      FROM (SELECT pg_catalog.format('trigger %I on omniroute.%I runs %I.%I(%s), owned by %I',
                                     t.tgname, c.relname, pn.nspname, p.proname,
                                     pg_catalog.pg_get_function_identity_arguments(p.oid), r.rolname) AS what
              FROM pg_catalog.pg_trigger t
              JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
              JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
              JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
              JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
             WHERE c.relnamespace = 'omniroute'::pg_catalog.regnamespace
               AND NOT t.tgisinternal AND NOT r.rolsuper
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                  AND d.objid = p.oid AND d.deptype = 'e')
            UNION ALL
            SELECT pg_catalog.format('foreign key %I of %I.%I, owned by %I, refers to omniroute.%I',
                                     k.conname, cn.nspname, c.relname, r.rolname, f.relname)
              FROM pg_catalog.pg_constraint k
              JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
              JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
              JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
             WHERE k.contype = 'f' AND f.relnamespace = 'omniroute'::pg_catalog.regnamespace
               AND NOT r.rolsuper) x;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'cannot update extension omniroute: code of roles other than superusers is attached to its tables: %', found
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It would run with the rights of the extension''s owner, a superuser, whenever the extension writes those tables.',
                  HINT = 'Drop them (or make a superuser own what they run), then run ALTER EXTENSION omniroute UPDATE again.';
    END IF;
END
$foreign$;

CREATE FUNCTION omniroute.work_item_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'omniroute_work_item_guard';
CREATE FUNCTION omniroute.agent_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'omniroute_agent_guard';
CREATE TRIGGER work_item_guard BEFORE UPDATE OR DELETE ON omniroute.work_item
    FOR EACH ROW EXECUTE FUNCTION omniroute.work_item_guard();
-- only an UPDATE that names one of them: no trigger changes them
CREATE TRIGGER agent_guard BEFORE UPDATE OF used_units, last_assigned_at, last_released_at
    ON omniroute.agent
    FOR EACH ROW EXECUTE FUNCTION omniroute.agent_guard();

/*
 * my_agent: the calling role's own agent row.  An agent may not read the
 * other agents' login_role, so the row-level security policies below find
 * the caller's agent here.  current_user in a view is the role running the
 * query, not the view's owner; a security barrier, so that a function in
 * the caller's WHERE clause sees only the row the view lets through.
 */
CREATE VIEW omniroute.my_agent WITH (security_barrier) AS
SELECT a.id, a.name, a.login_role
  FROM omniroute.agent a
 WHERE a.login_role = current_user;

COMMENT ON VIEW omniroute.my_agent IS
    'The agent the current role logs in as (agent.login_role), if any.';

-- the memberships' copies of routing state are written as the owner
CREATE OR REPLACE FUNCTION omniroute.queue_sync_members() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE omniroute.queue_member SET method = NEW.assignment WHERE queue_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION omniroute.agent_sync_members() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.presence IS DISTINCT FROM OLD.presence
       OR NEW.capacity IS DISTINCT FROM OLD.capacity
       OR NEW.used_units IS DISTINCT FROM OLD.used_units THEN
        UPDATE omniroute.queue_member
           SET presence = NEW.presence, free_units = NEW.capacity - NEW.used_units
         WHERE agent_id = NEW.id;
        -- a new presence or more capacity may let the agent take waiting work
        IF NEW.presence IS DISTINCT FROM OLD.presence OR NEW.capacity > OLD.capacity THEN
            PERFORM omniroute.serve_agent(NEW.id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION omniroute.work_item_guard(), omniroute.agent_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.work_item_guard(), omniroute.agent_guard() TO omniroute_admin;

-- 0.1.0's grants, taken back to be made again by name
REVOKE ALL ON omniroute.presence, omniroute.skill, omniroute.capacity_profile, omniroute.agent,
    omniroute.agent_skill, omniroute.agent_profile, omniroute.queue, omniroute.queue_member,
    omniroute.workstream, omniroute.context_variable, omniroute.classification_rule,
    omniroute.route_rule, omniroute.work_item, omniroute.work_item_event
    FROM omniroute_admin;
REVOKE INSERT ON omniroute.work_item FROM omniroute_app;
REVOKE SELECT ON omniroute.agent FROM omniroute_agent;

-- admin: configure everything, act on any item through the lifecycle functions
GRANT SELECT, INSERT, UPDATE, DELETE ON
    omniroute.presence, omniroute.skill, omniroute.capacity_profile, omniroute.agent_skill,
    omniroute.queue, omniroute.workstream, omniroute.context_variable,
    omniroute.classification_rule, omniroute.route_rule
    TO omniroute_admin;
GRANT TRUNCATE ON omniroute.skill, omniroute.agent_skill,
    omniroute.classification_rule, omniroute.route_rule
    TO omniroute_admin;
GRANT SELECT, UPDATE, DELETE ON omniroute.agent TO omniroute_admin;
GRANT INSERT (id, name, login_role, capacity, presence, is_bot, timezone)
    ON omniroute.agent TO omniroute_admin;
GRANT SELECT, DELETE ON omniroute.agent_profile TO omniroute_admin;
GRANT INSERT (agent_id, profile, max_items), UPDATE (max_items)
    ON omniroute.agent_profile TO omniroute_admin;
GRANT SELECT, DELETE ON omniroute.queue_member TO omniroute_admin;
GRANT INSERT (queue_id, agent_id, joined_at), UPDATE (queue_id, agent_id, joined_at)
    ON omniroute.queue_member TO omniroute_admin;
GRANT SELECT, UPDATE, DELETE ON omniroute.work_item TO omniroute_admin;
GRANT INSERT (workstream_id, external_id, customer_id, context, priority, required_skills, queue_id)
    ON omniroute.work_item TO omniroute_admin;
-- the history: read it, prune it
GRANT SELECT, DELETE ON omniroute.work_item_event TO omniroute_admin;

-- app: insert work items (the application's columns; the router sets the
-- rest) and read them; try routing
GRANT SELECT ON omniroute.work_item TO omniroute_app;
GRANT INSERT (workstream_id, external_id, customer_id, context, priority, required_skills, queue_id)
    ON omniroute.work_item TO omniroute_app;
GRANT EXECUTE ON FUNCTION omniroute.simulate(bigint, jsonb) TO omniroute_app;

-- agent: read own and pickable items, act through the lifecycle functions
-- (which check that the item is theirs), set their own presence; see the
-- other agents but not the roles they log in as (my_agent: their own row)
GRANT SELECT ON omniroute.work_item, omniroute.work_item_event TO omniroute_agent;
GRANT SELECT ON omniroute.presence, omniroute.queue, omniroute.queue_member,
                omniroute.workstream, omniroute.skill TO omniroute_agent;
GRANT SELECT ON omniroute.my_agent TO omniroute_agent, omniroute_admin;
GRANT SELECT (id, name, capacity, presence, is_bot, timezone, used_units, last_assigned_at, last_released_at)
    ON omniroute.agent TO omniroute_agent;
GRANT EXECUTE ON FUNCTION
    omniroute.accept(bigint), omniroute.reject(bigint), omniroute.close(bigint, text),
    omniroute.wait(bigint), omniroute.resume(bigint), omniroute.wrap_up(bigint),
    omniroute.transfer(bigint, bigint), omniroute.transfer_to_agent(bigint, bigint),
    omniroute.escalate(bigint), omniroute.pick(bigint), omniroute.pick_next(),
    omniroute.set_presence(bigint, text), omniroute.set_presence(text)
    TO omniroute_agent;

-- an agent: their own items, and the open items of their pick-mode queues
ALTER POLICY agent_read ON omniroute.work_item TO omniroute_agent
    USING (agent_id = (SELECT me.id FROM omniroute.my_agent me)
           OR (state = 'open'
               AND EXISTS (SELECT 1
                             FROM omniroute.queue_member m
                             JOIN omniroute.workstream ws ON ws.id = work_item.workstream_id
                            WHERE m.agent_id = (SELECT me.id FROM omniroute.my_agent me)
                              AND m.queue_id = work_item.queue_id
                              AND ws.mode = 'pick')));

-- ---------------------------------------------------------------------------
-- Robustness: one bad row must not stop serving or tick()
-- ---------------------------------------------------------------------------

-- open work grouped by what it asks of an agent, each group best first:
-- serving passes over a backlog nobody can take without reading it
DROP INDEX omniroute.work_item_open_idx;
CREATE INDEX work_item_open_idx ON omniroute.work_item
    (queue_id, workstream_id, required_skills, priority DESC, created_at, id)
    WHERE state = 'open';

-- an update of an item's required skills must leave what the router accepts
CREATE FUNCTION omniroute.check_required_skills() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'omniroute_check_required_skills';
REVOKE ALL ON FUNCTION omniroute.check_required_skills() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.check_required_skills() TO omniroute_admin;
CREATE TRIGGER check_required_skills AFTER UPDATE ON omniroute.work_item
    FOR EACH ROW WHEN (NEW.required_skills IS DISTINCT FROM OLD.required_skills)
    EXECUTE FUNCTION omniroute.check_required_skills();

-- the six seeded presences cannot be deleted, renamed or rebased; 0.1.0 let
-- them be, so first put back any that went (the engine sets 'inactive' and
-- 'offline' itself)
UPDATE omniroute.presence SET base = name
 WHERE name IN ('available', 'busy', 'busy_dnd', 'away', 'offline', 'inactive') AND base <> name;
INSERT INTO omniroute.presence (name, base) VALUES
    ('available', 'available'),
    ('busy', 'busy'),
    ('busy_dnd', 'busy_dnd'),
    ('away', 'away'),
    ('offline', 'offline'),
    ('inactive', 'inactive')
ON CONFLICT (name) DO NOTHING;
CREATE FUNCTION omniroute.presence_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'cannot truncate omniroute.presence: it holds the six built-in presences'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Delete the custom presences instead.';
    END IF;
    IF OLD.name IN ('available', 'busy', 'busy_dnd', 'away', 'offline', 'inactive')
       AND (TG_OP = 'DELETE' OR NEW.name IS DISTINCT FROM OLD.name OR NEW.base IS DISTINCT FROM OLD.base) THEN
        RAISE EXCEPTION 'cannot % built-in presence "%"', CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'change' END, OLD.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The six built-in presences are the bases of all others, and the engine sets "inactive" and "offline" itself.',
                  HINT = 'Add a custom presence with that base instead.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION omniroute.presence_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.presence_guard() TO omniroute_admin;
CREATE TRIGGER presence_guard BEFORE UPDATE OR DELETE ON omniroute.presence
    FOR EACH ROW EXECUTE FUNCTION omniroute.presence_guard();
CREATE TRIGGER presence_guard_truncate BEFORE TRUNCATE ON omniroute.presence
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.presence_guard();

-- ---------------------------------------------------------------------------
-- Time: operating hours, overflow, escalation (README: Operating hours, overflow, escalation, aging; src/hours.c)
-- ---------------------------------------------------------------------------

CREATE TABLE omniroute.operating_hours (
    name     text PRIMARY KEY CHECK (name <> ''),
    timezone text NOT NULL DEFAULT 'UTC'
);

CREATE TABLE omniroute.operating_hours_slot (
    hours  text NOT NULL
           REFERENCES omniroute.operating_hours (name) ON DELETE CASCADE ON UPDATE CASCADE,
    day    int NOT NULL CHECK (day BETWEEN 0 AND 6),   -- 0 = Sunday
    opens  time NOT NULL,
    closes time NOT NULL,
    PRIMARY KEY (hours, day, opens),
    CONSTRAINT operating_hours_slot_closes_after_opens CHECK (closes > opens)
);

CREATE TABLE omniroute.holiday (
    hours text NOT NULL
          REFERENCES omniroute.operating_hours (name) ON DELETE CASCADE ON UPDATE CASCADE,
    day   date NOT NULL CHECK (isfinite(day)),
    name  text,
    PRIMARY KEY (hours, day)
);

ALTER TABLE omniroute.queue
    ADD COLUMN operating_hours   text REFERENCES omniroute.operating_hours (name) ON UPDATE CASCADE,
    ADD COLUMN max_open          int CHECK (max_open > 0),
    ADD COLUMN max_wait          interval CHECK (max_wait > interval '0' AND max_wait <= interval '366 days'),
    ADD COLUMN overflow_action   text NOT NULL DEFAULT 'queue' CHECK (overflow_action IN ('queue', 'transfer', 'close')),
    ADD COLUMN overflow_queue_id bigint REFERENCES omniroute.queue (id),
    ADD CONSTRAINT queue_overflow_transfer_check
        CHECK (overflow_action <> 'transfer' OR overflow_queue_id IS NOT NULL);

ALTER TABLE omniroute.workstream
    ADD COLUMN priority_aging interval CHECK (priority_aging > interval '0' AND priority_aging <= interval '366 days');

CREATE TABLE omniroute.escalation_step (
    workstream_id  bigint NOT NULL REFERENCES omniroute.workstream (id) ON DELETE CASCADE,
    after          interval NOT NULL CHECK (after > interval '0' AND after <= interval '366 days'),
    skill_matching text CHECK (skill_matching IN ('exact', 'closest', 'none')),
    drop_skills    text[] CHECK (cardinality(drop_skills) > 0
                                 AND array_position(drop_skills, NULL) IS NULL
                                 AND array_position(drop_skills, '') IS NULL
                                 AND (array_position(drop_skills, '*') IS NULL OR cardinality(drop_skills) = 1)),
    queue_id       bigint REFERENCES omniroute.queue (id),
    add_priority   int NOT NULL DEFAULT 0,
    PRIMARY KEY (workstream_id, after)
);

/*
 * queued_at: when the item entered its current queue.  Added without a
 * default, so that the history is not rewritten: an item closed before
 * this update keeps NULL (not known).  A live item that has moved since it
 * was routed gets the time of the first event of the last run of its
 * history in its current queue (the transfer that brought it there); any
 * other (never moved, or its history pruned) its created_at, as a new
 * item is queued when created.
 */
ALTER TABLE omniroute.work_item
    ADD COLUMN queued_at        timestamptz,
    ADD COLUMN escalation_level int NOT NULL DEFAULT 0,
    ADD COLUMN skill_matching   text;
UPDATE omniroute.work_item w
   SET queued_at = coalesce(
           (SELECT min(e.at) FROM omniroute.work_item_event e
             WHERE e.work_item_id = w.id AND e.queue_id = w.queue_id
               AND e.id > (SELECT max(o.id) FROM omniroute.work_item_event o
                            WHERE o.work_item_id = w.id AND o.queue_id IS DISTINCT FROM w.queue_id)),
           w.created_at)
 WHERE w.state <> 'closed';

CREATE FUNCTION omniroute.check_operating_hours() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'omniroute_check_operating_hours';

CREATE FUNCTION omniroute.queue_is_open(queue_id bigint, at timestamptz DEFAULT now())
    RETURNS boolean
    LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'omniroute_queue_is_open';
COMMENT ON FUNCTION omniroute.queue_is_open(bigint, timestamptz) IS
    'Whether the queue''s operating hours say open at the given time (a queue without operating hours is always open).';
CREATE FUNCTION omniroute.queue_next_open(queue_id bigint, at timestamptz DEFAULT now())
    RETURNS timestamptz
    LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'omniroute_queue_next_open';
COMMENT ON FUNCTION omniroute.queue_next_open(bigint, timestamptz) IS
    'The first time from the given one on at which the queue is open (that time itself if it is open then); '
    'NULL if its operating hours do not open within 1,500 days.';

CREATE TRIGGER check_operating_hours BEFORE INSERT OR UPDATE OF timezone ON omniroute.operating_hours
    FOR EACH ROW EXECUTE FUNCTION omniroute.check_operating_hours();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omniroute.operating_hours
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omniroute.operating_hours_slot
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omniroute.holiday
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omniroute.escalation_step
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.invalidate_cache();

-- copy_workstream copies the escalation steps too
CREATE OR REPLACE FUNCTION omniroute.copy_workstream(workstream_id bigint) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src      omniroute.workstream;
    copy     omniroute.workstream;
    n        int := 1;
    violated text;
BEGIN
    IF copy_workstream.workstream_id IS NULL THEN
        RAISE EXCEPTION 'workstream id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO src FROM omniroute.workstream w WHERE w.id = copy_workstream.workstream_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workstream % does not exist', copy_workstream.workstream_id
            USING ERRCODE = 'undefined_object';
    END IF;

    copy := src;
    LOOP
        copy.name := 'Copy of ' || src.name || CASE WHEN n > 1 THEN ' (' || n || ')' ELSE '' END;
        IF NOT EXISTS (SELECT 1 FROM omniroute.workstream w WHERE w.name = copy.name) THEN
            BEGIN
                -- the whole row, whatever its columns; OVERRIDING USER VALUE
                -- drops the copied id for a new one from the identity
                INSERT INTO omniroute.workstream OVERRIDING USER VALUE
                SELECT (copy).*
                RETURNING id INTO copy.id;
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                -- a concurrent copy took the name first: try the next one
                GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
                IF violated IS DISTINCT FROM 'workstream_name_key' THEN
                    RAISE;
                END IF;
            END;
        END IF;
        n := n + 1;
    END LOOP;

    INSERT INTO omniroute.context_variable (workstream_id, name, type)
    SELECT copy.id, v.name, v.type
      FROM omniroute.context_variable v
     WHERE v.workstream_id = src.id
     ORDER BY v.name;

    INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
    SELECT copy.id, c.position, c.name, c.condition, c.output
      FROM omniroute.classification_rule c
     WHERE c.workstream_id = src.id
     ORDER BY c.position;

    INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
    SELECT copy.id, r.position, r.name, r.condition, r.queue_id
      FROM omniroute.route_rule r
     WHERE r.workstream_id = src.id
     ORDER BY r.position;

    INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching, drop_skills, queue_id, add_priority)
    SELECT copy.id, e.after, e.skill_matching, e.drop_skills, e.queue_id, e.add_priority
      FROM omniroute.escalation_step e
     WHERE e.workstream_id = src.id
     ORDER BY e.after;

    RETURN copy.id;
END
$$;

COMMENT ON FUNCTION omniroute.copy_workstream(bigint) IS
    'Copy a workstream with its context variables, rules and escalation steps under the name '
    '''Copy of <name>'' (or ''Copy of <name> (2)'', ...); returns the new id.';

REVOKE ALL ON TABLE omniroute.operating_hours, omniroute.operating_hours_slot, omniroute.holiday,
    omniroute.escalation_step FROM PUBLIC;
REVOKE ALL ON FUNCTION omniroute.check_operating_hours(), omniroute.queue_is_open(bigint, timestamptz),
    omniroute.queue_next_open(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.check_operating_hours(), omniroute.queue_is_open(bigint, timestamptz),
    omniroute.queue_next_open(bigint, timestamptz) TO omniroute_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    omniroute.operating_hours, omniroute.operating_hours_slot, omniroute.holiday,
    omniroute.escalation_step
    TO omniroute_admin;
GRANT SELECT ON omniroute.operating_hours, omniroute.operating_hours_slot, omniroute.holiday,
                omniroute.escalation_step TO omniroute_agent, omniroute_supervisor;
GRANT EXECUTE ON FUNCTION omniroute.queue_is_open(bigint, timestamptz),
                          omniroute.queue_next_open(bigint, timestamptz)
    TO omniroute_app, omniroute_agent, omniroute_reporter, omniroute_supervisor;

SELECT pg_catalog.pg_extension_config_dump('omniroute.operating_hours', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.operating_hours_slot', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.holiday', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.escalation_step', '');

-- ---------------------------------------------------------------------------
-- Service levels, abandonment, queue position and wait (src/sla.c)
-- ---------------------------------------------------------------------------

ALTER TABLE omniroute.queue
    ADD COLUMN service_level_target interval NOT NULL DEFAULT '20 seconds'
        CHECK (service_level_target > interval '0' AND service_level_target <= interval '366 days');

CREATE FUNCTION omniroute.abandon(work_item_id bigint) RETURNS omniroute.work_item
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'omniroute_abandon';
CREATE FUNCTION omniroute.queue_position(work_item_id bigint) RETURNS integer
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'omniroute_queue_position';
CREATE FUNCTION omniroute.estimated_wait(work_item_id bigint) RETURNS interval
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'omniroute_estimated_wait';
REVOKE ALL ON FUNCTION omniroute.abandon(bigint), omniroute.queue_position(bigint),
    omniroute.estimated_wait(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.abandon(bigint), omniroute.queue_position(bigint),
    omniroute.estimated_wait(bigint) TO omniroute_admin, omniroute_app;
GRANT EXECUTE ON FUNCTION omniroute.queue_position(bigint), omniroute.estimated_wait(bigint)
    TO omniroute_agent;

/*
 * Service levels.  An item is *answered* when an agent accepted
 * it ('accepted') or was given it directly ('assigned': auto-accept,
 * serving, affinity, a forced transfer; 'picked') by an agent who is not a
 * bot: a bot's taking an item first is not an answer, the customer still
 * waits for a person.  The view and estimated_wait() (src/sla.c) say so in
 * the same words.  (Neither reads the event's detail: a view that did
 * would stop its column from ever being retyped.)
 *
 * The answers of a queue in time, for estimated_wait(): one entry per
 * answer (about one per item), none for the other events.
 */
CREATE INDEX work_item_event_answer_idx ON omniroute.work_item_event (queue_id, at)
    WHERE event IN ('accepted', 'assigned', 'picked');

/*
 * queue_interval_stats — one row per queue and 15-minute UTC interval in
 * which items were created (interval_start: created_at binned from a UTC
 * quarter hour).
 *
 *   entered              items created in the interval
 *   answered             of those, the items answered (first answer: the
 *                        earliest answering event of the item)
 *   answered_in_time     answered at most the queue's service_level_target
 *                        after created_at
 *   abandoned            closed by abandon() before any answer
 *   service_level        answered_in_time / (answered + abandoned), NULL
 *                        when that is 0
 *   avg_speed_of_answer  first answer - created_at, over answered items
 *   avg_handle           closed_at - first answer, over answered items that
 *                        are closed
 *
 * An item counts once, in one queue: the queue of its first answer, else
 * the queue it is in (or was closed in).  Cost: one pass over work_item,
 * as workstream_stats, with each item's events read through
 * work_item_event_item_idx; an index by created_at would cost every
 * routed insert, so there is none: filter by queue_id to narrow the pass.
 */
CREATE VIEW omniroute.queue_interval_stats AS
SELECT q.id AS queue_id,
       q.name AS queue,
       f.interval_start,
       count(*) AS entered,
       count(f.answered_at) AS answered,
       count(*) FILTER (WHERE f.answered_at - f.created_at <= q.service_level_target) AS answered_in_time,
       count(*) FILTER (WHERE f.abandoned AND f.answered_at IS NULL) AS abandoned,
       count(*) FILTER (WHERE f.answered_at - f.created_at <= q.service_level_target)::numeric
           / nullif(count(f.answered_at) + count(*) FILTER (WHERE f.abandoned AND f.answered_at IS NULL), 0)
           AS service_level,
       avg(f.answered_at - f.created_at) AS avg_speed_of_answer,
       avg(f.closed_at - f.answered_at) FILTER (WHERE f.answered_at IS NOT NULL) AS avg_handle
  FROM (SELECT w.created_at,
               date_bin('15 minutes', w.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS interval_start,
               CASE WHEN w.state = 'closed' THEN w.closed_at END AS closed_at,
               e.answered_at,
               coalesce(e.answered_in, w.queue_id) AS queue_id,
               coalesce(e.abandoned, false) AS abandoned
          FROM omniroute.work_item w
         CROSS JOIN LATERAL (
                SELECT min(ev.at) FILTER (WHERE ev.answer) AS answered_at,
                       (array_agg(ev.queue_id ORDER BY ev.at, ev.id) FILTER (WHERE ev.answer))[1] AS answered_in,
                       bool_or(ev.event = 'abandoned') AS abandoned
                  FROM (SELECT x.at, x.id, x.queue_id, x.event,
                               (x.event IN ('accepted', 'assigned', 'picked')
                                AND NOT EXISTS (SELECT 1 FROM omniroute.agent b
                                                 WHERE b.id = x.agent_id AND b.is_bot)) AS answer
                          FROM omniroute.work_item_event x
                         WHERE x.work_item_id = w.id) ev
               ) e
       ) f
  JOIN omniroute.queue q ON q.id = f.queue_id
 GROUP BY q.id, q.name, f.interval_start;

COMMENT ON VIEW omniroute.queue_interval_stats IS
    'Per queue and 15-minute UTC interval of created_at: items entered, answered, answered '
    'within the queue''s service_level_target, abandoned before an answer, the service level '
    '(in time / (answered + abandoned)), the average speed of answer and the average handle time.';

GRANT SELECT ON omniroute.queue_interval_stats
    TO omniroute_admin, omniroute_reporter, omniroute_supervisor;

-- ---------------------------------------------------------------------------
-- An item's skill matching (set by an escalation step) is judged wherever
-- its eligibility is: serving groups open items by it too (src/serve.c)
-- ---------------------------------------------------------------------------

DROP INDEX omniroute.work_item_open_idx;
CREATE INDEX work_item_open_idx ON omniroute.work_item
    (queue_id, workstream_id, required_skills, skill_matching, priority DESC, created_at, id)
    WHERE state = 'open';

/*
 * The full account of an item's routing, on demand: what diagnostics said
 * on the insert path (cheap: the winner and how many were examined), plus
 * every member of the item's queue now, each with the reasons it is or is
 * not eligible for this item.  Routing itself never computes this, so its
 * cost does not grow with the size of a queue.  Skills are judged by the
 * item's skill_matching (an escalation step set it) if it has one, else
 * by its workstream's, and the result says which.
 */
CREATE OR REPLACE FUNCTION omniroute.explain(work_item_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w  omniroute.work_item;
    ws omniroute.workstream;
    q  omniroute.queue;
    members jsonb;
    matching text;
BEGIN
    SELECT * INTO w FROM omniroute.work_item i WHERE i.id = explain.work_item_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item % does not exist', explain.work_item_id
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO ws FROM omniroute.workstream WHERE id = w.workstream_id;
    SELECT * INTO q FROM omniroute.queue WHERE id = w.queue_id;
    matching := CASE WHEN w.skill_matching IN ('exact', 'closest', 'none') THEN w.skill_matching
                     ELSE ws.skill_matching END;

    SELECT coalesce(jsonb_agg(m ORDER BY (m->>'eligible')::boolean DESC,
                                         (m->>'free_units')::int DESC, (m->>'agent_id')::bigint), '[]')
      INTO members
      FROM (
        SELECT jsonb_build_object(
                 'agent_id', a.id, 'agent', a.name, 'presence', a.presence,
                 'free_units', a.capacity - a.used_units,
                 'holds_this_item', a.id IS NOT DISTINCT FROM w.agent_id,
                 'eligible', cardinality(r.reasons) = 0,
                 'reasons', to_jsonb(r.reasons)) AS m
          FROM omniroute.queue_member qm
          JOIN omniroute.agent a ON a.id = qm.agent_id
          JOIN omniroute.presence p ON p.name = a.presence
          CROSS JOIN LATERAL (
            SELECT array_remove(ARRAY[
              CASE WHEN ws.mode = 'pick' THEN 'pick mode: items are picked, not pushed' END,
              CASE WHEN a.is_bot THEN 'a bot' END,
              CASE WHEN NOT (a.presence = ANY (ws.allowed_presences) OR p.base = ANY (ws.allowed_presences))
                   THEN format('presence %s (%s) is not allowed', a.presence, p.base) END,
              CASE WHEN a.capacity - a.used_units < ws.capacity_units
                   THEN format('needs %s free unit(s), has %s', ws.capacity_units, a.capacity - a.used_units) END,
              CASE WHEN a.id = ANY (w.declined_agents) THEN 'rejected or missed this item before' END,
              CASE WHEN ws.capacity_profile IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM omniroute.agent_profile ap
                          WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile)
                   THEN format('does not have capacity profile %s', ws.capacity_profile) END,
              (SELECT format('capacity profile %s is full (%s of %s)', ap.profile, used, lim)
                 FROM omniroute.agent_profile ap
                 JOIN omniroute.capacity_profile cp ON cp.name = ap.profile
                 CROSS JOIN LATERAL (SELECT CASE WHEN cp.reset = 'never' THEN ap.active_items
                                                 WHEN ap.day = (now() AT TIME ZONE a.timezone)::date THEN ap.day_items
                                                 ELSE 0 END AS used,
                                            coalesce(ap.max_items, cp.max_items) AS lim) u
                WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile AND used >= lim),
              CASE WHEN matching = 'exact' THEN
                (SELECT string_agg(format('lacks skill %s at %s (has %s)', rs.key, rs.value,
                                          coalesce(s.proficiency::text, 'none')), '; ')
                   FROM jsonb_each_text(w.required_skills) rs
                   LEFT JOIN omniroute.agent_skill s ON s.agent_id = a.id AND s.skill = rs.key
                  WHERE coalesce(s.proficiency, 0) < rs.value::int) END
            ], NULL) AS reasons) r
         WHERE qm.queue_id = w.queue_id) x;

    RETURN jsonb_build_object(
        'work_item_id', w.id, 'state', w.state, 'workstream', ws.name,
        'queue_id', q.id, 'queue', q.name, 'method', q.assignment,
        'agent_id', w.agent_id, 'required_skills', w.required_skills,
        'skill_matching', matching,
        'skill_matching_from', CASE WHEN matching IS NOT DISTINCT FROM w.skill_matching
                                    THEN 'item' ELSE 'workstream' END,
        'declined_agents', to_jsonb(w.declined_agents),
        'queue_open', omniroute.queue_is_open(q.id),
        'escalation_level', w.escalation_level,
        'escalations', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                          FROM omniroute.work_item_event e
                         WHERE e.work_item_id = w.id AND e.event = 'escalated' AND e.detail ? 'level'),
        'overflows', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                        FROM omniroute.work_item_event e
                       WHERE e.work_item_id = w.id AND e.event = 'overflowed'),
        'diagnostics', w.diagnostics,
        'members', members);
END
$$;

-- ---------------------------------------------------------------------------
-- Re-offers and percentage splits: workstream.max_offers_per_agent (how
-- many times one item may be offered to the same agent; explain() counts
-- the declines) and route_rule_split (a route rule's queues by percent,
-- summing to 100 at commit; copied by copy_workstream, dumped by pg_dump)
-- ---------------------------------------------------------------------------

ALTER TABLE omniroute.workstream
    ADD COLUMN max_offers_per_agent int NOT NULL DEFAULT 1 CHECK (max_offers_per_agent >= 1);

CREATE TABLE omniroute.route_rule_split (
    route_rule_id bigint NOT NULL REFERENCES omniroute.route_rule (id) ON DELETE CASCADE,
    queue_id      bigint NOT NULL REFERENCES omniroute.queue (id),
    percent       int NOT NULL CHECK (percent BETWEEN 1 AND 100),
    PRIMARY KEY (route_rule_id, queue_id)
);

CREATE FUNCTION omniroute.check_split_sum() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rule bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.route_rule_id ELSE NEW.route_rule_id END;
    total bigint;
    rule_name text;
BEGIN
    SELECT sum(s.percent) INTO total FROM omniroute.route_rule_split s WHERE s.route_rule_id = rule;
    SELECT r.name INTO rule_name FROM omniroute.route_rule r WHERE r.id = rule;
    IF total IS NOT NULL AND total <> 100 AND rule_name IS NOT NULL THEN
        RAISE EXCEPTION 'the split of route rule % ("%") sums to %, not 100', rule, rule_name, total
            USING ERRCODE = 'check_violation',
                  HINT = 'The percents of a route rule''s rows in omniroute.route_rule_split must add up to 100 when the transaction commits.';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER check_split_sum AFTER INSERT OR UPDATE OR DELETE ON omniroute.route_rule_split
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION omniroute.check_split_sum();

CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omniroute.route_rule_split
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.invalidate_cache('route_rule');

-- a queue that a split routes to counts its eligible members for that workstream
CREATE OR REPLACE VIEW omniroute.queue_stats AS
WITH live AS (
    -- the two partial indexes, each by its own predicate
    SELECT o.queue_id, o.state, o.created_at
      FROM omniroute.work_item o
     WHERE o.state = 'open'
    UNION ALL
    SELECT a.queue_id, a.state, NULL
      FROM omniroute.work_item a
     WHERE a.state IN ('offered', 'active', 'waiting', 'wrap_up')
), routes AS (
    -- which workstreams send work to which queue
    SELECT ws.fallback_queue_id AS queue_id, ws.id AS workstream_id
      FROM omniroute.workstream ws
    UNION
    SELECT r.queue_id, r.workstream_id
      FROM omniroute.route_rule r
    UNION
    SELECT s.queue_id, r.workstream_id
      FROM omniroute.route_rule_split s
      JOIN omniroute.route_rule r ON r.id = s.route_rule_id
)
SELECT q.id AS queue_id,
       q.name AS queue,
       q.assignment,
       q.priority,
       coalesce(l.open, 0) AS open,
       coalesce(l.offered, 0) AS offered,
       coalesce(l.active, 0) AS active,
       coalesce(l.waiting, 0) AS waiting,
       coalesce(l.wrap_up, 0) AS wrap_up,
       now() - l.oldest_open AS longest_wait,
       coalesce(e.eligible, 0) AS eligible_agents_now
  FROM omniroute.queue q
  LEFT JOIN (
        SELECT w.queue_id,
               count(*) FILTER (WHERE w.state = 'open') AS open,
               count(*) FILTER (WHERE w.state = 'offered') AS offered,
               count(*) FILTER (WHERE w.state = 'active') AS active,
               count(*) FILTER (WHERE w.state = 'waiting') AS waiting,
               count(*) FILTER (WHERE w.state = 'wrap_up') AS wrap_up,
               min(w.created_at) AS oldest_open
          FROM live w
         GROUP BY w.queue_id
       ) l ON l.queue_id = q.id
  LEFT JOIN (
        SELECT m.queue_id, count(*) AS eligible
          FROM omniroute.queue_member m
          JOIN omniroute.agent a ON a.id = m.agent_id AND NOT a.is_bot
          JOIN omniroute.presence p ON p.name = m.presence
         WHERE CASE
                   WHEN EXISTS (SELECT 1 FROM routes rt WHERE rt.queue_id = m.queue_id)
                   THEN EXISTS (SELECT 1
                                  FROM routes rt
                                  JOIN omniroute.workstream ws ON ws.id = rt.workstream_id
                                 WHERE rt.queue_id = m.queue_id
                                   AND (p.name = ANY (ws.allowed_presences)
                                        OR p.base = ANY (ws.allowed_presences))
                                   AND m.free_units >= ws.capacity_units)
                   ELSE p.base = 'available' AND m.free_units > 0
               END
         GROUP BY m.queue_id
       ) e ON e.queue_id = q.id;

REVOKE ALL ON FUNCTION omniroute.check_split_sum() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.check_split_sum() TO omniroute_admin;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON omniroute.route_rule_split TO omniroute_admin;
SELECT pg_catalog.pg_extension_config_dump('omniroute.route_rule_split', '');

CREATE OR REPLACE FUNCTION omniroute.explain(work_item_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w  omniroute.work_item;
    ws omniroute.workstream;
    q  omniroute.queue;
    members jsonb;
    matching text;
BEGIN
    SELECT * INTO w FROM omniroute.work_item i WHERE i.id = explain.work_item_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item % does not exist', explain.work_item_id
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO ws FROM omniroute.workstream WHERE id = w.workstream_id;
    SELECT * INTO q FROM omniroute.queue WHERE id = w.queue_id;
    matching := CASE WHEN w.skill_matching IN ('exact', 'closest', 'none') THEN w.skill_matching
                     ELSE ws.skill_matching END;

    SELECT coalesce(jsonb_agg(m ORDER BY (m->>'eligible')::boolean DESC,
                                         (m->>'free_units')::int DESC, (m->>'agent_id')::bigint), '[]')
      INTO members
      FROM (
        SELECT jsonb_build_object(
                 'agent_id', a.id, 'agent', a.name, 'presence', a.presence,
                 'free_units', a.capacity - a.used_units,
                 'holds_this_item', a.id IS NOT DISTINCT FROM w.agent_id,
                 'eligible', cardinality(r.reasons) = 0,
                 'reasons', to_jsonb(r.reasons))
               || CASE WHEN d.n > 0 AND d.n < ws.max_offers_per_agent THEN jsonb_build_object(
                    'declined', format('declined %s of %s times: offered again only when nobody who declined it fewer times is eligible',
                                       d.n, ws.max_offers_per_agent)) ELSE '{}' END AS m
          FROM omniroute.queue_member qm
          JOIN omniroute.agent a ON a.id = qm.agent_id
          JOIN omniroute.presence p ON p.name = a.presence
          CROSS JOIN LATERAL (SELECT cardinality(array_positions(w.declined_agents, a.id)) AS n) d
          CROSS JOIN LATERAL (
            SELECT array_remove(ARRAY[
              CASE WHEN ws.mode = 'pick' THEN 'pick mode: items are picked, not pushed' END,
              CASE WHEN a.is_bot THEN 'a bot' END,
              CASE WHEN NOT (a.presence = ANY (ws.allowed_presences) OR p.base = ANY (ws.allowed_presences))
                   THEN format('presence %s (%s) is not allowed', a.presence, p.base) END,
              CASE WHEN a.capacity - a.used_units < ws.capacity_units
                   THEN format('needs %s free unit(s), has %s', ws.capacity_units, a.capacity - a.used_units) END,
              CASE WHEN d.n >= ws.max_offers_per_agent AND ws.max_offers_per_agent = 1
                   THEN 'rejected or missed this item before'
                   WHEN d.n >= ws.max_offers_per_agent
                   THEN format('declined %s of %s times', d.n, ws.max_offers_per_agent) END,
              CASE WHEN ws.capacity_profile IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM omniroute.agent_profile ap
                          WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile)
                   THEN format('does not have capacity profile %s', ws.capacity_profile) END,
              (SELECT format('capacity profile %s is full (%s of %s)', ap.profile, used, lim)
                 FROM omniroute.agent_profile ap
                 JOIN omniroute.capacity_profile cp ON cp.name = ap.profile
                 CROSS JOIN LATERAL (SELECT CASE WHEN cp.reset = 'never' THEN ap.active_items
                                                 WHEN ap.day = (now() AT TIME ZONE a.timezone)::date THEN ap.day_items
                                                 ELSE 0 END AS used,
                                            coalesce(ap.max_items, cp.max_items) AS lim) u
                WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile AND used >= lim),
              CASE WHEN matching = 'exact' THEN
                (SELECT string_agg(format('lacks skill %s at %s (has %s)', rs.key, rs.value,
                                          coalesce(s.proficiency::text, 'none')), '; ')
                   FROM jsonb_each_text(w.required_skills) rs
                   LEFT JOIN omniroute.agent_skill s ON s.agent_id = a.id AND s.skill = rs.key
                  WHERE coalesce(s.proficiency, 0) < rs.value::int) END
            ], NULL) AS reasons) r
         WHERE qm.queue_id = w.queue_id) x;

    RETURN jsonb_build_object(
        'work_item_id', w.id, 'state', w.state, 'workstream', ws.name,
        'queue_id', q.id, 'queue', q.name, 'method', q.assignment,
        'agent_id', w.agent_id, 'required_skills', w.required_skills,
        'skill_matching', matching,
        'skill_matching_from', CASE WHEN matching IS NOT DISTINCT FROM w.skill_matching
                                    THEN 'item' ELSE 'workstream' END,
        'declined_agents', to_jsonb(w.declined_agents),
        'queue_open', omniroute.queue_is_open(q.id),
        'escalation_level', w.escalation_level,
        'escalations', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                          FROM omniroute.work_item_event e
                         WHERE e.work_item_id = w.id AND e.event = 'escalated' AND e.detail ? 'level'),
        'overflows', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                        FROM omniroute.work_item_event e
                       WHERE e.work_item_id = w.id AND e.event = 'overflowed'),
        'diagnostics', w.diagnostics,
        'members', members);
END
$$;

CREATE OR REPLACE FUNCTION omniroute.copy_workstream(workstream_id bigint) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src      omniroute.workstream;
    copy     omniroute.workstream;
    n        int := 1;
    violated text;
BEGIN
    IF copy_workstream.workstream_id IS NULL THEN
        RAISE EXCEPTION 'workstream id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO src FROM omniroute.workstream w WHERE w.id = copy_workstream.workstream_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workstream % does not exist', copy_workstream.workstream_id
            USING ERRCODE = 'undefined_object';
    END IF;

    copy := src;
    LOOP
        copy.name := 'Copy of ' || src.name || CASE WHEN n > 1 THEN ' (' || n || ')' ELSE '' END;
        IF NOT EXISTS (SELECT 1 FROM omniroute.workstream w WHERE w.name = copy.name) THEN
            BEGIN
                -- the whole row, whatever its columns; OVERRIDING USER VALUE
                -- drops the copied id for a new one from the identity
                INSERT INTO omniroute.workstream OVERRIDING USER VALUE
                SELECT (copy).*
                RETURNING id INTO copy.id;
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                -- a concurrent copy took the name first: try the next one
                GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
                IF violated IS DISTINCT FROM 'workstream_name_key' THEN
                    RAISE;
                END IF;
            END;
        END IF;
        n := n + 1;
    END LOOP;

    INSERT INTO omniroute.context_variable (workstream_id, name, type)
    SELECT copy.id, v.name, v.type
      FROM omniroute.context_variable v
     WHERE v.workstream_id = src.id
     ORDER BY v.name;

    INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
    SELECT copy.id, c.position, c.name, c.condition, c.output
      FROM omniroute.classification_rule c
     WHERE c.workstream_id = src.id
     ORDER BY c.position;

    INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id)
    SELECT copy.id, r.position, r.name, r.condition, r.queue_id
      FROM omniroute.route_rule r
     WHERE r.workstream_id = src.id
     ORDER BY r.position;

    INSERT INTO omniroute.route_rule_split (route_rule_id, queue_id, percent)
    SELECT nr.id, s.queue_id, s.percent
      FROM omniroute.route_rule_split s
      JOIN omniroute.route_rule r ON r.id = s.route_rule_id
      JOIN omniroute.route_rule nr ON nr.workstream_id = copy.id AND nr.position = r.position
     WHERE r.workstream_id = src.id
     ORDER BY nr.id, s.queue_id;

    INSERT INTO omniroute.escalation_step (workstream_id, after, skill_matching, drop_skills, queue_id, add_priority)
    SELECT copy.id, e.after, e.skill_matching, e.drop_skills, e.queue_id, e.add_priority
      FROM omniroute.escalation_step e
     WHERE e.workstream_id = src.id
     ORDER BY e.after;

    RETURN copy.id;
END
$$;

COMMENT ON FUNCTION omniroute.copy_workstream(bigint) IS
    'Copy a workstream with its context variables, rules (with their splits) and escalation steps under the name '
    '''Copy of <name>'' (or ''Copy of <name> (2)'', ...); returns the new id.';

-- Preferred agents: workstream.preferred_agents and preferred_wait, the
-- preferred_agent table, and preferred_hold (items waiting for one)
-- ---------------------------------------------------------------------------

ALTER TABLE omniroute.workstream
    ADD COLUMN preferred_agents text NOT NULL DEFAULT 'off' CHECK (preferred_agents IN ('off', 'prefer')),
    ADD COLUMN preferred_wait interval CHECK (preferred_wait > interval '0' AND preferred_wait <= interval '366 days');

/*
 * Preferred agents of a customer (work_item.customer_id), best rank first
 * (1 is best): routing looks them up by customer_id (the primary key's
 * prefix); preferred_agent_agent_idx serves ON DELETE CASCADE.
 */
CREATE TABLE omniroute.preferred_agent (
    customer_id text NOT NULL,
    agent_id    bigint NOT NULL REFERENCES omniroute.agent (id) ON DELETE CASCADE,
    rank        int NOT NULL DEFAULT 1 CHECK (rank BETWEEN 1 AND 10),
    PRIMARY KEY (customer_id, agent_id)
);
CREATE INDEX preferred_agent_agent_idx ON omniroute.preferred_agent (agent_id);

/*
 * Open items waiting for a preferred agent: one row per item and preferred
 * agent, written by the extension only when an item starts to wait (so an
 * insert that does not wait pays nothing), until the item's preferred_wait
 * has passed since queued_at.  Other agents pass over an item with a row
 * whose until is ahead; a preferred agent who frees capacity finds their
 * waiting items by agent_id; tick() removes the rows whose until has
 * passed and routes their items to anyone (src/prefer.c).  No foreign
 * keys: nothing is locked to write a hold; a hold of an item no longer open,
 * or of an agent deleted since, is never read and goes when until passes.
 */
CREATE TABLE omniroute.preferred_hold (
    work_item_id bigint NOT NULL,
    agent_id     bigint NOT NULL,
    until        timestamptz NOT NULL,
    PRIMARY KEY (work_item_id, agent_id)
);
CREATE INDEX preferred_hold_agent_idx ON omniroute.preferred_hold (agent_id);
CREATE INDEX preferred_hold_until_idx ON omniroute.preferred_hold (until);

-- preferred agents: the admin configures them; the holds are the router's,
-- readable by the admin and supervisors
GRANT SELECT, INSERT, UPDATE, DELETE ON omniroute.preferred_agent TO omniroute_admin;
GRANT SELECT ON omniroute.preferred_agent, omniroute.preferred_hold TO omniroute_supervisor;
GRANT SELECT ON omniroute.preferred_hold TO omniroute_admin;

SELECT pg_catalog.pg_extension_config_dump('omniroute.preferred_agent', '');
SELECT pg_catalog.pg_extension_config_dump('omniroute.preferred_hold', '');

-- Timers: what tick() reads to find the escalation steps and max_wait
-- overflows that are due (src/timer.c), instead of two partial indexes on
-- work_item that every routed insert paid for; the open items that have
-- something due get theirs now
-- ---------------------------------------------------------------------------

/*
 * When tick() next has work to do for an open item: its workstream's next
 * escalation step (created_at + after) or its queue's max_wait (queued_at +
 * max_wait), the earlier (src/timer.c).  Written only for items that have
 * one of them configured, where an item becomes or stays open; a timer may
 * be stale (the item offered or closed since): tick() sets it again or
 * deletes it when it fires.  tick() reads the timers due, one range of
 * due_at: its work follows what is due, not the backlog.  Internal: the
 * admin reads it, nobody writes it but the extension.  No foreign key (a
 * check per write).
 */
CREATE TABLE omniroute.work_item_timer (
    work_item_id bigint PRIMARY KEY,
    due_at       timestamptz NOT NULL
);
CREATE INDEX work_item_timer_due_idx ON omniroute.work_item_timer (due_at);

/*
 * Timers (src/timer.c) after a change that may make an escalation step or
 * max_wait due earlier: steps added or changed arm the timers of their
 * workstreams' open items; a queue whose max_wait, overflow_action or
 * overflow_queue_id changed, those of its open items (work_item_open_idx).
 * SHARE on work_item first: it waits for the transactions that may have
 * routed or requeued items under the old configuration, and holds back
 * the next until commit (as CREATE INDEX does), which then see the new
 * one.  A change that makes things due later or never needs nothing: the
 * old timers fire early and tick() sets them again or deletes them.  A
 * restore arms nothing: the dump carries the timers.
 */
CREATE FUNCTION omniroute.work_item_timer_arm() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    workstreams bigint[] := '{}';
    queues      bigint[] := '{}';
BEGIN
    -- a restore (check_function_bodies off, as pg_restore sets it) brings
    -- the timers with the work items, in whatever order its jobs load them
    IF NOT current_setting('check_function_bodies')::boolean THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'escalation_step' THEN
        workstreams := ARRAY(SELECT DISTINCT n.workstream_id FROM new_rows n);
    ELSE
        queues := ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                         WHERE (n.max_wait, n.overflow_action, n.overflow_queue_id)
                               IS DISTINCT FROM (o.max_wait, o.overflow_action, o.overflow_queue_id));
    END IF;
    IF cardinality(workstreams) + cardinality(queues) = 0 THEN
        RETURN NULL;
    END IF;
    LOCK TABLE omniroute.work_item IN SHARE MODE;
    INSERT INTO omniroute.work_item_timer AS t (work_item_id, due_at)
    SELECT d.id, d.due_at
      FROM (SELECT i.id,
                   LEAST(i.created_at + (SELECT s.after FROM omniroute.escalation_step s
                                          WHERE s.workstream_id = i.workstream_id
                                          ORDER BY s.after OFFSET i.escalation_level LIMIT 1),
                         CASE WHEN q.max_wait IS NOT NULL AND q.overflow_action <> 'queue'
                                   AND (q.overflow_action = 'close' OR q.overflow_queue_id <> q.id)
                              THEN i.queued_at + q.max_wait END) AS due_at
              FROM omniroute.work_item i
              JOIN omniroute.queue q ON q.id = i.queue_id
             WHERE i.id IN (SELECT w.id FROM omniroute.work_item w
                             WHERE w.state = 'open' AND w.workstream_id = ANY (workstreams)
                            UNION ALL
                            SELECT w.id FROM omniroute.work_item w
                             WHERE w.state = 'open' AND w.queue_id = ANY (queues))
               AND i.state = 'open') d
     WHERE d.due_at IS NOT NULL
    ON CONFLICT (work_item_id) DO UPDATE SET due_at = excluded.due_at
     WHERE t.due_at IS DISTINCT FROM excluded.due_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER work_item_timer_arm AFTER INSERT ON omniroute.escalation_step
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.work_item_timer_arm();
CREATE TRIGGER work_item_timer_arm_update AFTER UPDATE ON omniroute.escalation_step
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.work_item_timer_arm();
CREATE TRIGGER work_item_timer_arm AFTER UPDATE ON omniroute.queue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION omniroute.work_item_timer_arm();
REVOKE ALL ON TABLE omniroute.work_item_timer FROM PUBLIC;
GRANT SELECT ON omniroute.work_item_timer TO omniroute_admin;
REVOKE ALL ON FUNCTION omniroute.work_item_timer_arm() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.work_item_timer_arm() TO omniroute_admin;
SELECT pg_catalog.pg_extension_config_dump('omniroute.work_item_timer', '');

INSERT INTO omniroute.work_item_timer (work_item_id, due_at)
SELECT d.id, d.due_at
  FROM (SELECT i.id,
               LEAST(i.created_at + (SELECT s.after FROM omniroute.escalation_step s
                                      WHERE s.workstream_id = i.workstream_id
                                      ORDER BY s.after OFFSET i.escalation_level LIMIT 1),
                     CASE WHEN q.max_wait IS NOT NULL AND q.overflow_action <> 'queue'
                               AND (q.overflow_action = 'close' OR q.overflow_queue_id <> q.id)
                          THEN i.queued_at + q.max_wait END) AS due_at
          FROM omniroute.work_item i
          JOIN omniroute.queue q ON q.id = i.queue_id
         WHERE i.state = 'open') d
 WHERE d.due_at IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Agent conditions: agent.attributes, queue.agent_condition (src/agentcond.c)
-- ---------------------------------------------------------------------------

ALTER TABLE omniroute.agent
    ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object');
ALTER TABLE omniroute.queue ADD COLUMN agent_condition text;

CREATE FUNCTION omniroute.check_agent_condition() RETURNS trigger
    LANGUAGE c SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'omniroute_check_agent_condition';

-- whether an agent satisfies the agent condition of an item's queue (explain)
CREATE FUNCTION omniroute.agent_condition_holds(work_item_id bigint, agent_id bigint) RETURNS boolean
    LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'omniroute_agent_condition_holds';
REVOKE ALL ON FUNCTION omniroute.check_agent_condition() FROM PUBLIC;
REVOKE ALL ON FUNCTION omniroute.agent_condition_holds(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION omniroute.check_agent_condition(),
    omniroute.agent_condition_holds(bigint, bigint) TO omniroute_admin;

CREATE TRIGGER check_agent_condition BEFORE INSERT OR UPDATE OF agent_condition ON omniroute.queue
    FOR EACH ROW EXECUTE FUNCTION omniroute.check_agent_condition();

GRANT INSERT (attributes) ON omniroute.agent TO omniroute_admin;

/*
 * The full account of an item's routing, on demand: what diagnostics said
 * on the insert path (cheap: the winner and how many were examined), plus
 * every member of the item's queue now, each with the reasons it is or is
 * not eligible for this item.  Routing itself never computes this, so its
 * cost does not grow with the size of a queue.
 */
CREATE OR REPLACE FUNCTION omniroute.explain(work_item_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w  omniroute.work_item;
    ws omniroute.workstream;
    q  omniroute.queue;
    members jsonb;
    matching text;
BEGIN
    SELECT * INTO w FROM omniroute.work_item i WHERE i.id = explain.work_item_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'work item % does not exist', explain.work_item_id
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO ws FROM omniroute.workstream WHERE id = w.workstream_id;
    SELECT * INTO q FROM omniroute.queue WHERE id = w.queue_id;
    matching := CASE WHEN w.skill_matching IN ('exact', 'closest', 'none') THEN w.skill_matching
                     ELSE ws.skill_matching END;

    SELECT coalesce(jsonb_agg(m ORDER BY (m->>'eligible')::boolean DESC,
                                         (m->>'free_units')::int DESC, (m->>'agent_id')::bigint), '[]')
      INTO members
      FROM (
        SELECT jsonb_build_object(
                 'agent_id', a.id, 'agent', a.name, 'presence', a.presence,
                 'free_units', a.capacity - a.used_units,
                 'holds_this_item', a.id IS NOT DISTINCT FROM w.agent_id,
                 'eligible', cardinality(r.reasons) = 0,
                 'reasons', to_jsonb(r.reasons))
               || CASE WHEN d.n > 0 AND d.n < ws.max_offers_per_agent THEN jsonb_build_object(
                    'declined', format('declined %s of %s times: offered again only when nobody who declined it fewer times is eligible',
                                       d.n, ws.max_offers_per_agent)) ELSE '{}' END AS m
          FROM omniroute.queue_member qm
          JOIN omniroute.agent a ON a.id = qm.agent_id
          JOIN omniroute.presence p ON p.name = a.presence
          CROSS JOIN LATERAL (SELECT cardinality(array_positions(w.declined_agents, a.id)) AS n) d
          CROSS JOIN LATERAL (
            SELECT array_remove(ARRAY[
              CASE WHEN ws.mode = 'pick' THEN 'pick mode: items are picked, not pushed' END,
              CASE WHEN a.is_bot THEN 'a bot' END,
              CASE WHEN NOT (a.presence = ANY (ws.allowed_presences) OR p.base = ANY (ws.allowed_presences))
                   THEN format('presence %s (%s) is not allowed', a.presence, p.base) END,
              CASE WHEN a.capacity - a.used_units < ws.capacity_units
                   THEN format('needs %s free unit(s), has %s', ws.capacity_units, a.capacity - a.used_units) END,
              CASE WHEN d.n >= ws.max_offers_per_agent AND ws.max_offers_per_agent = 1
                   THEN 'rejected or missed this item before'
                   WHEN d.n >= ws.max_offers_per_agent
                   THEN format('declined %s of %s times', d.n, ws.max_offers_per_agent) END,
              CASE WHEN ws.capacity_profile IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM omniroute.agent_profile ap
                          WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile)
                   THEN format('does not have capacity profile %s', ws.capacity_profile) END,
              (SELECT format('capacity profile %s is full (%s of %s)', ap.profile, used, lim)
                 FROM omniroute.agent_profile ap
                 JOIN omniroute.capacity_profile cp ON cp.name = ap.profile
                 CROSS JOIN LATERAL (SELECT CASE WHEN cp.reset = 'never' THEN ap.active_items
                                                 WHEN ap.day = (now() AT TIME ZONE a.timezone)::date THEN ap.day_items
                                                 ELSE 0 END AS used,
                                            coalesce(ap.max_items, cp.max_items) AS lim) u
                WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile AND used >= lim),
              CASE WHEN q.agent_condition IS NOT NULL
                        AND NOT omniroute.agent_condition_holds(w.id, a.id)
                   THEN format('does not satisfy the agent condition: %s', q.agent_condition) END,
              CASE WHEN matching = 'exact' THEN
                (SELECT string_agg(format('lacks skill %s at %s (has %s)', rs.key, rs.value,
                                          coalesce(s.proficiency::text, 'none')), '; ')
                   FROM jsonb_each_text(w.required_skills) rs
                   LEFT JOIN omniroute.agent_skill s ON s.agent_id = a.id AND s.skill = rs.key
                  WHERE coalesce(s.proficiency, 0) < rs.value::int) END
            ], NULL) AS reasons) r
         WHERE qm.queue_id = w.queue_id) x;

    RETURN jsonb_build_object(
        'work_item_id', w.id, 'state', w.state, 'workstream', ws.name,
        'queue_id', q.id, 'queue', q.name, 'method', q.assignment,
        'agent_id', w.agent_id, 'required_skills', w.required_skills,
        'skill_matching', matching,
        'skill_matching_from', CASE WHEN matching IS NOT DISTINCT FROM w.skill_matching
                                    THEN 'item' ELSE 'workstream' END,
        'declined_agents', to_jsonb(w.declined_agents),
        'queue_open', omniroute.queue_is_open(q.id),
        'escalation_level', w.escalation_level,
        'escalations', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                          FROM omniroute.work_item_event e
                         WHERE e.work_item_id = w.id AND e.event = 'escalated' AND e.detail ? 'level'),
        'overflows', (SELECT jsonb_agg(e.detail || jsonb_build_object('at', e.at) ORDER BY e.id)
                        FROM omniroute.work_item_event e
                       WHERE e.work_item_id = w.id AND e.event = 'overflowed'),
        'diagnostics', w.diagnostics,
        'members', members);
END
$$;

-- ---------------------------------------------------------------------------
-- The tick worker: a launcher starts one in every database with the
-- extension; the update wakes it for this database at its commit
-- ---------------------------------------------------------------------------

CREATE FUNCTION omniroute.wake_worker() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'omniroute_wake_worker';
REVOKE EXECUTE ON FUNCTION omniroute.wake_worker() FROM PUBLIC;

SELECT omniroute.wake_worker();
