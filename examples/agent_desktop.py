#!/usr/bin/python3
"""agent_desktop.py — a small agent desktop for omniroute.

It logs in as the agent's own database role (libpq's environment or --dsn
say which), LISTENs on the agent's channel, becomes available, and then
works what it is offered: accept, handle for a while, close.  It is what an
agent's screen does, without the screen.

    PGUSER=alice python3 examples/agent_desktop.py --seconds 60

Notifications (SPEC's protocol; see README › Notifications): each offer,
assignment, revocation and missed offer arrives on channel
omniroute_agent_<agent id> as JSON with "event", "work_item_id",
"workstream_id", "queue_id" and, for offers, "expires_at".  The desktop acts
on "offered" (accept) and "assigned" (already active: just work it); a
"revoked" or "missed" item is dropped from its list.

Two connections: one only listens (a thread blocked on its socket, so a
notification is stamped the moment it arrives), the other does the work.
On exit (--seconds elapsed, or SIGTERM/SIGINT) it prints one JSON summary
line; with --log it also writes one JSON line per notification received:
{"work_item_id", "event", "received_at"} (Unix time, seconds).
"""
import argparse
import json
import queue
import random
import signal
import sys
import threading
import time

import psycopg
from psycopg import sql


def listen(dsn, channel, inbox):
    """Forward every notification on channel into inbox, stamped on arrival."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        inbox.put(("listening", None, time.time()))
        for n in conn.notifies():
            inbox.put(("notify", json.loads(n.payload), time.time()))


class Desktop:
    def __init__(self, conn, agent_id, handle_ms, log):
        self.conn = conn
        self.agent_id = agent_id
        self.handle_ms = handle_ms
        self.log = log
        self.working = {}           # work item id -> when it is done
        self.counts = {"offered": 0, "assigned": 0, "accepted": 0,
                       "closed": 0, "lost": 0}
        self.max_held = 0

    def held_now(self):
        """Items this agent holds now, as the database says (its own rows)."""
        return self.conn.execute(
            "SELECT count(*) FROM omniroute.work_item"
            " WHERE agent_id = %s AND state <> 'closed'",
            (self.agent_id,)).fetchone()[0]

    def on_notify(self, msg, received_at):
        item, event = msg["work_item_id"], msg["event"]
        if self.log:
            self.log.write(json.dumps({"work_item_id": item, "event": event,
                                       "received_at": received_at}) + "\n")
        if event in ("offered", "assigned"):
            self.counts[event] += 1
            self.take(item, accept=(event == "offered"))
        elif item in self.working:
            del self.working[item]      # revoked or missed: no longer ours
            self.counts["lost"] += 1

    def take(self, item, accept):
        if accept:
            try:
                self.conn.execute("SELECT omniroute.accept(%s)", (item,))
            except psycopg.errors.ObjectNotInPrerequisiteState:
                self.counts["lost"] += 1    # the offer expired or was revoked
                return
            self.counts["accepted"] += 1
        self.max_held = max(self.max_held, self.held_now())
        lo, hi = self.handle_ms
        self.working[item] = time.time() + random.uniform(lo, hi) / 1000.0

    def close_due(self):
        now = time.time()
        for item in [i for i, due in self.working.items() if due <= now]:
            del self.working[item]
            self.conn.execute("SELECT omniroute.close(%s, 'resolved')", (item,))
            self.counts["closed"] += 1

    def next_wait(self):
        if not self.working:
            return 0.2
        return max(0.0, min(self.working.values()) - time.time())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="", help="libpq connection string (default: environment)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: on SIGTERM)")
    ap.add_argument("--handle-ms", default="20,200", help="handling time range, ms: LO,HI")
    ap.add_argument("--log", help="write one JSON line per notification here")
    args = ap.parse_args()
    handle_ms = tuple(float(x) for x in args.handle_ms.split(","))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    conn = psycopg.connect(args.dsn, autocommit=True)
    agent_id, name = conn.execute("SELECT id, name FROM omniroute.my_agent").fetchone()
    inbox = queue.Queue()
    threading.Thread(target=listen, daemon=True,
                     args=(args.dsn, "omniroute_agent_%d" % agent_id, inbox)).start()
    inbox.get(timeout=30)           # listening before becoming available
    conn.execute("SELECT omniroute.set_presence('available')")

    log = open(args.log, "w") if args.log else None
    desk = Desktop(conn, agent_id, handle_ms, log)
    deadline = time.time() + args.seconds if args.seconds else None
    while not stop.is_set() and (deadline is None or time.time() < deadline):
        try:
            kind, msg, at = inbox.get(timeout=desk.next_wait())
            desk.on_notify(msg, at)
        except queue.Empty:
            pass
        desk.close_due()

    conn.execute("SELECT omniroute.set_presence('offline')")
    if log:
        log.close()
    print(json.dumps({"agent": name, "agent_id": agent_id, "max_held": desk.max_held,
                      "still_working": len(desk.working), **desk.counts}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
