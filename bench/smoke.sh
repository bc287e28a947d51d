#!/usr/bin/env bash
# A tiny run of every benchmark phase, so the benchmark cannot rot: run by
# `make test` against its cluster.  Fails if a phase errors or routes nothing.
# It goes through `make bench` itself, so that the target cannot rot either.
exec make --no-print-directory -C "$(dirname "${BASH_SOURCE[0]}")/.." bench BENCH_ARGS=--smoke
