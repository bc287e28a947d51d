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
 *	  4. open items whose workstream's next escalation step is due (its
 *	     after has passed since created_at) get every step that is due, in
 *	     order of after, each once: work_item.escalation_level counts the
 *	     steps applied, and step k is applied only to a locked row at level
 *	     k - 1.  A step sets the item's skill_matching, drops skills from
 *	     its required_skills ('{*}': all), moves it to another queue (whose
 *	     overflow then applies) and adds to its priority; then the item is
 *	     offered if its queue is open and an agent can take it;
 *	  5. open items that have waited longer than their queue's max_wait
 *	     (since queued_at) get the queue's overflow action (not 'queue',
 *	     nor a transfer onto the queue itself, which would leave them
 *	     where they are);
 *	  6. open items whose wait for a preferred agent has ended (their
 *	     preferred_hold rows' until has passed: preferred_hold_until_idx)
 *	     lose their holds and are routed again, to anyone eligible;
 *	  7. open items that an agent could take now are given to them (a
 *	     safety net: serving normally happens when capacity frees; and the
 *	     first tick after a queue opens serves what waited while it was
 *	     closed).  The agents served are those with room, an allowed
 *	     presence (by name or base) and the skills for some group of open
 *	     items of their open queues (serve.c), found from the groups alone,
 *	     not from every open item.
 *
 *	  What 4 and 5 act on is found by one range of the timer index
 *	  (work_item_timer_due_idx: the timers due at 'at', src/timer.c): each
 *	  item gets the steps due (4), then max_wait if due (5), each re-checked
 *	  on the locked row as before, then its timer is set to what is due
 *	  next, or deleted.  A tick's work grows with the timers due, not with
 *	  the open items.  tick() takes ROW EXCLUSIVE on work_item before it
 *	  reads anything: a configuration change that arms timers (timer.c)
 *	  waits for a tick in progress, and a tick that comes after sees it.
 *
 *	  Each item of 1-6, and each agent of 7, is handled in a subtransaction
 *	  of its own: one that fails (bad data an admin wrote, a row that went
 *	  missing) is rolled back alone and logged with a WARNING naming it, and
 *	  the tick goes on with the rest; its events are dropped with it.  Only
 *	  a cancel (statement timeout, shutdown) stops the tick.
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

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "config.h"
#include "hours.h"
#include "item.h"
#include "jb.h"
#include "lifecycle.h"
#include "overflow.h"
#include "prefer.h"
#include "serve.h"
#include "timer.h"
#include "util.h"

/* at most this many items per kind of work in one tick */
#define TICK_BATCH 1000

/*
 * The first condition on offered_at (no timeout is shorter than the
 * shortest) bounds the index range: without it the scan walks every offer
 * still running, on every tick, to find that none has expired.
 */
static UtilPlan expired_plan = {
	"SELECT w.id FROM omniroute.work_item w"
	"  JOIN omniroute.workstream ws ON ws.id = w.workstream_id"
	" WHERE w.state = 'offered'"
	"   AND w.offered_at <= $1 - (SELECT min(offer_timeout)"
	"                                FROM omniroute.workstream)"
	"   AND w.offered_at + ws.offer_timeout <= $1"
	" ORDER BY w.offered_at LIMIT 1000"
	"   FOR UPDATE OF w SKIP LOCKED",
	1, {TIMESTAMPTZOID}, NULL
};

static UtilPlan wrap_up_plan = {
	"SELECT id FROM omniroute.work_item"
	" WHERE state = 'wrap_up' AND reserved_units > 0 AND wrap_up_until <= $1"
	" ORDER BY wrap_up_until LIMIT 1000"
	"   FOR UPDATE SKIP LOCKED",
	1, {TIMESTAMPTZOID}, NULL
};

static UtilPlan idle_plan = {
	"SELECT w.id FROM omniroute.work_item w"
	"  JOIN omniroute.workstream ws ON ws.id = w.workstream_id"
	" WHERE w.state = 'waiting' AND ws.auto_close_after IS NOT NULL"
	"   AND w.last_activity_at <= $1 - (SELECT min(auto_close_after)"
	"                                     FROM omniroute.workstream)"
	"   AND w.last_activity_at + ws.auto_close_after <= $1"
	" ORDER BY w.last_activity_at LIMIT 1000"
	"   FOR UPDATE OF w SKIP LOCKED",
	1, {TIMESTAMPTZOID}, NULL
};

static UtilPlan unblock_plan = {
	"UPDATE omniroute.work_item SET reserved_units = 0 WHERE id = $1",
	1, {INT8OID}, NULL
};

/* not for a forced assignment: it was not offered for their presence */
static UtilPlan inactive_plan = {
	"UPDATE omniroute.agent SET presence = 'inactive'"
	" WHERE id = $1 AND presence <> 'inactive'"
	"   AND NOT EXISTS (SELECT 1 FROM omniroute.work_item w"
	"                    WHERE w.id = $2 AND w.diagnostics -> 'assignment'"
	"                                        ->> 'method' = 'forced')",
	2, {INT8OID, INT8OID}, NULL
};

static UtilPlan close_idle_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = 'closed', closed_at = $2, close_reason = 'inactivity',"
	"       reserved_units = 0"
	" WHERE id = $1",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};

/* an agent busy in another transaction is left for the next tick */
static UtilPlan try_lock_agent_plan = {
	"SELECT 1 FROM omniroute.agent WHERE id = ("
	" SELECT agent_id FROM omniroute.work_item WHERE id = $1)"
	" FOR UPDATE SKIP LOCKED",
	1, {INT8OID}, NULL
};

/*
 * Members who could take some open push item of their queues: room for it,
 * a presence its workstream allows (by name or base, as the router
 * expands allowed_presences), and with exact matching (the item's, set by
 * an escalation step, else the workstream's) every skill it requires.
 * Serving anybody else is wasted work, on every tick.  The open items are
 * read by group (queue, workstream, required skills, skill matching: a
 * skip scan of work_item_open_idx, one descent per group, as serve.c
 * reads a queue's), so a backlog that nobody can take costs one descent.
 * A level serving cannot read (written before updates were checked) is
 * met by anyone with the skill here, so that serving reports the item.
 */
#define TICK_GROUP "i.queue_id, i.workstream_id, i.required_skills, i.skill_matching"
#define TICK_SAME_SKILLS \
	" AND i.queue_id = g.queue_id AND i.workstream_id = g.workstream_id" \
	" AND i.required_skills = g.required_skills"

static UtilPlan servable_plan = {
	"WITH RECURSIVE g AS ("
	"     (SELECT " TICK_GROUP
	"        FROM omniroute.work_item i WHERE i.state = 'open'"
	"       ORDER BY " TICK_GROUP " LIMIT 1)"
	"   UNION ALL"
	"     SELECT n.queue_id, n.workstream_id, n.required_skills, n.skill_matching"
	"       FROM g CROSS JOIN LATERAL"
	"            (SELECT * FROM"
	"              ((SELECT " TICK_GROUP " FROM omniroute.work_item i"
	"                 WHERE i.state = 'open'" TICK_SAME_SKILLS
	"                   AND i.skill_matching > g.skill_matching"
	"                 ORDER BY i.skill_matching LIMIT 1)"
	"               UNION ALL"
	"               (SELECT " TICK_GROUP " FROM omniroute.work_item i"
	"                 WHERE g.skill_matching IS NOT NULL AND i.state = 'open'" TICK_SAME_SKILLS
	"                   AND i.skill_matching IS NULL"
	"                 ORDER BY i.skill_matching LIMIT 1)"
	"               UNION ALL"
	"               (SELECT " TICK_GROUP " FROM omniroute.work_item i"
	"                 WHERE i.state = 'open'"
	"                   AND (i.queue_id, i.workstream_id, i.required_skills)"
	"                       > (g.queue_id, g.workstream_id, g.required_skills)"
	"                 ORDER BY " TICK_GROUP " LIMIT 1)) x"
	"             LIMIT 1) n)"
	"SELECT DISTINCT m.agent_id"
	"  FROM g"
	"  JOIN omniroute.workstream ws ON ws.id = g.workstream_id"
	"   AND ws.mode = 'push'"
	"  JOIN omniroute.queue q ON q.id = g.queue_id"
	"   AND (q.operating_hours IS NULL OR omniroute.queue_is_open(q.id, $1))"
	"  JOIN omniroute.queue_member m ON m.queue_id = g.queue_id"
	"   AND m.free_units >= ws.capacity_units"
	" WHERE EXISTS (SELECT 1 FROM omniroute.presence p"
	"                WHERE p.name = m.presence"
	"                  AND (p.name = ANY (ws.allowed_presences)"
	"                       OR p.base = ANY (ws.allowed_presences)))"
	"   AND (coalesce(g.skill_matching, ws.skill_matching) <> 'exact'"
	"        OR NOT EXISTS (SELECT 1 FROM jsonb_each(g.required_skills) r"
	"                        WHERE NOT EXISTS"
	"                              (SELECT 1 FROM omniroute.agent_skill s"
	"                                WHERE s.agent_id = m.agent_id AND s.skill = r.key"
	"                                  AND s.proficiency >="
	"                                      CASE WHEN jsonb_typeof(r.value) <> 'number' THEN 0"
	"                                           WHEN (r.value)::numeric BETWEEN 1 AND 10"
	"                                           THEN (r.value)::numeric ELSE 0 END)))"
	" LIMIT 1000",
	1, {TIMESTAMPTZOID}, NULL
};

/* the items whose timer is due, the earliest first */
static UtilPlan timers_due_plan = {
	"SELECT work_item_id FROM omniroute.work_item_timer"
	" WHERE due_at <= $1 ORDER BY due_at LIMIT 1000",
	1, {TIMESTAMPTZOID}, NULL
};

/*
 * The steps of an open item's workstream in order of after, each with
 * whether it is due for the item; and the item's level.  The item is
 * locked first (SKIP LOCKED: another tick or an agent has it), and read on
 * its latest version: another tick's steps, once committed, are seen.
 */
static UtilPlan escalation_lock_plan = {
	"SELECT escalation_level FROM omniroute.work_item"
	" WHERE id = $1 AND state = 'open' FOR UPDATE SKIP LOCKED",
	1, {INT8OID}, NULL
};

static UtilPlan escalation_steps_plan = {
	"SELECT s.after, s.skill_matching, s.drop_skills, s.queue_id, s.add_priority,"
	"       i.created_at + s.after <= $2"
	"  FROM omniroute.work_item i"
	"  JOIN omniroute.escalation_step s ON s.workstream_id = i.workstream_id"
	" WHERE i.id = $1"
	" ORDER BY s.after",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * Apply one step to the item at level $2 (the step's number less one):
 * nothing if another transaction applied it.  The item keeps created_at;
 * queued_at moves with the queue.  Returns the item's queue and whether
 * the step moved it.
 */
static UtilPlan escalation_apply_plan = {
	"UPDATE omniroute.work_item i"
	"   SET escalation_level = i.escalation_level + 1,"
	"       skill_matching = coalesce($3, i.skill_matching),"
	"       required_skills = CASE WHEN $4::text[] IS NULL THEN i.required_skills"
	"                              WHEN $4 = '{*}'::text[] THEN '{}'::jsonb"
	"                              ELSE i.required_skills - $4::text[] END,"
	"       queue_id = coalesce($5, i.queue_id),"
	"       queued_at = CASE WHEN $5 IS DISTINCT FROM i.queue_id AND $5 IS NOT NULL"
	"                        THEN $6 ELSE i.queued_at END,"
	"       priority = i.priority + $7"
	"  FROM omniroute.work_item o"
	" WHERE i.id = $1 AND o.id = i.id AND i.state = 'open' AND i.escalation_level = $2"
	" RETURNING i.queue_id, i.queue_id IS DISTINCT FROM o.queue_id",
	7, {INT8OID, INT4OID, TEXTOID, TEXTARRAYOID, INT8OID, TIMESTAMPTZOID, INT4OID}, NULL
};

/*
 * An item whose timer fired, locked, if it is still open and over its
 * (current) queue's max_wait, for a queue whose overflow action does
 * something (not 'queue', nor a transfer onto the queue itself: the item
 * would stay where it is)
 */
static UtilPlan max_wait_lock_plan = {
	"SELECT 1 FROM omniroute.work_item i"
	"  JOIN omniroute.queue q ON q.id = i.queue_id"
	" WHERE i.id = $1 AND i.state = 'open' AND q.max_wait IS NOT NULL"
	"   AND q.overflow_action <> 'queue'"
	"   AND (q.overflow_action = 'close' OR q.overflow_queue_id <> q.id)"
	"   AND i.queued_at + q.max_wait <= $2"
	"   FOR UPDATE OF i SKIP LOCKED",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * Items whose wait for a preferred agent has ended (prefer.c): the range
 * of preferred_hold_until_idx up to 'at'.
 */
static UtilPlan holds_ended_plan = {
	"SELECT work_item_id FROM omniroute.preferred_hold WHERE until <= $1"
	" GROUP BY work_item_id ORDER BY min(until), work_item_id LIMIT 1000",
	1, {TIMESTAMPTZOID}, NULL
};

/* ... locked (SKIP LOCKED: another transaction has it), and whether it exists */
static UtilPlan hold_lock_plan = {
	"SELECT 1 FROM omniroute.work_item WHERE id = $1 FOR UPDATE SKIP LOCKED",
	1, {INT8OID}, NULL
};
static UtilPlan item_exists_plan = {
	"SELECT 1 FROM omniroute.work_item WHERE id = $1",
	1, {INT8OID}, NULL
};

/* the ids a query returned, copied out of SPI's result */
static int64 *
fetch_ids(UtilPlan *plan, TimestampTz at, int *n)
{
	Datum		values[1] = {TimestampTzGetDatum(at)};
	uint64		got = util_exec(util_plan(plan), values, NULL, false, 0, SPI_OK_SELECT);
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

	return util_exec(util_plan(&try_lock_agent_plan), values, NULL, false, 0, SPI_OK_SELECT) > 0;
}

/*
 * Each item of a tick is handled in a subtransaction and an SPI connection
 * of its own.  The subtransaction keeps a failure to the item; the
 * connection's memory (query results above all) goes when the item is
 * done: a tick handles up to a thousand items per kind, and kept results
 * added up to gigabytes.  A step returns how many actions it took.
 */
typedef int (*TickStep) (LifecycleCall *call, int64 id, TimestampTz at);

/* what a step does, for the WARNING when it fails */
typedef struct TickKind
{
	const char *what;			/* "expiring the offer of work item" ... */
	TickStep	step;
} TickKind;

static void
step_failed(const TickKind *kind, int64 id, ErrorData *edata)
{
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("omniroute.tick(): %s " INT64_FORMAT " failed: %s", kind->what, id, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0,
			 edata->context ? errcontext("%s", edata->context) : 0));
}

/*
 * Run the step on each id, each in a subtransaction (the way PL/pgSQL runs
 * a block with an EXCEPTION clause); returns the actions they took.
 */
static int
tick_each(LifecycleCall *call, const TickKind *kind, const int64 *ids, int n, TimestampTz at)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int done = 0;

	for (int i = 0; i < n; i++)
	{
		int			nevents = call->events.n;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			int			acted;

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "omniroute: SPI_connect failed");
			acted = kind->step(call, ids[i], at);
			SPI_finish();
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			done += acted;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			/* its SPI connection goes with it */
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			/* a cancel or a shutdown stops the tick, as it would any statement */
			if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
				ReThrowError(edata);
			call->events.n = nevents;
			step_failed(kind, ids[i], edata);
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
	return done;
}

static int
expire_offer(LifecycleCall *call, int64 id, TimestampTz at)
{
	WorkItem	it;
	int64		agent;
	Datum		values[2];

	if (!try_lock_agent_of(id))
		return 0;
	lifecycle_lock_item(id, &it);	/* ours already */
	agent = it.agent_id;
	lifecycle_release_item(&it, at);
	lifecycle_add_declined(&it, agent);
	events_add_jsonb(&call->events, it.id, "missed", agent, it.queue_id, (Datum) 0);
	events_notify_agent(agent, "missed", it.id, it.ws_id, it.queue_id, NULL);
	/* an agent who lets offers expire is not there: stop offering */
	values[0] = Int64GetDatum(agent);
	values[1] = Int64GetDatum(id);
	util_exec(util_plan(&inactive_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	lifecycle_reroute(call, &it, "missed");
	return 1;
}

static const TickKind expire_kind = {"expiring the offer of work item", expire_offer};

static int
expire_offers(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(&expired_plan, at, &n);

	return tick_each(call, &expire_kind, ids, n, at);
}

static int
release_wrap_up(LifecycleCall *call, int64 id, TimestampTz at)
{
	WorkItem	it;
	Datum		values[1] = {Int64GetDatum(id)};

	if (!try_lock_agent_of(id))
		return 0;
	lifecycle_lock_item(id, &it);
	util_exec(util_plan(&unblock_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	lifecycle_release_item(&it, at);
	events_add_jsonb(&call->events, it.id, "wrap_up_released", it.agent_id, it.queue_id, (Datum) 0);
	serve_agent_ext(it.agent_id, at, &call->events, true);
	return 1;
}

static const TickKind wrap_up_kind = {"releasing the wrap-up block of work item", release_wrap_up};

static int
release_wrap_ups(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(&wrap_up_plan, at, &n);

	return tick_each(call, &wrap_up_kind, ids, n, at);
}

/* the detail of an idle item's closed event */
static Datum
closed_idle_detail(void)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_kv_string(&b, "from", item_state_name(ITEM_WAITING));
	jb_kv_string(&b, "reason", "inactivity");
	jb_end_object(&b);
	return jb_finish(&b);
}

static int
close_idle_item(LifecycleCall *call, int64 id, TimestampTz at)
{
	WorkItem	it;
	Datum		values[2] = {Int64GetDatum(id), TimestampTzGetDatum(at)};

	lifecycle_lock_item(id, &it);
	util_exec(util_plan(&close_idle_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	events_add_jsonb(&call->events, it.id, "closed", it.agent_id, it.queue_id,
					 closed_idle_detail());
	return 1;
}

static const TickKind idle_kind = {"closing idle work item", close_idle_item};

static int
close_idle(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(&idle_plan, at, &n);

	return tick_each(call, &idle_kind, ids, n, at);
}

/* ----------------------------------------------------------------
 * Escalation steps and max_wait
 * ----------------------------------------------------------------
 */

/*
 * Overflow (src/overflow.c) for an item tick holds locked and open: moved
 * into its queue by an escalation step (max_wait false: the queue's full
 * and closed conditions), or open there longer than the queue's max_wait
 * (max_wait true).  The queue's overflow action applies, with its events;
 * OVERFLOW_NEXT_ASSIGN when the caller should look for an agent in the
 * queue the item is in now (*it, re-read).
 */
static OverflowNext
tick_overflow(LifecycleCall *call, int64 id, bool max_wait, TimestampTz at, WorkItem *it)
{
	int64		queue_id;
	OverflowNext next;

	lifecycle_lock_item(id, it);
	queue_id = it->queue_id;
	next = overflow_item(id, &queue_id, at, max_wait, &call->events);
	if (next == OVERFLOW_NEXT_ASSIGN)
		lifecycle_lock_item(id, it);	/* ours already: read as overflow left it */
	return next;
}

/* whether the item's queue is open at `at` (its operating hours) */
static bool
tick_queue_open(int64 queue_id, TimestampTz at)
{
	QueueConfig *q = config_queue(queue_id);

	return q == NULL || hours_is_open(q->operating_hours, at);
}

/* a step of a workstream, and whether it is due for the item */
typedef struct EscalationStep
{
	char	   *after;			/* as text, the same whatever IntervalStyle */
	char	   *skill_matching; /* or NULL */
	Datum		drop_skills;	/* text[], or 0 */
	int64		queue_id;		/* 0: stays */
	int32		add_priority;
	bool		due;
} EscalationStep;

/*
 * An interval as text in the default style ('00:05:00', '1 day'), not the
 * session's IntervalStyle: an event's detail reads the same for everyone.
 */
static char *
interval_text(const Interval *iv)
{
	struct pg_itm itm;
	char		buf[MAXDATELEN + 1];

	interval2itm(*iv, &itm);
	EncodeInterval(&itm, INTSTYLE_POSTGRES, buf);
	return pstrdup(buf);
}

/* the item's workstream's steps, copied out of SPI */
static EscalationStep *
escalation_steps(int64 id, TimestampTz at, int *n)
{
	Datum		values[2] = {Int64GetDatum(id), TimestampTzGetDatum(at)};
	uint64		got = util_exec(util_plan(&escalation_steps_plan), values, NULL, false, 0,
								SPI_OK_SELECT);
	EscalationStep *steps = palloc0(sizeof(EscalationStep) * (got + 1));
	bool		isnull;

	for (uint64 i = 0; i < got; i++)
	{
		Datum		d;

		steps[i].after = interval_text(DatumGetIntervalP(util_col(i, 1, &isnull)));
		steps[i].skill_matching = util_col_text(i, 2);
		d = util_col(i, 3, &isnull);
		if (!isnull)
			steps[i].drop_skills = PointerGetDatum(DatumGetArrayTypePCopy(d));
		steps[i].queue_id = util_col_int64(i, 4);
		steps[i].add_priority = util_col_int32(i, 5);
		steps[i].due = DatumGetBool(util_col(i, 6, &isnull)) && !isnull;
	}
	SPI_freetuptable(SPI_tuptable);
	*n = (int) got;
	return steps;
}

/* the escalated event's detail: the step's number and what it set */
static Datum
escalated_detail(const EscalationStep *st, int level)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_kv_int(&b, "level", level);
	jb_kv_string(&b, "after", st->after);
	if (st->skill_matching != NULL)
		jb_kv_string(&b, "skill_matching", st->skill_matching);
	if (st->drop_skills != (Datum) 0)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(st->drop_skills), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		jb_key(&b, "drop_skills");
		jb_array(&b);
		for (int i = 0; i < n; i++)
			jb_string(&b, TextDatumGetCString(elems[i]));
		jb_end_array(&b);
	}
	if (st->queue_id != 0)
		jb_kv_int(&b, "queue_id", st->queue_id);
	if (st->add_priority != 0)
		jb_kv_int(&b, "add_priority", st->add_priority);
	jb_end_object(&b);
	return jb_finish(&b);
}

/* where an escalated item is after its steps */
typedef struct Escalated
{
	int64		queue_id;
	bool		moved;			/* to another queue by some step */
} Escalated;

/*
 * Apply step number level + 1 to the locked item at that level; false if
 * it was not at that level any more.
 */
static bool
apply_step(LifecycleCall *call, int64 id, const EscalationStep *st, int level,
		   TimestampTz at, Escalated *out)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', 'n', 'n', 'n', ' ', ' '};
	bool		isnull;

	values[0] = Int64GetDatum(id);
	values[1] = Int32GetDatum(level);
	if (st->skill_matching != NULL)
	{
		values[2] = CStringGetTextDatum(st->skill_matching);
		nulls[2] = ' ';
	}
	if (st->drop_skills != (Datum) 0)
	{
		values[3] = st->drop_skills;
		nulls[3] = ' ';
	}
	if (st->queue_id != 0)
	{
		values[4] = Int64GetDatum(st->queue_id);
		nulls[4] = ' ';
	}
	values[5] = TimestampTzGetDatum(at);
	values[6] = Int32GetDatum(st->add_priority);
	if (util_exec(util_plan(&escalation_apply_plan), values, nulls, false, 0,
				  SPI_OK_UPDATE_RETURNING) == 0)
		return false;
	out->queue_id = util_col_int64(0, 1);
	out->moved |= DatumGetBool(util_col(0, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	events_add_jsonb(&call->events, id, "escalated", 0, out->queue_id,
					 escalated_detail(st, level + 1));
	return true;
}

/*
 * Every step due for the item, in order, each once; then overflow if a
 * step moved it, and an offer if its queue is open and an agent can take
 * it (as on reject: lifecycle_reroute, in its queue).
 */
static int
escalate_item(LifecycleCall *call, int64 id, TimestampTz at)
{
	Datum		values[1] = {Int64GetDatum(id)};
	int			level;
	int			nsteps;
	int			applied = 0;
	EscalationStep *steps;
	Escalated	esc = {0};
	WorkItem	it;

	if (util_exec(util_plan(&escalation_lock_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return 0;				/* no longer open, or another transaction has it */
	level = util_col_int32(0, 1);
	SPI_freetuptable(SPI_tuptable);
	steps = escalation_steps(id, at, &nsteps);
	for (; level < nsteps && steps[level].due; level++, applied++)
		if (!apply_step(call, id, &steps[level], level, at, &esc))
			break;
	if (applied == 0)
		return 0;
	if (esc.moved)
	{
		if (tick_overflow(call, id, false, at, &it) != OVERFLOW_NEXT_ASSIGN)
			return applied;
	}
	else
		lifecycle_lock_item(id, &it);	/* ours already: read as the steps left it */
	if (!tick_queue_open(it.queue_id, at))
		return applied;			/* served by the first tick after it opens */
	lifecycle_reroute(call, &it, "escalated");
	return applied;
}

static const TickKind escalate_kind = {"escalating work item", escalate_item};

/*
 * An item open longer than its queue's max_wait: the queue's overflow
 * action, then an offer in the queue it moved to, if that one is open.
 */
static int
max_wait_item(LifecycleCall *call, int64 id, TimestampTz at)
{
	Datum		values[2] = {Int64GetDatum(id), TimestampTzGetDatum(at)};
	WorkItem	it;

	if (util_exec(util_plan(&max_wait_lock_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return 0;
	SPI_freetuptable(SPI_tuptable);
	if (tick_overflow(call, id, true, at, &it) == OVERFLOW_NEXT_ASSIGN &&
		tick_queue_open(it.queue_id, at))
		lifecycle_reroute(call, &it, "overflowed");
	return 1;
}

static const TickKind max_wait_kind = {"overflowing (max_wait) work item", max_wait_item};

static int
refresh_timer(LifecycleCall *call, int64 id, TimestampTz at)
{
	(void) call;
	(void) at;
	timer_refresh(id);
	return 0;
}

static const TickKind timer_kind = {"setting the timer of work item", refresh_timer};

/*
 * The items whose timer is due: the escalation steps due for each of them
 * first, then max_wait for each (the order of 4 and 5), then each timer
 * set to what is due next.
 */
static int
act_on_timers(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(&timers_due_plan, at, &n);
	int			actions;

	actions = tick_each(call, &escalate_kind, ids, n, at);
	actions += tick_each(call, &max_wait_kind, ids, n, at);
	tick_each(call, &timer_kind, ids, n, at);
	return actions;
}

/*
 * ROW EXCLUSIVE on work_item, as the tick's first updates would take it:
 * held from the start, so that a configuration change arming timers
 * (SHARE, timer.c) cannot come between the tick's reads and its writes.
 */
static void
lock_work_items(void)
{
	Oid			relid = get_relname_relid("work_item", get_namespace_oid("omniroute", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("omniroute: relation \"omniroute.work_item\" is missing")));
	LockRelationOid(relid, RowExclusiveLock);
}

/*
 * An item whose wait for a preferred agent has ended: its holds go, and
 * if it is open in an open queue it is routed again, now to anyone (a
 * preferred agent who is eligible still first).  A hold of an item gone
 * or no longer open just goes.
 */
static int
end_hold(LifecycleCall *call, int64 id, TimestampTz at)
{
	Datum		values[1] = {Int64GetDatum(id)};
	WorkItem	it;

	if (util_exec(util_plan(&hold_lock_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
	{
		if (util_exec(util_plan(&item_exists_plan), values, NULL, false, 0, SPI_OK_SELECT) > 0)
			return 0;			/* another transaction has it: the next tick */
		prefer_release(id);
		return 1;
	}
	SPI_freetuptable(SPI_tuptable);
	lifecycle_lock_item(id, &it);	/* ours already */
	prefer_release(id);
	if (it.state == ITEM_OPEN && tick_queue_open(it.queue_id, at))
		lifecycle_reroute(call, &it, "preferred_wait");
	return 1;
}

static const TickKind hold_kind = {"ending the wait for a preferred agent of work item", end_hold};

static int
end_holds(LifecycleCall *call, TimestampTz at)
{
	int			n;
	int64	   *ids = fetch_ids(&holds_ended_plan, at, &n);

	return tick_each(call, &hold_kind, ids, n, at);
}

static int
serve_one(LifecycleCall *call, int64 agent, TimestampTz at)
{
	return serve_agent_ext(agent, at, &call->events, true);
}

static const TickKind serve_kind = {"serving waiting work to agent", serve_one};

static int
serve_waiting(LifecycleCall *call, TimestampTz at)
{
	Datum		values[1] = {TimestampTzGetDatum(at)};
	uint64		got = util_exec(util_plan(&servable_plan), values, NULL, false, 0, SPI_OK_SELECT);
	int64	   *agents = palloc(sizeof(int64) * (got + 1));

	for (uint64 i = 0; i < got; i++)
		agents[i] = util_col_int64(i, 1);
	return tick_each(call, &serve_kind, agents, (int) got, at);
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
	lock_work_items();
	actions += expire_offers(&call, at);
	actions += release_wrap_ups(&call, at);
	actions += close_idle(&call, at);
	actions += act_on_timers(&call, at);
	actions += end_holds(&call, at);
	actions += serve_waiting(&call, at);
	lifecycle_end(&call, 0);
	PG_RETURN_INT32(actions);
}
