/*-------------------------------------------------------------------------
 *
 * omniroute.c
 *	  Module entry point: GUCs and the configuration cache's invalidation
 *	  callback.
 *
 *	  Routing on INSERT needs no preloading: the library is loaded by the
 *	  first call of one of its functions.  The GUCs omniroute.database and
 *	  omniroute.tick_interval configure the background worker, which only
 *	  runs when the library is in shared_preload_libraries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "catalog.h"
#include "omniroute.h"
#include "notify.h"
#include "worker.h"

PG_MODULE_MAGIC;

char	   *omniroute_database = NULL;
int			omniroute_tick_interval = 1000;
bool		omniroute_notify = true;
bool		omniroute_notify_by_worker = true;
int			omniroute_member_vacuum_threshold = 1000;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("omniroute.database",
							   "Database in which the background worker runs omniroute.tick().",
							   NULL,
							   &omniroute_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("omniroute.tick_interval",
							"Milliseconds between two ticks of the background worker.",
							NULL,
							&omniroute_tick_interval,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("omniroute.notify",
							 "Send NOTIFY omniroute_agent_<id> for offers, assignments and revocations.",
							 NULL,
							 &omniroute_notify,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("omniroute.notify_by_worker",
							 "Let the tick worker send this session's notifications after commit, when it serves the database.",
							 "Off: the session's own transaction sends them at commit, under NOTIFY's database-wide commit lock.",
							 &omniroute_notify_by_worker,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("omniroute.member_vacuum_threshold",
							"Membership rows rewritten since the worker last vacuumed queue_member before it vacuums it again.",
							"Every assignment rewrites the agent's memberships; vacuuming often keeps candidate scans off dead index entries. 0: leave it to autovacuum.",
							&omniroute_member_vacuum_threshold,
							1000, 0, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("omniroute");

	catalog_init();

	/*
	 * the tick worker (worker.c) and the ring through which it sends agent
	 * notifications (notify.c) exist only when we are preloaded
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		notify_init();
		worker_register();
	}
}
