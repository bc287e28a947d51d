#!/usr/bin/env bash
# test/lint/run.sh — the codebase's house rules, checked on every run:
#   - every exported symbol of a module (src/NAME.c) starts with NAME_ (or
#     the singular: rules.c's rule_), or is
#     an SQL-callable omniroute_* entry point or PostgreSQL's magic;
#   - no function in src/*.c is longer than 100 lines (PostgreSQL style: the
#     name at column 0, its body between a '{' and a '}' at column 0);
#   - nothing but the frozen sql/omniroute--0.1.0.sql refers to SPEC, a
#     document outside this repository (the README is the reference).
# Needs the objects `make` builds (scripts/test.sh builds first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bad=0
for o in src/*.o; do
	mod=$(basename "$o" .o)
	[ -f "src/$mod.c" ] || continue		# a stale object of a renamed module
	while read -r sym; do
		case "$sym" in
			"${mod}"_* | "${mod%s}"_* | omniroute_* | pg_finfo_omniroute_* | Pg_magic_func | _PG_init) ;;
			*) echo "lint: src/$mod.c exports $sym without the prefix ${mod}_"; bad=1 ;;
		esac
	done < <(nm -g --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ { print $3 }')
done

long=$(for f in src/*.c; do
	awk -v F="$f" '
		/^[a-zA-Z_][a-zA-Z0-9_]*\(/ && !/;/ { name = $1; sub(/\(.*/, "", name); start = NR }
		/^{/ && name != "" { inbody = 1 }
		/^}/ && inbody { if (NR - start + 1 > 100) printf "%s:%d %s is %d lines\n", F, start, name, NR - start + 1; inbody = 0; name = "" }' "$f"
done)
if [ -n "$long" ]; then
	echo "lint: functions longer than 100 lines:"
	echo "$long"
	bad=1
fi

spec=$(git ls-files | grep -v '^sql/omniroute--0\.1\.0\.sql$' | grep -v '^test/lint/run\.sh$' |
	xargs grep -n 'SPEC\b' -- 2>/dev/null | grep -v 'SPECS' || true)
if [ -n "$spec" ]; then
	echo "lint: refers to SPEC (point to the README instead):"
	echo "$spec"
	bad=1
fi

[ "$bad" -eq 0 ] || exit 1
echo "lint: exported symbols carry their module's prefix; no function over 100 lines; no reference to SPEC"
