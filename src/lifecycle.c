/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  State transitions of a work item after routing: accept, reject,
 *	  close; an agent's presence; serving waiting work on demand.
 *
 *	  Each function locks the item row (FOR UPDATE), checks that the caller
 *	  may act on it (an admin, or the agent who holds it: 42501 otherwise),
 *	  checks the transition (55000 naming the current state), applies it
 *	  with its capacity effect, writes the events and notifications, and
 *	  when capacity was released serves the agent waiting work in the same
 *	  transaction.  Lock order: item, then agent -- see serve.c for why this
 *	  cannot deadlock with routing or serving.
 *
 *	  The functions run as the extension owner with search_path pinned
 *	  (priv.c) but know their caller, which SECURITY DEFINER would hide.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "assign.h"
#include "catalog.h"
#include "events.h"
#include "lifecycle.h"
#include "priv.h"
#include "route.h"
#include "serve.h"
#include "util.h"

static SPIPlanPtr lock_item_plan;
static SPIPlanPtr item_row_plan;
static SPIPlanPtr release_agent_plan;
static SPIPlanPtr release_members_plan;
static SPIPlanPtr accept_plan;
static SPIPlanPtr close_plan;
static SPIPlanPtr reoffer_plan;
static SPIPlanPtr requeue_plan;

static void
prepare_plans(void)
{
	if (lock_item_plan != NULL)
		return;
	{
		Oid			t[1] = {INT8OID};

		lock_item_plan = util_prepare("SELECT workstream_id, state, queue_id, agent_id, reserved_units,"
									  "       declined_agents, required_skills"
									  "  FROM omniroute.work_item WHERE id = $1 FOR UPDATE", 1, t);
		item_row_plan = util_prepare("SELECT * FROM omniroute.work_item WHERE id = $1", 1, t);
	}
	{
		Oid			t[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};

		release_agent_plan = util_prepare("UPDATE omniroute.agent"
										  "   SET used_units = greatest(used_units - $2, 0), last_released_at = $3"
										  " WHERE id = $1 RETURNING capacity - used_units", 3, t);
		release_members_plan = util_prepare("UPDATE omniroute.queue_member"
											"   SET free_units = $2, last_released_at = $3"
											" WHERE agent_id = $1", 3, t);
	}
	{
		Oid			t[2] = {INT8OID, TIMESTAMPTZOID};

		accept_plan = util_prepare("UPDATE omniroute.work_item"
								   "   SET state = 'active', assigned_at = $2, last_activity_at = $2"
								   " WHERE id = $1", 2, t);
	}
	{
		Oid			t[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};

		close_plan = util_prepare("UPDATE omniroute.work_item"
								  "   SET state = 'closed', closed_at = $2, last_activity_at = $2,"
								  "       close_reason = $3, reserved_units = 0"
								  " WHERE id = $1", 3, t);
	}
	{
		Oid			t[7] = {INT8OID, TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, INT8ARRAYOID, JSONBOID};

		reoffer_plan = util_prepare("UPDATE omniroute.work_item"
									"   SET state = $2, agent_id = $3, reserved_units = $4, offered_at = $5,"
									"       assigned_at = CASE WHEN $2 = 'active' THEN $5 END,"
									"       last_activity_at = $5, declined_agents = $6,"
									"       diagnostics = coalesce(diagnostics, '{}') || jsonb_build_object('assignment', $7)"
									" WHERE id = $1", 7, t);
	}
	{
		Oid			t[4] = {INT8OID, TIMESTAMPTZOID, INT8ARRAYOID, JSONBOID};

		requeue_plan = util_prepare("UPDATE omniroute.work_item"
									"   SET state = 'open', agent_id = NULL, reserved_units = 0,"
									"       offered_at = NULL, assigned_at = NULL, last_activity_at = $2,"
									"       declined_agents = $3,"
									"       diagnostics = coalesce(diagnostics, '{}') || jsonb_build_object('assignment', $4)"
									" WHERE id = $1", 4, t);
	}
}

/* ----------------------------------------------------------------
 * Shared steps
 * ----------------------------------------------------------------
 */
void
lifecycle_begin(LifecycleCall *call)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	priv_enter(&call->caller);
	prepare_plans();
	call->now = GetCurrentTimestamp();
	events_init(&call->events);
}

Datum
lifecycle_end(LifecycleCall *call, int64 item_id)
{
	Datum		result = (Datum) 0;

	events_flush(&call->events, call->now);
	if (item_id != 0)
	{
		Datum		values[1] = {Int64GetDatum(item_id)};

		util_exec(item_row_plan, values, NULL, false, 1, SPI_OK_SELECT);
		result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
	}
	priv_leave(&call->caller);
	SPI_finish();
	return result;
}

void
lifecycle_lock_item(int64 id, WorkItem *it)
{
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;

	if (util_exec(lock_item_plan, values, NULL, false, 0, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("work item " INT64_FORMAT " does not exist", id)));
	it->id = id;
	it->ws_id = util_col_int64(0, 1);
	it->state = util_col_text(0, 2);
	it->queue_id = util_col_int64(0, 3);
	it->agent_id = util_col_int64(0, 4);
	it->reserved = util_col_int32(0, 5);
	it->declined = PointerGetDatum(DatumGetArrayTypePCopy(util_col(0, 6, &isnull)));
	it->required_skills = DatumGetJsonbPCopy(util_col(0, 7, &isnull));
}

void
lifecycle_wrong_state(const WorkItem *it, const char *action, const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s work item " INT64_FORMAT ": it is %s", action, it->id, it->state),
			 errdetail("Only %s work items can be %s.", allowed,
					   strcmp(action, "close") == 0 ? "closed" : psprintf("%sed", action))));
}

/* give back units the agent held for an item */
void
lifecycle_release(int64 agent_id, int32 units, TimestampTz now)
{
	Datum		values[3];

	if (agent_id == 0)
		return;
	values[0] = Int64GetDatum(agent_id);
	values[1] = Int32GetDatum(units);
	values[2] = TimestampTzGetDatum(now);
	if (util_exec(release_agent_plan, values, NULL, false, 0, SPI_OK_UPDATE_RETURNING) == 0)
		return;
	values[1] = Int32GetDatum(util_col_int32(0, 1));
	util_exec(release_members_plan, values, NULL, false, 0, SPI_OK_UPDATE);
}

static Datum
append_declined(Datum arr, int64 agent_id)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *out;

	deconstruct_array(DatumGetArrayTypeP(arr), INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	out = palloc(sizeof(Datum) * (n + 1));
	memcpy(out, elems, sizeof(Datum) * n);
	out[n] = Int64GetDatum(agent_id);
	return PointerGetDatum(construct_array(out, n + 1, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/*
 * Route an item that lost its agent again within its queue, never back to
 * an agent in its declined list: offered to the next eligible agent, or
 * open.  'it' is locked; its agent's units are already released.
 */
void
lifecycle_reroute(LifecycleCall *call, WorkItem *it, const char *why)
{
	WorkstreamConfig *ws = catalog_workstream(it->ws_id);
	AssignRequest req;
	AssignResult res;
	RequiredSkills rs;
	StringInfoData diag;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64	   *excluded;
	Datum		values[7];

	if (ws == NULL)
		elog(ERROR, "omniroute: workstream " INT64_FORMAT " vanished", it->ws_id);
	deconstruct_array(DatumGetArrayTypeP(it->declined), INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	excluded = palloc(sizeof(int64) * (n + 1));
	for (int i = 0; i < n; i++)
		excluded[i] = DatumGetInt64(elems[i]);
	parse_required_skills(it->required_skills, &rs);

	memset(&req, 0, sizeof(req));
	req.ws = ws;
	req.queue = catalog_queue(it->queue_id);
	req.skills = &rs;
	req.excluded = excluded;
	req.nexcluded = n;
	req.reserve = true;
	req.now = call->now;
	initStringInfo(&diag);
	if (assign_and_describe(&req, &res, &diag))
	{
		TimestampTz expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																	  TimestampTzGetDatum(call->now),
																	  IntervalPGetDatum(&ws->offer_timeout)));
		const char *ev = ws->auto_accept ? "assigned" : "offered";

		values[0] = Int64GetDatum(it->id);
		values[1] = CStringGetTextDatum(ws->auto_accept ? "active" : "offered");
		values[2] = Int64GetDatum(res.agent_id);
		values[3] = Int32GetDatum(ws->capacity_units);
		values[4] = TimestampTzGetDatum(call->now);
		values[5] = it->declined;
		values[6] = util_jsonb(diag.data);
		util_exec(reoffer_plan, values, NULL, false, 0, SPI_OK_UPDATE);
		events_add(&call->events, it->id, ev, res.agent_id, it->queue_id,
				   psprintf("{\"after\": \"%s\"}", why));
		notify_agent(res.agent_id, ev, it->id, it->ws_id, it->queue_id,
					 ws->auto_accept ? NULL : &expires);
	}
	else
	{
		values[0] = Int64GetDatum(it->id);
		values[1] = TimestampTzGetDatum(call->now);
		values[2] = it->declined;
		values[3] = util_jsonb(diag.data);
		util_exec(requeue_plan, values, NULL, false, 0, SPI_OK_UPDATE);
		events_add(&call->events, it->id, "queued", 0, it->queue_id,
				   psprintf("{\"after\": \"%s\"}", why));
	}
}

/* ----------------------------------------------------------------
 * accept(id), reject(id), close(id, reason)
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(omniroute_accept);

Datum
omniroute_accept(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem		it;
	Datum		values[2];

	lifecycle_begin(&call);
	lifecycle_lock_item(id, &it);
	priv_check_agent(&call.caller, it.agent_id, psprintf("accept work item " INT64_FORMAT, id));
	if (strcmp(it.state, "offered") != 0)
		lifecycle_wrong_state(&it, "accept", "offered");
	values[0] = Int64GetDatum(id);
	values[1] = TimestampTzGetDatum(call.now);
	util_exec(accept_plan, values, NULL, false, 0, SPI_OK_UPDATE);
	events_add(&call.events, id, "accepted", it.agent_id, it.queue_id, NULL);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_reject);

Datum
omniroute_reject(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem		it;
	int64		agent;

	lifecycle_begin(&call);
	lifecycle_lock_item(id, &it);
	priv_check_agent(&call.caller, it.agent_id, psprintf("reject work item " INT64_FORMAT, id));
	if (strcmp(it.state, "offered") != 0)
		lifecycle_wrong_state(&it, "reject", "offered");
	agent = it.agent_id;
	lifecycle_release(agent, it.reserved, call.now);
	it.declined = append_declined(it.declined, agent);
	events_add(&call.events, id, "rejected", agent, it.queue_id, NULL);
	notify_agent(agent, "revoked", id, it.ws_id, it.queue_id, NULL);
	lifecycle_reroute(&call, &it, "rejected");
	serve_agent(agent, call.now, &call.events);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_close);

Datum
omniroute_close(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem		it;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', PG_ARGISNULL(1) ? 'n' : ' '};

	lifecycle_begin(&call);
	lifecycle_lock_item(id, &it);
	priv_check_agent(&call.caller, it.agent_id, psprintf("close work item " INT64_FORMAT, id));
	if (strcmp(it.state, "closed") == 0)
		lifecycle_wrong_state(&it, "close", "unclosed");
	values[0] = Int64GetDatum(id);
	values[1] = TimestampTzGetDatum(call.now);
	values[2] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	util_exec(close_plan, values, nulls, false, 0, SPI_OK_UPDATE);
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfoString(&d, "{\"from\": ");
		escape_json(&d, it.state);
		if (!PG_ARGISNULL(1))
		{
			appendStringInfoString(&d, ", \"reason\": ");
			escape_json(&d, text_to_cstring(PG_GETARG_TEXT_PP(1)));
		}
		appendStringInfoChar(&d, '}');
		events_add(&call.events, id, "closed", it.agent_id, it.queue_id, d.data);
	}
	if (it.agent_id != 0 && it.reserved > 0)
	{
		lifecycle_release(it.agent_id, it.reserved, call.now);
		serve_agent(it.agent_id, call.now, &call.events);
	}
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

/* ----------------------------------------------------------------
 * serve_agent(agent_id), set_presence(...)
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(omniroute_serve_agent);

Datum
omniroute_serve_agent(PG_FUNCTION_ARGS)
{
	int64		agent = PG_GETARG_INT64(0);
	LifecycleCall call;
	int			n;

	lifecycle_begin(&call);
	priv_check_agent(&call.caller, agent, "serve another agent");
	n = serve_agent(agent, call.now, &call.events);
	lifecycle_end(&call, 0);
	PG_RETURN_INT32(n);
}

static SPIPlanPtr set_presence_plan;
static SPIPlanPtr presence_exists_plan;

static void
set_presence(int64 agent, text *presence)
{
	Datum		values[2];

	if (set_presence_plan == NULL)
	{
		Oid			t[2] = {INT8OID, TEXTOID};

		set_presence_plan = util_prepare("UPDATE omniroute.agent SET presence = $2"
										 " WHERE id = $1 AND presence IS DISTINCT FROM $2"
										 " RETURNING id", 2, t);
		presence_exists_plan = util_prepare("SELECT 1 FROM omniroute.presence WHERE name = $2"
											" UNION ALL SELECT 2 FROM omniroute.agent WHERE id = $1",
											2, t);
	}
	values[0] = Int64GetDatum(agent);
	values[1] = PointerGetDatum(presence);
	{
		uint64		n = util_exec(presence_exists_plan, values, NULL, false, 0, SPI_OK_SELECT);
		bool		have_presence = false;
		bool		have_agent = false;

		for (uint64 i = 0; i < n; i++)
		{
			if (util_col_int32(i, 1) == 1)
				have_presence = true;
			else
				have_agent = true;
		}
		if (!have_agent)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("agent " INT64_FORMAT " does not exist", agent)));
		if (!have_presence)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("presence \"%s\" does not exist", text_to_cstring(presence)),
					 errhint("Presences are rows of omniroute.presence.")));
	}
	/* the agent_sync_members trigger mirrors it and serves waiting work */
	util_exec(set_presence_plan, values, NULL, false, 0, SPI_OK_UPDATE_RETURNING);
}

PG_FUNCTION_INFO_V1(omniroute_set_presence);

Datum
omniroute_set_presence(PG_FUNCTION_ARGS)
{
	int64		agent = PG_GETARG_INT64(0);
	LifecycleCall call;

	lifecycle_begin(&call);
	priv_check_agent(&call.caller, agent, "set another agent's presence");
	set_presence(agent, PG_GETARG_TEXT_PP(1));
	lifecycle_end(&call, 0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(omniroute_set_my_presence);

Datum
omniroute_set_my_presence(PG_FUNCTION_ARGS)
{
	LifecycleCall call;

	lifecycle_begin(&call);
	if (call.caller.agent_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is not an agent", GetUserNameFromId(call.caller.userid, false)),
				 errhint("Map the role to an agent with omniroute.agent.login_role, or call set_presence(agent_id, presence).")));
	set_presence(call.caller.agent_id, PG_GETARG_TEXT_PP(0));
	lifecycle_end(&call, 0);
	PG_RETURN_VOID();
}
