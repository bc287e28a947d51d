/*
 * worker.h — the background worker that calls omniroute.tick() on a timer.
 */
#ifndef OMNIROUTE_WORKER_H
#define OMNIROUTE_WORKER_H

#include "postgres.h"

extern void worker_register(void);
extern PGDLLEXPORT void omniroute_worker_main(Datum main_arg);

#endif							/* OMNIROUTE_WORKER_H */
