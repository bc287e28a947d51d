/*-------------------------------------------------------------------------
 *
 * ruletrig.c
 *	  Triggers that keep bad rules out of the configuration.
 *
 *	  check_rule() compiles a classification or route rule's condition (and
 *	  a classification rule's output) against the workstream's context
 *	  variables as they are in this transaction, when the rule is inserted
 *	  or updated; any error aborts the statement, so a bad rule never lands.
 *	  recheck_rules() runs after a context variable is changed or dropped
 *	  and compiles every rule of its workstream again, so a variable cannot
 *	  be taken away from, or retyped under, a rule that uses it.
 *
 *	  Both read with SPI, not from the cache: they must see this
 *	  transaction's own uncommitted changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

#include "config.h"
#include "rules.h"
#include "util.h"
#include "omniroute.h"

static void
check_one(const RuleVars *vars, bool classification,
		  const char *name, const char *condition, Jsonb *output)
{
	RuleErrorContext ectx;

	ectx.kind = classification ? "classification rule" : "route rule";
	ectx.name = name;
	rule_compile(condition, vars, &ectx);
	if (classification && output != NULL)
	{
		ClassOutput out;

		config_compile_class_output(output, vars, &ectx, &out);
	}
}

static char *
get_text_attr(HeapTuple tup, TupleDesc desc, const char *col)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, SPI_fnumber(desc, col), desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

PG_FUNCTION_INFO_V1(omniroute_check_rule);

Datum
omniroute_check_rule(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		classification;
	bool		isnull;
	Datum		d;
	int64		ws_id;
	char	   *name;
	char	   *condition;
	Jsonb	   *output = NULL;
	RuleVars   *vars;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_rule() must be a row trigger")));
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	classification = strcmp(RelationGetRelationName(td->tg_relation), "classification_rule") == 0;

	d = heap_getattr(tup, SPI_fnumber(desc, "workstream_id"), desc, &isnull);
	if (isnull)
		PG_RETURN_POINTER(tup);	/* NOT NULL refuses it */
	ws_id = DatumGetInt64(d);
	name = get_text_attr(tup, desc, "name");
	condition = get_text_attr(tup, desc, "condition");
	if (condition == NULL)
		PG_RETURN_POINTER(tup);
	if (name == NULL)
		name = "(unnamed)";
	if (classification)
	{
		d = heap_getattr(tup, SPI_fnumber(desc, "output"), desc, &isnull);
		if (!isnull)
			output = DatumGetJsonbP(d);
	}

	/*
	 * As PostgreSQL does for function bodies: with check_function_bodies
	 * off (pg_restore sets it), a rule is not checked when written, for
	 * the context variables it names may be restored after it; it is
	 * compiled, and any error raised, when routing first uses it.
	 */
	if (!check_function_bodies)
		PG_RETURN_POINTER(tup);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	vars = config_load_vars(ws_id);
	check_one(vars, classification, name, condition, output);
	SPI_finish();
	PG_RETURN_POINTER(tup);
}

static UtilPlan workstream_exists_plan = {
	"SELECT 1 FROM omniroute.workstream WHERE id = $1", 1, {INT8OID}, NULL
};
static UtilPlan workstream_rules_plan = {
	"SELECT true, name, condition, output FROM omniroute.classification_rule"
	" WHERE workstream_id = $1"
	" UNION ALL "
	"SELECT false, name, condition, NULL FROM omniroute.route_rule"
	" WHERE workstream_id = $1", 1, {INT8OID}, NULL
};

static void
recheck_workstream(int64 ws_id)
{
	Datum		values[1] = {Int64GetDatum(ws_id)};
	RuleVars   *vars;
	SPITupleTable *tt;
	uint64		n;

	/*
	 * Not read-only: we must see this statement's own change, which the
	 * statement's snapshot does not.  A workstream being deleted takes its
	 * rules with it.
	 */
	if (util_exec(util_plan(&workstream_exists_plan), values, NULL, false, 1,
				  SPI_OK_SELECT) == 0)
		return;

	vars = config_load_vars(ws_id);
	n = util_exec(util_plan(&workstream_rules_plan), values, NULL, false, 0,
				  SPI_OK_SELECT);
	tt = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		bool		classification = DatumGetBool(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		char	   *name = TextDatumGetCString(SPI_getbinval(tup, tt->tupdesc, 2, &isnull));
		char	   *condition = TextDatumGetCString(SPI_getbinval(tup, tt->tupdesc, 3, &isnull));
		Datum		out = SPI_getbinval(tup, tt->tupdesc, 4, &isnull);

		check_one(vars, classification, name, condition,
				  isnull ? NULL : DatumGetJsonbPCopy(out));
	}
}

static int64 recheck_ws_id;

static void
recheck_error_callback(void *arg)
{
	(void) arg;
	errcontext("rechecking the rules of workstream " INT64_FORMAT
			   " after a change to its context variables", recheck_ws_id);
}

PG_FUNCTION_INFO_V1(omniroute_recheck_rules);

Datum
omniroute_recheck_rules(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	bool		isnull;
	int64		old_ws;
	ErrorContextCallback cb;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("recheck_rules() must be a row trigger")));
	desc = RelationGetDescr(td->tg_relation);
	old_ws = DatumGetInt64(heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "workstream_id"),
										desc, &isnull));

	cb.callback = recheck_error_callback;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	recheck_ws_id = old_ws;
	recheck_workstream(old_ws);
	SPI_finish();

	error_context_stack = cb.previous;
	PG_RETURN_POINTER(NULL);
}
