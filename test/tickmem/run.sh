#!/usr/bin/env bash
# test/tickmem/run.sh — a tick that handles many items keeps its memory
# bounded: each item is handled in an SPI connection of its own (src/tick.c),
# so query results do not pile up over the thousand items a tick may take.
# 1,000 offers time out at once in a queue of 1,000 agents; the backend's
# peak resident memory (VmHWM) may grow by less than 50 MB during the tick
# (kept results grew it by about 70 MB here, and by gigabytes on larger
# configurations).  No worker ticks the database (omniroute.database names
# another): the one tick is the test's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="omniroute.database = 'postgres'" throwaway_cluster tickmem

createdb tickmem
psql -X -q -v ON_ERROR_STOP=1 -d tickmem <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'q');
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT a, 'agent ' || a, 'available', 1000 FROM generate_series(1, 1000) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 1, a FROM generate_series(1, 1000) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, offer_timeout)
VALUES (1, 'w', 1, 'none', '1 second');
INSERT INTO omniroute.work_item (workstream_id) SELECT 1 FROM generate_series(1, 1000);
SQL

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
coproc PSQL { psql -X -At -q -v ON_ERROR_STOP=1 -d tickmem; }
echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"
read -r pid <&"${PSQL[0]}"
before=$(hwm "$pid")
echo "SELECT omniroute.tick(now() + interval '1 minute');" >&"${PSQL[1]}"
read -r actions <&"${PSQL[0]}"
after=$(hwm "$pid")
echo '\q' >&"${PSQL[1]}"

[ "$actions" = 1000 ] || { echo "tickmem: expected 1000 offers to time out, tick said '$actions'"; exit 1; }
grown=$((after - before))
[ "$grown" -lt 51200 ] || { echo "tickmem: the tick's peak memory grew by $grown kB ($before -> $after)"; exit 1; }
echo "tickmem: 1000 offers timed out in one tick, peak memory grew by $grown kB: ok"
