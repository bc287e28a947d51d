/*
 * util.h — SPI helpers shared by the modules.
 */
#ifndef OMNIROUTE_UTIL_H
#define OMNIROUTE_UTIL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

/*
 * The one way a module prepares a statement: a static UtilPlan per
 * statement, prepared on first use by util_plan() and kept for the life
 * of the backend.  A prepare that fails leaves it unprepared, so the next
 * call tries again.
 *
 *	static UtilPlan lock_plan = {"SELECT ... WHERE id = $1", 1, {INT8OID}, NULL};
 *	util_exec(util_plan(&lock_plan), values, NULL, false, 1, SPI_OK_SELECT);
 */
#define UTIL_PLAN_MAXARGS 10

typedef struct UtilPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[UTIL_PLAN_MAXARGS];
	SPIPlanPtr	plan;			/* NULL until prepared */
} UtilPlan;

extern SPIPlanPtr util_plan(UtilPlan *p);

/*
 * Execute a saved plan; errors unless SPI returns expected.  Returns the
 * number of rows, with the caller's memory context restored (SPI leaves
 * its own current after each call).
 */
extern uint64 util_exec(SPIPlanPtr plan, Datum *values, const char *nulls,
						bool read_only, long count, int expected);

/* column col (1-based) of row i of the last result */
extern Datum util_col(uint64 row, int col, bool *isnull);
extern int64 util_col_int64(uint64 row, int col);
extern int32 util_col_int32(uint64 row, int col);
extern char *util_col_text(uint64 row, int col);	/* NULL if null */


/* t plus an interval, as timestamptz + interval in SQL (the session's time zone) */
extern TimestampTz util_time_plus(TimestampTz t, const Interval *iv);

/* a hash table keyed by an int64 (the entry's first member), in cxt */
extern HTAB *util_int64_hash(const char *name, Size entrysize, MemoryContext cxt);

/* an int8 column (attnum, 1-based) of a row: 0 when NULL, and *isnull (if given) says so */
extern int64 util_attr_int64(HeapTuple tup, TupleDesc desc, int attnum, bool *isnull);

#endif							/* OMNIROUTE_UTIL_H */
