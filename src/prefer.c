/*-------------------------------------------------------------------------
 *
 * prefer.c
 *	  Preferred agents: a workstream with preferred_agents = 'prefer'
 *	  offers an item whose customer_id has rows in preferred_agent to the
 *	  best-ranked of them who is eligible, and may hold it for them a while.
 *
 *	  Where it applies: after the bot and affinity (keep_same_agent), before
 *	  the queue's method, on insert (route.c) and on every re-route
 *	  (lifecycle_reroute: reject, a missed offer, resume, transfer,
 *	  escalation), in push mode.  The decision is taken from the cached
 *	  WorkstreamConfig before anything is read: a workstream that does not
 *	  prefer, or an item without a customer_id, costs one test.
 *
 *	  Who: the customer's preferred agents are read by key (the primary
 *	  key's customer_id prefix), best rank first, agents who rejected or
 *	  missed the item left out; assign_choose_preferred() reads those who
 *	  are members of the queue with an allowed presence and room by key and
 *	  judges each as any push candidate is judged (skills per the
 *	  workstream's matching, profile slot, reservation: candidate_takes() in
 *	  assign.c, the single check point).  Ties in rank go by the queue's
 *	  method order, then the lowest id.  The queue is never scanned for them.
 *
 *	  Waiting: when none of them is eligible and the workstream has a
 *	  preferred_wait that has not passed since the item's queued_at, the
 *	  item stays open and one row per preferred agent goes into
 *	  preferred_hold (work_item_id, agent_id, until).  Nothing else is
 *	  written for an item that does not wait, and work_item gets no index
 *	  for it.  While a hold's until is ahead:
 *	    - serving another agent passes over the item: the open items serving
 *	      reads (serve.c) carry whether a hold is ahead, checked by key only
 *	      for the groups of workstreams that prefer;
 *	    - a preferred agent who frees capacity is first given the items
 *	      held for them, found by agent_id in preferred_hold, not by reading
 *	      the backlog of their queues;
 *	    - tick() finds the holds whose until has passed (by until), removes
 *	      them and routes their open items again, now to anyone eligible
 *	      (a preferred agent still first).
 *	  Holds are the router's bookkeeping: a hold whose item is no longer
 *	  open is never read and is removed by the first tick after its until.
 *
 *	  Locking: none of its own.  Reservation is assign.c's (an agent row
 *	  another transaction holds is passed over); serving takes held items
 *	  as any other (FOR UPDATE SKIP LOCKED), so an item is never given to
 *	  two agents.  A preferred agent who frees capacity while their
 *	  customer's item is being routed does not see it (not committed): it
 *	  waits, and the next tick() serves it to them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "assign.h"
#include "hours.h"
#include "item.h"
#include "jb.h"
#include "prefer.h"
#include "util.h"

static UtilPlan agents_plan = {
	"SELECT agent_id, rank FROM omniroute.preferred_agent"
	" WHERE customer_id = $1 ORDER BY rank, agent_id",
	1, {TEXTOID}, NULL
};

static UtilPlan hold_plan = {
	"INSERT INTO omniroute.preferred_hold (work_item_id, agent_id, until)"
	" SELECT $1, a, $3 FROM unnest($2::bigint[]) a",
	3, {INT8OID, INT8ARRAYOID, TIMESTAMPTZOID}, NULL
};

static UtilPlan release_plan = {
	"DELETE FROM omniroute.preferred_hold WHERE work_item_id = $1",
	1, {INT8OID}, NULL
};

static bool
prefer_excluded(const AssignRequest *req, int64 agent_id)
{
	for (int i = 0; i < req->nexcluded; i++)
		if (req->excluded[i] == agent_id)
			return true;
	return false;
}

/*
 * The customer's preferred agents, best rank first, without those the
 * request excludes (they rejected or missed the item).  *declined counts
 * those.
 */
static void
prefer_agents(const AssignRequest *req, const char *customer_id, PreferChoice *pc,
			  int *declined)
{
	Datum		values[1] = {CStringGetTextDatum(customer_id)};
	uint64		got = util_exec(util_plan(&agents_plan), values, NULL, false, 0, SPI_OK_SELECT);

	pc->agents = palloc(sizeof(int64) * (got + 1));
	pc->ranks = palloc(sizeof(int32) * (got + 1));
	*declined = 0;
	for (uint64 i = 0; i < got; i++)
	{
		int64		agent = util_col_int64(i, 1);

		if (prefer_excluded(req, agent))
		{
			(*declined)++;
			continue;
		}
		pc->agents[pc->n] = agent;
		pc->ranks[pc->n++] = util_col_int32(i, 2);
	}
	SPI_freetuptable(SPI_tuptable);
}

/* when the item's wait for a preferred agent ends */
static TimestampTz
prefer_until(const WorkstreamConfig *ws, TimestampTz queued_at)
{
	return util_time_plus(queued_at, &ws->preferred_wait);
}

PreferStep
prefer_choose(const AssignRequest *req, const char *customer_id, TimestampTz queued_at,
			  AssignResult *res, PreferChoice *pc)
{
	const WorkstreamConfig *ws = req->ws;
	const char *hours = req->queue->operating_hours;
	int			declined;

	memset(pc, 0, sizeof(PreferChoice));
	pc->step = PREFER_NONE;
	if (!ws->prefer || ws->pick_mode || customer_id == NULL)
		return pc->step;
	/* a closed queue offers to nobody: the caller says so */
	if (hours != NULL && !hours_is_open(hours, req->now))
		return pc->step;
	prefer_agents(req, customer_id, pc, &declined);
	if (pc->n == 0)
	{
		if (declined > 0)
			pc->note = psprintf("every preferred agent of customer \"%s\" rejected or missed it",
								customer_id);
		return pc->step;
	}
	if (assign_choose_preferred(req, pc->agents, pc->ranks, pc->n, res))
		return pc->step = PREFER_CHOSEN;
	if (ws->has_preferred_wait)
	{
		pc->until = prefer_until(ws, queued_at);
		if (pc->until > req->now)
			return pc->step = PREFER_WAIT;
		pc->note = psprintf("none of %d preferred agent(s) eligible; the wait for them ended at %s",
							pc->n, timestamptz_to_str(pc->until));
	}
	else
		pc->note = psprintf("none of %d preferred agent(s) eligible", pc->n);
	return pc->step;
}

void
prefer_describe(const AssignRequest *req, const PreferChoice *pc, const AssignResult *res,
				JsonBuild *diag)
{
	jb_object(diag);
	if (pc->step == PREFER_CHOSEN)
	{
		jb_kv_string(diag, "outcome",
					 item_state_name(req->ws->auto_accept ? ITEM_ACTIVE : ITEM_OFFERED));
		jb_kv_int(diag, "agent_id", res->agent_id);
		jb_kv_string(diag, "method", "preferred_agent");
		jb_kv_int(diag, "rank", res->rank);
	}
	else
	{
		jb_kv_string(diag, "outcome", item_state_name(ITEM_OPEN));
		jb_kv_string(diag, "reason", "waiting for a preferred agent");
		jb_kv_string(diag, "method", "preferred_agent");
		jb_key(diag, "until");
		jb_time(diag, pc->until, false);
	}
	jb_kv_int(diag, "preferred_agents", pc->n);
	jb_kv_int(diag, "candidates_examined", res->examined);
	if (res->raced > 0)
		jb_kv_int(diag, "lost_to_concurrent", res->raced);
	jb_end_object(diag);
}

void
prefer_hold(int64 item_id, const PreferChoice *pc, bool fresh)
{
	Datum		values[3];
	Datum	   *ids = palloc(sizeof(Datum) * pc->n);

	if (!fresh)
		prefer_release(item_id);
	for (int i = 0; i < pc->n; i++)
		ids[i] = Int64GetDatum(pc->agents[i]);
	values[0] = Int64GetDatum(item_id);
	values[1] = PointerGetDatum(construct_array(ids, pc->n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[2] = TimestampTzGetDatum(pc->until);
	util_exec(util_plan(&hold_plan), values, NULL, false, 0, SPI_OK_INSERT);
}

void
prefer_release(int64 item_id)
{
	Datum		values[1] = {Int64GetDatum(item_id)};

	util_exec(util_plan(&release_plan), values, NULL, false, 0, SPI_OK_DELETE);
}
