#!/usr/bin/python3
"""app_stream.py — an application that creates a stream of work.

It logs in as an application role (one granted omniroute_app) and INSERTs
work items into a workstream, each in its own transaction, at a steady
rate; omniroute routes each one inside that INSERT.  It prints one JSON
summary line: how many it inserted and how they were routed at insert
(diagnostics' assignment outcome).

    PGUSER=webapp python3 examples/app_stream.py --workstream 1 --rate 40 --seconds 5
"""
import argparse
import json
import random
import time

import psycopg
from psycopg.types.json import Jsonb

TOPICS = ["billing", "delivery", "returns", "account"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="", help="libpq connection string (default: environment)")
    ap.add_argument("--workstream", type=int, required=True)
    ap.add_argument("--rate", type=float, default=20, help="items per second")
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()

    outcomes = {}
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        start = time.time()
        n = 0
        while time.time() < start + args.seconds:
            n += 1
            outcome = conn.execute(
                "INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context)"
                " VALUES (%s, %s, %s, %s)"
                " RETURNING diagnostics #>> '{assignment,outcome}'",
                (args.workstream, "conv-%d" % n, "cust-%d" % random.randint(1, 50),
                 Jsonb({"topic": random.choice(TOPICS)}))).fetchone()[0]
            outcomes[outcome or "none"] = outcomes.get(outcome or "none", 0) + 1
            time.sleep(max(0.0, start + n / args.rate - time.time()))
    print(json.dumps({"inserted": n, "at_insert": outcomes}))


if __name__ == "__main__":
    main()
