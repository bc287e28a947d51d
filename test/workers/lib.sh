# test/workers/lib.sh — sourced by test/workers/run.sh and
# test/worker_slots/run.sh (after test/throwaway.sh): statements in a given
# database, polling, the tick workers of a database, and a database whose
# one agent gets offers that last 1 s.
# qd DB SQL: one statement in DB, its result unaligned
qd() { psql -X -At -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now_ms() { date +%s%3N; }
# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds; fails after SECONDS
poll() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
# the pids of DB's tick workers (empty: none)
worker_of() {
	qd postgres "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
	              WHERE backend_type = 'omniroute tick' AND datname = '$1'"
}
has_worker() { [[ "$(worker_of "$1")" =~ ^[0-9]+$ ]]; }
# the extension and a queue whose one agent gets offers that last 1 s
install() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'q');
INSERT INTO omniroute.agent (id, name, presence) VALUES (1, 'a', 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, 1);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, offer_timeout)
VALUES (1, 'w', 1, 'none', '1 second');
SQL
}
# offer DB: a new item offered to agent 1 (made available again); sets item.
# The router never waits for an agent row another transaction holds (a
# tick's, say): an item left open that way is closed and another tried.
offer() {
	local got
	qd "$1" "UPDATE omniroute.agent SET presence = 'available' WHERE id = 1" >/dev/null
	for _ in 1 2 3 4 5; do
		got=$(qd "$1" "INSERT INTO omniroute.work_item (workstream_id) VALUES (1) RETURNING id || ' ' || state")
		item=${got%% *}
		[ "${got#* }" = offered ] && return 0
		qd "$1" "SELECT omniroute.close($item, 'test')" >/dev/null
	done
	fail "$1: five items in a row were not offered, the last: $(qd "$1" "SELECT diagnostics FROM omniroute.work_item WHERE id = $item")"
}
