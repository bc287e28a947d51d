/*-------------------------------------------------------------------------
 *
 * route.c
 *	  Routing a work item on INSERT: the BEFORE INSERT trigger on
 *	  omniroute.work_item, and simulate(), which runs the same steps without
 *	  side effects.
 *
 *	  In the inserting transaction the trigger
 *		1. checks the new row (state left open, no agent) and reads what
 *		   the application gave;
 *		2. classifies it: checks the item's context against the
 *		   workstream's declared variable types (22P02), and applies every
 *		   classification rule whose condition holds, in position order,
 *		   each seeing the outputs of the ones before;
 *		3. chooses the queue: the first route rule that holds, else the
 *		   workstream's fallback queue (or the queue_id the application gave);
 *		4. in push mode, finds an agent: the workstream's bot, else the
 *		   agent who last handled the conversation (keep_same_agent), else
 *		   the customer's best-ranked eligible preferred agent (prefer.c;
 *		   or the item waits for one), else one that assign.c chooses and
 *		   reserves; the item becomes offered (active with auto_accept, or
 *		   with a bot);
 *		5. writes the new row's routing columns and diagnostics;
 *		6. records the item's first event and NOTIFYs the agent.
 *	  Everything happens in the inserting transaction: if it rolls back, the
 *	  reservation does too.
 *
 *	  The workstream's configuration and compiled rules come from the
 *	  per-backend cache (config.c), so the only queries on this path are
 *	  the candidate range scans, the reservation and the event insert, all
 *	  prepared once per backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "events.h"
#include "hours.h"
#include "item.h"
#include "prefer.h"
#include "refs.h"
#include "route.h"
#include "timer.h"
#include "jb.h"
#include "util.h"
#include "omniroute.h"

/* ----------------------------------------------------------------
 * Reading the item
 * ----------------------------------------------------------------
 */

/* the value of context key name, if present */
static bool
context_get(Jsonb *context, const char *name, JsonbValue *out)
{
	return getKeyJsonValueFromContainer(&context->root, name, strlen(name), out) != NULL;
}

/* a JSON value as a message shows it: strings quoted and cut */
static char *
shown_json_value(const JsonbValue *v)
{
	if (v->type == jbvString)
		return psprintf("\"%.*s\"",
						pg_mbcliplen(v->val.string.val, v->val.string.len, 60),
						v->val.string.val);
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v->type == jbvNumeric)
		return pstrdup("a number out of range");
	return pstrdup("an object or array");
}

/* context variable slot's value from the item's context, of its declared type */
static void
fill_slot(WorkstreamConfig *ws, const RuleVars *vars, int slot, JsonbValue *v, RuleValue *rv)
{
	if (rule_value_from_jsonb(v, vars->types[slot], rv))
		return;
	if (vars->types[slot] == RT_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid value for number context variable \"%s\" of workstream \"%s\": %s",
						vars->names[slot], ws->name, shown_json_value(v))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("context variable \"%s\" of workstream \"%s\" is text, not an object or array",
					vars->names[slot], ws->name)));
}

static void
set_text_slot(RuleValue *rv, const char *s)
{
	memset(rv, 0, sizeof(RuleValue));
	if (s == NULL)
		rv->isnull = true;
	else
		rule_value_set_text(rv, s, strlen(s));
}

/*
 * The one check of a skill proficiency, for an item's required_skills and a
 * classification rule's output "skills" alike: a JSON integer from 1 to 10.
 * (A number out of range is infinite, not an error.)
 */
static bool
skill_level(const JsonbValue *v, int32 *level)
{
	double		d;

	if (v->type != jbvNumeric)
		return false;
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (d != floor(d) || d < 1 || d > 10)
		return false;
	*level = (int32) d;
	return true;
}

/* required skills into rs, up to the first bad one (*bad; NULL: not an object) */
static bool
skills_parse(Jsonb *js, RequiredSkills *rs, char **bad)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = Max(JB_ROOT_COUNT(js), 4);

	rs->n = 0;
	rs->names = palloc(sizeof(char *) * cap);
	rs->levels = palloc(sizeof(int32) * cap);
	*bad = NULL;
	if (!JB_ROOT_IS_OBJECT(js) || JB_ROOT_IS_SCALAR(js))
		return false;
	it = JsonbIteratorInit(&js->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *skill;

		if (tok != WJB_KEY)
			continue;
		skill = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (!skill_level(&v, &rs->levels[rs->n]))
		{
			*bad = skill;
			return false;
		}
		rs->names[rs->n++] = skill;
	}
	return true;
}

bool
route_required_skills_parse(Jsonb *js, RequiredSkills *rs, char **bad)
{
	char	   *refused;
	bool		ok = skills_parse(js, rs, &refused);

	if (!ok && bad == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", route_required_skills_problem(refused))));
	if (bad != NULL)
		*bad = refused;
	return ok;
}

/* what is wrong with a requirement route_required_skills_parse() refused */
char *
route_required_skills_problem(const char *bad)
{
	if (bad == NULL)
		return pstrdup("required_skills must be a JSON object of skill name to proficiency");
	return psprintf("required proficiency of skill \"%s\" must be an integer from 1 to 10", bad);
}

/* a classification rule requires a skill: keep the higher requirement */
static void
merge_skills(RequiredSkills *rs, Jsonb *add)
{
	RequiredSkills more;

	route_required_skills_parse(add, &more, NULL);
	for (int i = 0; i < more.n; i++)
	{
		int			j;

		for (j = 0; j < rs->n; j++)
		{
			if (strcmp(rs->names[j], more.names[i]) == 0)
			{
				rs->levels[j] = Max(rs->levels[j], more.levels[i]);
				break;
			}
		}
		if (j == rs->n)
		{
			rs->names = repalloc(rs->names, sizeof(char *) * (rs->n + 1));
			rs->levels = repalloc(rs->levels, sizeof(int32) * (rs->n + 1));
			rs->names[rs->n] = more.names[i];
			rs->levels[rs->n] = more.levels[i];
			rs->n++;
		}
	}
}

Jsonb *
route_skills_to_jsonb(const RequiredSkills *rs)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	for (int i = 0; i < rs->n; i++)
		jb_kv_int(&b, rs->names[i], rs->levels[i]);
	jb_end_object(&b);
	return DatumGetJsonbP(jb_finish(&b));
}

/*
 * The values rules see for an item: built-ins, then the context variables,
 * checked against their declared types (22P02).
 */
static RuleValue *
fill_slots(WorkstreamConfig *ws, const RuleVars *vars, const ItemInput *in)
{
	RuleValue  *slots = palloc0(sizeof(RuleValue) * vars->nvars);
	JsonbValue	jv;

	/* built-ins */
	if (context_get(in->context, "channel", &jv) && jv.type == jbvString)
		rule_value_set_text(&slots[RULE_SLOT_CHANNEL], jv.val.string.val, jv.val.string.len);
	else
		set_text_slot(&slots[RULE_SLOT_CHANNEL], ws->channel);
	set_text_slot(&slots[RULE_SLOT_CUSTOMER_ID], in->customer_id);
	set_text_slot(&slots[RULE_SLOT_EXTERNAL_ID], in->external_id);
	slots[RULE_SLOT_PRIORITY].type = RT_NUMBER;
	slots[RULE_SLOT_PRIORITY].num = in->priority;

	/* context variables, checked against their declared types */
	for (int s = RULE_NBUILTINS; s < vars->nvars; s++)
	{
		if (context_get(in->context, vars->names[s], &jv))
			fill_slot(ws, vars, s, &jv, &slots[s]);
		else
			slots[s].isnull = true;
	}
	return slots;
}

/*
 * Apply every classification rule whose condition holds, in position
 * order, each seeing the outputs of the ones before: the "classification"
 * member of the diagnostics lists them.
 */
static void
route_apply_classification(WorkstreamConfig *ws, RuleValue *slots,
						   RouteOutcome *out, JsonBuild *diag)
{
	jb_key(diag, "classification");
	jb_array(diag);
	for (int i = 0; i < ws->nclass; i++)
	{
		CompiledRule *r = &ws->class_rules[i];
		ClassOutput *o = &r->output;

		if (!rule_eval(r->expr, slots))
			continue;
		jb_object(diag);
		jb_kv_string(diag, "rule", r->name);
		jb_kv_int(diag, "position", r->position);
		jb_key(diag, "output");
		jb_jsonb(diag, o->source);
		jb_end_object(diag);

		if (o->has_priority)
		{
			out->priority = o->priority;
			slots[RULE_SLOT_PRIORITY].num = o->priority;
		}
		if (o->skills)
		{
			merge_skills(&out->skills, o->skills);
			out->skills_changed = true;
		}
		if (o->context_patch)
		{
			out->context = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
															  JsonbPGetDatum(out->context),
															  JsonbPGetDatum(o->context_patch)));
			out->context_changed = true;
			for (int k = 0; k < o->npatched; k++)
				slots[o->patched_slots[k]] = o->patched_values[k];
		}
	}
	jb_end_array(diag);
}

/*
 * Percentage split: the bucket of an item id, (id mod 100) * 37 mod 100,
 * is a permutation of 0..99 over every 100 consecutive ids (37 and 100
 * are coprime), so each queue gets exactly its percent of them, spread
 * through the block rather than in one run; the bucket falls on the
 * cumulative percents in queue_id order.  A split being edited in this
 * transaction may not sum to 100 yet: buckets are scaled to its sum.
 */
static int32
split_bucket(int64 item_id)
{
	int64		b = ((item_id % 100) + 100) % 100;

	return (int32) (b * 37 % 100);
}

static int
split_choose(const CompiledRule *r, int32 bucket)
{
	int32		target = bucket * r->split_total / 100;
	int32		cum = 0;

	for (int i = 0; i < r->nsplit; i++)
	{
		cum += r->split_percents[i];
		if (target < cum)
			return i;
	}
	return r->nsplit - 1;
}

/* the largest share (first of equals): simulate() without an item id */
static int
split_largest(const CompiledRule *r)
{
	int			best = 0;

	for (int i = 1; i < r->nsplit; i++)
		if (r->split_percents[i] > r->split_percents[best])
			best = i;
	return best;
}

/*
 * The queue a split rule sends the item to; the "split" member of the
 * diagnostics lists its queues and percents, "bucket" the item's place.
 */
static int64
route_split_queue(const CompiledRule *r, const ItemInput *in, JsonBuild *diag)
{
	int			chosen;

	jb_key(diag, "split");
	jb_array(diag);
	for (int i = 0; i < r->nsplit; i++)
	{
		jb_object(diag);
		jb_kv_int(diag, "queue_id", r->split_queues[i]);
		jb_kv_int(diag, "percent", r->split_percents[i]);
		jb_end_object(diag);
	}
	jb_end_array(diag);
	if (in->has_item_id)
	{
		int32		bucket = split_bucket(in->item_id);

		jb_kv_int(diag, "bucket", bucket);
		chosen = split_choose(r, bucket);
	}
	else
	{
		jb_kv_string(diag, "split_choice",
					 "the largest share: no item id (give work_item_id in the context for an item's queue)");
		chosen = split_largest(r);
	}
	return r->split_queues[chosen];
}

/*
 * Choose the queue: the one the application gave, else the first route
 * rule that holds (with a split, one of its queues), else the
 * workstream's fallback queue; the "route" member of the diagnostics says
 * which.
 */
static void
route_choose_queue(WorkstreamConfig *ws, const ItemInput *in, const RuleValue *slots,
				   RouteOutcome *out, JsonBuild *diag)
{
	int64		queue_id = 0;

	jb_key(diag, "route");
	jb_object(diag);
	if (in->given_queue_id != 0)
	{
		queue_id = in->given_queue_id;
		jb_kv_bool(diag, "given", true);
	}
	else
	{
		for (int i = 0; i < ws->nroute; i++)
		{
			CompiledRule *r = &ws->route_rules[i];

			if (rule_eval(r->expr, slots))
			{
				out->route_rule = r->name;
				jb_kv_string(diag, "rule", r->name);
				jb_kv_int(diag, "position", r->position);
				queue_id = r->nsplit > 0 ? route_split_queue(r, in, diag) : r->queue_id;
				break;
			}
		}
		if (queue_id == 0)
		{
			queue_id = ws->fallback_queue_id;
			jb_kv_bool(diag, "fallback", true);
		}
	}
	out->queue = config_queue(queue_id);
	if (out->queue == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("queue " INT64_FORMAT " does not exist", queue_id)));
	jb_kv_int(diag, "queue_id", queue_id);
	jb_kv_string(diag, "queue", out->queue->name);
	jb_end_object(diag);
}

void
route_classify(WorkstreamConfig *ws, const ItemInput *in, RouteOutcome *out,
			   JsonBuild *diag)
{
	RuleValue  *slots;

	memset(out, 0, sizeof(RouteOutcome));
	out->context = in->context;
	out->priority = in->priority;
	route_required_skills_parse(in->required_skills, &out->skills, NULL);
	slots = fill_slots(ws, ws->vars, in);
	route_apply_classification(ws, slots, out, diag);
	route_choose_queue(ws, in, slots, out, diag);
}

/*
 * Step 3, last: overflow (overflow.c).  A queue a route rule chose that is
 * closed or full applies its overflow action, before any agent is looked
 * for: the "overflow" member of the diagnostics lists each hop, and
 * "queue_id" names the queue the item ends in.  Any other queue (the
 * fallback, one the application gave) does not overflow, but while it is
 * closed it offers the item to nobody.  Nothing is read for a queue
 * without operating hours or max_open.
 */
static void
route_overflow(RouteOutcome *out, TimestampTz at, JsonBuild *diag)
{
	QueueConfig *q = out->queue;
	Overflow   *o;

	if (!overflow_possible(q))
		return;
	if (out->route_rule == NULL)
	{
		out->held = q->operating_hours != NULL && !hours_is_open(q->operating_hours, at);
		return;
	}
	o = palloc(sizeof(Overflow));
	if (!overflow_resolve(q, at, false, o))
		return;
	out->overflow = o;
	out->queue = o->queue;
	out->held = o->waits || o->closes;
	jb_key(diag, "overflow");
	jb_array(diag);
	overflow_describe(o, diag);
	jb_end_array(diag);
	jb_kv_int(diag, "queue_id", o->queue->id);
}

/* ----------------------------------------------------------------
 * The trigger
 * ----------------------------------------------------------------
 */
enum
{
	A_ID, A_WORKSTREAM, A_EXTERNAL, A_CUSTOMER, A_CONTEXT, A_PRIORITY,
	A_SKILLS, A_STATE, A_QUEUE, A_AGENT, A_RESERVED, A_OFFERED, A_ASSIGNED,
	A_ACTIVITY, A_DIAG, A_PROFILE, A_CREATED, A_QUEUED, A_CLOSED, A_CLOSE_REASON,
	A_COUNT
};

static const char *const att_names[A_COUNT] = {
	"id", "workstream_id", "external_id", "customer_id", "context", "priority",
	"required_skills", "state", "queue_id", "agent_id", "reserved_units",
	"offered_at", "assigned_at", "last_activity_at", "diagnostics", "profile",
	"created_at", "queued_at", "closed_at", "close_reason"
};

static Oid	att_relid = InvalidOid;
static int	att_num[A_COUNT];

static void
lookup_attnums(Relation rel)
{
	if (att_relid == RelationGetRelid(rel))
		return;
	for (int i = 0; i < A_COUNT; i++)
	{
		att_num[i] = SPI_fnumber(RelationGetDescr(rel), att_names[i]);
		if (att_num[i] <= 0)
			elog(ERROR, "omniroute: work_item has no column \"%s\"", att_names[i]);
	}
	att_relid = RelationGetRelid(rel);
}

/*
 * Whether the row is routed work coming back, to be kept as it is: it
 * carries the diagnostics only the router writes, and the role inserting
 * it (not the trigger's owner) is a superuser.  That is pg_restore loading
 * a dump (and a superuser copying routed work between databases): the
 * rows of a dump arrive in an order no trigger can rely on (work_item's
 * before workstream's), and each is already what routing made it.
 */
static bool
route_arrives_routed(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;

	heap_getattr(tup, att_num[A_DIAG], desc, &isnull);
	return !isnull && superuser_arg(GetOuterUserId());
}

/*
 * Trigger check_required_skills, AFTER UPDATE of a work item whose
 * required_skills changed: the new requirement must be one the router
 * accepts on insert (22023, naming the item).  Serving, re-routing and
 * tick() read it on every item they look at, and an item written with a
 * requirement nobody can read stopped them all.  Inserts are checked by the
 * router, and a restore only inserts.
 */
PG_FUNCTION_INFO_V1(omniroute_check_required_skills);

Datum
omniroute_check_required_skills(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	bool		isnull;
	Datum		skills;
	RequiredSkills rs;
	char	   *bad;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_required_skills() must be a FOR EACH ROW UPDATE trigger")));
	desc = RelationGetDescr(td->tg_relation);
	lookup_attnums(td->tg_relation);
	skills = heap_getattr(td->tg_newtuple, att_num[A_SKILLS], desc, &isnull);
	if (!isnull && !route_required_skills_parse(DatumGetJsonbP(skills), &rs, &bad))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("work item " INT64_FORMAT ": %s",
						util_attr_int64(td->tg_newtuple, desc, att_num[A_ID], NULL), route_required_skills_problem(bad)),
				 errhint("Give each skill an integer proficiency from 1 to 10, as on insert.")));
	PG_RETURN_POINTER(NULL);
}

static UtilPlan affinity_plan = {
	"SELECT w.agent_id FROM omniroute.work_item w"
	"  JOIN omniroute.agent a ON a.id = w.agent_id AND NOT a.is_bot"
	" WHERE w.workstream_id = $1 AND w.external_id = $2"
	"   AND w.agent_id IS NOT NULL"
	" ORDER BY w.id DESC LIMIT 1", 2, {INT8OID, TEXTOID}, NULL
};

/* the (human) agent who last handled this conversation in this workstream */
int64
route_affinity_agent(int64 ws_id, const char *external_id)
{
	Datum		values[2];

	values[0] = Int64GetDatum(ws_id);
	values[1] = CStringGetTextDatum(external_id);
	if (util_exec(util_plan(&affinity_plan), values, NULL, false, 1, SPI_OK_SELECT) == 0)
		return 0;
	return util_col_int64(0, 1);
}

static char *
datum_text_or_null(HeapTuple tup, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, attnum, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* a jsonb column of the row, {} for NULL */
static Jsonb *
route_row_jsonb(HeapTuple tup, TupleDesc desc, int a)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att_num[a], desc, &isnull);

	return isnull ? jb_empty_object() : DatumGetJsonbP(d);
}

/* step 1: the router sets state and agent, not the application */
static void
route_check_new_row(HeapTuple tup, TupleDesc desc)
{
	char	   *state = datum_text_or_null(tup, desc, att_num[A_STATE]);
	bool		isnull;

	if (state != NULL && strcmp(state, item_state_name(ITEM_OPEN)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a new work item must be inserted in state \"open\", not \"%s\"", state),
				 errhint("Leave state out; the router sets it.")));
	heap_getattr(tup, att_num[A_AGENT], desc, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a new work item cannot name its agent"),
				 errhint("Insert it without agent_id, then use omniroute.transfer_to_agent().")));
}

/* step 1: what the application gave */
static void
route_read_input(HeapTuple tup, TupleDesc desc, ItemInput *in)
{
	bool		isnull;
	Datum		d;

	memset(in, 0, sizeof(ItemInput));
	in->context = route_row_jsonb(tup, desc, A_CONTEXT);
	if (!JB_ROOT_IS_OBJECT(in->context) || JB_ROOT_IS_SCALAR(in->context))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("work item context must be a JSON object")));
	in->required_skills = route_row_jsonb(tup, desc, A_SKILLS);
	d = heap_getattr(tup, att_num[A_PRIORITY], desc, &isnull);
	in->priority = isnull ? 0 : DatumGetInt32(d);
	in->given_queue_id = util_attr_int64(tup, desc, att_num[A_QUEUE], NULL);
	in->item_id = util_attr_int64(tup, desc, att_num[A_ID], &isnull);
	in->has_item_id = !isnull;
	in->external_id = datum_text_or_null(tup, desc, att_num[A_EXTERNAL]);
	in->customer_id = datum_text_or_null(tup, desc, att_num[A_CUSTOMER]);
}

/*
 * step 1, for a workstream that prefers: what a wait for a preferred agent
 * needs besides the item's id (read for every item, for splits): when it
 * entered its queue; not read otherwise
 */
static void
route_read_preference(HeapTuple tup, TupleDesc desc, ItemInput *in)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att_num[A_CREATED], desc, &isnull);

	in->created_at = isnull ? GetCurrentTransactionStartTimestamp() : DatumGetTimestampTz(d);
}

/* the workstream, held as a foreign key would hold it (refs.c) */
static WorkstreamConfig *
route_workstream(int64 ws_id)
{
	WorkstreamConfig *ws = config_workstream(ws_id);

	if (ws == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("workstream " INT64_FORMAT " does not exist", ws_id)));
	refs_lock_workstream(ws_id);
	return ws;
}

/* what step 4 made of the item */
typedef struct RouteAssignment
{
	ItemState	state;			/* open, offered or active */
	int64		agent_id;		/* 0 while open */
	int32		units;			/* reserved of the agent's capacity */
	const char *how;			/* how the agent was chosen */
	bool		profile_charged;	/* counted in the agent's capacity profile */
	int			examined;		/* candidates looked at */
} RouteAssignment;

/* the "assignment" diagnostics of an agent chosen here, not by assign.c */
static void
route_describe_assignment(const RouteAssignment *a, JsonBuild *diag)
{
	jb_object(diag);
	jb_kv_string(diag, "outcome", item_state_name(a->state));
	jb_kv_int(diag, "agent_id", a->agent_id);
	jb_kv_string(diag, "method", a->how);
	jb_end_object(diag);
}

/* step 4, first choice: the workstream's bot takes the item, without capacity */
static void
route_assign_bot(WorkstreamConfig *ws, RouteAssignment *a)
{
	a->agent_id = ws->bot_agent_id;
	refs_lock_agent(a->agent_id);
	a->state = ITEM_ACTIVE;
	a->units = 0;
	a->how = "bot";
}

/*
 * step 4, second choice: the agent who handled this conversation, whatever
 * their capacity (unless deleted since: then false, and the item is
 * assigned as any other)
 */
static bool
route_assign_same_agent(WorkstreamConfig *ws, const ItemInput *in,
						const RouteOutcome *out, TimestampTz now, RouteAssignment *a)
{
	int64		agent_id = route_affinity_agent(ws->id, in->external_id);

	if (agent_id == 0 || !assign_force(agent_id, a->units, out->queue->id, now))
		return false;
	a->agent_id = agent_id;
	if (ws->capacity_profile != NULL)
		a->profile_charged = assign_profile_charge(agent_id, ws->capacity_profile, now, true);
	a->how = "keep_same_agent";
	return true;
}

/* the item as a queue's agent condition sees it, after classification */
static void
route_cond_item(WorkstreamConfig *ws, const ItemInput *in, const RouteOutcome *out,
				CondItem *item)
{
	item->ws = ws;
	item->context = out->context;
	item->customer_id = in->customer_id;
	item->external_id = in->external_id;
	item->priority = out->priority;
}

/*
 * step 4, otherwise: the customer's preferred agents (prefer.c), else
 * assign.c chooses and reserves an agent who has room.  An item waiting
 * for a preferred agent is held for them (it stays open).
 */
static void
route_assign_any(WorkstreamConfig *ws, const ItemInput *in, const RouteOutcome *out,
				 TimestampTz now, RouteAssignment *a, JsonBuild *diag)
{
	AssignRequest req;
	AssignResult res;
	PreferChoice pc;
	bool		found;
	CondItem	item;

	memset(&req, 0, sizeof(req));
	req.ws = ws;
	req.queue = out->queue;
	req.skills = &out->skills;
	req.reserve = true;
	req.now = now;
	route_cond_item(ws, in, out, &item);
	req.item = &item;
	memset(&res, 0, sizeof(res));
	if (prefer_choose(&req, in->customer_id, in->created_at, &res, &pc) == PREFER_NONE)
	{
		req.preferred_note = pc.note;
		found = assign_and_describe(&req, &res, diag);
	}
	else
	{
		prefer_describe(&req, &pc, &res, diag);
		found = (pc.step == PREFER_CHOSEN);
		a->how = "preferred_agent";
		if (pc.step == PREFER_WAIT)
			prefer_hold(in->item_id, &pc, true);
	}
	if (found)
	{
		a->agent_id = res.agent_id;
		a->profile_charged = ws->capacity_profile != NULL;
	}
	else
		a->state = ITEM_OPEN;
	a->examined = res.examined;
}

/*
 * No agent for an item its queue holds (RouteOutcome.held): closed by
 * overflow, or open and waiting in a queue that is closed, or that
 * overflow left it in.  Returns the state it is left in, and writes the
 * "assignment" diagnostics.
 */
static ItemState
route_hold(const RouteOutcome *out, JsonBuild *diag)
{
	ItemState	state = out->overflow && out->overflow->closes ? ITEM_CLOSED : ITEM_OPEN;

	jb_object(diag);
	jb_kv_string(diag, "outcome", item_state_name(state));
	jb_kv_string(diag, "reason", out->overflow ? "overflow" : "queue closed");
	jb_kv_string(diag, "method", config_method_name(out->queue->method));
	jb_end_object(diag);
	return state;
}

/*
 * Step 4: in push mode, an agent for the item, and the "assignment" member
 * of the diagnostics.  The queue's row is held first, as a foreign key
 * would hold it (refs.c).
 */
static void
route_assign(WorkstreamConfig *ws, const ItemInput *in, const RouteOutcome *out,
			 TimestampTz now, RouteAssignment *a, JsonBuild *diag)
{
	memset(a, 0, sizeof(RouteAssignment));
	a->state = ws->auto_accept ? ITEM_ACTIVE : ITEM_OFFERED;
	a->units = ws->capacity_units;
	a->how = config_method_name(out->queue->method);
	refs_lock_queue(out->queue->id);
	jb_key(diag, "assignment");
	if (out->held)
		a->state = route_hold(out, diag);
	else if (!ws->pick_mode && ws->bot_agent_id != 0)
	{
		route_assign_bot(ws, a);
		route_describe_assignment(a, diag);
	}
	else if (!ws->pick_mode && ws->keep_same_agent && in->external_id != NULL &&
			 route_assign_same_agent(ws, in, out, now, a))
		route_describe_assignment(a, diag);
	else
		route_assign_any(ws, in, out, now, a, diag);
}

/* the columns of the new row that routing sets */
typedef struct RouteRow
{
	Datum	   *values;
	bool	   *nulls;
	bool	   *replace;
} RouteRow;

static void
route_row_set(RouteRow *row, int a, Datum value)
{
	row->values[att_num[a] - 1] = value;
	row->nulls[att_num[a] - 1] = false;
	row->replace[att_num[a] - 1] = true;
}

/* step 5: the routing columns and the diagnostics of the new row */
static void
route_row_changes(HeapTuple tup, TupleDesc desc, WorkstreamConfig *ws,
				  const RouteOutcome *out, const RouteAssignment *a,
				  Datum diagnostics, TimestampTz now, RouteRow *row)
{
	row->values = palloc(sizeof(Datum) * desc->natts);
	row->nulls = palloc(sizeof(bool) * desc->natts);
	row->replace = palloc0(sizeof(bool) * desc->natts);
	heap_deform_tuple(tup, desc, row->values, row->nulls);
	if (out->context_changed)
		route_row_set(row, A_CONTEXT, JsonbPGetDatum(out->context));
	route_row_set(row, A_PRIORITY, Int32GetDatum(out->priority));
	if (out->skills_changed)
		route_row_set(row, A_SKILLS, JsonbPGetDatum(route_skills_to_jsonb(&out->skills)));
	route_row_set(row, A_QUEUE, Int64GetDatum(out->queue->id));
	route_row_set(row, A_ACTIVITY, TimestampTzGetDatum(now));
	route_row_set(row, A_DIAG, diagnostics);
	route_row_set(row, A_STATE, CStringGetTextDatum(item_state_name(a->state)));
	/* it entered its queue when it was created (escalation counts from then too) */
	route_row_set(row, A_QUEUED, row->values[att_num[A_CREATED] - 1]);
	if (a->state == ITEM_CLOSED)
	{
		route_row_set(row, A_CLOSED, TimestampTzGetDatum(now));
		route_row_set(row, A_CLOSE_REASON, CStringGetTextDatum("overflow"));
	}
	if (a->state == ITEM_OPEN || a->state == ITEM_CLOSED)
		return;
	route_row_set(row, A_AGENT, Int64GetDatum(a->agent_id));
	route_row_set(row, A_RESERVED, Int32GetDatum(a->units));
	route_row_set(row, A_OFFERED, TimestampTzGetDatum(now));
	if (a->state == ITEM_ACTIVE)
		route_row_set(row, A_ASSIGNED, TimestampTzGetDatum(now));
	if (a->profile_charged)
		route_row_set(row, A_PROFILE, CStringGetTextDatum(ws->capacity_profile));
}

/*
 * Step 6: the item's events, and a NOTIFY to its agent: an "overflowed"
 * per overflow hop, then one event that carries the route too.  An item
 * offered in the inserting transaction was never observably open: that
 * event is "offered" (or "assigned"); else "queued", or "closed" when
 * overflow closed it.
 */
static void
route_record(int64 item_id, WorkstreamConfig *ws, const ItemInput *in,
			 const RouteOutcome *out, const RouteAssignment *a, TimestampTz now)
{
	EventBuf	events;
	JsonBuild	detail;
	const char *event;

	jb_init(&detail);
	jb_object(&detail);
	jb_kv_string(&detail, "route", in->given_queue_id != 0 ? "given" :
				 out->route_rule ? out->route_rule : "fallback");
	jb_kv_int(&detail, "priority", out->priority);
	if (a->state == ITEM_ACTIVE || a->state == ITEM_OFFERED)
	{
		jb_kv_string(&detail, "method", a->how);
		jb_kv_int(&detail, "candidates_examined", a->examined);
	}
	if (a->state == ITEM_CLOSED)
		jb_kv_string(&detail, "reason", "overflow");
	jb_end_object(&detail);
	event = a->state == ITEM_ACTIVE ? "assigned" :
		a->state == ITEM_OFFERED ? "offered" :
		a->state == ITEM_CLOSED ? "closed" : "queued";
	events_init(&events);
	if (out->overflow != NULL)
		overflow_add_events(out->overflow, &events, item_id);
	events_add_jsonb(&events, item_id, event, a->agent_id, out->queue->id, jb_finish(&detail));
	events_flush(&events, now);

	if (a->state == ITEM_ACTIVE || a->state == ITEM_OFFERED)
	{
		TimestampTz expires = 0;

		if (a->state == ITEM_OFFERED)
			expires = config_offer_expires(ws, now);
		events_notify_agent(a->agent_id, event, item_id, ws->id, out->queue->id,
							a->state == ITEM_ACTIVE ? NULL : &expires);
	}
}

/*
 * The BEFORE INSERT trigger on work_item: the steps of the file header, in
 * order, in the inserting transaction.
 */
PG_FUNCTION_INFO_V1(omniroute_route_work_item);

Datum
omniroute_route_work_item(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		isnull;
	int64		ws_id;
	WorkstreamConfig *ws;
	ItemInput	in;
	RouteOutcome out;
	RouteAssignment a;
	JsonBuild	diag;
	RouteRow	row;
	TimestampTz now;
	MemoryContext caller_ctx = CurrentMemoryContext;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("route_work_item() must be a BEFORE INSERT FOR EACH ROW trigger")));
	desc = RelationGetDescr(td->tg_relation);
	tup = td->tg_trigtuple;
	lookup_attnums(td->tg_relation);

	ws_id = util_attr_int64(tup, desc, att_num[A_WORKSTREAM], &isnull);
	if (isnull)
		PG_RETURN_POINTER(tup); /* NOT NULL will refuse it */
	if (route_arrives_routed(tup, desc))
	{
		/* its references were checked where it was routed */
		refs_secured(ws_id, util_attr_int64(tup, desc, att_num[A_QUEUE], NULL),
					 util_attr_int64(tup, desc, att_num[A_AGENT], NULL));
		PG_RETURN_POINTER(tup);
	}

	/* 1. the new row */
	route_check_new_row(tup, desc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	ws = route_workstream(ws_id);
	route_read_input(tup, desc, &in);
	if (ws->prefer)
		route_read_preference(tup, desc, &in);

	/* 2, 3. classification and the queue, and its overflow */
	jb_init(&diag);
	jb_object(&diag);
	route_classify(ws, &in, &out, &diag);
	now = GetCurrentTimestamp();
	route_overflow(&out, now, &diag);

	/* 4. an agent */
	route_assign(ws, &in, &out, now, &a, &diag);
	jb_end_object(&diag);

	/* 5. the row, 6. the event and the agent's notification */
	route_row_changes(tup, desc, ws, &out, &a, jb_finish(&diag), now, &row);
	route_record(util_attr_int64(tup, desc, att_num[A_ID], NULL), ws, &in, &out, &a, now);
	/* an item left open: when tick() must look at it (timer.c), if ever */
	if (a.state == ITEM_OPEN && timer_wanted(ws, out.queue))
		timer_arm_new(ws, out.queue, tup, desc);

	/*
	 * The new row must outlive SPI's memory.  Its workstream, queue and
	 * agent rows are held: the agent's by the update that took its units
	 * (or the lock on a bot), so the reference check after the insert may
	 * be skipped.
	 */
	MemoryContextSwitchTo(caller_ctx);
	tup = heap_modify_tuple(tup, desc, row.values, row.nulls, row.replace);
	SPI_finish();
	refs_secured(ws_id, out.queue->id, a.agent_id);
	PG_RETURN_POINTER(tup);
}

/*
 * For simulate() and test_condition(): check the context, connect to SPI,
 * find the workstream, and read the built-ins a caller may put in the
 * context to try rules on them.
 */
static WorkstreamConfig *
begin_trial(const char *fn, int64 ws_id, Jsonb *context, ItemInput *in)
{
	WorkstreamConfig *ws;
	JsonbValue	jv;

	if (!JB_ROOT_IS_OBJECT(context) || JB_ROOT_IS_SCALAR(context))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s(): context must be a JSON object", fn)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	ws = config_workstream(ws_id);
	if (ws == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workstream " INT64_FORMAT " does not exist", ws_id)));
	memset(in, 0, sizeof(ItemInput));
	in->context = context;
	in->required_skills = jb_empty_object();
	if (context_get(context, "customer_id", &jv) && jv.type == jbvString)
		in->customer_id = pnstrdup(jv.val.string.val, jv.val.string.len);
	if (context_get(context, "external_id", &jv) && jv.type == jbvString)
		in->external_id = pnstrdup(jv.val.string.val, jv.val.string.len);
	if (context_get(context, "priority", &jv) && jv.type == jbvNumeric)
		in->priority = DatumGetInt32(DirectFunctionCall1(numeric_int4,
														 NumericGetDatum(jv.val.numeric)));
	/* which queue of a percentage split an item of this id would go to */
	if (context_get(context, "work_item_id", &jv) && jv.type == jbvNumeric)
	{
		in->item_id = DatumGetInt64(DirectFunctionCall1(numeric_int8,
														NumericGetDatum(jv.val.numeric)));
		in->has_item_id = true;
	}
	return ws;
}

/* ----------------------------------------------------------------
 * simulate(workstream_id, context)
 * ----------------------------------------------------------------
 */

/* step 4 without reserving: the customer's preferred agents, else the method */
static void
simulate_assignment(WorkstreamConfig *ws, const ItemInput *in, const RouteOutcome *out,
					TimestampTz now, JsonBuild *diag)
{
	AssignRequest req;
	AssignResult res;
	PreferChoice pc;
	CondItem	item;

	memset(&req, 0, sizeof(req));
	req.ws = ws;
	req.queue = out->queue;
	req.skills = &out->skills;
	req.reserve = false;
	req.now = now;
	route_cond_item(ws, in, out, &item);
	req.item = &item;
	if (prefer_choose(&req, in->customer_id, now, &res, &pc) == PREFER_NONE)
	{
		req.preferred_note = pc.note;
		assign_and_describe(&req, &res, diag);
	}
	else
		prefer_describe(&req, &pc, &res, diag);
}

PG_FUNCTION_INFO_V1(omniroute_simulate);

Datum
omniroute_simulate(PG_FUNCTION_ARGS)
{
	int64		ws_id = PG_GETARG_INT64(0);
	Jsonb	   *context = PG_GETARG_JSONB_P(1);
	WorkstreamConfig *ws;
	ItemInput	in;
	RouteOutcome out;
	JsonBuild	diag;
	Datum		result;
	TimestampTz now;
	MemoryContext caller_ctx = CurrentMemoryContext;

	omniroute_check_version();
	ws = begin_trial("simulate", ws_id, context, &in);

	jb_init(&diag);
	jb_object(&diag);
	jb_kv_bool(&diag, "simulated", true);
	route_classify(ws, &in, &out, &diag);
	now = GetCurrentTimestamp();
	route_overflow(&out, now, &diag);
	jb_kv_int(&diag, "priority", out.priority);
	jb_key(&diag, "required_skills");
	jb_jsonb(&diag, route_skills_to_jsonb(&out.skills));
	jb_key(&diag, "context");
	jb_jsonb(&diag, out.context);
	jb_key(&diag, "assignment");
	if (out.held)
		route_hold(&out, &diag);
	else
		simulate_assignment(ws, &in, &out, now, &diag);
	jb_end_object(&diag);
	MemoryContextSwitchTo(caller_ctx);
	result = jb_finish(&diag);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ----------------------------------------------------------------
 * test_condition(workstream_id, condition, context)
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(omniroute_test_condition);

/*
 * Compile a condition against the workstream's variables as they are in
 * this transaction and evaluate it on a context: for writing rules.  The
 * built-ins customer_id, external_id and priority may be given in the
 * context; channel is taken from it too, else from the workstream.
 */
Datum
omniroute_test_condition(PG_FUNCTION_ARGS)
{
	int64		ws_id = PG_GETARG_INT64(0);
	char	   *condition = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *context = PG_GETARG_JSONB_P(2);
	WorkstreamConfig *ws;
	RuleVars   *vars;
	RuleErrorContext ectx = {"condition", "test"};
	ItemInput	in;
	RuleValue  *slots;
	bool		result;

	omniroute_check_version();
	ws = begin_trial("test_condition", ws_id, context, &in);
	vars = config_load_vars(ws_id);
	slots = fill_slots(ws, vars, &in);
	result = rule_eval(rule_compile(condition, vars, &ectx), slots);
	SPI_finish();
	PG_RETURN_BOOL(result);
}
