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
