#!/usr/bin/env bash
# test/notify/run.sh — agent notifications go through the tick worker when it
# serves the database (src/notify.c): a listener receives the offer's NOTIFY
# from the worker's process, after the routing transaction commits; nothing
# for a transaction that rolls back, nor for work routed in a subtransaction
# that rolls back; in commit order; a repeated payload from another
# transaction each time; from the router itself while the worker's tick waits
# for a lock; and the memory the worker keeps between transactions stays flat
# over a stream.  Without the worker (another database) the router's own
# transaction sends them, as NOTIFY always did.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="omniroute.database = 'notify_test'\nomniroute.tick_interval = 200" \
	throwaway_cluster notify

# "item sender-pid" for each notification psql reports in its output $1
senders() {
	echo "$1" | grep -o '"work_item_id": [0-9]*, .* received from server process with PID [0-9]*' |
		sed -E 's/"work_item_id": ([0-9]+),.*PID ([0-9]+)/\1 \2/' || true
}
# listen_and_route DB AGENT ITEM WORKSTREAM SECONDS: in one session, listen
# on the agent's channel, insert the item and wait; sets me (that session's
# pid) and got (the "item sender-pid" it was notified of)
listen_and_route() {
	local out
	out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v channel="omniroute_agent_$2" -v item="$3" \
		-v ws="$4" -v secs="$5" 2>&1 <<'SQL'
LISTEN :"channel";
SELECT pg_backend_pid() AS me \gset
\echo me :me
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (:item, :ws);
SELECT pg_sleep(:secs);
SQL
	)
	me=$(echo "$out" | awk '/^me / {print $2}')
	got=$(senders "$out")
}
setup() {
	createdb "$1"
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'q');
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES (1, 'a', 'available', 100);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, 1);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES (1, 'w', 1, 'none');
SQL
}
setup notify_test
setup other_db

# the worker connects to notify_test (it retries until the database exists)
for _ in $(seq 1 60); do
	worker=$(psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity
	                                      WHERE backend_type = 'omniroute tick' AND datname = 'notify_test'")
	[ -n "$worker" ] && break
	sleep 0.5
done
[ -n "$worker" ] || fail "the tick worker did not connect to notify_test"

# One session: listen, then route items in several kinds of transaction;
# psql prints each notification it has received after the next command.
out=$(psql -X -q -v ON_ERROR_STOP=1 -d notify_test 2>&1 <<'SQL'
LISTEN omniroute_agent_1;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (101, 1);
BEGIN;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (102, 1);
ROLLBACK;
BEGIN;
SAVEPOINT s;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (103, 1);
ROLLBACK TO s;
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (104, 1);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (105, 1);
COMMIT;
SELECT pg_sleep(1);
SQL
)
got=$(senders "$out")
want=$(printf '101 %s\n104 %s\n105 %s' "$worker" "$worker" "$worker")
[ "$got" = "$want" ] || fail "through the worker: expected (item, sender)
$want
got
$got
(psql said: $out)"

# The same (channel, payload) from different transactions reaches the
# listener each time, even when the worker sends them in one transaction
# (NOTIFY folds duplicates within one): an auto-accepted item assigned to
# agent 1, moved to agent 2 and back, while the worker is stopped.
psql -X -q -v ON_ERROR_STOP=1 -d notify_test >/dev/null <<'SQL'
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES (2, 'b', 'offline', 100);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, 2);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, auto_accept)
VALUES (2, 'w auto', 1, 'none', true);
SQL
out=$(WORKER=$worker psql -X -q -v ON_ERROR_STOP=1 -d notify_test 2>&1 <<'SQL'
LISTEN omniroute_agent_1;
\! kill -STOP $WORKER
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (301, 2);
SELECT state FROM omniroute.transfer_to_agent(301, 2);
SELECT state FROM omniroute.transfer_to_agent(301, 1);
\! sleep 0.3; kill -CONT $WORKER
SELECT pg_sleep(1);
SQL
)
got=$(echo "$out" | grep -o '"event": "[a-z]*", "work_item_id": 301' | sed -E 's/"event": "([a-z]*)".*/\1/' | tr '\n' ' ' || true)
[ "$got" = "assigned revoked assigned " ] || fail "repeated payloads: expected 'assigned revoked assigned', got '$got' ($out)"

# While the worker's tick waits for a lock, routers notify for themselves:
# an offer to agent 1 expires while an admin holds agent 1's membership, so
# the tick that would expire it waits; an item for agent 3 (another queue)
# is then announced by its own transaction at once.
psql -X -q -v ON_ERROR_STOP=1 -d notify_test >/dev/null <<'SQL'
INSERT INTO omniroute.queue (id, name) VALUES (3, 'q3');
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES (3, 'c', 'available', 100);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (3, 3);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, offer_timeout)
VALUES (3, 'w short', 1, 'none', '1 second'), (4, 'w other', 3, 'none', '1 hour');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (401, 3);
SQL
coproc ADMIN { psql -X -At -q -v ON_ERROR_STOP=1 -d notify_test; }
echo "BEGIN; SELECT 1 FROM omniroute.queue_member WHERE agent_id = 1 FOR UPDATE;" >&"${ADMIN[1]}"
read -r _ <&"${ADMIN[0]}"
for _ in $(seq 1 40); do
	[ "$(psql -X -At -d postgres -c "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $worker")" = Lock ] && break
	sleep 0.25
done
[ "$(psql -X -At -d postgres -c "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $worker")" = Lock ] ||
	fail "the tick did not wait for the admin's lock"
sleep 0.3	# past WORKER_BUSY_MS (100 ms) of the tick
listen_and_route notify_test 3 402 4 0.5
echo "COMMIT;" >&"${ADMIN[1]}"
echo '\q' >&"${ADMIN[1]}"
[ "$got" = "402 $me" ] || fail "with the worker waiting in a tick: expected '402 $me', got '$got'"

# in a database the worker does not serve, the router's transaction notifies
listen_and_route other_db 1 201 1 0.2
[ "$got" = "201 $me" ] || fail "without the worker: expected '201 $me', got '$got'"

# A stream of notifications does not grow the worker's memory: it sends a
# batch every 10 ms (at most 256 a transaction), so anything it kept per
# notification, per batch or per transaction would add up at once.
#
# What is compared is the memory the worker keeps between transactions, in
# a steady state:
# - pg_log_backend_memory_contexts() has the worker log its contexts when it
#   next checks for interrupts: at the top of its loop, with no transaction
#   open, or anywhere in a send or a tick, with that transaction's memory.
#   A tick that serves the items routers left open (a router skips the
#   agent another one has locked) holds tens of MB until it commits, and on
#   a loaded machine takes seconds: several reports in a row can fall in
#   it.  So a report counts only if it was logged outside a transaction
#   (PostgreSQL 15 deletes TopTransactionContext at every commit and abort),
#   and each request is matched to its own report.
# - the memory is read once every item of a stream is offered (the tick has
#   served the ones left open), and a first stream warms the worker up
#   (plans and catalog entries it first needs under a stream: bounded); the
#   second, equal, stream is the one measured.
# - the figures are the bytes in use and the number of blocks, not the
#   grand total: a context takes blocks of doubling size, so kept chunks
#   can fill the free space of a block without the total moving, while a
#   kept context adds a block and very few bytes in use.
# (in a steady state either grows by a few kB, or a block or two, at most; a
# leak of 8 kB per batch, which is some 100 batches and at least 40 if every
# batch is full, adds 320 kB or more in use, or 40 blocks or more: the
# bounds are 128 kB and 16 blocks)
# worker_memory: "bytes-in-use blocks" of the worker, from its first report
# logged outside a transaction
worker_memory() {
	local n report
	for _ in $(seq 1 50); do
		n=$(($(grep -c -F "[$worker] LOG:  logging memory contexts of PID " "$dir/log" || true) + 1))
		psql -X -At -d postgres -c "SELECT pg_log_backend_memory_contexts($worker)" >/dev/null
		for _ in $(seq 1 600); do
			report=$(awk -v tag="[$worker] LOG:  " -v n=$n '
				!index($0, tag) { next }
				index($0, tag "logging memory contexts of PID ") { k++ }
				k == n { print }
				k == n && index($0, tag "Grand total: ") { exit }' "$dir/log")
			[[ $report == *"Grand total: "* ]] && break
			sleep 0.1
		done
		[[ $report == *"Grand total: "* ]] || return 1
		if [[ $report != *"level: 1; TopTransactionContext: "* ]]; then
			report=$(sed -nE 's/.*Grand total: [0-9]+ bytes in ([0-9]+) blocks; .* ([0-9]+) used$/\2 \1/p' <<<"$report")
			[[ $report =~ ^[0-9]+\ [0-9]+$ ]] || return 1
			echo "$report"
			return 0
		fi
		sleep 0.3
	done
	return 1
}
# stream R: two sessions route 5,000 items each, a transaction per item,
# and every item of the stream is offered to agent 1
offered() { psql -X -At -d notify_test -c "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'"; }
stream() {
	local want pids=()
	want=$(($(offered) + 10000))
	for c in 1 2; do
		psql -X -q -v ON_ERROR_STOP=1 -d notify_test -c "
			DO \$\$ BEGIN FOR i IN 1..5000 LOOP
				INSERT INTO omniroute.work_item (id, workstream_id) VALUES ($1 * 100000 + $c * 10000 + i, 1);
				COMMIT;
			END LOOP; END \$\$" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "stream $1: a session failed"
	done
	for _ in $(seq 1 600); do
		[ "$(offered)" -ge "$want" ] && return 0
		sleep 0.2
	done
	fail "stream $1 was not routed ($(offered) offered, $want expected)"
}
# (no offer may time out while the streams run, however slowly)
psql -X -q -v ON_ERROR_STOP=1 -d notify_test >/dev/null <<'SQL'
UPDATE omniroute.workstream SET offer_timeout = '1 day';
UPDATE omniroute.agent SET capacity = 100000, presence = 'available' WHERE id = 1;
SQL
stream 1
before=$(worker_memory) || fail "no memory report from the worker outside a transaction (before)"
stream 2
after=$(worker_memory) || fail "no memory report from the worker outside a transaction (after)"
read -r used0 blocks0 <<<"$before"
read -r used1 blocks1 <<<"$after"
[ $((used1 - used0)) -lt 131072 ] && [ $((blocks1 - blocks0)) -lt 16 ] ||
	fail "the worker's memory between transactions grew from $used0 to $used1 bytes used, from $blocks0 to $blocks1 blocks, over 10,000 notifications"

echo "notify: offers notified by the worker ($worker) after commit, none for rolled-back work, inline without it: ok"
