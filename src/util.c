/*-------------------------------------------------------------------------
 *
 * util.c
 *	  SPI helpers: saved plans, execution that restores the caller's
 *	  memory context, typed access to result columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "util.h"

SPIPlanPtr
util_prepare(const char *sql, int nargs, Oid *argtypes)
{
	/*
	 * Generic plans: every query here is a keyed lookup or an index range
	 * whose shape does not depend on the parameters, so replanning per call
	 * (the plancache's custom plans) would only cost time.
	 */
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "omniroute: SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
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

Datum
util_jsonb(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
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

/* ----------------------------------------------------------------
 * JsonBuild
 * ----------------------------------------------------------------
 */
void
jb_init(JsonBuild *b)
{
	b->state = NULL;
	b->result = NULL;
}

/* a value in the innermost open container: an element of an array, else an object's */
static void
jb_push(JsonBuild *b, JsonbValue *v)
{
	JsonbIteratorToken token = (b->state != NULL && b->state->contVal.type == jbvArray) ?
		WJB_ELEM : WJB_VALUE;

	b->result = pushJsonbValue(&b->state, token, v);
}

/* open or close an object or array */
void
jb_token(JsonBuild *b, JsonbIteratorToken token)
{
	b->result = pushJsonbValue(&b->state, token, NULL);
}

/* a string as a key (WJB_KEY) or a value */
static void
jb_text(JsonBuild *b, const char *s, bool key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	if (key)
		b->result = pushJsonbValue(&b->state, WJB_KEY, &v);
	else
		jb_push(b, &v);
}

void
jb_key(JsonBuild *b, const char *key)
{
	jb_text(b, key, true);
}

void
jb_string(JsonBuild *b, const char *s)
{
	jb_text(b, s, false);
}

void
jb_int(JsonBuild *b, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	jb_push(b, &v);
}

void
jb_bool(JsonBuild *b, bool value)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = value;
	jb_push(b, &v);
}

void
jb_null(JsonBuild *b)
{
	JsonbValue	v;

	v.type = jbvNull;
	jb_push(b, &v);
}

/* a timestamp as the text timestamptz_out gives, or null */
void
jb_time(JsonBuild *b, TimestampTz t, bool isnull)
{
	if (isnull)
		jb_null(b);
	else
		jb_string(b, pstrdup(timestamptz_to_str(t)));
}

void
jb_jsonb(JsonBuild *b, Jsonb *j)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	jb_push(b, &v);
}

void
jb_kv_string(JsonBuild *b, const char *key, const char *s)
{
	jb_key(b, key);
	jb_string(b, s);
}

void
jb_kv_int(JsonBuild *b, const char *key, int64 v)
{
	jb_key(b, key);
	jb_int(b, v);
}

void
jb_kv_bool(JsonBuild *b, const char *key, bool v)
{
	jb_key(b, key);
	jb_bool(b, v);
}

Datum
jb_finish(JsonBuild *b)
{
	Assert(b->state == NULL && b->result != NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(b->result));
}
