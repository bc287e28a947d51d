/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  Keeping plain DML off the books the extension keeps.
 *
 *	  A work item's state, queue, agent, reserved units and times, and an
 *	  agent's used units and last assignment and release, are routing state:
 *	  each change to them goes with a change somewhere else (the agent's
 *	  units and memberships, the capacity profile's count, the history, a
 *	  notification), which only the lifecycle functions make.  An item
 *	  closed by a plain UPDATE, or deleted while offered, would keep its
 *	  agent's units reserved for good.  Two BEFORE row triggers refuse such
 *	  DML from roles below superuser, naming the function to use instead:
 *
 *	    work_item_guard()  BEFORE UPDATE OR DELETE ON work_item: an UPDATE
 *	                       may change priority, context and required_skills
 *	                       only (every other column, including any added
 *	                       later, is the extension's); a DELETE only a
 *	                       closed item (55000).
 *	    agent_guard()      BEFORE UPDATE OF used_units, last_assigned_at,
 *	                       last_released_at ON agent: none of them (42501).
 *
 *	  INSERT needs no trigger: those columns are not granted for INSERT to
 *	  any role (sql/omniroute.sql), and the router sets them.
 *
 *	  Who passes: a superuser.  The extension's own writes run as its owner,
 *	  a superuser (SECURITY DEFINER functions, or priv.c's switch for the
 *	  lifecycle functions and tick()), and so do pg_restore and a superuser
 *	  repairing the books by hand.  That test comes first and is all the
 *	  triggers cost the lifecycle functions; routing writes agent rows
 *	  through the access methods (direct.c), which fires no trigger, and
 *	  never updates or deletes a work item, so the INSERT path pays nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

#include "item.h"
#include "omniroute.h"

/* the columns of a work item an admin may UPDATE directly */
static const char *const item_editable[] = {"priority", "context", "required_skills"};

/* an agent's routing state */
static const char *const agent_kept[] = {"used_units", "last_assigned_at", "last_released_at"};

static void
guard_check_call(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be a BEFORE UPDATE or DELETE FOR EACH ROW trigger", name)));
}

/* whether column attnum differs between the old and the new row */
static bool
guard_changed(TupleDesc desc, int attnum, HeapTuple oldtup, HeapTuple newtup)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	bool		oldnull;
	bool		newnull;
	Datum		oldval = heap_getattr(oldtup, attnum, desc, &oldnull);
	Datum		newval = heap_getattr(newtup, attnum, desc, &newnull);

	if (oldnull || newnull)
		return oldnull != newnull;
	return !datum_image_eq(oldval, newval, att->attbyval, att->attlen);
}

static bool
guard_listed(const char *name, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static int64
guard_row_id(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int			attnum = SPI_fnumber(desc, "id");
	Datum		d;

	if (attnum <= 0)
		return 0;
	d = heap_getattr(tup, attnum, desc, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

static void
guard_refuse_item_update(int64 id, const char *column)
{
	const char *hint;

	if (strcmp(column, "state") == 0)
		hint = "Use the lifecycle functions: omniroute.accept(), reject(), wait(), resume(), "
			"wrap_up(), close(), escalate().";
	else if (strcmp(column, "queue_id") == 0)
		hint = "Move the item with omniroute.transfer(work_item_id, queue_id).";
	else if (strcmp(column, "agent_id") == 0)
		hint = "Give the item to an agent with omniroute.transfer_to_agent(work_item_id, agent_id).";
	else
		hint = "Only priority, context and required_skills may be updated directly; "
			"the rest changes through the lifecycle functions (omniroute.close(), transfer(), ...).";
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot update column \"%s\" of work item " INT64_FORMAT ": it is kept by omniroute",
					column, id),
			 errdetail("Changing it by hand would leave the agent's capacity and the item's history wrong."),
			 errhint("%s", hint)));
}

PG_FUNCTION_INFO_V1(omniroute_work_item_guard);

Datum
omniroute_work_item_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup;

	omniroute_check_version();
	guard_check_call(fcinfo, "work_item_guard");
	oldtup = td->tg_trigtuple;
	if (superuser())
		return PointerGetDatum(TRIGGER_FIRED_BY_DELETE(td->tg_event) ? oldtup : td->tg_newtuple);

	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		bool		isnull;
		int			attnum = SPI_fnumber(desc, "state");
		Datum		d;
		char	   *state;

		if (attnum <= 0)
			elog(ERROR, "omniroute: work_item has no column \"state\"");
		d = heap_getattr(oldtup, attnum, desc, &isnull);
		state = isnull ? NULL : TextDatumGetCString(d);

		if (state == NULL || item_state_parse(state) != ITEM_CLOSED)
		{
			int64		id = guard_row_id(oldtup, desc);

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot delete work item " INT64_FORMAT ": it is %s, not closed",
							id, state ? state : "(no state)"),
					 errdetail("Deleting it would keep its agent's capacity reserved."),
					 errhint("Close it first with omniroute.close(" INT64_FORMAT ").", id)));
		}
		return PointerGetDatum(oldtup);
	}

	for (int i = 1; i <= desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i - 1);

		if (att->attisdropped ||
			guard_listed(NameStr(att->attname), item_editable, lengthof(item_editable)))
			continue;
		if (guard_changed(desc, i, oldtup, td->tg_newtuple))
			guard_refuse_item_update(guard_row_id(oldtup, desc), NameStr(att->attname));
	}
	return PointerGetDatum(td->tg_newtuple);
}

PG_FUNCTION_INFO_V1(omniroute_agent_guard);

Datum
omniroute_agent_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;

	omniroute_check_version();
	guard_check_call(fcinfo, "agent_guard");
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("agent_guard() must be a BEFORE UPDATE FOR EACH ROW trigger")));
	if (superuser())
		return PointerGetDatum(td->tg_newtuple);

	desc = RelationGetDescr(td->tg_relation);
	for (int i = 0; i < (int) lengthof(agent_kept); i++)
	{
		int			attnum = SPI_fnumber(desc, agent_kept[i]);

		if (attnum > 0 && guard_changed(desc, attnum, td->tg_trigtuple, td->tg_newtuple))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot update column \"%s\" of agent " INT64_FORMAT ": it is routing state kept by omniroute",
							agent_kept[i], guard_row_id(td->tg_trigtuple, desc)),
					 errdetail("It follows the agent's work items and is copied to the agent's queue memberships."),
					 errhint("Change the work items with omniroute.close(), transfer() or transfer_to_agent(); "
							 "capacity and presence may be updated directly.")));
	}
	return PointerGetDatum(td->tg_newtuple);
}
