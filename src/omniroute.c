/*-------------------------------------------------------------------------
 *
 * omniroute.c
 *	  Module entry point: GUCs, the configuration cache's invalidation
 *	  callback, and the check that the database's schema is the one this
 *	  library was built for.
 *
 *	  Routing on INSERT needs no preloading: the library is loaded by the
 *	  first call of one of its functions.  The GUCs omniroute.database,
 *	  omniroute.tick_interval and omniroute.max_databases configure the
 *	  launcher and its tick workers (launcher.c, worker.c), which only run
 *	  when the library is in shared_preload_libraries.
 *
 *	  Versions: the library serves only a database whose extension is at
 *	  its own version (OMNIROUTE_VERSION, from omniroute.control).  Between
 *	  the installation of a new package and ALTER EXTENSION omniroute
 *	  UPDATE, every SQL-callable function refuses with an error that names
 *	  that command, and the worker waits, saying so once in the log; the
 *	  data is untouched until the update.  The SQL functions of every
 *	  released install script keep their C symbols in the library, so that
 *	  CREATE EXTENSION omniroute VERSION '<an old one>' and the update path
 *	  from it keep working.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "config.h"
#include "launcher.h"
#include "omniroute.h"
#include "notify.h"

PG_MODULE_MAGIC;

#ifndef OMNIROUTE_VERSION
#error "OMNIROUTE_VERSION must be defined (the Makefile reads it from omniroute.control)"
#endif

char	   *omniroute_database = NULL;
int			omniroute_tick_interval = 1000;
bool		omniroute_notify = true;
bool		omniroute_notify_by_worker = true;
int			omniroute_member_vacuum_threshold = 1000;
int			omniroute_max_databases = 8;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("omniroute.database",
							   "The only database in which a tick worker runs omniroute.tick(); empty: every database with the extension.",
							   NULL,
							   &omniroute_database,
							   "",
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
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("omniroute.max_databases",
								"Databases served by a tick worker at the same time, at most.",
								"Each takes a background worker (max_worker_processes) and a notification ring in shared memory.",
								&omniroute_max_databases,
								8, 1, 1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	MarkGUCPrefixReserved("omniroute");

	config_init();

	/*
	 * the launcher and its tick workers (launcher.c, worker.c) and the rings
	 * through which they send agent notifications (notify.c) exist only when
	 * we are preloaded
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		notify_init();
		launcher_init();
	}
}

/*
 * The version of extension omniroute installed in the current database, in
 * the current transaction's memory; NULL when it is not installed.
 */
char *
omniroute_installed_version(void)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("omniroute"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * The installed version, as omniroute_installed_version(), read once
 * DROP EXTENSION omniroute is held off until the end of the transaction:
 * the worker's tick and VACUUM then never run into a schema dropped under
 * them (DROP EXTENSION locks the extension before anything in it).  A drop
 * that committed before the lock was granted shows as NULL.
 */
char *
omniroute_lock_extension(void)
{
	Oid			ext = get_extension_oid("omniroute", true);

	if (!OidIsValid(ext))
		return NULL;
	LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
	return omniroute_installed_version();
}

/*
 * Refuse to act on a database whose extension is at another version than
 * this library's (see the file header).  Cheap after the first success in a
 * backend: the answer is kept until the extension's tables change (a
 * relcache invalidation of omniroute.presence, which DROP EXTENSION and
 * every update that alters tables send).  While CREATE or ALTER EXTENSION
 * runs a script, the script is what defines the schema: no check.
 */
static const char *const version_tables[] = {"presence"};
static ConfigWatch version_watch = {.tables = version_tables, .ntables = lengthof(version_tables)};
static bool version_ok = false;

void
omniroute_check_version(void)
{
	char	   *installed;

	if (creating_extension)
		return;
	if (!config_watch_begin(&version_watch) && version_ok)
		return;
	version_ok = false;
	installed = omniroute_installed_version();
	if (installed == NULL || strcmp(installed, OMNIROUTE_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension omniroute in database \"%s\" is at version %s, but its library is version %s",
						get_database_name(MyDatabaseId),
						installed ? installed : "(none)", OMNIROUTE_VERSION),
				 errhint("Run ALTER EXTENSION omniroute UPDATE; in that database.")));
	config_watch_loaded(&version_watch);
	version_ok = true;
}
