/*-------------------------------------------------------------------------
 *
 * jb.c
 *	  The one way omniroute builds JSON: a jsonb value assembled token by
 *	  token with pushJsonbValue, never JSON text printed and parsed back,
 *	  never escaped by hand.  diagnostics, event details, explain() and
 *	  notification payloads all go through it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "jb.h"

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

/* a value as read from a jsonb (a scalar, or a container as jbvBinary) */
void
jb_value(JsonBuild *b, JsonbValue *v)
{
	jb_push(b, v);
}

/* an empty object, {} */
Jsonb *
jb_empty_object(void)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_end_object(&b);
	return DatumGetJsonbP(jb_finish(&b));
}
