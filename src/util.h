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

/*
 * A jsonb value built directly, without printing JSON text and parsing it
 * back (jsonb_in was a twentieth of a routed insert).  Values go into the
 * innermost open object (after jb_key) or array; strings are not copied
 * and must live until jb_finish.
 */
typedef struct JsonBuild
{
	JsonbParseState *state;
	JsonbValue *result;
} JsonBuild;

extern void jb_init(JsonBuild *b);
extern void jb_token(JsonBuild *b, JsonbIteratorToken token);
#define jb_object(b)		jb_token((b), WJB_BEGIN_OBJECT)
#define jb_end_object(b)	jb_token((b), WJB_END_OBJECT)
#define jb_array(b)			jb_token((b), WJB_BEGIN_ARRAY)
#define jb_end_array(b)		jb_token((b), WJB_END_ARRAY)
extern void jb_key(JsonBuild *b, const char *key);
extern void jb_string(JsonBuild *b, const char *s);
extern void jb_int(JsonBuild *b, int64 v);
extern void jb_bool(JsonBuild *b, bool v);
extern void jb_null(JsonBuild *b);
extern void jb_time(JsonBuild *b, TimestampTz t, bool isnull);
extern void jb_jsonb(JsonBuild *b, Jsonb *j);
/* key and value in one */
extern void jb_kv_string(JsonBuild *b, const char *key, const char *s);
extern void jb_kv_int(JsonBuild *b, const char *key, int64 v);
extern void jb_kv_bool(JsonBuild *b, const char *key, bool v);
/* the jsonb Datum, once the outermost object or array is closed */
extern Datum jb_finish(JsonBuild *b);

/* a hash table keyed by an int64 (the entry's first member), in cxt */
extern HTAB *util_int64_hash(const char *name, Size entrysize, MemoryContext cxt);

#endif							/* OMNIROUTE_UTIL_H */
