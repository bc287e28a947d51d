# omniroute — PGXS build.  `make test` and `make demo` are the README's two
# commands; both install what is missing first (scripts/setup.sh).

EXTENSION   = omniroute
# the version lives in omniroute.control alone (default_version)
EXTVERSION  = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)
MODULE_big  = omniroute
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
# sql/omniroute.sql is the current schema, whole; the install script of the
# current version is a copy of it under its versioned name (as pgvector
# builds sql/vector--X.Y.Z.sql).  Released install scripts and every upgrade
# script are kept as they are.
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))
PG_CPPFLAGS += -DOMNIROUTE_VERSION=\"$(EXTVERSION)\"

# `make installcheck` runs the pg_regress and isolation suites against the
# server in PGHOST/PGPORT (a database superuser, no root).  The worker test
# needs the library preloaded with omniroute.database = 'contrib_regression'
# (test/postgresql.conf): it runs only with PRELOADED=1, as make test does.
# Inputs are test/sql/*.sql and test/specs/*.spec; the expected outputs of
# both are in test/expected/ (PostgreSQL 15's pg_regress and
# pg_isolation_regress look in <outputdir>/expected, then in
# <inputdir>/expected); results go to results/ and output_iso/ (git-ignored).
TESTS       = $(wildcard test/sql/*.sql)
PRELOAD_REGRESS = worker
REGRESS     = $(filter-out $(if $(PRELOADED),,$(PRELOAD_REGRESS)),$(patsubst test/sql/%.sql,%,$(TESTS)))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)
SPECS       = $(wildcard test/specs/*.spec)
ISOLATION   = $(patsubst test/specs/%.spec,%,$(SPECS))
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)

PG_CONFIG  ?= $(shell command -v pg_config >/dev/null 2>&1 && pg_config --bindir >/dev/null 2>&1 && echo pg_config || echo /usr/lib/postgresql/15/bin/pg_config)
PG_CFLAGS  += -Wall -Wextra -Werror
# PostgreSQL's own headers are not -Wextra clean (unused parameters in
# inline functions): include them as system headers so the warnings that
# remain are all ours.
PG_CPPFLAGS += -isystem $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
# bind the library's calls to its own functions: a backend has other
# libraries loaded (libkrb5 exports profile_release(), for one), and without
# this a same-named symbol there would be called instead of ours
SHLIB_LINK += -Wl,-Bsymbolic
PGXS       := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(PGXS),)
include $(PGXS)
endif

.PHONY: test demo bench setup

$(DATA_built): sql/$(EXTENSION).sql $(EXTENSION).control
	cp $< $@

# the library knows the version it was built for (src/omniroute.c)
src/omniroute.o: $(EXTENSION).control

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (a struct that grew must not be laid out two ways)
$(OBJS): $(wildcard src/*.h)

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

# `make bench`: the full benchmark (bench/run.sh); make test runs it with
# BENCH_ARGS=--smoke through this same target, so the target cannot rot
bench:
	bash bench/run.sh $(BENCH_ARGS)
