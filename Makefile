# omniroute — PGXS build.  `make test` and `make demo` are the README's two
# commands; both install what is missing first (scripts/setup.sh).

EXTENSION   = omniroute
MODULE_big  = omniroute
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA        = $(wildcard sql/omniroute--*.sql)

TESTS       = $(wildcard test/sql/*.sql)
REGRESS     = $(patsubst test/sql/%.sql,%,$(TESTS))
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
