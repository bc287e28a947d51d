#!/usr/bin/env bash
# test/prune/run.sh — routing reads agent and queue_member pages without
# pruning them until they are nearly full (src/direct.c, "Index scans that
# prune a page only when it is nearly full"), and prunes them once they are.
#
# Both tables have fillfactor 50, so once loaded their pages sit at the point
# where a plain scan prunes a page holding any deleted version (shown below
# by one).  Each routed insert rewrites one agent row (a HOT update) and the
# agent's six memberships: the old versions stay on their pages instead of
# being pruned by the next routing.  When so many have piled up that a page
# is nearly full, routing prunes it: the agent table does not grow, and
# queue_member grows by a quarter of what it does when never pruned.
# Autovacuum is off and no worker serves this database (omniroute.database
# names another), so nothing else prunes or vacuums.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="autovacuum = off\nomniroute.database = 'postgres'" throwaway_cluster prune

createdb prune
psql -X -q -v ON_ERROR_STOP=1 -d prune <<'SQL'
CREATE EXTENSION omniroute;
CREATE EXTENSION pageinspect;
INSERT INTO omniroute.queue (id, name, assignment)
SELECT q, 'q' || q, 'round_robin' FROM generate_series(1, 6) AS q;
-- the first page of agents holds the first 40 or so; the ten members are on
-- it, and their 60 memberships fill the first page of queue_member to its
-- fillfactor
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT a, 'agent ' || a, 'available', 1000000 FROM generate_series(1, 100) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id)
SELECT q, a FROM generate_series(1, 6) AS q, generate_series(1, 10) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES (1, 'w', 1, 'none');
VACUUM omniroute.agent, omniroute.queue_member;
SQL

# queue_member grows by 6 pages over the 300 routings below when its pages are
# pruned once nearly full, by 24 when they are never pruned
MEMBER_GROWTH_MAX=12
# tuple versions on a page that are still there (live or not yet pruned)
versions() { q "SELECT count(*) FROM heap_page_items(get_raw_page('$1', $2)) WHERE lp_flags = 1"; }
# line pointers that only pruning leaves (redirected, dead or unused)
pruned() { q "SELECT count(*) FROM heap_page_items(get_raw_page('$1', $2)) WHERE lp_flags <> 1"; }
pages() { q "SELECT pg_relation_size('$1') / 8192"; }
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

# a few routings: every old version is still on its page, none pruned
route 6
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")" = 6 ] ||
	fail "the items were not offered"
agents=$(versions omniroute.agent 0)
members=$(versions omniroute.queue_member 0)
[ "$agents" -eq $((agents0 + 6)) ] && [ "$(pruned omniroute.agent 0)" = 0 ] ||
	fail "expected $((agents0 + 6)) versions and nothing pruned on the agent page after 6 assignments, found $agents versions, $(pruned omniroute.agent 0) pruned"
[ "$members" -gt "$members0" ] && [ "$(pruned omniroute.queue_member 0)" = 0 ] ||
	fail "expected more than $members0 versions and nothing pruned on the membership page after 6 assignments, found $members, $(pruned omniroute.queue_member 0) pruned"
# while SQL reading these pages prunes them: they are at their fillfactor
q "SELECT count(*) FROM omniroute.agent WHERE name <> ''" >/dev/null
q "SELECT count(*) FROM omniroute.queue_member WHERE presence <> ''" >/dev/null
[ "$(versions omniroute.agent 0)" -eq "$agents0" ] ||
	fail "a plain scan of the agent table left $(versions omniroute.agent 0) versions on its page, not $agents0"
[ "$(pruned omniroute.queue_member 0)" -gt 0 ] ||
	fail "a plain scan of queue_member did not prune its first page: the test does not show what routing leaves"

# many more: a page is pruned once nearly full, so every agent update stays
# on its page (HOT) and the agent table keeps its size; membership versions
# move to other pages only now and then
agent_pages=$(pages omniroute.agent)
member_pages=$(pages omniroute.queue_member)
route 300
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")" = 306 ] ||
	fail "the items were not all offered"
[ "$(pages omniroute.agent)" = "$agent_pages" ] ||
	fail "the agent table grew from $agent_pages to $(pages omniroute.agent) pages: its full page was not pruned"
[ "$(pages omniroute.queue_member)" -le $((member_pages + MEMBER_GROWTH_MAX)) ] ||
	fail "queue_member grew from $member_pages to $(pages omniroute.queue_member) pages: its full pages were not pruned"
echo "prune: ok (agent page: $agents0 versions, $((agents0 + 6)) after 6 routings; queue_member $member_pages -> $(pages omniroute.queue_member) pages over 300)"
