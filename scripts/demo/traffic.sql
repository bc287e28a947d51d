-- A morning of traffic: 50 work items arriving one by one.  Each INSERT
-- is routed in its own transaction, as an application would do it.
-- No longer part of `make demo` (its day is people.sql); test/backup and
-- test/upgrade load it on top of contact_center.sql.

\set QUIET on
SELECT setseed(0.42);

CREATE TEMP TABLE arrivals AS
SELECT n,
       CASE WHEN n % 10 IN (3, 7) THEN 2 WHEN n % 10 = 5 THEN 3 ELSE 1 END AS workstream_id,
       (ARRAY['billing question', 'login', 'refund please', 'outage', 'tech setup',
              'delivery', 'bug', 'bill copy', 'returns', 'login'])[1 + (n * 7) % 10] AS topic,
       (ARRAY['en', 'en', 'fr', 'en', 'es', 'en', 'fr-CA', 'en'])[1 + (n * 3) % 8] AS language,
       (ARRAY['US', 'GB', 'FR', 'US', 'DE', 'CA', 'IE', 'US', 'FR'])[1 + (n * 5) % 9] AS country,
       ((n * 137) % 900)::int AS cart_value
  FROM generate_series(1, 50) AS n;

SELECT format(
         'INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context) VALUES (%s, %L, %L, %L)',
         workstream_id,
         CASE workstream_id WHEN 1 THEN 'chat-' WHEN 2 THEN 'case-' ELSE 'call-' END || lpad(n::text, 4, '0'),
         'CUST-' || (1000 + (n * 37) % 400),
         CASE workstream_id
             WHEN 1 THEN jsonb_build_object('topic', topic, 'language', language,
                                            'country', country, 'cart_value', cart_value)
             WHEN 2 THEN jsonb_build_object('severity', 1 + n % 4, 'product', topic)
             ELSE jsonb_build_object('ivr_choice', (1 + n % 3)::text)
         END)
  FROM arrivals ORDER BY n
\gexec
