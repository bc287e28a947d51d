#!/usr/bin/env bash
# A tiny run of every benchmark phase, so the benchmark cannot rot: run by
# `make test` against its cluster.  Fails if a phase errors or routes nothing.
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" --smoke
