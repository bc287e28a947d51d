/*
 * hours.h — operating hours: whether a queue is open at an instant.
 */
#ifndef OMNIROUTE_HOURS_H
#define OMNIROUTE_HOURS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * true when the operating hours named (NULL: none = always open) say open
 * at `at`; caches compiled hours per backend, invalidated when
 * operating_hours/operating_hours_slot/holiday change.  Unknown hours: an
 * error (42704); `at` must be finite (22008).
 */
extern bool hours_is_open(const char *hours_name, TimestampTz at);

/*
 * the next instant after `at` at which those hours open (for tick
 * scheduling/diagnostics), or DT_NOEND if never: the earliest instant
 * t >= at at which hours_is_open(hours_name, t), so `at` itself when they
 * are open then.  DT_NOEND also when they do not open within 1,500 days
 * of `at` (no slots, or holidays on every day with a slot until then).
 */
extern TimestampTz hours_next_open(const char *hours_name, TimestampTz at);

#endif							/* OMNIROUTE_HOURS_H */
