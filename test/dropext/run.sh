#!/usr/bin/env bash
# test/dropext/run.sh — DROP EXTENSION omniroute while work is routed never
# deadlocks (src/dropguard.c).
#
# Ten times: a fresh database with the extension and test/stress/config.sql,
# 6 pgbench clients running the stress test's traffic (routed inserts,
# accept, reject, close, wait/resume, presence changes) and tick(); once 200
# items are routed, DROP EXTENSION omniroute.  Each drop must succeed (its
# guard waits for the tables, holding none of them, and takes them all
# before the drop looks for them); the load's transactions then fail as the
# extension is gone, which is expected.  Without the guard the drop
# deadlocked with a routed insert nearly every time.
#
# Then the drop that cannot have its tables in time: with another session
# reading omniroute.agent in an open transaction and lock_timeout = 300ms,
# DROP EXTENSION fails with 55P03, its context naming the table, and
# nothing is dropped; once that session ends, the drop succeeds.
#
# At the end, the server log must hold no "deadlock detected".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PRELOAD=0 throwaway_cluster dropext
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
TRIES=${DROPEXT_TRIES:-10}
work=$(mktemp -d /tmp/omniroute-dropext-work.XXXXXX)
bench=
finish() {
	[ -z "$bench" ] || kill "$bench" 2>/dev/null || true
	rm -rf "$work"
	bash scripts/cluster.sh stop "$dir" >/dev/null 2>&1 || true
}
trap finish EXIT

fresh() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres \
		-c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS dropext WITH (FORCE)" -c "CREATE DATABASE dropext"
	psql -X -q -v ON_ERROR_STOP=1 -d dropext -c "CREATE EXTENSION omniroute" -f test/stress/config.sql
}

for try in $(seq 1 "$TRIES"); do
	fresh
	s=test/stress
	"$PGBENCH" -n -c 6 -j 3 -T 60 \
		-f $s/insert.sql@6 -f $s/accept.sql@4 -f $s/reject.sql@3 -f $s/close.sql@3 \
		-f $s/wait_resume.sql@2 -f $s/presence.sql@2 -f test/dropext/tick.sql@1 \
		dropext >"$work/bench.$try" 2>&1 &
	bench=$!
	for _ in $(seq 1 300); do
		[ "$(q "SELECT count(*) >= 200 FROM omniroute.work_item")" = t ] && break
		sleep 0.1
	done
	[ "$(q "SELECT count(*) >= 200 FROM omniroute.work_item")" = t ] ||
		fail "try $try: the load did not route 200 items in 30 s"
	out=$(PGOPTIONS="-c statement_timeout=60s" psql -X -v ON_ERROR_STOP=1 -d dropext \
		-c "DROP EXTENSION omniroute" 2>&1) || fail "try $try: DROP EXTENSION failed under load: $out"
	[ "$out" = "DROP EXTENSION" ] || fail "try $try: DROP EXTENSION said: $out"
	# the load's clients fail now that the extension is gone; bounded wait
	for _ in $(seq 1 100); do kill -0 "$bench" 2>/dev/null || break; sleep 0.1; done
	kill "$bench" 2>/dev/null || true
	wait "$bench" 2>/dev/null || true
	bench=
	grep -q "deadlock detected" "$dir/log" && fail "try $try: a deadlock was reported (see $work/bench.$try)"
done
echo "dropext: $TRIES drops under load, each succeeded, no deadlock"

# a drop that cannot have its tables within lock_timeout fails, clearly
fresh
psql -X -q -d dropext -c "BEGIN" -c "SELECT count(*) FROM omniroute.agent" -c "SELECT pg_sleep(30)" \
	>/dev/null 2>&1 &
holder=$!
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'omniroute.agent'::regclass AND granted AND pid <> pg_backend_pid()")" -gt 0 ] && break
	sleep 0.1
done
out=$(PGOPTIONS="-c lock_timeout=300ms" psql -X -v VERBOSITY=verbose -d dropext -c "DROP EXTENSION omniroute" 2>&1) &&
	fail "DROP EXTENSION succeeded while a session held omniroute.agent"
case $out in
*55P03*"lock timeout"*"waiting to drop relation omniroute.agent"*) ;;
*) fail "DROP EXTENSION under lock_timeout: expected 55P03 naming omniroute.agent, got: $out" ;;
esac
[ "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'omniroute'")" = 1 ] ||
	fail "the failed drop dropped the extension"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'dropext' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder" 2>/dev/null || true
[ "$(psql -X -d dropext -c "DROP EXTENSION omniroute" 2>&1)" = "DROP EXTENSION" ] ||
	fail "DROP EXTENSION failed once the other session had gone"
echo "dropext: a drop past lock_timeout fails with 55P03 naming the table it waited for"

grep -q "deadlock detected" "$dir/log" && fail "a deadlock was reported in the server log"
echo "dropext: ok"
