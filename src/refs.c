/*-------------------------------------------------------------------------
 *
 * refs.c
 *	  A work item's references to its workstream, queue and agent, kept by
 *	  the extension instead of by foreign keys.
 *
 *	  A foreign key check runs a SQL statement (executor start and end,
 *	  a row lock) for every inserted row; three of them, for workstream_id,
 *	  queue_id and agent_id, are a large part of a routed insert's cost,
 *	  and the router has already done their work: it found the
 *	  workstream and chose the queue in its configuration, and it holds the
 *	  agent's row, which it updated to take the agent's capacity.  So the
 *	  references are kept the way a foreign key keeps them, with the same
 *	  locks, but without the statements:
 *
 *	    - referencing side: the router locks the workstream's and the
 *	      queue's rows FOR KEY SHARE, and the agent's row when it did not
 *	      update it (a bot), and notes what it secured for the row it is
 *	      about to insert.  An AFTER INSERT trigger on work_item whose WHEN
 *	      clause asks refs_unchecked() fires only for values the router did
 *	      not secure (another BEFORE trigger changed them); it and the AFTER
 *	      UPDATE trigger lock the rows referred to FOR KEY SHARE, as a
 *	      foreign key check does, or fail with 23503 when one does not exist;
 *	    - referenced side: a BEFORE DELETE OR UPDATE OF id trigger on queue
 *	      and agent fails with 23503 while a work item refers to the row.
 *	      On workstream, renumbering fails the same way, and deleting one
 *	      deletes its work items as the foreign key's ON DELETE CASCADE did
 *	      (workstream_guard, before, refuses while any is not closed; this
 *	      looks again with the latest snapshot), and TRUNCATE fails when
 *	      work_item still has rows after it (truncate both at once).  A
 *	      BEFORE row trigger runs once the row is locked, so it waits for
 *	      every transaction holding one of the locks above and then looks,
 *	      with the latest snapshot, at what they committed.
 *
 *	  What is secured is good for the one row being inserted: the WHEN
 *	  function takes it (it is evaluated right after the row is stored, in
 *	  the same statement), and it is forgotten at the end of a
 *	  subtransaction or transaction, whose row locks may go with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "direct.h"
#include "refs.h"
#include "util.h"
#include "omniroute.h"

static struct
{
	bool		valid;
	int64		workstream_id;
	int64		queue_id;
	int64		agent_id;		/* 0: none */
}			secured;

static bool callbacks_registered = false;

static void
refs_xact_callback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	secured.valid = false;
}

static void
refs_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB)
		secured.valid = false;
}

static void
refs_register(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(refs_xact_callback, NULL);
	RegisterSubXactCallback(refs_subxact_callback, NULL);
	callbacks_registered = true;
}

static void
missing(const char *column, const char *table, int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("insert or update on table \"work_item\" refers to %s " INT64_FORMAT
					", which does not exist", table, id),
			 errdetail("Key (%s)=(" INT64_FORMAT ") is not present in table \"%s\".",
					   column, id, table)));
}

void
refs_lock_workstream(int64 workstream_id)
{
	if (!direct_key_share(DIRECT_WORKSTREAM, workstream_id))
		missing("workstream_id", "workstream", workstream_id);
}

void
refs_lock_queue(int64 queue_id)
{
	if (!direct_key_share(DIRECT_QUEUE, queue_id))
		missing("queue_id", "queue", queue_id);
}

void
refs_lock_agent(int64 agent_id)
{
	if (!direct_key_share(DIRECT_AGENT, agent_id))
		missing("agent_id", "agent", agent_id);
}

void
refs_secured(int64 workstream_id, int64 queue_id, int64 agent_id)
{
	refs_register();
	secured.valid = true;
	secured.workstream_id = workstream_id;
	secured.queue_id = queue_id;
	secured.agent_id = agent_id;
}

/*
 * work_item_refs_unchecked(workstream_id, queue_id, agent_id): whether an
 * inserted row refers to something the router did not secure for it.
 * Takes what was secured, which serves one row.
 */
PG_FUNCTION_INFO_V1(omniroute_refs_unchecked);

Datum
omniroute_refs_unchecked(PG_FUNCTION_ARGS)
{
	bool		was_valid = secured.valid;
	int64		held[3] = {secured.workstream_id, secured.queue_id, secured.agent_id};

	secured.valid = false;
	if (PG_NARGS() != 3)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("omniroute: work_item_refs_unchecked() takes 3 arguments, not %d", PG_NARGS()),
				 errhint("The extension's SQL objects are older than its library: reinstall the extension.")));
	for (int i = 0; i < 3; i++)
		if (!PG_ARGISNULL(i) && !(was_valid && held[i] == PG_GETARG_INT64(i)))
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}

static int64
int8_attr(HeapTuple tup, TupleDesc desc, const char *col, bool *isnull)
{
	int			attnum = SPI_fnumber(desc, col);

	if (attnum <= 0)
		elog(ERROR, "omniroute: work_item has no column \"%s\"", col);
	return DatumGetInt64(heap_getattr(tup, attnum, desc, isnull));
}

/*
 * check_refs(): AFTER INSERT OR UPDATE row trigger on work_item.  Locks the
 * workstream, queue and agent a row refers to (new values only, on update)
 * FOR KEY SHARE; 23503 when one does not exist.
 */
PG_FUNCTION_INFO_V1(omniroute_check_refs);

Datum
omniroute_check_refs(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		update;
	static const char *const columns[] = {"workstream_id", "queue_id", "agent_id"};

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_refs() must be an AFTER row trigger")));
	desc = RelationGetDescr(td->tg_relation);
	update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	tup = update ? td->tg_newtuple : td->tg_trigtuple;
	for (int i = 0; i < (int) lengthof(columns); i++)
	{
		bool		isnull;
		int64		id = int8_attr(tup, desc, columns[i], &isnull);

		if (isnull)
			continue;
		if (update)
		{
			bool		oldnull;
			int64		old = int8_attr(td->tg_trigtuple, desc, columns[i], &oldnull);

			if (!oldnull && old == id)
				continue;		/* unchanged: checked when it was set */
		}
		if (i == 0)
			refs_lock_workstream(id);
		else if (i == 1)
			refs_lock_queue(id);
		else
			refs_lock_agent(id);
	}
	return PointerGetDatum(NULL);
}

/* the tables work_item refers to, by the column that refers to each */
static struct
{
	const char *column;
	const char *table;
	UtilPlan	find;			/* one work item referring to $1 */
}			referenced[] =
{
	{"workstream_id", "workstream",
	{"SELECT id FROM omniroute.work_item WHERE workstream_id = $1 LIMIT 1", 1, {INT8OID}, NULL}},
	{"queue_id", "queue",
	{"SELECT id FROM omniroute.work_item WHERE queue_id = $1 LIMIT 1", 1, {INT8OID}, NULL}},
	{"agent_id", "agent",
	{"SELECT id FROM omniroute.work_item WHERE agent_id = $1 LIMIT 1", 1, {INT8OID}, NULL}},
};

#define REF_WORKSTREAM 0

static UtilPlan unclosed_plan = {
	"SELECT count(*) FROM omniroute.work_item WHERE workstream_id = $1 AND state <> 'closed'",
	1, {INT8OID}, NULL
};
static UtilPlan delete_plan = {
	"DELETE FROM omniroute.work_item WHERE workstream_id = $1", 1, {INT8OID}, NULL
};
static UtilPlan any_plan = {"SELECT id FROM omniroute.work_item LIMIT 1", 0, {InvalidOid}, NULL};

/*
 * Run plan with $1 = id under the latest snapshot, as a foreign key's
 * check does: the row lock the calling trigger runs under waited for
 * whoever held the row, and what they committed counts whatever this
 * transaction's snapshot is.  Under REPEATABLE READ, touching rows the
 * transaction's snapshot does not see is a serialization failure, as for
 * a foreign key's cascade.
 */
static int
run_latest(UtilPlan *plan, int64 id, bool read_only, long limit, int expect)
{
	Datum		value = Int64GetDatum(id);
	int			ret;

	CommandCounterIncrement();
	ret = SPI_execute_snapshot(util_plan(plan), &value, NULL, GetLatestSnapshot(),
							   IsolationUsesXactSnapshot() ? GetTransactionSnapshot() : InvalidSnapshot,
							   read_only, false, limit);
	if (ret != expect)
		elog(ERROR, "omniroute: reference check failed: %s", SPI_result_code_string(ret));
	return ret;
}

/*
 * Deleting a workstream deletes its work items, as the foreign key's ON
 * DELETE CASCADE did; workstream_guard, which fires before, refused while
 * one was not closed by the statement's snapshot, and this looks again with
 * the latest one (a router may have committed one since).
 */
static void
delete_work_of(int64 workstream_id, const char *name)
{
	int64		unclosed;

	run_latest(&unclosed_plan, workstream_id, true, 1, SPI_OK_SELECT);
	unclosed = util_col_int64(0, 1);
	/* as workstream_guard says it */
	if (unclosed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot delete workstream \"%s\": " INT64_FORMAT " work item(s) not closed",
						name, unclosed),
				 errhint("Close its work items first.")));
	run_latest(&delete_plan, workstream_id, false, 0, SPI_OK_DELETE);
}

/*
 * TRUNCATE of a referenced table: not while any work item may refer to a
 * row.  After it, so that work_item truncated in the same command counts
 * as empty.
 */
static void
refuse_truncate(const char *table)
{
	if (SPI_execute_snapshot(util_plan(&any_plan), NULL, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "omniroute: reference check failed");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot truncate table \"%s\": table \"work_item\" refers to it", table),
				 errhint("Truncate table \"work_item\" too, in the same command or before.")));
}

/* a row's id is going: fail with 23503 while a work item refers to it */
static void
refuse_if_referenced(int which, int64 id)
{
	int64		item;

	run_latest(&referenced[which].find, id, true, 1, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	item = util_col_int64(0, 1);
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("%s " INT64_FORMAT " is still referenced from table \"work_item\"",
					referenced[which].table, id),
			 errdetail("Key (id)=(" INT64_FORMAT ") is referenced by work item " INT64_FORMAT ".",
					   id, item),
			 which == REF_WORKSTREAM ?
			 errhint("Work items keep the id of their workstream.") :
			 errhint("Delete its work items first; queues and agents that have handled "
					 "work are usually kept rather than deleted.")));
}

/*
 * The entry of referenced[] that the trigger's argument names, once the
 * trigger is found to be fired as check_referenced() must be.
 */
static int
referenced_by_trigger(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int			which = -1;

	if (!CALLED_AS_TRIGGER(fcinfo) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_referenced() must be a trigger with one argument")));
	for (int i = 0; i < (int) lengthof(referenced); i++)
		if (strcmp(td->tg_trigger->tgargs[0], referenced[i].column) == 0)
			which = i;
	if (which < 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_referenced(): unknown column \"%s\"", td->tg_trigger->tgargs[0])));
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ? !TRIGGER_FIRED_AFTER(td->tg_event) :
		!(TRIGGER_FIRED_FOR_ROW(td->tg_event) && TRIGGER_FIRED_BEFORE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_referenced() must be a BEFORE row trigger or an AFTER TRUNCATE trigger")));
	return which;
}

/*
 * Whether the row's id goes (deleted, or changed by an update), in *id:
 * not when it is null or an update keeps it.
 */
static bool
id_goes(TriggerData *td, int64 *id)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			attnum = SPI_fnumber(desc, "id");
	bool		isnull;

	*id = DatumGetInt64(heap_getattr(td->tg_trigtuple, attnum, desc, &isnull));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		newnull;
		int64		newid = DatumGetInt64(heap_getattr(td->tg_newtuple, attnum, desc, &newnull));

		if (newnull == isnull && newid == *id)
			return false;
	}
	return !isnull;
}

/*
 * check_referenced(column): BEFORE DELETE OR UPDATE OF id row trigger on
 * workstream, queue and agent, and AFTER TRUNCATE statement trigger on
 * workstream; column is work_item's column that refers to the table.
 */
PG_FUNCTION_INFO_V1(omniroute_check_referenced);

Datum
omniroute_check_referenced(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int			which;
	HeapTuple	result;
	int64		id;

	omniroute_check_version();
	which = referenced_by_trigger(fcinfo);
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "omniroute: SPI_connect failed");
		refuse_truncate(referenced[which].table);
		SPI_finish();
		return PointerGetDatum(NULL);
	}

	result = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (!id_goes(td, &id))
		return PointerGetDatum(result);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	/* a workstream's work items go with it; a queue's or agent's stay */
	if (which == REF_WORKSTREAM && TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		TupleDesc	desc = RelationGetDescr(td->tg_relation);

		delete_work_of(id, SPI_getvalue(td->tg_trigtuple, desc, SPI_fnumber(desc, "name")));
	}
	else
		refuse_if_referenced(which, id);
	SPI_finish();
	return PointerGetDatum(result);
}
