/*
 * tidy.h — the tick worker vacuums queue_member when routing has churned
 * it (see tidy.c).
 */
#ifndef OMNIROUTE_TIDY_H
#define OMNIROUTE_TIDY_H

#include "postgres.h"

/* how often the worker looks at the statistics, at most */
#define TIDY_INTERVAL_MS	500

/* from the worker, outside any transaction: VACUUM queue_member if due */
extern void tidy_members(void);

#endif							/* OMNIROUTE_TIDY_H */
