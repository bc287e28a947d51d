#!/usr/bin/env bash
# scripts/cluster.sh — a throwaway PostgreSQL 15 cluster for tests, demo, bench.
#
#   scripts/cluster.sh start DIR   initdb a new cluster in DIR and start it;
#                                  prints `export PGHOST=... PGPORT=... PGUSER=postgres`
#                                  (so `eval "$(scripts/cluster.sh start DIR)"` works)
#                                  and writes the same lines to DIR/env
#   scripts/cluster.sh stop DIR    `pg_ctl stop -m fast`, then remove DIR
#   scripts/cluster.sh standby PRIMARY DIR
#                                  a hot standby of the running cluster in
#                                  PRIMARY (made by start): `pg_basebackup -R`
#                                  into DIR/data, streaming over PRIMARY's
#                                  socket; its own port and socket in DIR,
#                                  PRIMARY's other settings; prints and writes
#                                  DIR/env as start does; stop DIR stops it
#
#   . scripts/cluster.sh           only defines omniroute_cluster_start DIR,
#                                  omniroute_cluster_standby PRIMARY DIR and
#                                  omniroute_cluster_stop DIR; start and
#                                  standby export the PG* variables into the
#                                  calling shell
#
# The cluster listens on a Unix socket in DIR only (listen_addresses = ''), on
# the first free port from OMNIROUTE_PORT (default 55432) upward, logs to
# DIR/log, and trusts local connections: it is for tests, never for data.
# initdb and postgres refuse to run as root, so as root DIR is given to the
# `postgres` OS user and the server runs via `runuser -u postgres --`.
# Whatever cluster is running elsewhere (Debian's `main`) is never used.
#
# Environment:
#   OMNIROUTE_PRELOAD=0   do not set shared_preload_libraries = 'omniroute'
#   OMNIROUTE_DURABLE     1: keep fsync and full_page_writes at their defaults
#                         (the benchmark); default 0 turns them off for tests
#   OMNIROUTE_PGCONF      extra postgresql.conf lines, appended last, separated
#                         by newlines or a literal \n: "work_mem=64MB\nfoo.bar=1"
#   OMNIROUTE_PORT        first port to try (default 55432)
#   PG_BINDIR             PostgreSQL binaries (default /usr/lib/postgresql/15/bin,
#                         else `pg_config --bindir`)

_oc_say() { printf 'cluster.sh: %s\n' "$*" >&2; }

_oc_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		printf '%s\n' "$PG_BINDIR"
	elif [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
		printf '%s\n' /usr/lib/postgresql/15/bin
	elif command -v pg_config >/dev/null 2>&1; then
		pg_config --bindir
	else
		_oc_say "cannot find PostgreSQL binaries (set PG_BINDIR)"
		return 1
	fi
}

# Run a command as the cluster's OS owner: `postgres` when we are root.
_oc_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# A port is free when no server (ours or another throwaway cluster in its own
# DIR) has a socket for it, and nothing accepts TCP connections on it locally.
# Sharing a port across socket directories would work, but is confusing.
_oc_port_free() {
	local p=$1 d
	if [ -r /proc/net/unix ] && grep -q "/\.s\.PGSQL\.$p\$" /proc/net/unix; then
		return 1
	fi
	for d in /tmp /var/run/postgresql /run/postgresql; do
		[ -e "$d/.s.PGSQL.$p" ] && return 1
	done
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		return 1
	fi
	return 0
}

# the first free port from OMNIROUTE_PORT (default 55432) upward
_oc_free_port() {
	local p=${OMNIROUTE_PORT:-55432}
	while [ "$p" -lt $((${OMNIROUTE_PORT:-55432} + 200)) ]; do
		if _oc_port_free "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
		p=$((p + 1))
	done
	_oc_say "no free port found from ${OMNIROUTE_PORT:-55432}"
	return 1
}

# DIR: create it (or take it empty), mark it as ours and give it to the
# server's OS owner; prints its absolute path
_oc_new_dir() {
	local dir=$1
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P) || return 1
	if [ -n "$(ls -A "$dir")" ]; then
		_oc_say "$dir is not empty; refusing to reuse it (stop it first or pick a new DIR)"
		return 1
	fi
	# sun_path holds 107 bytes; the socket is DIR/.s.PGSQL.NNNNN
	if [ ${#dir} -gt 90 ]; then
		_oc_say "$dir is too long for a Unix socket path; use a shorter DIR"
		return 1
	fi
	: >"$dir/.omniroute-cluster" || return 1 # marks DIR as ours, for stop
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dir" || return 1
		chmod 0700 "$dir" || return 1
		if ! runuser -u postgres -- test -w "$dir"; then
			_oc_say "the postgres user cannot write $dir (a parent directory is closed to it?)"
			return 1
		fi
	fi
	printf '%s\n' "$dir"
}

# DIR PORT: start the server of DIR/data, write DIR/env and export PG*
_oc_run() {
	local dir=$1 port=$2 bindir
	bindir=$(_oc_bindir) || return 1
	if ! _oc_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		start >/dev/null 2>&1; then
		_oc_say "server did not start; end of $dir/log:"
		tail -n 30 "$dir/log" >&2 2>/dev/null
		_oc_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
		return 1
	fi

	{
		echo "export PGHOST='$dir'"
		echo "export PGPORT='$port'"
		echo "export PGUSER='postgres'"
	} >"$dir/env" || return 1
	export PGHOST="$dir" PGPORT="$port" PGUSER=postgres
}

omniroute_cluster_start() {
	local dir=${1:-} bindir port conf
	if [ -z "$dir" ]; then
		_oc_say "usage: start DIR"
		return 2
	fi
	bindir=$(_oc_bindir) || return 1
	dir=$(_oc_new_dir "$dir") || return 1
	port=$(_oc_free_port) || return 1

	if ! _oc_as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust \
		-E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
		_oc_say "initdb failed:"
		cat "$dir/initdb.log" >&2
		return 1
	fi

	conf="$dir/data/postgresql.conf"
	{
		echo
		echo "# --- omniroute throwaway cluster (scripts/cluster.sh) ---"
		echo "listen_addresses = ''"
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		if [ "${OMNIROUTE_PRELOAD:-1}" != 0 ]; then
			echo "shared_preload_libraries = 'omniroute'"
		fi
		# tests trade durability for speed; OMNIROUTE_DURABLE=1 (the
		# benchmark) keeps the server's defaults
		if [ "${OMNIROUTE_DURABLE:-0}" != 1 ]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
		echo "timezone = 'UTC'"
		echo "log_timezone = 'UTC'"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		echo "log_checkpoints = off"
		if [ -n "${OMNIROUTE_PGCONF:-}" ]; then
			echo "# OMNIROUTE_PGCONF"
			printf '%b\n' "$OMNIROUTE_PGCONF"
		fi
	} | _oc_as_owner tee -a "$conf" >/dev/null || return 1

	_oc_run "$dir" "$port" || return 1
	_oc_say "started PostgreSQL in $dir (port $port, log $dir/log)"
	cat "$dir/env"
}

# A hot standby of the cluster in PRIMARY, in DIR: a base backup over
# PRIMARY's socket (initdb -A trust lets local replication connections in;
# wal_level and max_wal_senders are at their defaults, replica and 10), with
# standby.signal and primary_conninfo (-R), so it streams from PRIMARY.  It
# keeps PRIMARY's postgresql.conf (preloading, OMNIROUTE_PGCONF) but for its
# own port and socket directory, appended last.
omniroute_cluster_standby() {
	local primary=${1:-} dir=${2:-} bindir pport port
	if [ -z "$primary" ] || [ -z "$dir" ]; then
		_oc_say "usage: standby PRIMARY DIR"
		return 2
	fi
	bindir=$(_oc_bindir) || return 1
	if [ ! -e "$primary/.omniroute-cluster" ] || [ ! -f "$primary/env" ]; then
		_oc_say "$primary is not a running cluster made by cluster.sh start"
		return 1
	fi
	primary=$(cd "$primary" && pwd -P) || return 1
	pport=$(sed -n "s/^export PGPORT='\([0-9]*\)'\$/\1/p" "$primary/env")
	dir=$(_oc_new_dir "$dir") || return 1
	port=$(_oc_free_port) || return 1

	if ! _oc_as_owner "$bindir/pg_basebackup" -h "$primary" -p "$pport" -U postgres \
		-D "$dir/data" -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1; then
		_oc_say "pg_basebackup from $primary failed:"
		cat "$dir/basebackup.log" >&2
		return 1
	fi
	{
		echo
		echo "# --- standby of $primary (scripts/cluster.sh standby) ---"
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
	} | _oc_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null || return 1

	_oc_run "$dir" "$port" || return 1
	_oc_say "started a standby of $primary in $dir (port $port, log $dir/log)"
	cat "$dir/env"
}

# omniroute_pg_copy DEST PG_CONFIG: copy the installation PG_CONFIG names
# (binaries, libraries, share) into DEST with its absolute layout, so that
# it relocates: `make install DESTDIR=DEST` with that PG_CONFIG installs into
# the copy and nothing else.  Prints the copy's bindir.
omniroute_pg_copy() {
	local dest=$1 pgconfig=$2 bindir d
	bindir=$("$pgconfig" --bindir) || return 1
	chmod 755 "$dest"
	for d in "$bindir/.." "$("$pgconfig" --sharedir)" "$("$pgconfig" --pkglibdir)"; do
		d=$(cd "$d" && pwd -P)
		mkdir -p "$dest$(dirname "$d")"
		cp -a "$d" "$dest$(dirname "$d")/"
	done
	printf '%s\n' "$dest$(cd "$bindir" && pwd -P)"
}

omniroute_cluster_stop() {
	local dir=${1:-} bindir pid
	if [ -z "$dir" ]; then
		_oc_say "usage: stop DIR"
		return 2
	fi
	[ -d "$dir" ] || return 0
	if [ ! -e "$dir/.omniroute-cluster" ]; then
		_oc_say "$dir was not made by cluster.sh; not touching it"
		return 1
	fi
	bindir=$(_oc_bindir) || return 1
	if [ -f "$dir/data/postmaster.pid" ]; then
		if ! _oc_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 \
			stop >/dev/null 2>&1; then
			# Still there?  Then it is ours and stuck: end it by its pid.
			pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				_oc_say "fast shutdown failed; stopping postmaster $pid immediately"
				_oc_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 \
					stop >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
			fi
		fi
	fi
	rm -rf "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		[ $# -eq 2 ] || { _oc_say "usage: $0 start DIR"; exit 2; }
		omniroute_cluster_start "$2"
		;;
	stop)
		[ $# -eq 2 ] || { _oc_say "usage: $0 stop DIR"; exit 2; }
		omniroute_cluster_stop "$2"
		;;
	standby)
		[ $# -eq 3 ] || { _oc_say "usage: $0 standby PRIMARY DIR"; exit 2; }
		omniroute_cluster_standby "$2" "$3"
		;;
	*)
		_oc_say "usage: $0 start DIR | stop DIR | standby PRIMARY DIR"
		exit 2
		;;
	esac
fi
