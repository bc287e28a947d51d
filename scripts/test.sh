#!/usr/bin/env bash
# scripts/test.sh — what `make test` (and so .ci/run) runs, from the repo root.
#
#   1. scripts/setup.sh                     install missing packages
#   2. make clean; make; make install       -Wall -Wextra -Werror come from the Makefile
#   3. a throwaway cluster (scripts/cluster.sh) in a fresh mktemp dir, with
#      shared_preload_libraries = 'omniroute'; stopped and removed on any exit
#   4. suites, each running even when an earlier one failed:
#        pg_regress            test/sql/*.sql     (make installcheck ISOLATION= PRELOADED=1)
#        pg_isolation_regress  test/specs/*.spec  (make installcheck REGRESS=)
#                              both compared with test/expected/<name>.out;
#                              diffs in regression.diffs, output_iso/regression.diffs
#        pgTAP                 test/pgtap/*.sql   pg_prove, one file at a time, each
#                              in a freshly created database with pgtap + omniroute
#        smoke                 bench/smoke.sh, if present, with PGHOST/PGPORT/PGUSER set
#        scripts               every test/<name>/run.sh, each one test, stress
#                              first (pgbench traffic, then invariant checks;
#                              STRESS_SECONDS, default 20), against this cluster;
#                              the others start throwaway clusters of their own
#                              (test/throwaway.sh), but released, which only reads
#                              files; each says in its header what it proves
#   5. the server log is checked for crashes (signal, PANIC, failed assertion)
#
# The last line printed is always `N passed, N failed` (N counts test files;
# a server crash counts as one more failure; a step that stops the run before
# the suites, such as a failed build, counts every test file it kept from
# running as failed).  Exit status is non-zero when anything failed.  An
# empty suite directory is reported and counts as 0 tests.
#
# Environment:
#   OMNIROUTE_PGCONF        extra postgresql.conf lines for the test cluster; the
#                           contents of test/postgresql.conf, if it exists, go first
#   OMNIROUTE_SUITE_TIMEOUT seconds allowed per suite / pgTAP file / smoke run
#                           (default 900); on expiry the suite counts as failed
set -euo pipefail
shopt -s nullglob

cd "$(dirname "${BASH_SOURCE[0]}")/.."

controls=(*.control)
EXT=${controls[0]:-omniroute.control}
EXT=${EXT%.control}
TAPDB=${EXT}_tap
SUITE_TIMEOUT=${OMNIROUTE_SUITE_TIMEOUT:-900}
DIFF_LINES=300

regress_files=(test/sql/*.sql)
spec_files=(test/specs/*.spec)
tap_files=(test/pgtap/*.sql)
smoke_files=()
[ -f bench/smoke.sh ] && smoke_files=(bench/smoke.sh)
script_files=()
# every test/<name>/run.sh, stress first (it is the longest and tells most)
for f in test/stress/run.sh test/*/run.sh; do
	[ -f "$f" ] || continue
	[ "$f" = test/stress/run.sh ] && [ ${#script_files[@]} -gt 0 ] && continue
	script_files+=("$f")
done
total=$((${#regress_files[@]} + ${#spec_files[@]} + ${#tap_files[@]} + ${#smoke_files[@]} + ${#script_files[@]}))

passed=0
failed=0
counted=0       # test files accounted for so far (passed or failed)
suites_done=0   # 1 once every suite has run; an exit before that is an abort
cluster_dir=
work=
failures=()
summary=()

step=start
section() {
	step=$1
	printf '\n===== %s =====\n' "$*"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		"$@"
	fi
}

# print FILE, at most DIFF_LINES lines of it
show_capped() {
	local f=$1 n
	[ -s "$f" ] || return 0
	n=$(wc -l <"$f")
	echo "----- $f ($n lines) -----"
	head -n "$DIFF_LINES" "$f"
	[ "$n" -le "$DIFF_LINES" ] || echo "----- ... $((n - DIFF_LINES)) more lines in $f -----"
}

# record SUITE PASSED FAILED
record() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	counted=$((counted + $2 + $3))
	summary+=("$(printf '%-22s %3d passed, %3d failed' "$1" "$2" "$3")")
}

finish() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ "$suites_done" -ne 1 ]; then
		echo
		echo "test.sh: stopped in step '$step' before all suites ran (exit $rc)"
		local left=$((total - counted))
		[ "$left" -gt 0 ] || left=1
		failed=$((failed + left))
		failures+=("run aborted in step '$step': $left test file(s) not run or finished")
	fi
	if [ -n "$cluster_dir" ]; then
		if [ "$failed" -gt 0 ] && [ -f "$cluster_dir/log" ]; then
			echo
			echo "----- last 60 lines of the server log -----"
			tail -n 60 "$cluster_dir/log"
		fi
		bash scripts/cluster.sh stop "$cluster_dir" || echo "test.sh: could not stop the cluster in $cluster_dir"
	fi
	[ -z "$work" ] || rm -rf "$work"

	section "summary"
	local line
	for line in "${summary[@]}"; do echo "$line"; done
	for line in "${failures[@]}"; do echo "FAILED: $line"; done
	[ "$((passed + failed))" -gt 0 ] || echo "(no tests found)"
	echo "$passed passed, $failed failed"
	if [ "$failed" -gt 0 ] || [ "$suites_done" -ne 1 ]; then
		exit 1
	fi
	exit 0
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d /tmp/omniroute-work.XXXXXX)

# ---------------------------------------------------------------- build ----
section "setup"
bash scripts/setup.sh
echo "packages present"

section "build"
make -s clean >/dev/null
make
section "install"
if ! as_root make install >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	echo "test.sh: make install failed"
	exit 1
fi
echo "installed $EXT into $(pg_config --pkglibdir 2>/dev/null || echo 'the PostgreSQL lib dir')"

# -------------------------------------------------------------- cluster ----
section "cluster"
pgconf=
[ -f test/postgresql.conf ] && pgconf=$(cat test/postgresql.conf)
[ -z "${OMNIROUTE_PGCONF:-}" ] || pgconf="$pgconf"$'\n'"$OMNIROUTE_PGCONF"
cluster_dir=$(mktemp -d /tmp/omniroute-test.XXXXXX)
OMNIROUTE_PGCONF=$pgconf bash scripts/cluster.sh start "$cluster_dir" >/dev/null
# shellcheck disable=SC1091
. "$cluster_dir/env"
export PGHOST PGPORT PGUSER
unset PGDATABASE PGSERVICE PGOPTIONS
psql -X -At -d postgres -c "SELECT 'server ' || current_setting('server_version') || ', shared_preload_libraries = ''' || current_setting('shared_preload_libraries') || ''''"

# --------------------------------------------------------------- suites ----
# run_regress NAME KIND DIFFS FILES...: KIND is regress or isolation
run_regress() {
	local name=$1 kind=$2 diffs=$3
	shift 3
	local n=$# rc=0 ok
	section "$name ($n)"
	if [ "$n" -eq 0 ]; then
		echo "(no tests)"
		record "$name" 0 0
		return 0
	fi
	local -a only
	if [ "$kind" = regress ]; then only=(ISOLATION= PRELOADED=1); else only=(REGRESS=); fi
	timeout --foreground --kill-after=10 "$SUITE_TIMEOUT" make -s installcheck "${only[@]}" \
		2>&1 | tee "$work/$kind.out" || rc=$?
	[ "$rc" -ne 124 ] || echo "test.sh: $name timed out after ${SUITE_TIMEOUT}s"
	if [ "$rc" -eq 0 ]; then
		record "$name" "$n" 0
		return 0
	fi
	# per-test lines look like "test foo   ... ok   12 ms" (parallel groups indent)
	ok=$(grep -Ec '\.\.\. +ok( |$)' "$work/$kind.out" || true)
	[ "$ok" -le "$n" ] || ok=$n
	[ "$ok" -lt "$n" ] || ok=$((n - 1))
	record "$name" "$ok" "$((n - ok))"
	failures+=("$name: $({ grep -E '\.\.\. +FAILED' "$work/$kind.out" || true; } | awk '{print $2}' | tr '\n' ' ')(exit $rc)")
	show_capped "$diffs"
}

run_regress "pg_regress" regress regression.diffs "${regress_files[@]}"
run_regress "isolation" isolation output_iso/regression.diffs "${spec_files[@]}"

section "pgTAP (${#tap_files[@]})"
tap_pass=0
tap_fail=0
tap_asserts=0
if [ ${#tap_files[@]} -eq 0 ]; then
	echo "(no tests)"
fi
for f in "${tap_files[@]}"; do
	# a fresh database per file, so no file can see another's leftovers
	if ! {
		psql -X -q -v ON_ERROR_STOP=1 -d postgres \
			-c "DROP DATABASE IF EXISTS $TAPDB WITH (FORCE)" \
			-c "CREATE DATABASE $TAPDB" &&
			psql -X -q -v ON_ERROR_STOP=1 -d "$TAPDB" \
				-c "SET client_min_messages = warning" \
				-c "CREATE EXTENSION pgtap" \
				-c "CREATE EXTENSION $EXT CASCADE"
	} >"$work/tapdb.log" 2>&1; then
		echo "$f .. could not prepare database $TAPDB:"
		cat "$work/tapdb.log"
		tap_fail=$((tap_fail + 1))
		failures+=("pgTAP: $f (database set-up)")
		continue
	fi
	rc=0
	timeout --foreground --kill-after=10 "$SUITE_TIMEOUT" pg_prove --failures -d "$TAPDB" "$f" \
		>"$work/tap.out" 2>&1 || rc=$?
	n=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$work/tap.out" | tail -n 1)
	tap_asserts=$((tap_asserts + ${n:-0}))
	if [ "$rc" -eq 0 ]; then
		printf '%s .. ok (%s assertions)\n' "$f" "${n:-?}"
		tap_pass=$((tap_pass + 1))
	else
		cat "$work/tap.out"
		[ "$rc" -ne 124 ] || echo "test.sh: $f timed out after ${SUITE_TIMEOUT}s"
		tap_fail=$((tap_fail + 1))
		failures+=("pgTAP: $f")
	fi
done
if [ ${#tap_files[@]} -gt 0 ]; then
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $TAPDB WITH (FORCE)" >/dev/null 2>&1 || true
	echo "pgTAP: ${#tap_files[@]} files, $tap_asserts assertions, $tap_fail failed files"
fi
record "pgTAP" "$tap_pass" "$tap_fail"

section "smoke (${#smoke_files[@]})"
if [ ${#smoke_files[@]} -eq 0 ]; then
	echo "(no bench/smoke.sh)"
	record "smoke" 0 0
else
	rc=0
	timeout --foreground --kill-after=10 "$SUITE_TIMEOUT" bash bench/smoke.sh || rc=$?
	if [ "$rc" -eq 0 ]; then
		record "smoke" 1 0
	else
		echo "test.sh: bench/smoke.sh exited $rc"
		record "smoke" 0 1
		failures+=("smoke: bench/smoke.sh (exit $rc)")
	fi
fi

section "scripts (${#script_files[@]})"
script_passed=0
script_failed=0
for f in "${script_files[@]}"; do
	echo "--- $f"
	rc=0
	timeout --foreground --kill-after=10 "$SUITE_TIMEOUT" bash "$f" || rc=$?
	if [ "$rc" -eq 0 ]; then
		script_passed=$((script_passed + 1))
	else
		echo "test.sh: $f exited $rc"
		script_failed=$((script_failed + 1))
		failures+=("scripts: $f (exit $rc)")
	fi
done
[ ${#script_files[@]} -gt 0 ] || echo "(no test scripts)"
record "scripts" "$script_passed" "$script_failed"

section "server log"
# A backend or worker that died on a signal, a PANIC or a failed Assert is a
# bug even when every test above happened to pass.
if crashes=$(grep -E 'terminated by signal|PANIC:|TRAP:|was terminated by exception' "$cluster_dir/log"); then
	echo "$crashes" | head -n 20
	failed=$((failed + 1))
	failures+=("server log: crash (see above)")
	summary+=("$(printf '%-22s %s' "server log" "crash")")
else
	echo "no crashes in $cluster_dir/log"
	summary+=("$(printf '%-22s %s' "server log" "clean")")
fi

suites_done=1
