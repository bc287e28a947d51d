/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The tick worker: a background worker that calls omniroute.tick() in
 *	  one database every omniroute.tick_interval milliseconds, so that timed
 *	  behaviour (offer timeouts, wrap-up release, auto-close, end-of-day
 *	  resets) happens without anyone calling tick() by hand.
 *
 *	  The launcher (launcher.c) starts one, as a dynamic background worker,
 *	  in every database that may have the extension, passing the database's
 *	  OID in bgw_extra and its slot in bgw_main_arg; routing on INSERT never
 *	  needs it.  It shows in pg_stat_activity with backend_type "omniroute
 *	  tick".
 *
 *	  Each tick is one transaction of its own: a fresh snapshot, the
 *	  extension looked up in pg_extension and locked (AccessShareLock, so
 *	  that a DROP EXTENSION waits for the tick to end instead of pulling the
 *	  schema from under it), then SELECT omniroute.tick() through SPI.
 *	  tick() does its own locking and is safe to run concurrently with a
 *	  manual call, so the worker takes no other locks of its own.  Without
 *	  the extension (never installed, or dropped since) the worker exits,
 *	  saying so in its slot, and the launcher does not start it again until
 *	  CREATE EXTENSION; at another version than the library's, it waits for
 *	  ALTER EXTENSION ... UPDATE, saying so once.
 *
 *	  Between ticks it also sends the agent notifications routers hand it
 *	  (notify.c), and vacuums queue_member when routing has churned it
 *	  (tidy.c), each in transactions of its own.
 *
 *	  Errors: an ERROR in a tick is caught, reported to the server log,
 *	  the transaction aborted and the error state flushed
 *	  (worker_recover_from_error, which the launcher's loop uses too); the
 *	  worker then waits for the next tick and tries again.  A FATAL (SIGTERM goes through
 *	  die() and CHECK_FOR_INTERRUPTS) is never caught: it ends the process,
 *	  so a shutdown or pg_terminate_backend() is always obeyed; the launcher
 *	  starts it again after a pause.
 *
 *	  Timing: ticks start every tick_interval milliseconds, measured from
 *	  the start of the previous tick; a tick that overruns the interval is
 *	  followed by the next one at once.  A latch wake-up (SIGHUP, SIGTERM)
 *	  does not bring the next tick forward.
 *
 *	  Stepping aside: a connected worker would make DROP DATABASE, ALTER
 *	  DATABASE RENAME / SET TABLESPACE and CREATE DATABASE ... TEMPLATE on
 *	  its database fail with "being accessed by other users" (they wait
 *	  only five seconds, and only autovacuum is asked to leave).  Those
 *	  commands lock the database object in a mode that conflicts with the
 *	  RowExclusiveLock every new connection takes on it, so the worker
 *	  probes that lock, without waiting, at least every WORKER_PROBE_MS and
 *	  exits when it is taken, saying so in its slot; the launcher starts it
 *	  again once the lock is free, if the database is still there.  Between
 *	  ticks the worker holds no locks at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "launcher.h"
#include "omniroute.h"
#include "notify.h"
#include "tidy.h"
#include "worker.h"

/*
 * How often, at least, the worker checks whether it must leave its
 * database: a command that needs the database to itself waits about this
 * long for it.
 */
#define WORKER_PROBE_MS			200

#define TICK_QUERY				"SELECT omniroute.tick()"

/*
 * Notifications sent per transaction, at most; and how long the worker
 * lets them gather after sending some, so that under a stream of routed
 * inserts one transaction (and one turn of NOTIFY's commit lock) carries
 * many, and routers seldom have to wake the worker with a signal.  A
 * notification that finds the worker idle goes out at once; under a stream
 * they go out every NOTIFY_GATHER_US.  A much shorter gather makes the
 * worker commit so often (each commit an xid and a turn of NOTIFY's lock)
 * that routers lose throughput to it; the measurements behind this value
 * are in bench/RESULTS.md.
 */
#define NOTIFY_BATCH			256
#define NOTIFY_BATCHES_PER_LOOP	16
#define NOTIFY_GATHER_US		10000

/* The database this process is connected to, for good. */
static char *worker_database = NULL;

/*
 * Whether the last tick found the extension: -1 unknown, 0 no, 1 yes, 2 at
 * another version.
 */
static int	extension_seen = -1;

/* whether this worker ever found the extension */
static bool extension_found = false;

/* Per-iteration allocations of the main loop; reset every iteration. */
static MemoryContext loop_context;

/*
 * Log, once per change, whether the extension is installed in our database
 * at this library's version, so that a worker in a database still waiting
 * for ALTER EXTENSION ... UPDATE says so without repeating itself every
 * tick.  Without the extension the main loop makes the worker leave.
 * Returns whether to tick.
 */
static bool
note_extension(const char *version)
{
	int			seen;

	if (version == NULL)
		seen = 0;
	else if (strcmp(version, OMNIROUTE_VERSION) != 0)
		seen = 2;
	else
		seen = 1;
	if (seen != 0 && !extension_found)
	{
		extension_found = true;
		launcher_worker_serving();
	}
	if (extension_seen != seen)
	{
		extension_seen = seen;
		if (seen == 1)
			ereport(LOG,
					(errmsg("omniroute tick worker: ticking in database \"%s\" every %d ms",
							worker_database, omniroute_tick_interval)));
		else if (seen == 0)
			;					/* the main loop says so as it leaves */
		else
			ereport(LOG,
					(errmsg("omniroute tick worker: extension omniroute in database \"%s\" is at version %s, but its library is version %s; waiting for the update",
							worker_database, version, OMNIROUTE_VERSION),
					 errhint("Run ALTER EXTENSION omniroute UPDATE; in that database.")));
	}
	return seen == 1;
}

/*
 * One tick, in a transaction of its own.  Errors propagate to the caller.
 */
static void
tick_once(void)
{
	bool		current;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute tick worker: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());

	current = note_extension(omniroute_lock_extension());

	/* a session restoring a dump here: wait until it is done (launcher.c) */
	if (current && !launcher_database_restoring())
	{
		int			ret;

		pgstat_report_activity(STATE_RUNNING, TICK_QUERY);

		ret = SPI_execute(TICK_QUERY, false, 0);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "omniroute tick worker: %s returned %s with " UINT64_FORMAT " rows",
				 TICK_QUERY, SPI_result_code_string(ret), SPI_processed);
		ereport(DEBUG1,
				(errmsg_internal("omniroute tick worker: tick took %s actions",
								 SPI_getvalue(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1))));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Recover from an ERROR caught by PG_CATCH in a background worker's loop
 * (this one's and the launcher's), so that the loop can go on.
 *
 * It does what PostgresMain's error recovery does for a plain backend:
 * report the error (with its SQLSTATE, detail and context, at level
 * ERROR), abort the transaction (which releases locks, buffer pins, SPI
 * and snapshots, and frees the transaction's memory), and flush the error
 * state; then it switches to context, the caller's loop memory.
 * errfinish() has already reset InterruptHoldoffCount before the longjmp; a
 * pending SIGTERM is acted on at the next CHECK_FOR_INTERRUPTS in the loop.
 */
void
worker_recover_from_error(MemoryContext context)
{
	HOLD_INTERRUPTS();
	EmitErrorReport();
	disable_all_timeouts(false);
	QueryCancelPending = false;
	AbortCurrentTransaction();
	MemoryContextSwitchTo(context);
	FlushErrorState();
	RESUME_INTERRUPTS();
}

/*
 * Run fn (one tick, sending notifications, a vacuum) and survive an ERROR
 * in it: recover, say what failed, and let the main loop try again at its
 * next turn.
 */
static void
run_guarded(void (*fn) (void), const char *what)
{
	PG_TRY();
	{
		fn();
	}
	PG_CATCH();
	{
		worker_recover_from_error(loop_context);
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(LOG,
				(errmsg("omniroute tick worker: %s failed; retrying in %d ms",
						what, omniroute_tick_interval)));
	}
	PG_END_TRY();

	/* commit and abort both leave us in TopMemoryContext */
	MemoryContextSwitchTo(loop_context);
}

/* notifications sent by the last send_notifications() */
static int	notifications_sent;

/*
 * Send the agent notifications routers handed over at their commit
 * (notify.c), a batch per transaction, until none are waiting.
 */
static void
send_notifications(void)
{
	int			n;

	notifications_sent = 0;
	/* a ring's worth at most, so that ticks and signals are not starved */
	for (int batches = 0; batches < NOTIFY_BATCHES_PER_LOOP; batches++)
	{
		if ((n = notify_worker_send(NOTIFY_BATCH)) == 0)
			break;
		notifications_sent += n;
	}
}

/*
 * Whether a command that needs the database to itself (see "Stepping aside"
 * above) holds or awaits a lock on it: probe, without waiting, the lock a
 * new connection would take, and let it go at once.
 */
static bool
database_wanted_exclusively(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	if (LockAcquire(&tag, RowExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, true);
	return false;
}

/*
 * Leave the database for good (or until the launcher starts us again),
 * telling the launcher why.  Notifications already handed over are sent
 * first, unless we must leave at once (stepping aside: the next worker of
 * this database sends them).
 */
static void
leave(WorkerExit why)
{
	if (why != WORKER_EXIT_ASIDE)
		run_guarded(send_notifications, "sending notifications");
	launcher_worker_exit_reason(why);
	proc_exit(0);
}

/* the database's name, for the log */
static char *
database_name(void)
{
	char	   *name;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	name = MemoryContextStrdup(TopMemoryContext, name ? name : "?");
	CommitTransactionCommand();
	return name;
}

/* when the main loop last did each of its timed jobs */
typedef struct WorkerClock
{
	bool		ticked;			/* a tick was started since the worker began */
	TimestampTz tick;			/* the last tick started */
	TimestampTz probe;			/* the database's lock last probed */
	TimestampTz tidy;			/* queue_member last looked at (tidy.c) */
} WorkerClock;

/*
 * Connect to the database the launcher chose and take its slot; set up the
 * loop's memory and, once the slot is ours, the notification ring.
 */
static void
worker_start(int slot)
{
	Oid			database;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/*
	 * The database is fixed for the life of the process.  If it was dropped
	 * after the launcher looked, this raises FATAL; the launcher sees it
	 * gone from pg_database and starts nothing more.
	 */
	memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);

	/* another worker serves this database already (a launcher restarted) */
	if (!launcher_worker_attach(slot))
		proc_exit(0);

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "omniroute tick worker",
										 ALLOCSET_DEFAULT_SIZES);
	worker_database = database_name();
	ereport(DEBUG1,
			(errmsg_internal("omniroute tick worker started in database \"%s\"", worker_database)));

	/* routers in this database now hand their notifications to us */
	notify_worker_attach(slot);
}

/*
 * Leave when the launcher asks (omniroute.database no longer names this
 * database) or, probed every WORKER_PROBE_MS, when a command needs the
 * database to itself (see "Stepping aside" above).
 */
static void
leave_if_not_wanted(WorkerClock *clock)
{
	TimestampTz now;

	if (launcher_worker_stop_requested())
	{
		ereport(LOG,
				(errmsg("omniroute tick worker: database \"%s\" is no longer to be served; stopping",
						worker_database)));
		leave(WORKER_EXIT_STOPPED);
	}

	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(clock->probe, now, WORKER_PROBE_MS))
		return;
	clock->probe = now;
	if (database_wanted_exclusively())
	{
		ereport(LOG,
				(errmsg("omniroute tick worker: database \"%s\" is being dropped, renamed, moved or copied; leaving it until that is done",
						worker_database)));
		leave(WORKER_EXIT_ASIDE);
	}
}

/*
 * Tick if tick_interval has passed since the last tick started (at once
 * the first time).  A standby cannot write: nothing to do until promotion.
 */
static void
tick_if_due(WorkerClock *clock)
{
	TimestampTz now = GetCurrentTimestamp();

	if (clock->ticked &&
		!TimestampDifferenceExceeds(clock->tick, now, omniroute_tick_interval))
		return;
	clock->tick = now;
	clock->ticked = true;
	if (RecoveryInProgress())
		return;
	notify_worker_busy(true);
	run_guarded(tick_once, "tick");
	notify_worker_busy(false);
}

/* no extension here (any more): leave; the launcher waits for CREATE EXTENSION */
static void
leave_if_extension_gone(void)
{
	if (extension_seen != 0)
		return;
	if (extension_found)
		ereport(LOG,
				(errmsg("omniroute tick worker: extension omniroute was dropped from database \"%s\"; stopping until it is created again",
						worker_database)));
	else
		ereport(DEBUG1,
				(errmsg_internal("omniroute tick worker: extension omniroute is not installed in database \"%s\"",
								 worker_database)));
	leave(WORKER_EXIT_ABSENT);
}

/* vacuum queue_member's dead candidate index entries when due: see tidy.c */
static void
tidy_if_due(WorkerClock *clock)
{
	TimestampTz now = GetCurrentTimestamp();

	if (extension_seen != 1 || RecoveryInProgress() ||
		!TimestampDifferenceExceeds(clock->tidy, now, TIDY_INTERVAL_MS))
		return;
	clock->tidy = now;
	notify_worker_busy(true);
	run_guarded(tidy_members, "vacuuming queue_member");
	notify_worker_busy(false);
}

/*
 * Wait until the next tick is due, the next probe of the database's lock at
 * the latest, or until the latch is set (a router handed over
 * notifications, SIGHUP, SIGTERM).
 */
static void
wait_for_work(const WorkerClock *clock)
{
	TimestampTz now = GetCurrentTimestamp();
	long		timeout;

	timeout = TimestampDifferenceMilliseconds(now,
											  TimestampTzPlusMilliseconds(clock->tick,
																		  omniroute_tick_interval));
	timeout = Min(timeout, WORKER_PROBE_MS);

	(void) WaitLatch(MyLatch,
					 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout,
					 PG_WAIT_EXTENSION);
}

/*
 * The worker's main loop: leave when told to, send the notifications
 * handed over, tick when due, leave if the extension is gone, vacuum when
 * due, then wait (or, having just sent notifications, let more gather).
 */
void
omniroute_worker_main(Datum main_arg)
{
	WorkerClock clock = {0};

	worker_start(DatumGetInt32(main_arg));
	MemoryContextSwitchTo(loop_context);

	for (;;)
	{
		MemoryContextReset(loop_context);
		CHECK_FOR_INTERRUPTS();

		/*
		 * omniroute.tick_interval applies from the next wait on; a new
		 * omniroute.database is the launcher's to act on (it asks the
		 * workers of databases no longer served to stop).
		 */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		leave_if_not_wanted(&clock);

		/*
		 * Reset before looking for work: a router that hands over
		 * notifications after this sets it again, and the wait below
		 * returns at once.
		 */
		ResetLatch(MyLatch);
		notifications_sent = 0;
		if (!RecoveryInProgress())
			run_guarded(send_notifications, "sending notifications");

		tick_if_due(&clock);
		leave_if_extension_gone();
		tidy_if_due(&clock);

		/* more will likely follow the ones just sent: let them gather */
		if (notifications_sent > 0)
		{
			pg_usleep(NOTIFY_GATHER_US);
			continue;
		}
		wait_for_work(&clock);
	}
}
