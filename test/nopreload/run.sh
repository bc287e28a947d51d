#!/usr/bin/env bash
# test/nopreload/run.sh — routing on INSERT needs no preloading: on a cluster
# without shared_preload_libraries, CREATE EXTENSION is enough to route (the
# library is loaded by the first call), and no tick worker runs.  Only timed
# behaviour needs the worker; tick() called by hand still works.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PRELOAD=0 throwaway_cluster nopreload

q() { psql -X -At -q -v ON_ERROR_STOP=1 -d postgres -c "$1"; }

[ -z "$(q "SHOW shared_preload_libraries")" ] || { echo "nopreload: the cluster preloads something"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'q');
INSERT INTO omniroute.agent (id, name, presence) VALUES (1, 'a', 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, 1);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout) VALUES (1, 'w', 1, '1 minute');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (1, 1);
SQL
got=$(q "SELECT state || ' ' || agent_id FROM omniroute.work_item WHERE id = 1")
[ "$got" = "offered 1" ] || { echo "nopreload: the item was not routed: '$got'"; exit 1; }
workers=$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")
[ "$workers" = 0 ] || { echo "nopreload: a tick worker runs without preloading"; exit 1; }
actions=$(q "SELECT omniroute.tick(now() + interval '2 minutes')")
missed=$(q "SELECT state FROM omniroute.work_item WHERE id = 1")
[ "$actions" = 1 ] && [ "$missed" = open ] || { echo "nopreload: tick by hand did not expire the offer ($actions, $missed)"; exit 1; }
echo "nopreload: routed on INSERT without preloading, no worker, tick() by hand works: ok"
