#!/usr/bin/env bash
# bench/callgrind.sh — instructions per routed insert and per plain insert,
# counted by valgrind's callgrind in a single-user backend: deterministic,
# whatever else the machine is doing, so two versions compare exactly.
#
#   bench/callgrind.sh              the working tree's build
#   bench/callgrind.sh COMMIT       the library and schema of COMMIT (built
#                                   from `git archive`), e.g. v0.1.0
#   CALLGRIND_SQL=bench/timed.sql bench/callgrind.sh
#                                   with that file's configuration applied
#                                   after bench/config.sql
#   CONDITION=1 AGENTS=10000 bench/callgrind.sh
#                                   with bench/condition.sql applied: every
#                                   queue's agent condition, satisfied by one
#                                   member in ten
#
# Each version is installed into a private copy of the PostgreSQL
# installation (nothing else is touched).  A database gets bench/config.sql
# at AGENTS agents (default 1,000) of unlimited capacity, so that every
# routed insert is a real assignment, and a VACUUM ANALYZE; then, each from
# a copy of that database, two
# single-user runs of N and 3N inserts of bench/insert_routed.sql's rows
# (fixed values) are counted, and (Ir(3N) - Ir(N)) / 2N is the cost of one
# insert, start-up and the first plans excluded; the same for the plain
# table.  Prints one line: routed, plain, and their ratio (plain / routed,
# the benchmark's throughput ratio in instructions).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
commit=${1:-}
AGENTS=${AGENTS:-1000}
N=${CALLGRIND_INSERTS:-500}

command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d /tmp/omniroute-callgrind.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# the installation that pg_config (or PG_CONFIG) names: built against it,
# copied from it, with its layout, into a private directory
pgconfig=${PG_CONFIG:-pg_config}
pg=$work/pg
mkdir -p "$pg"
. scripts/cluster.sh
bin=$(omniroute_pg_copy "$pg" "$pgconfig")

src=$repo
if [ -n "$commit" ]; then
	src=$work/src
	mkdir -p "$src"
	git -C "$repo" archive "$commit" | tar -x -C "$src"
fi
make -s -C "$src" -j2 PG_CONFIG="$pgconfig" >/dev/null
make -s -C "$src" install DESTDIR="$pg" PG_CONFIG="$pgconfig" >/dev/null

as_owner() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }
data=$work/data
mkdir -p "$data"
[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data"
as_owner "$bin/initdb" -D "$data" -U postgres -A trust --no-locale -E UTF8 --no-sync >/dev/null
sock=$work
[ "$(id -u)" -ne 0 ] || chown postgres "$sock"
as_owner "$bin/pg_ctl" -D "$data" -w -o "-c listen_addresses='' -c unix_socket_directories='$sock' -c port=5499 -c fsync=off -c autovacuum=off" -l "$work/log" start >/dev/null
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p 5499 -U postgres -d bench "$@"; }
createdb -h "$sock" -p 5499 -U postgres bench
psql_ -c "CREATE EXTENSION omniroute" >/dev/null
psql_ -v agents="$AGENTS" -v capacity=100000000 -f bench/config.sql >/dev/null
# more configuration on top (bench/timed.sql: the time features)
[ -z "${CALLGRIND_SQL:-}" ] || psql_ -f "$repo/$CALLGRIND_SQL" >/dev/null
[ -z "${CONDITION:-}" ] || psql_ -f bench/condition.sql >/dev/null
psql_ -c "VACUUM ANALYZE" >/dev/null
as_owner "$bin/pg_ctl" -D "$data" -w stop >/dev/null
cp -a "$data" "$work/pristine"

# COUNT inserts of bench/insert_routed.sql's rows into TABLE, fixed values
inserts() {
	awk -v n="$1" -v table="$2" 'BEGIN {
		split("billing refund login outage bug delivery returns other", topics, " ");
		split("en fr es de en fr-CA", langs, " ");
		for (i = 1; i <= n; i++) {
			ws = 1 + (i * 7) % 10; t = 1 + (i * 5) % 8; l = 1 + (i * 3) % 6; amount = 1 + (i * 37) % 1000;
			queue = (table == "omniroute.work_item") ? "" : ", queue_id";
			qval = (table == "omniroute.work_item") ? "" : ", " ((ws - 1) * 5 + 1);
			printf "INSERT INTO %s (workstream_id%s, external_id, customer_id, context) VALUES (%d%s, '\''conv-%d'\'', '\''cust-%d'\'', '\''{\"topic\": \"%s\", \"language\": \"%s\", \"country\": \"US\", \"amount\": %d}'\'');\n",
				table, queue, ws, qval, i, amount, topics[t], langs[l], amount;
		}
	}'
}
# instructions of a single-user backend running COUNT inserts into TABLE
count() {
	local f=$work/in.sql out=$work/callgrind.out
	inserts "$1" "$2" >"$f"
	rm -f "$out"
	[ "$(id -u)" -ne 0 ] || chown postgres "$f"
	as_owner valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no \
		"$bin/postgres" --single -D "$data" -c omniroute.notify=off bench <"$f" >/dev/null 2>"$work/valgrind.log" ||
		{ cat "$work/valgrind.log" >&2; exit 1; }
	# every count starts from the same database
	rm -rf "$data"
	cp -a "$work/pristine" "$data"
	awk '/^(summary|totals):/ { print $2; exit }' "$out"
}
per_insert() {
	local small large
	small=$(count "$N" "$1")
	large=$(count $((3 * N)) "$1")
	echo $(((large - small) / (2 * N)))
}
routed=$(per_insert omniroute.work_item)
plain=$(per_insert bench.plain_item)
echo "callgrind${commit:+ ($commit)}: routed insert $routed instructions, plain $plain, ratio $(awk -v p="$plain" -v r="$routed" 'BEGIN { printf "%.3f", p / r }') ($AGENTS agents${CONDITION:+, agent conditions}, $((2 * N)) inserts counted)"
