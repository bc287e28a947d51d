/*-------------------------------------------------------------------------
 *
 * tick.c
 *	  omniroute.tick(at): everything that happens because time passes.
 *
 *	  1. offers older than their workstream's offer_timeout are missed: the
 *	     agent's units come back, the agent's presence becomes 'inactive'
 *	     (unless an admin or supervisor forced the item on them:
 *	     diagnostics.assignment.method 'forced'), the item is re-routed as
 *	     on reject and never returns to that agent;
 *	  2. wrap-up blocks that have run their time release their capacity;
 *	  3. waiting items idle longer than auto_close_after close with reason
 *	     'inactivity';
 *	  4. open items that an agent could take now are given to them (a
 *	     safety net: serving normally happens when capacity frees).
 *
 *	  Every item is taken FOR UPDATE SKIP LOCKED and every agent row with
 *	  SKIP LOCKED (an item whose agent is busy in another transaction is
 *	  left for the next tick): a tick never waits for an agent acting on the same item
 *	  (whoever locks it first wins, the other sees the new state), and two
 *	  ticks at once never act twice on one item.  Running it again at the
 *	  same time does nothing more: it is idempotent.  Tests pass 'at'
 *	  explicitly; the background worker (worker.c) calls it with now().
 *	  'at' must be finite and leave room for the longest interval a
 *	  workstream may set (366 days, by the table's CHECKs) on either side:
 *	  offers made at 'infinity' would never expire, and at the ends of the
 *	  timestamp range their expiry would overflow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "lifecycle.h"
#include "serve.h"
#include "util.h"

/* at most this many items per kind of work in one tick */
#define TICK_BATCH 1000

static SPIPlanPtr expired_plan;
static SPIPlanPtr wrap_up_plan;
static SPIPlanPtr idle_plan;
static SPIPlanPtr unblock_plan;
static SPIPlanPtr inactive_plan;
static SPIPlanPtr close_idle_plan;
static SPIPlanPtr servable_plan;
static SPIPlanPtr try_lock_agent_plan;

static bool plans_ready = false;

static void
prepare_plans(void)
{
	Oid			t1[1] = {TIMESTAMPTZOID};
	Oid			ti[1] = {INT8OID};
	Oid			t2[2] = {INT8OID, TIMESTAMPTZOID};
	Oid			t2i[2] = {INT8OID, INT8OID};

	if (plans_ready)
		return;
	/*
	 * The first condition on offered_at (no timeout is shorter than the
	 * shortest) bounds the index range: without it the scan walks every
	 * offer still running, on every tick, to find that none has expired.
	 */
	expired_plan = util_prepare("SELECT w.id FROM omniroute.work_item w"
								"  JOIN omniroute.workstream ws ON ws.id = w.workstream_id"
								" WHERE w.state = 'offered'"
								"   AND w.offered_at <= $1 - (SELECT min(offer_timeout)"
								"                                FROM omniroute.workstream)"
								"   AND w.offered_at + ws.offer_timeout <= $1"
								" ORDER BY w.offered_at LIMIT 1000"
								"   FOR UPDATE OF w SKIP LOCKED", 1, t1);
	wrap_up_plan = util_prepare("SELECT id FROM omniroute.work_item"
								" WHERE state = 'wrap_up' AND reserved_units > 0 AND wrap_up_until <= $1"
								" ORDER BY wrap_up_until LIMIT 1000"
								"   FOR UPDATE SKIP LOCKED", 1, t1);
	idle_plan = util_prepare("SELECT w.id FROM omniroute.work_item w"
							 "  JOIN omniroute.workstream ws ON ws.id = w.workstream_id"
							 " WHERE w.state = 'waiting' AND ws.auto_close_after IS NOT NULL"
							 "   AND w.last_activity_at <= $1 - (SELECT min(auto_close_after)"
							 "                                     FROM omniroute.workstream)"
							 "   AND w.last_activity_at + ws.auto_close_after <= $1"
							 " ORDER BY w.last_activity_at LIMIT 1000"
							 "   FOR UPDATE OF w SKIP LOCKED", 1, t1);
	unblock_plan = util_prepare("UPDATE omniroute.work_item SET reserved_units = 0 WHERE id = $1", 1, ti);
	/* not for a forced assignment: it was not offered for their presence */
	inactive_plan = util_prepare("UPDATE omniroute.agent SET presence = 'inactive'"
								 " WHERE id = $1 AND presence <> 'inactive'"
								 "   AND NOT EXISTS (SELECT 1 FROM omniroute.work_item w"
								 "                    WHERE w.id = $2 AND w.diagnostics -> 'assignment'"
								 "                                        ->> 'method' = 'forced')",
								 2, t2i);
	close_idle_plan = util_prepare("UPDATE omniroute.work_item"
								   "   SET state = 'closed', closed_at = $2, close_reason = 'inactivity',"
								   "       reserved_units = 0"
								   " WHERE id = $1", 2, t2);
	/* an agent busy in another transaction is left for the next tick */
	try_lock_agent_plan = util_prepare("SELECT 1 FROM omniroute.agent WHERE id = ("
									   " SELECT agent_id FROM omniroute.work_item WHERE id = $1)"
									   " FOR UPDATE SKIP LOCKED", 1, ti);
	/*
	 * members with room for some open push item of their queues, in a
	 * presence that item's workstream allows (the others cannot take it:
	 * serving them is wasted work, on every tick)
	 */
	servable_plan = util_prepare("SELECT DISTINCT m.agent_id"
								 "  FROM (SELECT DISTINCT w.queue_id, w.workstream_id"
								 "          FROM omniroute.work_item w"
								 "         WHERE w.state = 'open') q"
								 "  JOIN omniroute.workstream ws ON ws.id = q.workstream_id"
								 "   AND ws.mode = 'push'"
								 "  JOIN omniroute.queue_member m ON m.queue_id = q.queue_id"
								 "   AND m.free_units >= ws.capacity_units"
								 "   AND m.presence = ANY (ws.allowed_presences)"
								 " LIMIT 1000", 0, NULL);
	/* only now: a failed prepare above is retried on the next call */
	plans_ready = true;
}

/* the ids a query returned, copied out of SPI's result */
static int64 *
fetch_ids(SPIPlanPtr plan, TimestampTz at, int *n)
{
	Datum		values[1] = {TimestampTzGetDatum(at)};
	uint64		got = util_exec(plan, values, NULL, false, 0, SPI_OK_SELECT);
	int64	   *ids = palloc(sizeof(int64) * (got + 1));

	for (uint64 i = 0; i < got; i++)
		ids[i] = util_col_int64(i, 1);
	*n = (int) got;
	return ids;
}

/* the item's agent, if no other transaction holds them */
static bool
try_lock_agent_of(int64 item)
{
	Datum		values[1] = {Int64GetDatum(item)};

	return util_exec(try_lock_agent_plan, values, NULL, false, 0, SPI_OK_SELECT) > 0;
}

/*
 * Each item of a tick is handled in an SPI connection of its own, whose
 * memory (query results above all) goes when the item is done: a tick
 * handles up to a thousand items per kind, and kept results added up to
 * gigabytes.
 */
static void
item_begin(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
}

static void
item_end(void)
{
	SPI_finish();
}

static bool
expire_offer(LifecycleCall *call, int64 id, TimestampTz at)
{
	WorkItem	it;
	int64		agent;
	Datum		values[2];

	if (!try_lock_agent_of(id))
		return false;
	lifecycle_lock_item(id, &it);	/* ours already */
	agent = it.agent_id;
	lifecycle_release_item(&it, at);
	lifecycle_add_declined(&it, agent);
	events_add(&call->events, it.id, "missed", agent, it.queue_id, NULL);
	notify_agent(agent, "missed", it.id, it.ws_id, it.queue_id, NULL);
	/* an agent who lets offers expire is not there: stop offering */
	values[0] = Int64GetDatum(agent);
	values[1] = Int64GetDatum(id);
	util_exec(inactive_plan, values, NULL, false, 0, SPI_OK_UPDATE);
	lifecycle_reroute(call, &it, "missed");
	return true;
}

static int
expire_offers(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(expired_plan, at, &n);
	int			done = 0;

	for (int i = 0; i < n; i++)
	{
		item_begin();
		if (expire_offer(call, ids[i], at))
			done++;
		item_end();
	}
	return done;
}

static bool
release_wrap_up(LifecycleCall *call, int64 id, TimestampTz at)
{
	WorkItem	it;
	Datum		values[1] = {Int64GetDatum(id)};

	if (!try_lock_agent_of(id))
		return false;
	lifecycle_lock_item(id, &it);
	util_exec(unblock_plan, values, NULL, false, 0, SPI_OK_UPDATE);
	lifecycle_release_item(&it, at);
	events_add(&call->events, it.id, "wrap_up_released", it.agent_id, it.queue_id, NULL);
	serve_agent_ext(it.agent_id, at, &call->events, true);
	return true;
}

static int
release_wrap_ups(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(wrap_up_plan, at, &n);
	int			done = 0;

	for (int i = 0; i < n; i++)
	{
		item_begin();
		if (release_wrap_up(call, ids[i], at))
			done++;
		item_end();
	}
	return done;
}

static int
close_idle(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(idle_plan, at, &n);

	for (int i = 0; i < n; i++)
	{
		WorkItem	it;
		Datum		values[2] = {Int64GetDatum(ids[i]), TimestampTzGetDatum(at)};

		item_begin();
		lifecycle_lock_item(ids[i], &it);
		util_exec(close_idle_plan, values, NULL, false, 0, SPI_OK_UPDATE);
		events_add(&call->events, it.id, "closed", it.agent_id, it.queue_id,
				   "{\"from\": \"waiting\", \"reason\": \"inactivity\"}");
		item_end();
	}
	return n;
}

static int
serve_waiting(LifecycleCall *call, TimestampTz at)
{
	uint64		got = util_exec(servable_plan, NULL, NULL, false, 0, SPI_OK_SELECT);
	int64	   *agents = palloc(sizeof(int64) * (got + 1));
	int			served = 0;

	for (uint64 i = 0; i < got; i++)
		agents[i] = util_col_int64(i, 1);
	for (uint64 i = 0; i < got; i++)
	{
		item_begin();
		served += serve_agent_ext(agents[i], at, &call->events, true);
		item_end();
	}
	return served;
}

/*
 * Longer than any interval a workstream may set (offer_timeout,
 * auto_close_after, wrap_up_block: at most 366 days, a CHECK of each).
 */
#define TICK_MARGIN ((int64) 400 * USECS_PER_DAY)

/* a time tick() can act at: finite, its timeouts within the range */
static void
check_tick_time(TimestampTz at)
{
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("omniroute.tick() cannot run at %s", timestamptz_to_str(at)),
				 errdetail("Offers made then would never expire."),
				 errhint("Pass a finite time, or nothing for now().")));
	if (at < MIN_TIMESTAMP + TICK_MARGIN || at >= END_TIMESTAMP - TICK_MARGIN)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("omniroute.tick() cannot run at %s: its timeouts would be out of range",
						timestamptz_to_str(at)),
				 errhint("Pass a time at least 400 days inside the range of timestamptz.")));
}

PG_FUNCTION_INFO_V1(omniroute_tick);

Datum
omniroute_tick(PG_FUNCTION_ARGS)
{
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(0);
	LifecycleCall call;
	int			actions = 0;

	lifecycle_begin(&call);
	if (!call.caller.is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only an omniroute admin may run omniroute.tick()")));
	check_tick_time(at);
	call.now = at;
	prepare_plans();
	actions += expire_offers(&call, at);
	actions += release_wrap_ups(&call, at);
	actions += close_idle(&call, at);
	actions += serve_waiting(&call, at);
	lifecycle_end(&call, 0);
	PG_RETURN_INT32(actions);
}
