/*
 * launcher.h — the launcher that starts a tick worker for every database
 * with the extension, and the shared table of those workers (see
 * launcher.c).
 */
#ifndef OMNIROUTE_LAUNCHER_H
#define OMNIROUTE_LAUNCHER_H

#include "postgres.h"

/* Why a tick worker left its database; the launcher acts on it. */
typedef enum WorkerExit
{
	WORKER_EXIT_NONE,			/* ended without saying (FATAL, SIGTERM):
								 * started again after a pause */
	WORKER_EXIT_ABSENT,			/* extension omniroute is not installed:
								 * started again on CREATE EXTENSION */
	WORKER_EXIT_ASIDE,			/* the database is wanted exclusively (DROP,
								 * RENAME, TEMPLATE): started again once free */
	WORKER_EXIT_STOPPED			/* asked to stop: the database is no longer
								 * served (omniroute.database) */
} WorkerExit;

/* from _PG_init, when preloaded: shared memory and the launcher itself */
extern void launcher_init(void);
extern PGDLLEXPORT void omniroute_launcher_main(Datum main_arg);

/* whether omniroute.database lets a worker serve database name */
extern bool launcher_database_allowed(const char *name);

/*
 * The tick worker's side: take its slot (false: another worker serves the
 * database already), say that it found the extension, whether the launcher
 * asks it to stop, and why it leaves (written to the slot at exit).
 */
extern bool launcher_worker_attach(int slot);
extern void launcher_worker_serving(void);
extern bool launcher_worker_stop_requested(void);
extern bool launcher_database_restoring(void);
extern void launcher_worker_exit_reason(WorkerExit why);

#endif							/* OMNIROUTE_LAUNCHER_H */
