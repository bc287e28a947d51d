/*-------------------------------------------------------------------------
 *
 * tidy.c
 *	  The tick worker vacuums queue_member as soon as routing has churned
 *	  it, so that candidate scans do not walk dead index entries.
 *
 *	  Every assignment rewrites the agent's memberships, and free units and
 *	  assignment times are keys of the candidate indexes: each rewrite adds
 *	  an entry toward the tail of the queue's range and leaves a dead one
 *	  nearer its head.  A B-tree page is cleaned of dead entries only when
 *	  something is inserted into it, or by VACUUM.  In a small queue the
 *	  whole range shares a page or two and inserts keep them clean; in a
 *	  queue of hundreds of members the head pages are never inserted into,
 *	  so each candidate scan, which starts at the head, walks every dead
 *	  entry piled up since the last VACUUM.  Autovacuum comes at most once
 *	  per autovacuum_naptime, long enough for many dead entries to pile up
 *	  at the head of a large queue's range; a VACUUM of this small table as
 *	  soon as the statistics show the churn keeps them few, at little cost.
 *
 *	  So the worker, at most every TIDY_INTERVAL_MS, reads from the
 *	  cumulative statistics how many membership rows were rewritten outside
 *	  HOT or deleted since it last vacuumed, and from
 *	  omniroute.member_vacuum_threshold rows on (0: never) runs
 *	  VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE OFF) on queue_member:
 *	  it leaves the table for the next look rather than wait when autovacuum
 *	  (or anything else taking SHARE UPDATE EXCLUSIVE) has it, always
 *	  cleans the indexes (the point), and never takes the exclusive lock a
 *	  truncation needs, which would stall routers.  Statistics reach the
 *	  worker about once a second, so under load that is about the pace.
 *	  Without the worker (not preloaded), autovacuum alone, as before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/vacuum.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

#include "omniroute.h"
#include "tidy.h"

/* rewritten or deleted membership rows when last vacuumed; -1: not known */
static int64 vacuumed_at = -1;

/* rows of relid rewritten outside HOT or deleted so far, by the statistics */
static int64
members_churned(Oid relid)
{
	PgStat_StatTabEntry *t = pgstat_fetch_stat_tabentry(relid);

	/* none yet: nothing counted, as pg_stat_all_tables would say */
	if (t == NULL)
		return 0;
	return t->tuples_updated - t->tuples_hot_updated + t->tuples_deleted;
}

/* VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE OFF) omniroute.queue_member */
static void
vacuum_members(MemoryContext portal)
{
	VacuumStmt *stmt;
	MemoryContext saved_portal = PortalContext;
	MemoryContext old;

	/*
	 * VACUUM commits the transaction it is called in, runs its own, and
	 * starts a new one for the caller to commit, as for a client's command.
	 * The statement must outlive the first (VACUUM keeps pointers into it,
	 * and reads the relation's name when it skips it), and VACUUM's memory
	 * across those transactions lives under PortalContext, which a worker
	 * does not have: both go in the caller's context, reset every loop.
	 */
	old = MemoryContextSwitchTo(portal);
	stmt = makeNode(VacuumStmt);
	stmt->options = list_make3(makeDefElem("skip_locked", (Node *) makeString(pstrdup("on")), -1),
							   makeDefElem("index_cleanup", (Node *) makeString(pstrdup("on")), -1),
							   makeDefElem("truncate", (Node *) makeString(pstrdup("off")), -1));
	stmt->rels = list_make1(makeVacuumRelation(makeRangeVar("omniroute", "queue_member", -1),
											   InvalidOid, NIL));
	stmt->is_vacuumcmd = true;
	MemoryContextSwitchTo(old);

	PortalContext = portal;
	PG_TRY();
	{
		ExecVacuum(make_parsestate(NULL), stmt, true);
	}
	PG_FINALLY();
	{
		PortalContext = saved_portal;
	}
	PG_END_TRY();
}

void
tidy_members(void)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		churned;
	Oid			relid;

	if (omniroute_member_vacuum_threshold <= 0)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	relid = InvalidOid;
	if (omniroute_lock_extension() != NULL)
		relid = RangeVarGetRelid(makeRangeVar("omniroute", "queue_member", -1), NoLock, true);
	if (!OidIsValid(relid))
	{
		CommitTransactionCommand();
		return;
	}
	churned = members_churned(relid);

	/* first look, or the statistics were reset: count from here */
	if (vacuumed_at < 0 || churned < vacuumed_at)
		vacuumed_at = churned;

	/*
	 * Below the threshold; or autovacuum (or an index build) has the table:
	 * try again next time, rather than have VACUUM skip it with a WARNING
	 * each time.  Our lock goes with this transaction, which VACUUM commits
	 * before taking its own.
	 */
	if (churned - vacuumed_at < omniroute_member_vacuum_threshold ||
		!ConditionalLockRelationOid(relid, ShareUpdateExclusiveLock))
	{
		CommitTransactionCommand();
		return;
	}

	pgstat_report_activity(STATE_RUNNING, "VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE OFF) omniroute.queue_member");
	vacuum_members(caller);
	CommitTransactionCommand();
	vacuumed_at = churned;
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(caller);
}
