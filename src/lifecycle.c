/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  State transitions of a work item after routing: accept, reject,
 *	  close, abandon; an agent's presence; serving waiting work on demand.
 *
 *	  Each function locks the item row (FOR UPDATE), checks that the caller
 *	  may act on it (an admin or a supervisor, or the agent who holds it:
 *	  lifecycle_check_caller, whose refusals never tell an agent more than
 *	  they may read), checks the transition (55000 naming the current
 *	  state), applies it with its capacity effect, writes the events and
 *	  notifications, and when capacity was released serves the agent
 *	  waiting work in the same transaction.  Lock order: item, then agent
 *	  -- see serve.c for why this cannot deadlock with routing or serving.
 *
 *	  Giving work to a named agent: pick(id) and an agent's
 *	  transfer_to_agent obey the rules of routing (serve.c, refusal());
 *	  only an admin's or a supervisor's transfer_to_agent (a forced
 *	  assignment) and affinity give work whatever the agent's capacity,
 *	  presence and membership.
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
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "assign.h"
#include "config.h"
#include "direct.h"
#include "events.h"
#include "item.h"
#include "lifecycle.h"
#include "overflow.h"
#include "prefer.h"
#include "priv.h"
#include "route.h"
#include "serve.h"
#include "timer.h"
#include "jb.h"
#include "util.h"
#include "omniroute.h"

static Datum append_declined(Datum arr, int64 agent_id);
static Datum detail_of(const char *key, const char *value);
static const char *declined_how(int64 item, int64 agent);

/*
 * The statements, each prepared on its first use (util_plan).  The SQL
 * literals of states are the state column's text (item.c).
 */
static UtilPlan lock_item_plan = {
	"SELECT workstream_id, state, queue_id, agent_id, reserved_units,"
	"       declined_agents, required_skills, profile, external_id, skill_matching,"
	"       customer_id, queued_at"
	"  FROM omniroute.work_item WHERE id = $1 FOR UPDATE",
	1, {INT8OID}, NULL
};
static UtilPlan item_row_plan = {
	"SELECT * FROM omniroute.work_item WHERE id = $1",
	1, {INT8OID}, NULL
};
static UtilPlan clear_profile_plan = {
	"UPDATE omniroute.work_item SET profile = NULL WHERE id = $1",
	1, {INT8OID}, NULL
};
static UtilPlan set_profile_plan = {
	"UPDATE omniroute.work_item SET profile = $2 WHERE id = $1",
	2, {INT8OID, TEXTOID}, NULL
};
static UtilPlan declined_plan = {
	"SELECT event FROM omniroute.work_item_event"
	" WHERE work_item_id = $1 AND agent_id = $2"
	"   AND event IN ('missed', 'rejected')"
	" ORDER BY id DESC LIMIT 1",
	2, {INT8OID, INT8OID}, NULL
};
static UtilPlan accept_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = 'active', assigned_at = $2, last_activity_at = $2"
	" WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};
static UtilPlan close_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = 'closed', closed_at = $2, last_activity_at = $2,"
	"       close_reason = $3, reserved_units = 0"
	" WHERE id = $1",
	3, {INT8OID, TIMESTAMPTZOID, TEXTOID}, NULL
};
static UtilPlan state_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = $2, reserved_units = $3, last_activity_at = $4,"
	"       wrap_up_until = $5"
	" WHERE id = $1",
	5, {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};
static UtilPlan reoffer_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = $2, agent_id = $3, reserved_units = $4, offered_at = $5,"
	"       assigned_at = CASE WHEN $2 = 'active' THEN $5 END,"
	"       last_activity_at = $5, declined_agents = $6, profile = $8,"
	"       diagnostics = coalesce(diagnostics, '{}') || jsonb_build_object('assignment', $7)"
	" WHERE id = $1",
	8, {INT8OID, TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, INT8ARRAYOID, JSONBOID, TEXTOID}, NULL
};
static UtilPlan requeue_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = 'open', agent_id = NULL, reserved_units = 0,"
	"       offered_at = NULL, assigned_at = NULL, last_activity_at = $2,"
	"       declined_agents = $3,"
	"       diagnostics = coalesce(diagnostics, '{}') || jsonb_build_object('assignment', $4)"
	" WHERE id = $1",
	4, {INT8OID, TIMESTAMPTZOID, INT8ARRAYOID, JSONBOID}, NULL
};
static UtilPlan move_queue_plan = {
	"UPDATE omniroute.work_item SET queue_id = $2, queued_at = $3,"
	"       agent_id = NULL, state = 'open', reserved_units = 0"
	" WHERE id = $1",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};
static UtilPlan agent_exists_plan = {
	"SELECT is_bot FROM omniroute.agent WHERE id = $1",
	1, {INT8OID}, NULL
};
static UtilPlan lock_agents_plan = {
	"SELECT id FROM omniroute.agent WHERE id IN ($1, $2)"
	" ORDER BY id FOR UPDATE",
	2, {INT8OID, INT8OID}, NULL
};
static UtilPlan presence_exists_plan = {
	"SELECT 1 FROM omniroute.presence WHERE name = $2"
	" UNION ALL SELECT 2 FROM omniroute.agent WHERE id = $1",
	2, {INT8OID, TEXTOID}, NULL
};
static UtilPlan set_presence_plan = {
	"UPDATE omniroute.agent SET presence = $2"
	" WHERE id = $1 AND presence IS DISTINCT FROM $2"
	" RETURNING id",
	2, {INT8OID, TEXTOID}, NULL
};

/* ----------------------------------------------------------------
 * Shared steps
 * ----------------------------------------------------------------
 */
void
lifecycle_begin(LifecycleCall *call)
{
	omniroute_check_version();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	priv_enter(&call->caller);
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

		util_exec(util_plan(&item_row_plan), values, NULL, false, 1, SPI_OK_SELECT);
		result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
	}
	priv_leave(&call->caller);
	SPI_finish();
	return result;
}

/*
 * The start of every transition on an item: privileged mode, the item
 * locked, and the caller allowed to act on it (lifecycle_check_caller).
 */
void
lifecycle_open(LifecycleCall *call, int64 id, WorkItem *it, const char *verb)
{
	lifecycle_begin(call);
	lifecycle_check_caller(call, id, lifecycle_try_lock_item(id, it) ? it : NULL, verb);
}

/*
 * May the caller act on the item (NULL: there is no such item)?  An admin
 * or a supervisor on any item, an agent on the items they hold.  What an
 * agent is told never says more than they may read (the agent_read
 * policy): an item they may not read gets the answer a missing one gets,
 * 42501 "does not exist or is not yours", naming neither its state nor its
 * agent; one they may read (open in a pick-mode queue of theirs) is named
 * as not theirs.  An agent whose offer of the item was missed or rejected
 * is told that, with the state when it is open again (55000).
 */
void
lifecycle_check_caller(LifecycleCall *call, int64 id, const WorkItem *it, const char *verb)
{
	int64		agent;

	if (priv_acts_on_any(&call->caller))
	{
		if (it == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("work item " INT64_FORMAT " does not exist", id)));
		return;
	}
	agent = priv_require_agent(&call->caller);
	if (it != NULL && it->agent_id == agent)
		return;
	if (it != NULL && serve_declined_by(it->declined, agent))
	{
		const char *what = declined_how(id, agent);

		if (it->state == ITEM_OPEN)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("work item " INT64_FORMAT " is open: %s", id, what),
					 errdetail("Agent " INT64_FORMAT " cannot %s it.", agent, verb)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("work item " INT64_FORMAT " is no longer yours: %s", id, what),
				 errdetail("Agent " INT64_FORMAT " cannot %s it.", agent, verb)));
	}
	if (it != NULL && lifecycle_may_read(agent, it))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent " INT64_FORMAT " cannot %s work item " INT64_FORMAT ": it is not yours",
						agent, verb, id)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("agent " INT64_FORMAT " cannot %s work item " INT64_FORMAT
					": it does not exist or is not yours", agent, verb, id)));
}

/*
 * Whether the agent may read the item although they do not hold it: the
 * second half of the agent_read policy on work_item (open, of a pick-mode
 * workstream, in a queue they are a member of).
 */
bool
lifecycle_may_read(int64 agent, const WorkItem *it)
{
	WorkstreamConfig *ws;

	if (it->state != ITEM_OPEN)
		return false;
	ws = config_workstream(it->ws_id);
	return ws != NULL && ws->pick_mode && serve_is_member(agent, it->queue_id);
}

/* "your offer expired" or "you rejected it": the agent's last word on it */
static const char *
declined_how(int64 item, int64 agent)
{
	Datum		values[2] = {Int64GetDatum(item), Int64GetDatum(agent)};

	if (util_exec(util_plan(&declined_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return "you rejected it or let your offer expire";
	return strcmp(util_col_text(0, 1), "missed") == 0 ? "your offer expired" : "you rejected it";
}

void
lifecycle_lock_item(int64 id, WorkItem *it)
{
	if (!lifecycle_try_lock_item(id, it))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("work item " INT64_FORMAT " does not exist", id)));
}

/* lock the item (FOR UPDATE) and read it; false if there is none */
bool
lifecycle_try_lock_item(int64 id, WorkItem *it)
{
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	Datum		d;

	if (util_exec(util_plan(&lock_item_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return false;
	it->id = id;
	it->ws_id = util_col_int64(0, 1);
	it->state = item_state_parse(util_col_text(0, 2));
	it->queue_id = util_col_int64(0, 3);
	it->agent_id = util_col_int64(0, 4);
	it->reserved = util_col_int32(0, 5);
	it->declined = PointerGetDatum(DatumGetArrayTypePCopy(util_col(0, 6, &isnull)));
	it->required_skills = DatumGetJsonbPCopy(util_col(0, 7, &isnull));
	it->profile = util_col_text(0, 8);
	it->external_id = util_col_text(0, 9);
	it->skill_matching = util_col_text(0, 10);
	it->customer_id = util_col_text(0, 11);
	d = util_col(0, 12, &isnull);
	it->queued_at = isnull ? 0 : DatumGetTimestampTz(d);
	return true;
}

void
lifecycle_release_item(WorkItem *it, TimestampTz now)
{
	if (it->agent_id == 0)
		return;
	if (it->reserved > 0)
		direct_agent_units(it->agent_id, it->reserved, UNITS_RETURN, NULL, 0, NULL, 0, now);
	if (it->profile != NULL)
	{
		Datum		values[1] = {Int64GetDatum(it->id)};

		assign_profile_release(it->agent_id, it->profile);
		util_exec(util_plan(&clear_profile_plan), values, NULL, false, 0, SPI_OK_UPDATE);
		it->profile = NULL;
	}
	it->reserved = 0;
}

void
lifecycle_wrong_state(const WorkItem *it, const char *action, const char *allowed,
					  const char *done)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s work item " INT64_FORMAT ": it is %s", action, it->id,
						item_state_name(it->state)),
			 errdetail("Only %s work items can be %s.", allowed, done)));
}

/* 55000 unless the item is in the state the action needs */
static void
require_state(const WorkItem *it, ItemState required, const char *action, const char *done)
{
	if (it->state != required)
		lifecycle_wrong_state(it, action, item_state_name(required), done);
}

void
lifecycle_add_declined(WorkItem *it, int64 agent_id)
{
	it->declined = append_declined(it->declined, agent_id);
}

/* the item gives back what it holds, and its agent takes waiting work */
static void
release_and_serve(LifecycleCall *call, WorkItem *it)
{
	int64		agent = it->agent_id;

	if (agent == 0 || (it->reserved == 0 && it->profile == NULL))
		return;
	lifecycle_release_item(it, call->now);
	serve_agent(agent, call->now, &call->events);
}

/* an event's detail of one key: {"key": "value"} */
static Datum
detail_of(const char *key, const char *value)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_kv_string(&b, key, value);
	jb_end_object(&b);
	return jb_finish(&b);
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
 * The request that routes a locked item again within its queue: its
 * required skills and skill matching, every agent in its declined list
 * excluded.
 */
static void
reroute_request(LifecycleCall *call, WorkItem *it, WorkstreamConfig *ws,
				RequiredSkills *rs, AssignRequest *req)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	int64	   *excluded;

	deconstruct_array(DatumGetArrayTypeP(it->declined), INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &elems, &elem_nulls, &n);
	excluded = palloc(sizeof(int64) * (n + 1));
	for (int i = 0; i < n; i++)
		excluded[i] = DatumGetInt64(elems[i]);
	route_required_skills_parse(it->required_skills, rs, NULL);

	memset(req, 0, sizeof(AssignRequest));
	req->ws = ws;
	req->queue = config_queue(it->queue_id);
	req->skills = rs;
	req->skill_matching = it->skill_matching;
	req->excluded = excluded;
	req->nexcluded = n;
	req->reserve = true;
	req->now = call->now;
	/* the queue's agent condition reads the item's values: read them */
	if (req->queue != NULL && req->queue->condition != NULL &&
		agentcond_reads_item(req->queue->condition))
	{
		CondItem   *item = palloc(sizeof(CondItem));

		if (agentcond_load_item(it->id, ws, item))
			req->item = item;
	}
}

/*
 * Write the offer (or, with auto_accept, the assignment) of a locked item
 * to an agent whose units are already reserved: the row with its
 * diagnostics and the capacity profile slot held (NULL: none), the event
 * with its detail, and the agent's notification.
 */
static void
offer_item(LifecycleCall *call, WorkItem *it, WorkstreamConfig *ws, int64 agent,
		   Datum diagnostics, const char *profile, Datum detail)
{
	ItemState	state = ws->auto_accept ? ITEM_ACTIVE : ITEM_OFFERED;
	const char *ev = ws->auto_accept ? "assigned" : "offered";
	TimestampTz expires = config_offer_expires(ws, call->now);
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', profile ? ' ' : 'n'};

	values[0] = Int64GetDatum(it->id);
	values[1] = CStringGetTextDatum(item_state_name(state));
	values[2] = Int64GetDatum(agent);
	values[3] = Int32GetDatum(ws->capacity_units);
	values[4] = TimestampTzGetDatum(call->now);
	values[5] = it->declined;
	values[6] = diagnostics;
	values[7] = profile ? CStringGetTextDatum(profile) : (Datum) 0;
	util_exec(util_plan(&reoffer_plan), values, nulls, false, 0, SPI_OK_UPDATE);
	events_add_jsonb(&call->events, it->id, ev, agent, it->queue_id, detail);
	events_notify_agent(agent, ev, it->id, it->ws_id, it->queue_id,
						ws->auto_accept ? NULL : &expires);
}

/* put a locked item back in its queue, open, with no agent */
static void
requeue_item(LifecycleCall *call, WorkItem *it, Datum diagnostics, const char *why)
{
	Datum		values[4];

	values[0] = Int64GetDatum(it->id);
	values[1] = TimestampTzGetDatum(call->now);
	values[2] = it->declined;
	values[3] = diagnostics;
	util_exec(util_plan(&requeue_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	timer_arm(it->id, config_workstream(it->ws_id), config_queue(it->queue_id));
	/* (no slot was taken: the profile column stays as released) */
	events_add_jsonb(&call->events, it->id, "queued", 0, it->queue_id,
					 detail_of("after", why));
}

/*
 * Route an item that lost its agent again within its queue, never back to
 * an agent in its declined list: offered to a preferred agent of its
 * customer (prefer.c) or held for one, else to the next eligible agent,
 * or open.  'it' is locked; its agent's units are already released.
 */
void
lifecycle_reroute(LifecycleCall *call, WorkItem *it, const char *why)
{
	WorkstreamConfig *ws = config_workstream(it->ws_id);
	AssignRequest req;
	AssignResult res;
	RequiredSkills rs;
	JsonBuild	diag;
	PreferChoice pc;

	if (ws == NULL)
		elog(ERROR, "omniroute: workstream " INT64_FORMAT " vanished", it->ws_id);
	reroute_request(call, it, ws, &rs, &req);
	jb_init(&diag);
	prefer_choose(&req, it->customer_id, it->queued_at ? it->queued_at : call->now, &res, &pc);
	/* a hold from an earlier wait must not outlive it */
	if (ws->prefer && pc.step != PREFER_WAIT)
		prefer_release(it->id);
	if (pc.step != PREFER_NONE)
	{
		prefer_describe(&req, &pc, &res, &diag);
		if (pc.step == PREFER_WAIT)
		{
			prefer_hold(it->id, &pc, false);
			requeue_item(call, it, jb_finish(&diag), why);
		}
		else
			offer_item(call, it, ws, res.agent_id, jb_finish(&diag), ws->capacity_profile,
					   detail_of("after", why));
		return;
	}
	req.preferred_note = pc.note;
	/* the agent's units and profile slot are reserved when one is found */
	if (assign_and_describe(&req, &res, &diag))
		offer_item(call, it, ws, res.agent_id, jb_finish(&diag), ws->capacity_profile,
				   detail_of("after", why));
	else
		requeue_item(call, it, jb_finish(&diag), why);
}

/* ----------------------------------------------------------------
 * accept(id), reject(id), close(id, reason), abandon(id)
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

	lifecycle_open(&call, id, &it, "accept");
	require_state(&it, ITEM_OFFERED, "accept", "accepted");
	values[0] = Int64GetDatum(id);
	values[1] = TimestampTzGetDatum(call.now);
	util_exec(util_plan(&accept_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	events_add_jsonb(&call.events, id, "accepted", it.agent_id, it.queue_id, (Datum) 0);
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

	lifecycle_open(&call, id, &it, "reject");
	require_state(&it, ITEM_OFFERED, "reject", "rejected");
	agent = it.agent_id;
	lifecycle_release_item(&it, call.now);
	it.declined = append_declined(it.declined, agent);
	events_add_jsonb(&call.events, id, "rejected", agent, it.queue_id, (Datum) 0);
	events_notify_agent(agent, "revoked", id, it.ws_id, it.queue_id, NULL);
	lifecycle_reroute(&call, &it, "rejected");
	serve_agent(agent, call.now, &call.events);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

/*
 * Close a locked item: the row (closed_at, reason: NULL for none), the
 * event (its detail names the state it came from and the reason), and
 * what the item held given back to its agent, who then takes waiting work.
 */
static void
close_item(LifecycleCall *call, WorkItem *it, const char *event, text *reason)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', reason ? ' ' : 'n'};
	JsonBuild	d;

	values[0] = Int64GetDatum(it->id);
	values[1] = TimestampTzGetDatum(call->now);
	values[2] = reason ? PointerGetDatum(reason) : (Datum) 0;
	util_exec(util_plan(&close_plan), values, nulls, false, 0, SPI_OK_UPDATE);
	jb_init(&d);
	jb_object(&d);
	jb_kv_string(&d, "from", item_state_name(it->state));
	if (reason)
		jb_kv_string(&d, "reason", text_to_cstring(reason));
	jb_end_object(&d);
	events_add_jsonb(&call->events, it->id, event, it->agent_id, it->queue_id, jb_finish(&d));
	release_and_serve(call, it);
}

PG_FUNCTION_INFO_V1(omniroute_close);

Datum
omniroute_close(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem		it;

	lifecycle_open(&call, id, &it, "close");
	if (it.state == ITEM_CLOSED)
		lifecycle_wrong_state(&it, "close", "unclosed", "closed");
	close_item(&call, &it, "closed", PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

/*
 * abandon(id): the customer gave up.  A close with reason and
 * event 'abandoned', from open or offered only: an item an agent answered
 * is not abandoned but closed.  An offer's agent gets their units back and
 * is told the offer is gone ("revoked"), as when an offer is taken back.
 * Who may call it is its EXECUTE privilege (the app and admin roles): the
 * customer's side, not an agent's.
 */
PG_FUNCTION_INFO_V1(omniroute_abandon);

Datum
omniroute_abandon(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;

	lifecycle_begin(&call);
	lifecycle_lock_item(id, &it);
	if (it.state != ITEM_OPEN && it.state != ITEM_OFFERED)
		lifecycle_wrong_state(&it, "abandon", "open or offered", "abandoned");
	if (it.state == ITEM_OFFERED)
		events_notify_agent(it.agent_id, "revoked", id, it.ws_id, it.queue_id, NULL);
	close_item(&call, &it, "abandoned", cstring_to_text("abandoned"));
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
	priv_check_agent(&call.caller, agent, psprintf("serve agent " INT64_FORMAT, agent));
	n = serve_agent(agent, call.now, &call.events);
	lifecycle_end(&call, 0);
	PG_RETURN_INT32(n);
}

static void
set_presence(int64 agent, text *presence)
{
	Datum		values[2];

	values[0] = Int64GetDatum(agent);
	values[1] = PointerGetDatum(presence);
	{
		uint64		n = util_exec(util_plan(&presence_exists_plan), values, NULL, false, 0, SPI_OK_SELECT);
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
	util_exec(util_plan(&set_presence_plan), values, NULL, false, 0, SPI_OK_UPDATE_RETURNING);
}

PG_FUNCTION_INFO_V1(omniroute_set_presence);

Datum
omniroute_set_presence(PG_FUNCTION_ARGS)
{
	int64		agent = PG_GETARG_INT64(0);
	LifecycleCall call;

	lifecycle_begin(&call);
	priv_check_agent(&call.caller, agent, psprintf("set the presence of agent " INT64_FORMAT, agent));
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

/* ----------------------------------------------------------------
 * wait, resume, wrap_up, transfer, transfer_to_agent, escalate
 * ----------------------------------------------------------------
 */
static void
set_state(WorkItem *it, ItemState state, int32 reserved, TimestampTz now,
		  const TimestampTz *wrap_up_until)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', wrap_up_until ? ' ' : 'n'};

	values[0] = Int64GetDatum(it->id);
	values[1] = CStringGetTextDatum(item_state_name(state));
	values[2] = Int32GetDatum(reserved);
	values[3] = TimestampTzGetDatum(now);
	values[4] = wrap_up_until ? TimestampTzGetDatum(*wrap_up_until) : (Datum) 0;
	util_exec(util_plan(&state_plan), values, nulls, false, 0, SPI_OK_UPDATE);
}

/*
 * An item given to a named agent whose row the caller has locked: units
 * reserved whatever their capacity (room was checked already, or force:
 * affinity and forced assignments), and a slot of the workstream's
 * capacity profile -- taken whatever the count with force, else only if
 * one is free (53400 otherwise).
 */
static void
give_to_agent(LifecycleCall *call, WorkItem *it, int64 agent, const char *method,
			  const char *why, bool force)
{
	WorkstreamConfig *ws = config_workstream(it->ws_id);
	const char *profile = NULL;
	JsonBuild	diag;
	JsonBuild	detail;

	assign_force(agent, ws->capacity_units, it->queue_id, call->now);
	if (ws->capacity_profile != NULL)
	{
		if (assign_profile_charge(agent, ws->capacity_profile, call->now, force))
			profile = ws->capacity_profile;
		else if (!force)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("cannot give work item " INT64_FORMAT " to agent " INT64_FORMAT
							": no free slot of capacity profile \"%s\"",
							it->id, agent, ws->capacity_profile)));
	}
	jb_init(&diag);
	jb_object(&diag);
	jb_kv_string(&diag, "outcome", item_state_name(ws->auto_accept ? ITEM_ACTIVE : ITEM_OFFERED));
	jb_kv_int(&diag, "agent_id", agent);
	jb_kv_string(&diag, "method", method);
	jb_end_object(&diag);
	jb_init(&detail);
	jb_object(&detail);
	jb_kv_string(&detail, "after", why);
	jb_kv_string(&detail, "method", method);
	jb_end_object(&detail);
	offer_item(call, it, ws, agent, jb_finish(&diag), profile, jb_finish(&detail));
}

/* take an item away from its agent: units back, the agent told */
static int64
take_back(LifecycleCall *call, WorkItem *it)
{
	int64		agent = it->agent_id;

	if (agent == 0)
		return 0;
	lifecycle_release_item(it, call->now);
	events_notify_agent(agent, "revoked", it->id, it->ws_id, it->queue_id, NULL);
	it->agent_id = 0;
	it->reserved = 0;
	return agent;
}

PG_FUNCTION_INFO_V1(omniroute_wait);

Datum
omniroute_wait(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;

	lifecycle_open(&call, id, &it, "put on hold");
	require_state(&it, ITEM_ACTIVE, "put on hold", "put on hold");
	/* the agent stays the owner; the capacity is theirs to use meanwhile */
	set_state(&it, ITEM_WAITING, 0, call.now, NULL);
	events_add_jsonb(&call.events, id, "waiting", it.agent_id, it.queue_id, (Datum) 0);
	release_and_serve(&call, &it);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_resume);

Datum
omniroute_resume(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;
	WorkstreamConfig *ws;

	lifecycle_open(&call, id, &it, "resume");
	require_state(&it, ITEM_WAITING, "resume", "resumed");
	ws = config_workstream(it.ws_id);
	if (ws->keep_same_agent && it.agent_id != 0)
	{
		/* the same agent, whatever their capacity and presence */
		assign_force(it.agent_id, ws->capacity_units, it.queue_id, call.now);
		set_state(&it, ITEM_ACTIVE, ws->capacity_units, call.now, NULL);
		if (ws->capacity_profile != NULL &&
			assign_profile_charge(it.agent_id, ws->capacity_profile, call.now, true))
		{
			Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(ws->capacity_profile)};

			util_exec(util_plan(&set_profile_plan), values, NULL, false, 0, SPI_OK_UPDATE);
		}
		events_add_jsonb(&call.events, id, "resumed", it.agent_id, it.queue_id,
						 detail_of("method", "keep_same_agent"));
		events_notify_agent(it.agent_id, "assigned", id, it.ws_id, it.queue_id, NULL);
	}
	else
	{
		events_add_jsonb(&call.events, id, "resumed", it.agent_id, it.queue_id,
						 detail_of("method", "re-routed"));
		it.agent_id = 0;
		lifecycle_reroute(&call, &it, "resumed");
	}
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_wrap_up);

Datum
omniroute_wrap_up(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;
	WorkstreamConfig *ws;
	bool		release;
	TimestampTz until = 0;

	lifecycle_open(&call, id, &it, "wrap up");
	require_state(&it, ITEM_ACTIVE, "wrap up", "wrapped up");
	ws = config_workstream(it.ws_id);

	/*
	 * wrap_up_block NULL: the capacity stays blocked until the item closes;
	 * 0: released now; an interval: released by tick() when it has passed.
	 */
	release = ws->has_wrap_up_block &&
		ws->wrap_up_block.time == 0 && ws->wrap_up_block.day == 0 && ws->wrap_up_block.month == 0;
	if (ws->has_wrap_up_block && !release)
		until = util_time_plus(call.now, &ws->wrap_up_block);
	set_state(&it, ITEM_WRAP_UP, release ? 0 : it.reserved, call.now,
			  ws->has_wrap_up_block && !release ? &until : NULL);
	events_add_jsonb(&call.events, id, "wrap_up", it.agent_id, it.queue_id,
					 detail_of("capacity", release ? "released" :
							   ws->has_wrap_up_block ? "blocked for wrap_up_block" :
							   "blocked until close"));
	if (release)
		release_and_serve(&call, &it);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

/* 55000 unless the item may be transferred: any state but wrap_up and closed */
static void
require_transferable(const WorkItem *it)
{
	if (it->state != ITEM_OPEN && it->state != ITEM_OFFERED &&
		it->state != ITEM_ACTIVE && it->state != ITEM_WAITING)
		lifecycle_wrong_state(it, "transfer", "open, offered, active or waiting", "transferred");
}

/*
 * The agent an item is transferred to exists, is no bot and does not hold
 * it already; then both agents' rows are locked, in id order, so that two
 * transfers in opposite directions cannot deadlock.
 */
static void
lock_transfer_target(const WorkItem *it, int64 target)
{
	Datum		values[1] = {Int64GetDatum(target)};
	bool		isnull;

	if (util_exec(util_plan(&agent_exists_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot transfer work item " INT64_FORMAT ": agent " INT64_FORMAT " does not exist",
						it->id, target)));
	if (DatumGetBool(util_col(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot transfer work item " INT64_FORMAT " to agent " INT64_FORMAT ": it is a bot",
						it->id, target)));
	if (target == it->agent_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("work item " INT64_FORMAT " is already with agent " INT64_FORMAT, it->id, target)));
	{
		Datum		both[2] = {Int64GetDatum(it->agent_id), Int64GetDatum(target)};

		util_exec(util_plan(&lock_agents_plan), both, NULL, false, 0, SPI_OK_SELECT);
	}
}

PG_FUNCTION_INFO_V1(omniroute_transfer);

Datum
omniroute_transfer(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		queue = PG_GETARG_INT64(1);
	LifecycleCall call;
	WorkItem	it;
	int64		from_queue;
	int64		old_agent;
	Datum		values[3];
	JsonBuild	detail;

	lifecycle_open(&call, id, &it, "transfer");
	require_transferable(&it);
	if (config_queue(queue) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot transfer work item " INT64_FORMAT ": queue " INT64_FORMAT " does not exist",
						id, queue)));
	from_queue = it.queue_id;
	old_agent = take_back(&call, &it);
	values[0] = Int64GetDatum(id);
	values[1] = Int64GetDatum(queue);
	values[2] = TimestampTzGetDatum(call.now);
	util_exec(util_plan(&move_queue_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	it.queue_id = queue;
	jb_init(&detail);
	jb_object(&detail);
	jb_kv_int(&detail, "from_queue", from_queue);
	jb_kv_int(&detail, "to_queue", queue);
	jb_end_object(&detail);
	events_add_jsonb(&call.events, id, "transferred", old_agent, queue, jb_finish(&detail));
	if (overflow_item(id, &it.queue_id, call.now, false, &call.events) == OVERFLOW_NEXT_ASSIGN)
		lifecycle_reroute(&call, &it, "transferred");
	if (old_agent != 0)
		serve_agent(old_agent, call.now, &call.events);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_transfer_to_agent);

Datum
omniroute_transfer_to_agent(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		target = PG_GETARG_INT64(1);
	LifecycleCall call;
	WorkItem	it;
	int64		old_agent;
	bool		forced;
	JsonBuild	detail;

	lifecycle_open(&call, id, &it, "transfer");
	/* an admin or a supervisor assigns; an agent hands over (see below) */
	forced = priv_acts_on_any(&call.caller);
	require_transferable(&it);
	lock_transfer_target(&it, target);

	/*
	 * An agent may hand an item they hold only to a colleague routing could
	 * offer it to (a member of its queue, an allowed presence, room, the
	 * skills, ...): a normal offer, which the colleague may reject or miss
	 * as any other.  An admin's or a supervisor's transfer is a forced
	 * assignment: offered to that agent whatever their membership, presence
	 * and capacity, and since it was not made on the strength of their
	 * presence, letting it time out does not make them inactive (tick.c).
	 */
	if (!forced)
		serve_check_handover(target, id, config_workstream(it.ws_id), it.queue_id,
							 it.declined, it.required_skills, it.skill_matching);
	old_agent = take_back(&call, &it);
	jb_init(&detail);
	jb_object(&detail);
	jb_kv_int(&detail, "to_agent", target);
	jb_kv_bool(&detail, "forced", forced);
	jb_end_object(&detail);
	events_add_jsonb(&call.events, id, "transferred", old_agent, it.queue_id, jb_finish(&detail));
	give_to_agent(&call, &it, target, forced ? "forced" : "transfer", "transferred", forced);
	if (old_agent != 0)
		serve_agent(old_agent, call.now, &call.events);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_escalate);

Datum
omniroute_escalate(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;
	WorkstreamConfig *ws;

	lifecycle_open(&call, id, &it, "escalate");
	ws = config_workstream(it.ws_id);
	if (it.state != ITEM_ACTIVE || ws->bot_agent_id == 0 || it.agent_id != ws->bot_agent_id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot escalate work item " INT64_FORMAT ": it is %s%s", id, item_state_name(it.state),
						it.agent_id == ws->bot_agent_id ? "" : ", not with the workstream's bot"),
				 errdetail("Only active work items held by the workstream's bot can be escalated.")));
	events_add_jsonb(&call.events, id, "escalated", it.agent_id, it.queue_id, (Datum) 0);
	it.agent_id = 0;
	it.reserved = 0;
	/*
	 * Routed as a new item would be after the bot: with keep_same_agent, the
	 * human agent who last handled the conversation first, whatever their
	 * capacity (route_affinity_agent, as route.c does on insert); else the
	 * queue's next eligible agent, or open.
	 */
	{
		int64		human = ws->keep_same_agent && it.external_id != NULL ?
			route_affinity_agent(it.ws_id, it.external_id) : 0;

		if (human != 0)
			give_to_agent(&call, &it, human, "keep_same_agent", "escalated", true);
		else
			lifecycle_reroute(&call, &it, "escalated");
	}
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

/* ----------------------------------------------------------------
 * pick(id), pick_next()
 * ----------------------------------------------------------------
 */
static int64
picking_agent(const LifecycleCall *call)
{
	if (call->caller.agent_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is not an agent and cannot pick work items",
						GetUserNameFromId(call->caller.userid, false)),
				 errhint("Map the role to an agent with omniroute.agent.login_role.")));
	return call->caller.agent_id;
}

PG_FUNCTION_INFO_V1(omniroute_pick);

Datum
omniroute_pick(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	LifecycleCall call;
	WorkItem	it;
	int64		agent;
	bool		found;

	lifecycle_begin(&call);
	agent = picking_agent(&call);
	/* a concurrent picker waits here, then finds the item taken */
	found = lifecycle_try_lock_item(id, &it);
	/* an agent learns nothing of an item they may not read */
	if (!found && priv_acts_on_any(&call.caller))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("work item " INT64_FORMAT " does not exist", id)));
	if (!found || (!priv_acts_on_any(&call.caller) && it.agent_id != agent &&
				   !lifecycle_may_read(agent, &it)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT
						": it does not exist or is not open to you", agent, id),
				 errhint("Agents pick open items of the pick-mode queues they are members of.")));
	require_state(&it, ITEM_OPEN, "pick", "picked");
	/* the rules of serving and pick_next(): errors say which one failed */
	serve_pick_item(agent, id, it.ws_id, it.queue_id, it.declined, it.required_skills,
					it.skill_matching, call.now, &call.events);
	PG_RETURN_DATUM(lifecycle_end(&call, id));
}

PG_FUNCTION_INFO_V1(omniroute_pick_next);

Datum
omniroute_pick_next(PG_FUNCTION_ARGS)
{
	LifecycleCall call;
	int64		item;

	lifecycle_begin(&call);
	item = serve_pick_next(picking_agent(&call), call.now, &call.events);
	lifecycle_end(&call, 0);
	if (item == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(item);
}
