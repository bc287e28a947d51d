-- test/backup/digest.sql — one line per table of the extension (row count and
-- an md5 of its rows in a fixed order) and per sequence (its state): what
-- must be equal before and after a backup, an update or an upgrade.
-- psql -At -f; run in the database to digest.  With -v only_columns=
-- 'table.column,...', only those columns and their tables count (the
-- columns of an older version, for an update that adds some).
\if :{?only_columns}
\else
\set only_columns ''
\endif
SELECT format('SELECT %L AS tab, count(*) AS n, md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) FROM (SELECT %s FROM %s) t',
              c.relname,
              (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                 FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND (:'only_columns' = ''
                       OR c.relname || '.' || a.attname = ANY (string_to_array(:'only_columns', ',')))),
              c.oid::regclass)
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omniroute')
   AND d.deptype = 'e' AND c.relkind = 'r'
   -- with only_columns, the tables of the older version (an update's new
   -- tables have none of its columns)
   AND (:'only_columns' = ''
        OR EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                      AND c.relname || '.' || a.attname = ANY (string_to_array(:'only_columns', ','))))
 ORDER BY c.relname
\gexec
SELECT format('SELECT %L AS seq, last_value, is_called FROM %s', c.relname, c.oid::regclass)
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omniroute')
   AND d.deptype = 'e' AND c.relkind = 'S'
 ORDER BY c.relname
\gexec
