/*
 * jb.h — building a jsonb value directly.
 */
#ifndef OMNIROUTE_JB_H
#define OMNIROUTE_JB_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

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

/* a value as read from a jsonb (a scalar, or a container as jbvBinary) */
extern void jb_value(JsonBuild *b, JsonbValue *v);
/* an empty object, {} */
extern Jsonb *jb_empty_object(void);

#endif							/* OMNIROUTE_JB_H */
