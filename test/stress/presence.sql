-- a random agent changes presence
\set aid random(1, 40)
\set p random(1, 5)
SELECT omniroute.set_presence(:aid::bigint, (ARRAY['available', 'busy', 'away', 'offline', 'Lunch'])[:p]);
