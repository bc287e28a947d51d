/*
 * worker.h — the tick worker: calls omniroute.tick() on a timer in one
 * database, started by the launcher (launcher.c).
 */
#ifndef OMNIROUTE_WORKER_H
#define OMNIROUTE_WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void omniroute_worker_main(Datum main_arg);

#endif							/* OMNIROUTE_WORKER_H */
