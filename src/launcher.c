/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: a background worker, connected to no database, that
 *	  keeps one tick worker (worker.c) running in every database where
 *	  extension omniroute is installed, as pg_cron's and TimescaleDB's
 *	  launchers do, with dynamic background workers.  It shows in
 *	  pg_stat_activity with backend_type "omniroute launcher"; its workers
 *	  are "omniroute tick", one per database.
 *
 *	  Which databases: every database in pg_database that accepts
 *	  connections and is not a template (nor left invalid by an interrupted
 *	  DROP DATABASE); only the one named by omniroute.database when that is
 *	  set.  The launcher lists them when it starts and again every
 *	  LAUNCHER_NAP_MS, and whenever it is woken.
 *
 *	  Which have the extension: the launcher can read only shared
 *	  catalogs, so it starts a worker in a database it knows nothing about
 *	  (at its own start, or a database new since the last look, such as one
 *	  made from a template), and the worker looks in pg_extension.  Without
 *	  the extension it exits at once, saying so in its slot, and the launcher
 *	  leaves that database alone until CREATE EXTENSION wakes it:
 *	  omniroute.wake_worker(), which the install and update scripts call,
 *	  queues the database in shared memory and sets the launcher's latch at
 *	  the COMMIT of the calling transaction (so the worker sees the
 *	  extension).  A worker whose extension is dropped notices at its next
 *	  tick and exits the same way.  At most LAUNCHER_MAX_PROBES workers that
 *	  have not yet found the extension run at a time, so that a server with
 *	  many databases is looked over a few at a time.
 *
 *	  Restarts: a worker says in its slot why it left (WorkerExit), and the
 *	  postmaster tells the launcher when one exits (bgw_notify_pid):
 *	    - no extension: not started again until woken;
 *	    - stepped aside for DROP / ALTER DATABASE or CREATE DATABASE ...
 *	      TEMPLATE (see worker.c): started again after RETRY_ASIDE_MS, once
 *	      the launcher's own probe of the database lock finds it free, and
 *	      only if the database is still listed (a dropped database gets no
 *	      worker, and no error loop);
 *	    - asked to stop (omniroute.database no longer names the database,
 *	      or it no longer accepts connections): not started again;
 *	    - anything else (a FATAL, pg_terminate_backend): started again after
 *	      RETRY_FAILED_MS, doubled at each consecutive quick failure up to
 *	      RETRY_FAILED_MAX_MS.
 *	  When RegisterDynamicBackgroundWorker finds no free slot
 *	  (max_worker_processes), the launcher says so once per database and
 *	  tries again every RETRY_NO_WORKER_MS, saying so again when the worker
 *	  finally starts; tick() by hand works meanwhile.
 *
 *	  Shared memory: omniroute.max_databases slots, each bound by the
 *	  launcher to one database when it starts a worker there, and kept bound
 *	  while that worker restarts (so the notifications waiting in the
 *	  database's ring, notify.c, carry over); freed once the worker has left
 *	  for good.  The slot index is the worker's bgw_main_arg and its ring's
 *	  index.  A worker takes its slot only if it is bound to its database and
 *	  no other worker holds it, so there are never two workers in one
 *	  database, even when a restarted launcher adopts the workers of the
 *	  previous one (it finds them in the slots).
 *
 *	  Standby: the launcher is registered with BgWorkerStart_RecoveryFinished,
 *	  as are its workers: nothing runs during recovery; after promotion the
 *	  postmaster starts the launcher, which starts the workers at once.
 *	  pg_upgrade's servers (binary-upgrade mode) get no launcher at all.
 *
 *	  Locking: LauncherShared.lock guards the slots and the wake queue.
 *	  Workers take it when they attach, find the extension and exit; the
 *	  launcher once a round; a committing CREATE EXTENSION once.  Routers
 *	  never take it (their rings have locks of their own).  The launcher
 *	  takes no heavyweight lock but a brief probe of each database's lock
 *	  before starting its worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "launcher.h"
#include "notify.h"
#include "omniroute.h"
#include "worker.h"

/* the postmaster restarts a launcher that ended after this many seconds */
#define LAUNCHER_RESTART_SECONDS	5

/* how often the launcher looks at pg_database and its workers, at least */
#define LAUNCHER_NAP_MS				1000

/* workers started and not yet serving (looking for the extension), at most */
#define LAUNCHER_MAX_PROBES			2

#define RETRY_ASIDE_MS				1000
#define RETRY_NO_WORKER_MS			1000
#define RETRY_FAILED_MS				5000
#define RETRY_FAILED_MAX_MS			(300 * 1000)

/* a worker that ran this long before failing starts the count again */
#define FAILURE_FORGOTTEN_MS		(60 * 1000)

/* databases woken and not yet seen by the launcher; more: look at all */
#define WAKE_MAX					32

typedef struct WorkerSlot
{
	Oid			database;		/* bound to, by the launcher; InvalidOid: free */
	pid_t		pid;			/* the worker in it; 0: none */
	Latch	   *latch;			/* that worker's */
	bool		serving;		/* that worker found the extension */
	bool		stop;			/* the launcher asks that worker to leave */
	WorkerExit	exit;			/* why the last worker left */
} WorkerSlot;

typedef struct LauncherShared
{
	LWLock	   *lock;
	Latch	   *latch;			/* the launcher's, while it runs */
	int			nwakes;
	bool		wake_all;		/* the queue overflowed */
	Oid			wakes[WAKE_MAX];
	/* databases a session is restoring a dump into: their workers wait */
	Oid			restoring[WAKE_MAX];
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} LauncherShared;

static LauncherShared *control = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ----------------------------------------------------------------
 * Shared memory and registration
 * ----------------------------------------------------------------
 */
static Size
launcher_shmem_size(void)
{
	return add_size(offsetof(LauncherShared, slots),
					mul_size(omniroute_max_databases, sizeof(WorkerSlot)));
}

static void
launcher_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(launcher_shmem_size()));
	RequestNamedLWLockTranche("omniroute launcher", 1);
}

static void
launcher_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	control = ShmemInitStruct("omniroute launcher", launcher_shmem_size(), &found);
	if (!found)
	{
		memset(control, 0, launcher_shmem_size());
		control->lock = &(GetNamedLWLockTranche("omniroute launcher"))->lock;
		for (int i = 0; i < omniroute_max_databases; i++)
			control->slots[i].database = InvalidOid;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
launcher_init(void)
{
	BackgroundWorker worker;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = launcher_shmem_request;
#else
	launcher_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = launcher_shmem_startup;

	/*
	 * pg_upgrade's servers (binary-upgrade mode) only carry the schema
	 * over: nothing must tick there
	 */
	if (IsBinaryUpgrade)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "omniroute", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "omniroute_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "omniroute launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "omniroute launcher", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

bool
launcher_database_allowed(const char *name)
{
	return omniroute_database == NULL || omniroute_database[0] == '\0' ||
		strcmp(name, omniroute_database) == 0;
}

/* ----------------------------------------------------------------
 * Waking the launcher at CREATE EXTENSION
 * ----------------------------------------------------------------
 */
static bool wake_pending = false;
static bool wake_callback_registered = false;
static bool wake_at_exit_registered = false;

/* queue a wake-up of the launcher for this database */
static void
launcher_queue_wake(void)
{
	Latch	   *latch;
	bool		queued = false;

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	for (int i = 0; i < control->nwakes && !queued; i++)
		queued = (control->wakes[i] == MyDatabaseId);
	if (!queued)
	{
		if (control->nwakes < WAKE_MAX)
			control->wakes[control->nwakes++] = MyDatabaseId;
		else
			control->wake_all = true;
	}
	latch = control->latch;
	LWLockRelease(control->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* mark (or unmark) this database as being restored into */
static void
launcher_mark_restoring(bool on)
{
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	for (int i = 0; i < WAKE_MAX; i++)
	{
		if (on && control->restoring[i] == InvalidOid)
		{
			control->restoring[i] = MyDatabaseId;
			break;
		}
		if (!on && control->restoring[i] == MyDatabaseId)
		{
			control->restoring[i] = InvalidOid;
			break;
		}
	}
	LWLockRelease(control->lock);
}

/* whether a session is restoring a dump into this database */
bool
launcher_database_restoring(void)
{
	bool		found = false;

	if (control == NULL)
		return false;
	LWLockAcquire(control->lock, LW_SHARED);
	for (int i = 0; i < WAKE_MAX && !found; i++)
		found = (control->restoring[i] == MyDatabaseId);
	LWLockRelease(control->lock);
	return found;
}

static void
launcher_wake_at_exit(int code, Datum arg)
{
	(void) code;
	(void) arg;
	launcher_mark_restoring(false);
	launcher_queue_wake();
}

/*
 * At commit, wake the launcher.  A session that restores a dump
 * (check_function_bodies off, as pg_restore and pg_dump's scripts set it)
 * instead marks the database as being restored, before its CREATE
 * EXTENSION commits, so that a worker that sees the extension also sees
 * the mark and does not tick rows half restored (a tick would write events
 * whose ids the restore is about to bring back); the mark goes, and the
 * launcher is woken, when the session ends (or at once if that transaction
 * aborts).
 */
static bool restoring_in_xact = false;

static void
wake_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_COMMIT)
	{
		if (wake_pending)
			launcher_queue_wake();
		wake_pending = false;
		restoring_in_xact = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
	{
		if (restoring_in_xact)
			launcher_mark_restoring(false);
		wake_pending = false;
		restoring_in_xact = false;
	}
}

PG_FUNCTION_INFO_V1(omniroute_wake_worker);

/*
 * omniroute.wake_worker(): ask the launcher to start (or look again for)
 * this database's tick worker when the calling transaction commits (when
 * the session ends, in a session restoring a dump).  The install and
 * update scripts call it; a no-op when the library is not preloaded.  A
 * transaction prepared for two-phase commit wakes nobody: call it again
 * after COMMIT PREPARED.
 */
Datum
omniroute_wake_worker(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	omniroute_check_version();
	if (control == NULL)
		PG_RETURN_VOID();
	if (!wake_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		wake_callback_registered = true;
	}
	if (check_function_bodies)
		wake_pending = true;
	else
	{
		launcher_mark_restoring(true);
		restoring_in_xact = true;
		if (!wake_at_exit_registered)
		{
			before_shmem_exit(launcher_wake_at_exit, (Datum) 0);
			wake_at_exit_registered = true;
		}
	}
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * The tick worker's side
 * ----------------------------------------------------------------
 */
static int	my_slot = -1;
static WorkerExit my_exit = WORKER_EXIT_NONE;

static void
worker_detach(int code, Datum arg)
{
	WorkerSlot *s = &control->slots[my_slot];
	Latch	   *latch;

	(void) code;
	(void) arg;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	s->pid = 0;
	s->latch = NULL;
	s->serving = false;
	s->exit = my_exit;
	latch = control->latch;
	LWLockRelease(control->lock);
	if (latch != NULL)
		SetLatch(latch);
}

bool
launcher_worker_attach(int slot)
{
	WorkerSlot *s;
	bool		ok;

	if (control == NULL || slot < 0 || slot >= omniroute_max_databases)
		return false;
	s = &control->slots[slot];
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	ok = (s->database == MyDatabaseId && s->pid == 0);
	if (ok)
	{
		s->pid = MyProcPid;
		s->latch = MyLatch;
		s->serving = false;
		s->exit = WORKER_EXIT_NONE;
	}
	LWLockRelease(control->lock);
	if (ok)
	{
		my_slot = slot;
		before_shmem_exit(worker_detach, (Datum) 0);
	}
	return ok;
}

void
launcher_worker_serving(void)
{
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->slots[my_slot].serving = true;
	LWLockRelease(control->lock);
}

bool
launcher_worker_stop_requested(void)
{
	bool		stop;

	LWLockAcquire(control->lock, LW_SHARED);
	stop = control->slots[my_slot].stop;
	LWLockRelease(control->lock);
	return stop;
}

void
launcher_worker_exit_reason(WorkerExit why)
{
	my_exit = why;
}

/* ----------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------
 */
typedef enum DbState
{
	DB_START,					/* start a worker, not before retry_at */
	DB_RUNNING,					/* a worker is registered or runs */
	DB_ABSENT					/* no extension: wait for CREATE EXTENSION */
} DbState;

/* what the launcher knows of a database; kept in its own memory */
typedef struct DbEntry
{
	Oid			oid;			/* hash key */
	NameData	name;
	DbState		state;
	int			slot;			/* bound slot; -1: none */
	BackgroundWorkerHandle *handle; /* the worker we registered; NULL: none
									 * (or one of a previous launcher's) */
	TimestampTz retry_at;
	TimestampTz started_at;
	int			failures;		/* consecutive quick exits without a word */
	bool		listed;			/* in pg_database, and allowed, last look */
	bool		serving;		/* its worker found the extension */
	bool		woken;			/* CREATE EXTENSION committed while it ran */
	bool		stopping;		/* its worker was asked to leave */
	bool		said_no_worker; /* logged: no background worker slot */
	bool		said_no_slot;	/* logged: no omniroute.max_databases slot */
} DbEntry;

static HTAB *databases = NULL;
static char *said_scope = NULL; /* omniroute.database when last logged */
static bool said_missing = false;	/* logged: omniroute.database not found */

static void
launcher_detach(int code, Datum arg)
{
	(void) code;
	(void) arg;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->latch = NULL;
	LWLockRelease(control->lock);
}

/* log, once per value of omniroute.database, which databases are served */
static void
say_scope(void)
{
	const char *now = omniroute_database ? omniroute_database : "";

	if (said_scope != NULL && strcmp(said_scope, now) == 0)
		return;
	if (said_scope != NULL)
		pfree(said_scope);
	said_scope = MemoryContextStrdup(TopMemoryContext, now);
	said_missing = false;
	if (now[0] == '\0')
		ereport(LOG,
				(errmsg("omniroute launcher: serving every database with extension omniroute (%d at most, omniroute.max_databases)",
						omniroute_max_databases)));
	else
		ereport(LOG,
				(errmsg("omniroute launcher: serving database \"%s\" only (omniroute.database)", now)));
}

static WorkerSlot *
slot_of(DbEntry *e)
{
	return e->slot >= 0 ? &control->slots[e->slot] : NULL;
}

/* a database newly seen, or adopted from a slot: start its worker at once */
static DbEntry *
enter_database(Oid oid)
{
	bool		found;
	DbEntry    *e = hash_search(databases, &oid, HASH_ENTER, &found);

	if (!found)
	{
		memset(((char *) e) + sizeof(Oid), 0, sizeof(DbEntry) - sizeof(Oid));
		e->state = DB_START;
		e->slot = -1;
	}
	return e;
}

/*
 * Slots bound by a previous launcher (this one was restarted): a worker
 * still in one goes on; the others are started again.
 */
static void
adopt_slots(void)
{
	LWLockAcquire(control->lock, LW_SHARED);
	for (int i = 0; i < omniroute_max_databases; i++)
	{
		WorkerSlot *s = &control->slots[i];
		DbEntry    *e;

		if (!OidIsValid(s->database))
			continue;
		e = enter_database(s->database);
		e->slot = i;
		e->listed = true;
		if (s->pid != 0)
		{
			e->state = DB_RUNNING;
			e->serving = s->serving;
		}
	}
	LWLockRelease(control->lock);
}

/* take the databases woken by CREATE EXTENSION since the last round */
static int
take_wakes(Oid *wakes, bool *all)
{
	int			n;

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	n = control->nwakes;
	memcpy(wakes, control->wakes, n * sizeof(Oid));
	*all = control->wake_all;
	control->nwakes = 0;
	control->wake_all = false;
	LWLockRelease(control->lock);
	return n;
}

static bool
database_servable(Form_pg_database db)
{
	if (db->datistemplate || !db->datallowconn)
		return false;
#ifdef DATCONNLIMIT_INVALID_DB
	if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
		return false;
#endif
	return launcher_database_allowed(NameStr(db->datname));
}

/*
 * Mark every database of pg_database that may be served as listed (and
 * the others not), entering the new ones.  In a transaction of its own.
 */
static void
scan_databases(void)
{
	HASH_SEQ_STATUS seq;
	DbEntry    *e;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		restriction_found = false;

	hash_seq_init(&seq, databases);
	while ((e = hash_seq_search(&seq)) != NULL)
		e->listed = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!database_servable(db))
			continue;
		restriction_found = true;
		e = enter_database(db->oid);
		e->listed = true;
		e->name = db->datname;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	if (omniroute_database != NULL && omniroute_database[0] != '\0')
	{
		if (!restriction_found && !said_missing)
			ereport(LOG,
					(errmsg("omniroute launcher: omniroute.database is \"%s\", but no such database accepts connections; waiting for it",
							omniroute_database)));
		said_missing = !restriction_found;
	}
}

/* whether pg_database still lists oid, as of now; in a transaction */
static bool
database_still_listed(Oid oid)
{
	Relation	rel;
	TableScanDesc scan;
	ScanKeyData key;
	bool		listed;

	InvalidateCatalogSnapshot();
	ScanKeyInit(&key, Anum_pg_database_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(oid));
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 1, &key);
	listed = (heap_getnext(scan, ForwardScanDirection) != NULL);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return listed;
}

static void
release_slot(DbEntry *e)
{
	WorkerSlot *s = slot_of(e);

	if (s == NULL)
		return;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	if (s->pid == 0)
	{
		s->database = InvalidOid;
		s->stop = false;
		e->slot = -1;
	}
	LWLockRelease(control->lock);
}

/* start e's worker again after delay_ms */
static void
start_later(DbEntry *e, TimestampTz now, int delay_ms)
{
	e->state = DB_START;
	e->retry_at = TimestampTzPlusMilliseconds(now, delay_ms);
}

/* e's worker is gone: act on what it said */
static void
worker_exited(DbEntry *e, TimestampTz now)
{
	WorkerExit why;
	int			delay;

	LWLockAcquire(control->lock, LW_SHARED);
	why = control->slots[e->slot].exit;
	LWLockRelease(control->lock);

	switch (why)
	{
		case WORKER_EXIT_ABSENT:
			e->failures = 0;
			if (e->woken)
				start_later(e, now, 0);
			else
			{
				e->state = DB_ABSENT;
				release_slot(e);
			}
			break;
		case WORKER_EXIT_ASIDE:
			e->failures = 0;
			start_later(e, now, RETRY_ASIDE_MS);
			break;
		case WORKER_EXIT_STOPPED:
			/* forgotten below unless listed again (omniroute.database back) */
			e->failures = 0;
			start_later(e, now, LAUNCHER_NAP_MS);
			release_slot(e);
			break;
		case WORKER_EXIT_NONE:
			if (TimestampDifferenceExceeds(e->started_at, now, FAILURE_FORGOTTEN_MS))
				e->failures = 0;
			e->failures++;
			delay = RETRY_FAILED_MS;
			for (int i = 1; i < e->failures && delay < RETRY_FAILED_MAX_MS; i++)
				delay *= 2;
			delay = Min(delay, RETRY_FAILED_MAX_MS);
			if (e->listed && !e->stopping)
				ereport(LOG,
						(errmsg("omniroute launcher: the tick worker of database \"%s\" ended; starting it again in %d s",
								NameStr(e->name), delay / 1000)));
			start_later(e, now, delay);
			break;
	}
	e->woken = false;
	e->serving = false;
	e->stopping = false;
}

/* look at each running worker: serving yet, or gone */
static void
reap_workers(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	DbEntry    *e;

	hash_seq_init(&seq, databases);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		WorkerSlot *s;
		bool		in_slot;

		if (e->state != DB_RUNNING)
			continue;
		if (e->handle != NULL)
		{
			pid_t		pid;
			BgwHandleStatus st = GetBackgroundWorkerPid(e->handle, &pid);

			if (st == BGWH_STARTED || st == BGWH_NOT_YET_STARTED)
			{
				s = slot_of(e);
				LWLockAcquire(control->lock, LW_SHARED);
				if (s->pid != 0 && s->serving)
					e->serving = true;
				LWLockRelease(control->lock);
				continue;
			}
			pfree(e->handle);
			e->handle = NULL;
		}
		/* ours is gone (or was a previous launcher's): is one in the slot? */
		s = slot_of(e);
		LWLockAcquire(control->lock, LW_SHARED);
		in_slot = (s->pid != 0);
		e->serving = e->serving || (in_slot && s->serving);
		LWLockRelease(control->lock);
		if (!in_slot)
			worker_exited(e, now);
	}
}

/*
 * Databases no longer listed (dropped, renamed away from omniroute.database,
 * closed to connections): ask their workers to leave, and forget them once
 * they have.
 */
static void
forget_databases(void)
{
	HASH_SEQ_STATUS seq;
	DbEntry    *e;

	hash_seq_init(&seq, databases);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->listed)
			continue;
		if (e->state == DB_RUNNING)
		{
			WorkerSlot *s = slot_of(e);
			Latch	   *latch;

			if (e->stopping)
				continue;
			ereport(LOG,
					(errmsg("omniroute launcher: database \"%s\" is no longer to be served; stopping its tick worker",
							NameStr(e->name))));
			LWLockAcquire(control->lock, LW_EXCLUSIVE);
			s->stop = true;
			latch = s->latch;
			LWLockRelease(control->lock);
			if (latch != NULL)
				SetLatch(latch);
			e->stopping = true;
			continue;
		}
		release_slot(e);
		if (e->handle != NULL)
			pfree(e->handle);
		hash_search(databases, &e->oid, HASH_REMOVE, NULL);
	}
}

/* a free slot, bound to e; false when all are taken */
static bool
bind_slot(DbEntry *e)
{
	if (e->slot >= 0)
		return true;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	for (int i = 0; i < omniroute_max_databases; i++)
	{
		WorkerSlot *s = &control->slots[i];

		if (!OidIsValid(s->database) && s->pid == 0)
		{
			s->database = e->oid;
			e->slot = i;
			break;
		}
	}
	LWLockRelease(control->lock);
	return e->slot >= 0;
}

/* register e's worker; false when max_worker_processes has no room */
static bool
register_worker(DbEntry *e)
{
	BackgroundWorker w;
	WorkerSlot *s = slot_of(e);
	MemoryContext old;
	bool		ok;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "omniroute", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "omniroute_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "omniroute tick worker in \"%s\"", NameStr(e->name));
	strlcpy(w.bgw_type, "omniroute tick", BGW_MAXLEN);
	w.bgw_main_arg = Int32GetDatum(e->slot);
	memcpy(w.bgw_extra, &e->oid, sizeof(Oid));
	w.bgw_notify_pid = MyProcPid;

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	s->stop = false;
	s->exit = WORKER_EXIT_NONE;
	LWLockRelease(control->lock);

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&w, &e->handle);
	MemoryContextSwitchTo(old);
	if (!ok)
		e->handle = NULL;
	return ok;
}

/*
 * Start e's worker if its database is free (no DROP, RENAME or TEMPLATE
 * copy holds or awaits its lock) and still listed; in a transaction.
 */
static void
start_worker(DbEntry *e, TimestampTz now)
{
	LOCKTAG		tag;
	bool		listed;

	if (!bind_slot(e))
	{
		if (!e->said_no_slot)
			ereport(LOG,
					(errmsg("omniroute launcher: cannot start a tick worker in database \"%s\": all %d slots of omniroute.max_databases are taken",
							NameStr(e->name), omniroute_max_databases),
					 errhint("Raise omniroute.max_databases (it takes a server restart).")));
		e->said_no_slot = true;
		start_later(e, now, LAUNCHER_NAP_MS);
		return;
	}
	e->said_no_slot = false;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, e->oid, 0);
	if (LockAcquire(&tag, RowExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		start_later(e, now, RETRY_ASIDE_MS);
		return;
	}
	listed = database_still_listed(e->oid);
	if (listed && !register_worker(e))
	{
		if (!e->said_no_worker)
			ereport(LOG,
					(errmsg("omniroute launcher: no background worker slot free for database \"%s\" (max_worker_processes = %d); retrying every second",
							NameStr(e->name), max_worker_processes),
					 errhint("Raise max_worker_processes: omniroute needs one for its launcher and one for each database with the extension, besides parallel query's.")));
		e->said_no_worker = true;
		start_later(e, now, RETRY_NO_WORKER_MS);
	}
	else if (listed)
	{
		if (e->said_no_worker)
			ereport(LOG,
					(errmsg("omniroute launcher: a background worker slot is free: starting the tick worker of database \"%s\"",
							NameStr(e->name))));
		e->said_no_worker = false;
		e->state = DB_RUNNING;
		e->started_at = now;
		e->serving = false;
	}
	LockRelease(&tag, RowExclusiveLock, false);
}

/* start the workers that are due; returns ms until the next is due */
static long
start_workers(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	DbEntry    *e;
	int			probing = 0;
	long		next = LAUNCHER_NAP_MS;
	bool		in_xact = false;

	hash_seq_init(&seq, databases);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->state == DB_RUNNING && !e->serving)
			probing++;

	hash_seq_init(&seq, databases);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->state != DB_START || !e->listed)
			continue;
		if (e->retry_at > now)
		{
			next = Min(next, TimestampDifferenceMilliseconds(now, e->retry_at));
			continue;
		}
		/* the others wait for a probe to end (its exit wakes us) */
		if (probing >= LAUNCHER_MAX_PROBES)
			continue;
		if (!in_xact)
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			in_xact = true;
		}
		start_worker(e, now);
		if (e->state == DB_RUNNING)
			probing++;
		else
			next = Min(next, TimestampDifferenceMilliseconds(now, e->retry_at));
	}
	if (in_xact)
		CommitTransactionCommand();
	return Max(next, 10);
}

/* one look at everything; returns how long to sleep, at most */
static long
launcher_round(void)
{
	Oid			wakes[WAKE_MAX];
	bool		wake_all;
	int			nwakes = take_wakes(wakes, &wake_all);
	TimestampTz now;
	HASH_SEQ_STATUS seq;
	DbEntry    *e;

	scan_databases();
	now = GetCurrentTimestamp();

	/* woken by CREATE EXTENSION (a database not listed is not served) */
	for (int i = 0; i < nwakes; i++)
	{
		e = hash_search(databases, &wakes[i], HASH_FIND, NULL);
		if (e == NULL)
			continue;
		if (e->state == DB_RUNNING)
			e->woken = true;	/* it may be leaving without having seen it */
		else if (e->state == DB_ABSENT)
			start_later(e, now, 0);
	}
	if (wake_all)
	{
		hash_seq_init(&seq, databases);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			if (e->state == DB_RUNNING)
				e->woken = true;
			else if (e->state == DB_ABSENT)
				start_later(e, now, 0);
		}
	}

	reap_workers(now);
	forget_databases();
	return start_workers(now);
}

/*
 * Run a round and survive an ERROR in it (a catalog read that failed):
 * report it, abort the transaction and go on at the next round, with the
 * tick worker's recovery (worker.c).
 */
static long
launcher_round_guarded(MemoryContext loop_context)
{
	long		timeout = LAUNCHER_NAP_MS;

	PG_TRY();
	{
		timeout = launcher_round();
	}
	PG_CATCH();
	{
		worker_recover_from_error(loop_context);
		ereport(LOG,
				(errmsg("omniroute launcher: looking at the databases failed; retrying in %d s",
						LAUNCHER_RESTART_SECONDS)));
		timeout = LAUNCHER_RESTART_SECONDS * 1000L;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(loop_context);
	return timeout;
}

void
omniroute_launcher_main(Datum main_arg)
{
	HASHCTL		ctl;
	MemoryContext loop_context;

	/*
	 * SIGTERM (a shutdown, pg_terminate_backend) ends the launcher between
	 * rounds, which never wait, with exit code 1: the postmaster starts it
	 * again after LAUNCHER_RESTART_SECONDS unless it is shutting down, and
	 * a shutdown logs no FATAL for it.  Its workers are not affected.
	 */
	(void) main_arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* no database: pg_database is a shared catalog */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DbEntry);
	databases = hash_create("omniroute launcher databases", 64, &ctl,
							HASH_ELEM | HASH_BLOBS);

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->latch = MyLatch;
	LWLockRelease(control->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	say_scope();
	adopt_slots();

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "omniroute launcher",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(loop_context);

	for (;;)
	{
		long		timeout;

		MemoryContextReset(loop_context);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			proc_exit(1);

		/* reset before looking: a wake or an exit after this sets it again */
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			say_scope();
		}

		timeout = launcher_round_guarded(loop_context);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout,
						 PG_WAIT_EXTENSION);
	}
}
