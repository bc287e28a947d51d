#!/usr/bin/env bash
# test/serving/run.sh — serving costs in proportion to what it assigns, not
# to the backlog (src/serve.c, src/tick.c).  A queue holds 100,000 open
# items that need a skill none of its 21 agents has, and one item behind
# them that they can all take.  Every agent is full; then:
#   - the first close() must give its agent that one item (it is last in
#     the queue's order: serving must find it past the backlog);
#   - close(), set_presence() and tick() must each take less than a bound
#     (the fastest of 5 runs: the machine is shared): 25 ms for close(),
#     20 ms for set_presence(), 30 ms for tick(), in a session that would
#     JIT-compile any statement of real cost.  Reading the backlog took them
#     hundreds of milliseconds and seconds; a JIT compilation per call of
#     the extension's own statements 40, 36 and 71 ms.
# Prints the times it measured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PRELOAD=0 throwaway_cluster serving

CLOSE_MS=25
PRESENCE_MS=20
TICK_MS=30

createdb serving
psql -X -q -v ON_ERROR_STOP=1 -d serving <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.skill (name) VALUES ('common'), ('rare');
INSERT INTO omniroute.queue (id, name) VALUES (1, 'Backlog');
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT a, 'agent ' || a, 'available', 2 FROM generate_series(1, 21) AS a;
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency)
SELECT a, 'common', 5 FROM generate_series(1, 21) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 1, a FROM generate_series(1, 21) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, offer_timeout)
VALUES (1, 'w', 1, 'exact', '1 hour');

-- every agent full: two offers each
INSERT INTO omniroute.work_item (workstream_id) SELECT 1 FROM generate_series(1, 42);

-- the backlog nobody can take, loaded as a restore loads routed work (a
-- superuser's rows with diagnostics are taken as they are): ahead of
-- everything else in the queue's order
INSERT INTO omniroute.work_item (workstream_id, queue_id, state, required_skills, priority,
                                 created_at, diagnostics)
SELECT 1, 1, 'open', '{"rare": 3}', 5, now() - interval '1 day' + i * interval '1 ms', '{}'
  FROM generate_series(1, 100000) AS i;

-- the one item they can take, last in the order
INSERT INTO omniroute.work_item (id, workstream_id, required_skills, priority)
VALUES (1000000, 1, '{"common": 1}', 0);

VACUUM ANALYZE;
SQL

[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'open'")" = 100001 ] ||
	fail "expected 100001 open items"
[ "$(q "SELECT count(*) FROM omniroute.agent WHERE used_units = capacity")" = 21 ] ||
	fail "expected every agent to be full"

# ms SQL...: in a session of its own, after a tick that prepares its
# plans, the milliseconds each SQL took, on one line.  The session would
# JIT-compile any statement of real cost: the extension's own statements
# must not be (one compilation per call costs more than the bounds allow)
ms() {
	local sql="" s
	for s in "$@"; do sql+="SELECT pg_temp.ms(\$q\$$s\$q\$);"$'\n'; done
	PGOPTIONS="-c jit=on -c jit_above_cost=1 -c jit_inline_above_cost=1e9 -c jit_optimize_above_cost=1e9" \
		psql -X -At -q -v ON_ERROR_STOP=1 -d serving <<SQL | tail -n $# | paste -sd ' '
CREATE FUNCTION pg_temp.ms(sql text) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE
    t timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN round(extract(epoch FROM clock_timestamp() - t)::numeric * 1000, 1);
END
\$\$;
SELECT omniroute.tick(now() + interval '1 minute');
$sql
SQL
}

# fastest TIME...: the least of them
fastest() { printf '%s\n' "$@" | sort -g | head -1; }

# the first close() serves its agent the one item they can take
first_item=$(q "SELECT min(id) FROM omniroute.work_item WHERE agent_id = 1")
first_close=$(ms "SELECT omniroute.close($first_item)")
[ "$(q "SELECT state || ' ' || agent_id FROM omniroute.work_item WHERE id = 1000000")" = "offered 1" ] ||
	fail "close() did not serve its agent the item behind the backlog"

closes=()
presences=()
ticks=()
for a in 2 3 4 5 6; do
	item=$(q "SELECT min(id) FROM omniroute.work_item WHERE agent_id = $a AND state = 'offered'")
	read -r c p t < <(ms "SELECT omniroute.close($item)" "SELECT omniroute.set_presence($a, 'busy')" \
		"SELECT omniroute.tick(now() + interval '1 minute')")
	closes+=("$c")
	presences+=("$p")
	ticks+=("$t")
done
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'open'")" = 100000 ] ||
	fail "the backlog nobody can take was served"

close_ms=$(fastest "${closes[@]}")
presence_ms=$(fastest "${presences[@]}")
tick_ms=$(fastest "${ticks[@]}")
echo "serving: 100,000 open items nobody can take, 21 agents: first close (serves the item behind them) ${first_close} ms;" \
	"fastest of 5: close ${close_ms} ms, set_presence ${presence_ms} ms, tick ${tick_ms} ms" \
	"(all: close ${closes[*]}; set_presence ${presences[*]}; tick ${ticks[*]})"
awk -v t="$close_ms" -v b="$CLOSE_MS" 'BEGIN { exit !(t < b) }' || fail "close() took ${close_ms} ms (bound ${CLOSE_MS} ms)"
awk -v t="$presence_ms" -v b="$PRESENCE_MS" 'BEGIN { exit !(t < b) }' || fail "set_presence() took ${presence_ms} ms (bound ${PRESENCE_MS} ms)"
awk -v t="$tick_ms" -v b="$TICK_MS" 'BEGIN { exit !(t < b) }' || fail "tick() took ${tick_ms} ms (bound ${TICK_MS} ms)"
echo "serving: ok"
