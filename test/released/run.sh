#!/usr/bin/env bash
# test/released/run.sh — a released install script never changes: each one
# is listed with its checksum in sql/released.sha256 (add the line when you
# release a version), and every install script in sql/ but the current
# version's must be listed there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fail() { echo "released: $*"; exit 1; }

version=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" omniroute.control)
[ -n "$version" ] || fail "no default_version in omniroute.control"
out=$(cd sql && sha256sum --strict -c released.sha256 2>&1) ||
	fail "a released install script changed (sql/released.sha256): $out"
for f in sql/omniroute--*.sql; do
	name=${f#sql/}
	case $name in
	*--*--*) continue ;;                      # upgrade scripts
	"omniroute--$version.sql") continue ;;    # built from sql/omniroute.sql
	esac
	grep -q " $name\$" sql/released.sha256 || fail "$f is an install script of no listed release (sql/released.sha256)"
done
grep -q "omniroute--$version.sql" sql/released.sha256 &&
	fail "version $version is released already: bump default_version before changing the schema"
echo "released: $(wc -l <sql/released.sha256) released install script(s) unchanged; current version $version: ok"
