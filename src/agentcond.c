/*-------------------------------------------------------------------------
 *
 * agentcond.c
 *	  A queue's agent condition: a condition in the rule language that a
 *	  member must satisfy to be offered (served, to pick) an item of the
 *	  queue, with agent.<key> reading the member's attributes.
 *
 *	  Checked when the queue is written (check_agent_condition): syntax
 *	  (42601), and every identifier past agent.<key> a built-in or a
 *	  context variable of some workstream (42703).  Types are checked when
 *	  evaluated: a test whose operands do not compare is false.
 *
 *	  Compiled once per queue into its QueueConfig (config.c), and
 *	  forgotten with it when the queue changes.  The cached form resolves
 *	  a context variable by name against the item's own workstream when it
 *	  is checked, with the type that workstream declares, so that it needs
 *	  no rebuilding when variables come and go: a name the item's
 *	  workstream does not declare is null.
 *
 *	  Per item, the item's values are filled once (agentcond_begin); per
 *	  candidate, only the agent.<key> slots, from the agent row read by its
 *	  primary key (direct_agent_attributes).  Callers apply it to the
 *	  candidates the method's index yields, never to a scan of the queue.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

#include "agentcond.h"
#include "direct.h"
#include "omniroute.h"
#include "util.h"

static UtilPlan names_plan = {
	"SELECT DISTINCT name FROM omniroute.context_variable ORDER BY name", 0, {0}, NULL
};

static UtilPlan item_plan = {
	"SELECT context, customer_id, external_id, priority FROM omniroute.work_item WHERE id = $1",
	1, {INT8OID}, NULL
};

/* every workstream's context variable names, as this transaction sees them */
static char **
all_variable_names(int *n)
{
	uint64		got = util_exec(util_plan(&names_plan), NULL, NULL, false, 0, SPI_OK_SELECT);
	char	  **names = palloc(sizeof(char *) * (got + 1));

	for (uint64 i = 0; i < got; i++)
		names[i] = util_col_text(i, 1);
	SPI_freetuptable(SPI_tuptable);
	*n = (int) got;
	return names;
}

/* whether a condition reads a built-in or a context variable of the item */
static bool
condition_reads_item(const AgentCondition *c)
{
	bool	   *used = palloc0(sizeof(bool) * c->vars->nvars);
	bool		reads = false;

	rule_slots_used(c->expr, used);
	for (int s = 0; s < c->vars->nvars && !reads; s++)
		reads = used[s] && (s < RULE_NBUILTINS ||
							strncmp(c->vars->names[s], RULE_AGENT_PREFIX,
									RULE_AGENT_PREFIX_LEN) != 0);
	pfree(used);
	return reads;
}

AgentCondition *
agentcond_compile(const char *text, const char *queue, bool open)
{
	AgentCondition *c = palloc0(sizeof(AgentCondition));
	RuleErrorContext ectx = {"agent condition of queue", queue};
	char	  **names = NULL;
	int			nnames = 0;

	if (!open)
		names = all_variable_names(&nnames);
	c->text = pstrdup(text);
	c->vars = rule_vars_create_condition(nnames, names, open);
	c->expr = rule_compile_condition(text, c->vars, &ectx);
	c->item_slots = palloc(sizeof(int) * c->vars->nvars);
	c->agent_slots = palloc(sizeof(int) * c->vars->nvars);
	c->agent_keys = palloc(sizeof(char *) * c->vars->nvars);
	for (int s = RULE_NBUILTINS; s < c->vars->nvars; s++)
	{
		const char *name = c->vars->names[s];

		if (strncmp(name, RULE_AGENT_PREFIX, RULE_AGENT_PREFIX_LEN) == 0)
		{
			c->agent_slots[c->nagent] = s;
			c->agent_keys[c->nagent++] = pstrdup(name + RULE_AGENT_PREFIX_LEN);
		}
		else
			c->item_slots[c->nitem++] = s;
	}
	c->reads_item = condition_reads_item(c);
	return c;
}

bool
agentcond_reads_item(const AgentCondition *cond)
{
	return cond->reads_item;
}

static void
text_slot(RuleValue *rv, const char *s)
{
	memset(rv, 0, sizeof(RuleValue));
	rv->type = RT_TEXT;
	if (s == NULL)
		rv->isnull = true;
	else
		rule_value_set_text(rv, s, strlen(s));
}

/* a context variable of the item's workstream, of its declared type; else null */
static void
item_variable(const CondItem *item, const char *name, RuleValue *rv)
{
	const RuleVars *vars = item->ws->vars;
	int			slot = rule_vars_lookup(vars, name, strlen(name));
	JsonbValue	jv;

	memset(rv, 0, sizeof(RuleValue));
	rv->isnull = true;
	if (slot < RULE_NBUILTINS || item->context == NULL ||
		getKeyJsonValueFromContainer(&item->context->root, name, strlen(name), &jv) == NULL)
		return;
	if (!rule_value_from_jsonb(&jv, vars->types[slot], rv))
	{
		memset(rv, 0, sizeof(RuleValue));
		rv->isnull = true;
	}
}

/* the built-ins, as route.c fills them for rules */
static void
item_builtins(const CondItem *item, RuleValue *slots)
{
	JsonbValue	jv;

	if (item->context != NULL &&
		getKeyJsonValueFromContainer(&item->context->root, "channel", 7, &jv) != NULL &&
		jv.type == jbvString)
		rule_value_set_text(&slots[RULE_SLOT_CHANNEL], jv.val.string.val, jv.val.string.len);
	else
		text_slot(&slots[RULE_SLOT_CHANNEL], item->ws->channel);
	text_slot(&slots[RULE_SLOT_CUSTOMER_ID], item->customer_id);
	text_slot(&slots[RULE_SLOT_EXTERNAL_ID], item->external_id);
	slots[RULE_SLOT_PRIORITY].type = RT_NUMBER;
	slots[RULE_SLOT_PRIORITY].num = item->priority;
}

void
agentcond_begin(CondCheck *cc, const AgentCondition *cond, const CondItem *item)
{
	cc->cond = cond;
	cc->failed = 0;
	cc->slots = palloc0(sizeof(RuleValue) * cond->vars->nvars);
	for (int s = 0; s < cond->vars->nvars; s++)
		cc->slots[s].isnull = true;
	if (item == NULL)
		return;
	item_builtins(item, cc->slots);
	for (int i = 0; i < cond->nitem; i++)
	{
		int			s = cond->item_slots[i];

		item_variable(item, cond->vars->names[s], &cc->slots[s]);
	}
}

bool
agentcond_holds(CondCheck *cc, Jsonb *attributes)
{
	const AgentCondition *c = cc->cond;

	for (int i = 0; i < c->nagent; i++)
	{
		RuleValue  *rv = &cc->slots[c->agent_slots[i]];
		JsonbValue	jv;

		if (attributes != NULL && JB_ROOT_IS_OBJECT(attributes) &&
			getKeyJsonValueFromContainer(&attributes->root, c->agent_keys[i],
										 strlen(c->agent_keys[i]), &jv) != NULL)
			rule_value_from_attribute(&jv, rv);
		else
		{
			memset(rv, 0, sizeof(RuleValue));
			rv->isnull = true;
		}
	}
	if (rule_eval(c->expr, cc->slots))
		return true;
	cc->failed++;
	return false;
}

bool
agentcond_admits(int64 agent_id, void *arg)
{
	CondCheck  *cc = (CondCheck *) arg;

	return agentcond_holds(cc, cc->cond->nagent > 0 ? direct_agent_attributes(agent_id) : NULL);
}

bool
agentcond_load_item(int64 item_id, WorkstreamConfig *ws, CondItem *item)
{
	Datum		values[1] = {Int64GetDatum(item_id)};
	bool		isnull;
	Datum		d;

	memset(item, 0, sizeof(CondItem));
	item->ws = ws;
	if (util_exec(util_plan(&item_plan), values, NULL, false, 1, SPI_OK_SELECT) == 0)
		return false;
	d = util_col(0, 1, &isnull);
	item->context = isnull ? NULL : DatumGetJsonbPCopy(d);
	item->customer_id = util_col_text(0, 2);
	item->external_id = util_col_text(0, 3);
	d = util_col(0, 4, &isnull);
	item->priority = isnull ? 0 : DatumGetInt32(d);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

bool
agentcond_item_agent(int64 queue_id, int64 item_id, WorkstreamConfig *ws, int64 agent_id)
{
	QueueConfig *q = config_queue(queue_id);
	CondItem	item;
	CondCheck	cc;

	if (q == NULL || q->condition == NULL)
		return true;
	if (ws == NULL || !agentcond_load_item(item_id, ws, &item))
		return false;
	agentcond_begin(&cc, q->condition, &item);
	return agentcond_admits(agent_id, &cc);
}

/* ----------------------------------------------------------------
 * SQL: the queue's check trigger; explain()'s question
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(omniroute_check_agent_condition);

/*
 * BEFORE INSERT OR UPDATE OF agent_condition ON queue: compile the
 * condition against every workstream's context variables as this
 * transaction sees them.  As for rules, not with check_function_bodies
 * off (pg_restore): the variables may come after the queue.
 */
Datum
omniroute_check_agent_condition(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *name;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_agent_condition() must be a row trigger")));
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	d = heap_getattr(tup, SPI_fnumber(desc, "agent_condition"), desc, &isnull);
	if (isnull || !check_function_bodies)
		PG_RETURN_POINTER(tup);
	name = SPI_getvalue(tup, desc, SPI_fnumber(desc, "name"));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	agentcond_compile(TextDatumGetCString(d), name ? name : "(unnamed)", false);
	SPI_finish();
	PG_RETURN_POINTER(tup);
}

static UtilPlan item_queue_plan = {
	"SELECT queue_id, workstream_id FROM omniroute.work_item WHERE id = $1",
	1, {INT8OID}, NULL
};

PG_FUNCTION_INFO_V1(omniroute_agent_condition_holds);

/*
 * agent_condition_holds(work_item_id, agent_id): whether the agent
 * satisfies the agent condition of the item's queue (true without one;
 * NULL if the item is not in a queue).  For explain().
 */
Datum
omniroute_agent_condition_holds(PG_FUNCTION_ARGS)
{
	int64		item_id = PG_GETARG_INT64(0);
	int64		agent_id = PG_GETARG_INT64(1);
	Datum		values[1] = {Int64GetDatum(item_id)};
	bool		qnull;
	bool		wnull;
	int64		queue_id;
	int64		ws_id;
	bool		holds;

	omniroute_check_version();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	if (util_exec(util_plan(&item_queue_plan), values, NULL, true, 1, SPI_OK_SELECT) == 0)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	queue_id = util_attr_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &qnull);
	ws_id = util_attr_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &wnull);
	SPI_freetuptable(SPI_tuptable);
	if (qnull || wnull)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	holds = agentcond_item_agent(queue_id, item_id, config_workstream(ws_id), agent_id);
	SPI_finish();
	PG_RETURN_BOOL(holds);
}
