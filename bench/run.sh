#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs: routing cost against a plain insert,
# steady state, scaling with agents, backlog drain.  One line per figure.
#
#   bench/run.sh            full run: own throwaway cluster (synchronous_commit
#                           off, the rest default; the tick worker serves its
#                           database), about 7 minutes on 2 cores
#   BENCH_PHASES="insert scale" bench/run.sh
#                           only those phases (insert, timed, condition,
#                           steady, scale, drain)
#   bench/run.sh --smoke    tiny run against the cluster in PGHOST/PGPORT
#                           (what `make test` runs via bench/smoke.sh): checks
#                           every phase works and routes, measures nothing
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1

if [ "$smoke" -eq 1 ]; then
	SECS=2; CLIENTS=2; AGENTS=(20 60); MAIN_AGENTS=20; DRAIN_ITEMS=400; DRAIN_AGENTS=20
	COND_AGENTS=60
	ROUNDS=1; SCALE_ROUNDS=1
else
	SECS=${BENCH_SECONDS:-15}; CLIENTS=2; AGENTS=(100 1000 10000); MAIN_AGENTS=1000
	# insert and scale figures are the mean of this many rounds, each from a
	# fresh load: this machine's run-to-run noise is several percent
	ROUNDS=${BENCH_ROUNDS:-2}
	# the scale figure compares two loads measured minutes apart, which this
	# machine's drift moves most: four rounds, alternately up and down
	SCALE_ROUNDS=${BENCH_SCALE_ROUNDS:-4}
	DRAIN_ITEMS=100000; DRAIN_AGENTS=1000
	COND_AGENTS=${BENCH_CONDITION_AGENTS:-10000}
	bash scripts/setup.sh
	make -s >/dev/null
	if [ "$(id -u)" -eq 0 ]; then
		make -s install >/dev/null
	elif command -v sudo >/dev/null 2>&1; then
		sudo make -s install >/dev/null
	else
		echo "bench/run.sh: installing the extension needs root: run this as root, or as a user with sudo" >&2
		exit 1
	fi
	dir=$(mktemp -d /tmp/omniroute-bench.XXXXXX)
	trap 'bash scripts/cluster.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
	# the tick worker serves the benchmark's database, as it would an
	# application's: it ticks, and it sends the agent notifications
	eval "$(OMNIROUTE_DURABLE=1 OMNIROUTE_PGCONF="synchronous_commit = off\nomniroute.database = 'omniroute_bench'" \
		bash scripts/cluster.sh start "$dir")"
	export PGHOST PGPORT PGUSER
fi
DB=omniroute_bench
PGBENCH=$( (command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench) | head -1)

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# load AGENTS CAPACITY [PRESENCE]: a fresh database with the bench configuration
load() {
	# DROP DATABASE waits only 5 s for other sessions to leave; the tick
	# worker leaves between ticks (src/worker.c), and a tick after the steady
	# phase may take longer: try again for up to a minute
	local tries=0
	until dropdb --if-exists "$DB" >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -ge 120 ]; then
			echo "bench: could not drop database $DB: $(dropdb --if-exists "$DB" 2>&1)" >&2
			exit 1
		fi
		sleep 0.5
	done
	[ "$tries" -eq 0 ] || echo "bench: dropping $DB waited $(awk -v t="$tries" 'BEGIN { printf "%.1f", t / 2 }') s for other sessions" >&2
	createdb "$DB"
	psql_db -c "CREATE EXTENSION omniroute" >/dev/null
	psql_db -v agents="$1" -v capacity="$2" -f bench/config.sql >/dev/null
	if [ -n "${3:-}" ]; then
		psql_db -c "UPDATE omniroute.agent SET presence = '$3'" >/dev/null
	fi
	psql_db -c "VACUUM ANALYZE" >/dev/null
	# the worker left the database dropped before this one; it comes back
	# within seconds (a smoke run's cluster may serve another database)
	if [ "$smoke" -eq 0 ]; then
		for _ in $(seq 1 60); do
			[ "$(psql_db -At -c "SELECT count(*) FROM pg_stat_activity
			                      WHERE backend_type = 'omniroute tick' AND datname = current_database()")" = 1 ] && break
			sleep 0.5
		done
	fi
}

PHASES=" ${BENCH_PHASES:-insert timed condition steady scale drain} "
phase() { [[ "$PHASES" == *" $1 "* ]]; }

# Each measurement starts from a quiet database: a VACUUM, so that autovacuum
# has nothing left to do for the rows the previous measurement wrote (it would
# otherwise run during this one and take its CPU), then a checkpoint, so that
# none pays for the full-page writes after a checkpoint another triggered.
checkpoint() { psql_db -c "VACUUM" -c "CHECKPOINT" >/dev/null; }

# tps SCRIPT [extra pgbench args]: transactions per second of SECS seconds
tps() {
	local script=$1
	shift
	[ -n "${SKIP_CHECKPOINT:-}" ] || checkpoint
	"$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$script" "$@" "$DB" 2>&1 |
		awk '/^tps = / { printf "%.0f\n", $3 } /aborted|error/ { print "pgbench: " $0 > "/dev/stderr" }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

routed_count() { psql_db -At -c "SELECT count(*) FROM omniroute.work_item WHERE agent_id IS NOT NULL"; }

# ---- insert: routed vs plain, in one run, same rows ----
if phase insert; then
	plain=0; routed=0; quiet=0; inline=0; rounds=""
	for ((round = 1; round <= ROUNDS; round++)); do
		load "$MAIN_AGENTS" 100000000
		# odd rounds measure plain, routed, without NOTIFY, inline NOTIFY;
		# even rounds the reverse: none gains from its place in the order,
		# and each figure is next to the one it is compared with (this
		# machine's speed drifts by tens of percent within minutes)
		if [ $((round % 2)) -eq 1 ]; then
			p=$(tps bench/insert_plain.sql)
			r=$(tps bench/insert_routed.sql)
			q=$(PGOPTIONS="-c omniroute.notify=off" tps bench/insert_routed.sql)
			i=$(PGOPTIONS="-c omniroute.notify_by_worker=off" tps bench/insert_routed.sql)
		else
			i=$(PGOPTIONS="-c omniroute.notify_by_worker=off" tps bench/insert_routed.sql)
			q=$(PGOPTIONS="-c omniroute.notify=off" tps bench/insert_routed.sql)
			r=$(tps bench/insert_routed.sql)
			p=$(tps bench/insert_plain.sql)
		fi
		plain=$((plain + p)); routed=$((routed + r)); quiet=$((quiet + q)); inline=$((inline + i))
		rounds="$rounds $(ratio "$r" "$p")"
	done
	assigned=$(routed_count)
	plain=$((plain / ROUNDS)); routed=$((routed / ROUNDS)); quiet=$((quiet / ROUNDS)); inline=$((inline / ROUNDS))
	echo "insert: plain $plain rows/s, routed $routed rows/s, ratio $(ratio "$routed" "$plain") ($MAIN_AGENTS agents, $CLIENTS clients; mean of $ROUNDS round(s):$rounds; $assigned items given an agent in the last)"
	echo "insert without NOTIFY: routed $quiet rows/s, ratio $(ratio "$quiet" "$plain") (notifications by the worker cost $(ratio $((quiet - routed)) "$quiet") of routed throughput)"
	echo "insert, NOTIFY at the router's commit (notify_by_worker off): routed $inline rows/s, ratio $(ratio "$inline" "$plain") (costs $(ratio $((quiet - inline)) "$quiet"))"
fi

# ---- timed: every queue has operating hours (open now) and a max_open ----
if phase timed; then
	plain=0; timed=0; rounds=""
	for ((round = 1; round <= ROUNDS; round++)); do
		load "$MAIN_AGENTS" 100000000
		psql_db -f bench/timed.sql >/dev/null
		if [ $((round % 2)) -eq 1 ]; then
			p=$(tps bench/insert_plain.sql); t=$(tps bench/insert_routed.sql)
		else
			t=$(tps bench/insert_routed.sql); p=$(tps bench/insert_plain.sql)
		fi
		plain=$((plain + p)); timed=$((timed + t))
		rounds="$rounds $(ratio "$t" "$p")"
	done
	plain=$((plain / ROUNDS)); timed=$((timed / ROUNDS))
	overflowed=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item_event WHERE event = 'overflowed'")
	echo "insert, queues with operating hours and max_open: plain $plain rows/s, routed $timed rows/s, ratio $(ratio "$timed" "$plain") (mean of $ROUNDS round(s):$rounds; $overflowed overflowed)"
fi

# ---- condition: every queue with an agent condition one member in ten satisfies ----
if phase condition; then
	plain=0; routed=0; cond=0; rounds=""
	for ((round = 1; round <= ROUNDS; round++)); do
		load "$COND_AGENTS" 100000000
		# plain and unconditioned routed first, then the condition is set on
		# every queue; odd rounds plain first, even rounds routed first
		if [ $((round % 2)) -eq 1 ]; then
			p=$(tps bench/insert_plain.sql)
			r=$(tps bench/insert_routed.sql)
		else
			r=$(tps bench/insert_routed.sql)
			p=$(tps bench/insert_plain.sql)
		fi
		psql_db -f bench/condition.sql >/dev/null
		c=$(tps bench/insert_routed.sql)
		plain=$((plain + p)); routed=$((routed + r)); cond=$((cond + c))
		rounds="$rounds $(ratio "$c" "$p")"
	done
	cond_assigned=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item i JOIN omniroute.agent a ON a.id = i.agent_id
	                                 WHERE a.attributes->>'tier' = 'gold'")
	plain=$((plain / ROUNDS)); routed=$((routed / ROUNDS)); cond=$((cond / ROUNDS))
	echo "insert, agent condition (1 member in 10 satisfies it, every queue): routed $cond rows/s, ratio $(ratio "$cond" "$plain") to plain $plain rows/s; unconditioned routed $routed rows/s, ratio $(ratio "$routed" "$plain") ($COND_AGENTS agents, $CLIENTS clients; mean of $ROUNDS round(s), conditioned by round:$rounds; $cond_assigned items with a gold agent in the last)"
fi

# ---- steady state: insert + accept + close, agents keep freeing capacity ----
if phase steady; then
	load "$MAIN_AGENTS" 5
	before=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item_event WHERE event IN ('offered', 'assigned')")
	checkpoint
	start=$(date +%s.%N)
	mixed=$(SKIP_CHECKPOINT=1 tps bench/steady.sql -D agents="$MAIN_AGENTS")
	end=$(date +%s.%N)
	after=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item_event WHERE event IN ('offered', 'assigned')")
	waiting=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item WHERE state = 'open'")
	echo "steady state: $(awk -v n=$((after - before)) -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }') items routed/s ($mixed insert+accept+close transactions/s, agents of 5 units, $waiting items waiting at the end)"
fi

# ---- scale: routed insert rate at each agent count, relative to the first ----
if phase scale; then
	declare -A sum=()
	for ((round = 1; round <= SCALE_ROUNDS; round++)); do
		# odd rounds go up from the fewest agents, even rounds down: a
		# machine that speeds up or slows down during the phase favours
		# no agent count
		order=("${AGENTS[@]}")
		if [ $((round % 2)) -eq 0 ]; then
			order=()
			for ((i = ${#AGENTS[@]} - 1; i >= 0; i--)); do order+=("${AGENTS[$i]}"); done
		fi
		declare -A this=()
		for n in "${order[@]}"; do
			load "$n" 100000000
			this[$n]=$(tps bench/insert_routed.sql)
			sum[$n]=$((${sum[$n]:-0} + ${this[$n]}))
		done
		scale_rounds="${scale_rounds:-} $(ratio "${this[${AGENTS[-1]}]}" "${this[${AGENTS[0]}]}")"
	done
	base=
	line="scale:"
	for n in "${AGENTS[@]}"; do
		r=$((sum[$n] / SCALE_ROUNDS))
		[ -n "$base" ] || base=$r
		line="$line $n agents $r rows/s ($(ratio "$r" "$base"));"
	done
	echo "${line%;} (mean of $SCALE_ROUNDS round(s); ${AGENTS[-1]} vs ${AGENTS[0]} by round:$scale_rounds)"
fi

# ---- drain: a backlog waits, then agents come online one by one ----
if phase drain; then
	load "$DRAIN_AGENTS" $(((DRAIN_ITEMS + DRAIN_AGENTS - 1) / DRAIN_AGENTS * 2)) offline
	psql_db -c "CREATE SEQUENCE bench.next_agent" >/dev/null
	"$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -t $((DRAIN_ITEMS / CLIENTS)) -f bench/insert_routed.sql "$DB" >/dev/null 2>&1
	backlog=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item WHERE state = 'open'")
	psql_db -c "VACUUM ANALYZE" >/dev/null
	checkpoint
	start=$(date +%s.%N)
	"$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -t $((DRAIN_AGENTS / CLIENTS)) -f bench/drain.sql "$DB" >/dev/null
	end=$(date +%s.%N)
	left=$(psql_db -At -c "SELECT count(*) FROM omniroute.work_item WHERE state = 'open'")
	drained=$((backlog - left))
	echo "drain: $drained of $backlog waiting items assigned in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s: $(awk -v n="$drained" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }') items/s ($DRAIN_AGENTS agents coming online; $left left waiting)"
fi

if [ "$smoke" -eq 1 ]; then
	# the smoke run fails if a phase routed nothing
	[ "$assigned" -gt 0 ] && [ $((after - before)) -gt 0 ] && [ "$drained" -gt 0 ] && [ "$cond_assigned" -gt 0 ] || {
		echo "bench smoke: a phase routed nothing (assigned=$assigned steady=$((after - before)) drained=$drained left=$left conditioned=$cond_assigned)"
		exit 1
	}
	dropdb "$DB"
	echo "bench smoke: ok"
fi
