/*
 * util.h — SPI helpers shared by the modules.
 */
#ifndef OMNIROUTE_UTIL_H
#define OMNIROUTE_UTIL_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"

/* prepare and keep a plan for the life of the backend */
extern SPIPlanPtr util_prepare(const char *sql, int nargs, Oid *argtypes);

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

extern Datum util_jsonb(const char *json);

/* a hash table keyed by an int64 (the entry's first member), in cxt */
extern HTAB *util_int64_hash(const char *name, Size entrysize, MemoryContext cxt);

#endif							/* OMNIROUTE_UTIL_H */
