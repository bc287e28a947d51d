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
-- The tick worker: a launcher starts one in every database with the
-- extension; the update wakes it for this database at its commit
-- ---------------------------------------------------------------------------

CREATE FUNCTION omniroute.wake_worker() RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'omniroute_wake_worker';
REVOKE EXECUTE ON FUNCTION omniroute.wake_worker() FROM PUBLIC;

SELECT omniroute.wake_worker();
