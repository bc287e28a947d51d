#!/usr/bin/env bash
# test/prune/run.sh — routing reads agent and queue_member pages without
# pruning them until they are nearly full (src/direct.c, "Index scans that
# leave page pruning to VACUUM"), and prunes them once they are.
#
# Both tables have fillfactor 50, so once loaded their pages sit at the point
# where a plain index scan prunes a page holding any deleted version.  Each
# routed insert below rewrites one agent row (a HOT update) and its
# membership: the old versions stay on the page for a later VACUUM instead
# of being pruned by the next routing.  When so many have piled up that a
# page is nearly full, routing prunes it: the agent table does not grow.
# Autovacuum is off and no worker serves this database, so nothing else
# prunes or vacuums.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="autovacuum = off" throwaway_cluster prune

fail() { echo "prune: $*"; exit 1; }
q() { psql -X -At -q -v ON_ERROR_STOP=1 -d prune -c "$1"; }

createdb prune
psql -X -q -v ON_ERROR_STOP=1 -d prune <<'SQL'
CREATE EXTENSION omniroute;
CREATE EXTENSION pageinspect;
INSERT INTO omniroute.queue (id, name, assignment) VALUES (1, 'q', 'round_robin');
-- the first page of agents holds agents 1 to about 30; the ten members are on it
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT a, 'agent ' || a, 'available', 1000000 FROM generate_series(1, 100) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 1, a FROM generate_series(1, 10) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES (1, 'w', 1, 'none');
VACUUM omniroute.agent, omniroute.queue_member;
SQL

# tuple versions on a page that are still there (live or not yet pruned)
versions() { q "SELECT count(*) FROM heap_page_items(get_raw_page('$1', $2)) WHERE lp_flags = 1"; }
# each routed in a transaction of its own, so that the versions it replaced
# are dead to everyone by the next one
route() {
	for _ in $(seq 1 "$1"); do
		q "INSERT INTO omniroute.work_item (workstream_id) VALUES (1)"
	done
}

[ "$(q "SELECT count(*) FROM omniroute.agent WHERE ctid < '(1,0)' AND id <= 10")" = 10 ] ||
	fail "the members are not all on the agent table's first page"
agents0=$(versions omniroute.agent 0)
members0=$(versions omniroute.queue_member 0)

# a few routings: every old version is still on its page
route 6
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")" = 6 ] ||
	fail "the items were not offered"
agents=$(versions omniroute.agent 0)
members=$(versions omniroute.queue_member 0)
[ "$agents" -eq $((agents0 + 6)) ] ||
	fail "expected $((agents0 + 6)) versions on the agent page after 6 assignments (none pruned), found $agents"
[ "$members" -eq $((members0 + 6)) ] ||
	fail "expected $((members0 + 6)) versions on the membership page after 6 assignments, found $members"
# while SQL reading the page prunes it (the page is at its fillfactor)
q "SELECT count(*) FROM omniroute.agent WHERE name <> ''" >/dev/null
[ "$(versions omniroute.agent 0)" -eq "$agents0" ] ||
	fail "a plain scan of the agent table left $(versions omniroute.agent 0) versions on its page, not $agents0"

# many more: the agent page is pruned once nearly full, so every update
# stays on it (HOT) and the table keeps its size
size=$(q "SELECT pg_relation_size('omniroute.agent')")
route 300
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")" = 306 ] ||
	fail "the items were not all offered"
after=$(q "SELECT pg_relation_size('omniroute.agent')")
[ "$after" = "$size" ] ||
	fail "the agent table grew from $size to $after bytes: its full page was not pruned"
agents=$(versions omniroute.agent 0)
[ "$agents" -lt $((agents0 + 300)) ] ||
	fail "expected the agent page pruned during 300 assignments, found $agents versions on it"
echo "prune: ok (agent page: $agents0 versions, $((agents0 + 6)) after 6 routings, $agents after 306)"
