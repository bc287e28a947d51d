/*
 * worker.h — the tick worker: calls omniroute.tick() on a timer in one
 * database, started by the launcher (launcher.c); and the error recovery
 * that the worker's and the launcher's loops share.
 */
#ifndef OMNIROUTE_WORKER_H
#define OMNIROUTE_WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void omniroute_worker_main(Datum main_arg);

/* in a PG_CATCH block of a worker's loop: clean up and go on in context */
extern void worker_recover_from_error(MemoryContext context);

#endif							/* OMNIROUTE_WORKER_H */
