/*-------------------------------------------------------------------------
 *
 * refs.c
 *	  A work item's references to its queue and its agent, kept by the
 *	  extension instead of by foreign keys.
 *
 *	  A foreign key check runs a SQL statement (executor start and end,
 *	  a row lock) for every inserted row; two of them, for queue_id and
 *	  agent_id, cost a routed insert about a tenth of its time, and the
 *	  router has already done their work: it chose the queue from its
 *	  configuration and it holds the agent's row, which it updated to take
 *	  the agent's capacity.  So the references are kept the way a foreign
 *	  key keeps them, with the same locks, but without the statements:
 *
 *	    - referencing side: the router locks the queue's row FOR KEY
 *	      SHARE, and the agent's row when it did not update it (a bot), and
 *	      notes what it secured for the row it is about to insert.  An
 *	      AFTER INSERT trigger on work_item whose WHEN clause asks
 *	      refs_unchecked() fires only for values the router did not secure
 *	      (another BEFORE trigger changed them); it and the AFTER UPDATE
 *	      trigger lock the rows referred to FOR KEY SHARE, as a foreign key
 *	      check does, or fail with 23503 when one does not exist;
 *	    - referenced side: a BEFORE DELETE OR UPDATE OF id trigger on queue
 *	      and agent fails with 23503 while a work item refers to the row.
 *	      A BEFORE row trigger runs once the row is locked, so it waits for
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

static struct
{
	bool		valid;
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
refs_secured(int64 queue_id, int64 agent_id)
{
	refs_register();
	secured.valid = true;
	secured.queue_id = queue_id;
	secured.agent_id = agent_id;
}

/*
 * work_item_refs_unchecked(queue_id, agent_id): whether an inserted row
 * refers to something the router did not secure for it.  Takes what was
 * secured, which serves one row.
 */
PG_FUNCTION_INFO_V1(omniroute_refs_unchecked);

Datum
omniroute_refs_unchecked(PG_FUNCTION_ARGS)
{
	bool		was_valid = secured.valid;

	secured.valid = false;
	if (!PG_ARGISNULL(0) && !(was_valid && secured.queue_id == PG_GETARG_INT64(0)))
		PG_RETURN_BOOL(true);
	if (!PG_ARGISNULL(1) && !(was_valid && secured.agent_id == PG_GETARG_INT64(1)))
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
 * queue and agent a row refers to (new values only, on update) FOR KEY
 * SHARE; 23503 when one does not exist.
 */
PG_FUNCTION_INFO_V1(omniroute_check_refs);

Datum
omniroute_check_refs(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		update;
	static const char *const columns[] = {"queue_id", "agent_id"};

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
			refs_lock_queue(id);
		else
			refs_lock_agent(id);
	}
	return PointerGetDatum(NULL);
}

/*
 * check_referenced(column): BEFORE DELETE OR UPDATE OF id row trigger on
 * queue and agent; column is work_item's column that refers to the table.
 */
PG_FUNCTION_INFO_V1(omniroute_check_referenced);

Datum
omniroute_check_referenced(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	static SPIPlanPtr plans[2];
	TupleDesc	desc;
	bool		isnull;
	int64		id;
	int			which;
	Datum		value;
	HeapTuple	result;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_referenced() must be a BEFORE row trigger with one argument")));
	if (strcmp(td->tg_trigger->tgargs[0], "queue_id") == 0)
		which = 0;
	else if (strcmp(td->tg_trigger->tgargs[0], "agent_id") == 0)
		which = 1;
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_referenced(): unknown column \"%s\"", td->tg_trigger->tgargs[0])));
	table = (which == 0) ? "queue" : "agent";

	desc = RelationGetDescr(td->tg_relation);
	id = DatumGetInt64(heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "id"), desc, &isnull));
	result = td->tg_trigtuple;
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		newnull;
		int64		newid = DatumGetInt64(heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "id"),
													   desc, &newnull));

		result = td->tg_newtuple;
		if (newnull == isnull && newid == id)
			return PointerGetDatum(result);
	}
	if (isnull)
		return PointerGetDatum(result);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	if (plans[which] == NULL)
	{
		Oid			type = INT8OID;

		plans[which] = util_prepare(which == 0 ?
									"SELECT id FROM omniroute.work_item WHERE queue_id = $1 LIMIT 1" :
									"SELECT id FROM omniroute.work_item WHERE agent_id = $1 LIMIT 1",
									1, &type);
	}
	value = Int64GetDatum(id);

	/*
	 * The latest snapshot, as a foreign key's check does: the row lock this
	 * trigger runs under waited for whoever held the row, and what they
	 * committed counts whatever this transaction's snapshot is.
	 */
	CommandCounterIncrement();
	if (SPI_execute_snapshot(plans[which], &value, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "omniroute: reference check failed");
	if (SPI_processed > 0)
	{
		int64		item = util_col_int64(0, 1);

		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("%s " INT64_FORMAT " is still referenced from table \"work_item\"",
						table, id),
				 errdetail("Key (id)=(" INT64_FORMAT ") is referenced by work item " INT64_FORMAT ".",
						   id, item),
				 errhint("Delete its work items first; queues and agents that have handled "
						 "work are usually kept rather than deleted.")));
	}
	SPI_finish();
	return PointerGetDatum(result);
}
