/*-------------------------------------------------------------------------
 *
 * util.c
 *	  SPI helpers: statements prepared once per backend (UtilPlan),
 *	  execution that restores the caller's memory context, typed access
 *	  to result columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "utils/hsearch.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "util.h"

SPIPlanPtr
util_plan(UtilPlan *p)
{
	SPIPlanPtr	plan;
	MemoryContext caller = CurrentMemoryContext;

	if (p->plan != NULL)
		return p->plan;
	Assert(p->nargs <= UTIL_PLAN_MAXARGS);

	/*
	 * Generic plans: every query here is a keyed lookup or an index range
	 * whose shape does not depend on the parameters, so replanning per call
	 * (the plancache's custom plans) would only cost time.
	 */
	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "omniroute: SPI_prepare failed for \"%s\": %s", p->sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	p->plan = plan;
	/* SPI leaves its own context current: what the caller allocates next is theirs */
	MemoryContextSwitchTo(caller);
	return plan;
}

uint64
util_exec(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
		  long count, int expected)
{
	MemoryContext caller = CurrentMemoryContext;
	int			ret = SPI_execute_plan(plan, values, nulls, read_only, count);

	MemoryContextSwitchTo(caller);
	if (ret != expected)
		elog(ERROR, "omniroute: query failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

Datum
util_col(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

int64
util_col_int64(uint64 row, int col)
{
	bool		isnull;
	Datum		d = util_col(row, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

int32
util_col_int32(uint64 row, int col)
{
	bool		isnull;
	Datum		d = util_col(row, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

char *
util_col_text(uint64 row, int col)
{
	bool		isnull;
	Datum		d = util_col(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

TimestampTz
util_time_plus(TimestampTz t, const Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(iv)));
}

HTAB *
util_int64_hash(const char *name, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

int64
util_attr_int64(HeapTuple tup, TupleDesc desc, int attnum, bool *isnull)
{
	bool		null;
	Datum		d;

	if (attnum <= 0)
		elog(ERROR, "omniroute: no int8 column %d in the row", attnum);
	d = heap_getattr(tup, attnum, desc, &null);
	if (isnull != NULL)
		*isnull = null;
	return null ? 0 : DatumGetInt64(d);
}
