-- test/upgrade/catalog.sql — the extension's schema as text, one object a
-- line, sorted, without OIDs: what an update must make identical to a fresh
-- install (test/upgrade/run.sh diffs two of these).  Run with psql -At in
-- the database to describe.
\set QUIET on
SET search_path = pg_catalog;
CREATE TEMP VIEW ext_member AS
SELECT d.classid, d.objid
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omniroute');
-- sorted aclitems, so that the order grants were made in does not count
CREATE FUNCTION pg_temp.acl(a aclitem[]) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(x::text, ',' ORDER BY x::text), '-') FROM unnest(a) x $$;

SELECT line FROM (
-- the extension itself and what pg_dump carries of it
SELECT 'extension ' || e.extversion || ' relocatable=' || e.extrelocatable
       || ' schema=' || e.extnamespace::regnamespace AS line
  FROM pg_extension e WHERE e.extname = 'omniroute'
UNION ALL
SELECT 'config_dump ' || c::regclass || ' ' || quote_literal(coalesce(w, ''))
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, w)
 WHERE e.extname = 'omniroute'
UNION ALL
SELECT 'schema ' || n.nspname || ' owner=' || n.nspowner::regrole || ' acl=' || pg_temp.acl(n.nspacl)
  FROM pg_namespace n WHERE n.nspname = 'omniroute'
UNION ALL
-- relations: tables, views, sequences, indexes
SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
       || ' options=' || coalesce(array_to_string(c.reloptions, ','), '-')
       || ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity
       || ' acl=' || pg_temp.acl(c.relacl)
       || coalesce(' comment=' || quote_literal(obj_description(c.oid, 'pg_class')), '')
  FROM ext_member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
UNION ALL
-- columns, numbered among the live ones (an update's dropped columns leave holes)
SELECT 'column ' || c.oid::regclass || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
       || ' ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
       || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
       || CASE a.attgenerated WHEN 's' THEN ' generated stored' ELSE '' END
       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
               THEN ' collate ' || a.attcollation::regcollation ELSE '' END
       || ' acl=' || pg_temp.acl(a.attacl)
  FROM ext_member m
  JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('r', 'v', 'p')
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass || ' ' || quote_ident(c.conname) || ' '
       || pg_get_constraintdef(c.oid)
       || CASE WHEN c.condeferrable THEN ' deferrable' ELSE '' END
       || CASE WHEN c.condeferred THEN ' deferred' ELSE '' END
       || CASE WHEN c.convalidated THEN '' ELSE ' not valid' END
  FROM ext_member m
  JOIN pg_constraint c ON m.classid = 'pg_class'::regclass AND c.conrelid = m.objid
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
  FROM ext_member m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
UNION ALL
SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL)
       || ' start=' || s.seqstart || ' increment=' || s.seqincrement || ' min=' || s.seqmin
       || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
  FROM ext_member m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
  FROM ext_member m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
 WHERE NOT t.tgisinternal
UNION ALL
SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' || p.permissive
       || ' ' || p.cmd || ' to=' || array_to_string(p.roles, ',')
       || ' using=' || coalesce(p.qual, '-') || ' check=' || coalesce(p.with_check, '-')
  FROM pg_policies p WHERE p.schemaname = 'omniroute'
UNION ALL
SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid)
  FROM ext_member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
UNION ALL
-- functions, whole: language, volatility, strictness, SECURITY DEFINER,
-- SET search_path, body
SELECT 'function ' || p.oid::regprocedure || ' owner=' || p.proowner::regrole
       || ' acl=' || pg_temp.acl(p.proacl)
       || coalesce(' comment=' || quote_literal(obj_description(p.oid, 'pg_proc')), '')
       || ' ' || pg_get_functiondef(p.oid)
  FROM ext_member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
UNION ALL
SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text
  FROM ext_member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
UNION ALL
-- anything else the extension owns, by kind and identity
SELECT 'object ' || (pg_identify_object(m.classid, m.objid, 0)).type || ' '
       || (pg_identify_object(m.classid, m.objid, 0)).identity
  FROM ext_member m
 WHERE m.classid NOT IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
UNION ALL
-- the roles the extension makes (they live outside it)
SELECT 'role ' || r.rolname || ' login=' || r.rolcanlogin || ' super=' || r.rolsuper
  FROM pg_roles r WHERE r.rolname LIKE 'omniroute\_%'
) all_lines
ORDER BY line;
