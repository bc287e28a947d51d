/*-------------------------------------------------------------------------
 *
 * timer.c
 *	  The timers of open items: omniroute.work_item_timer holds, for an
 *	  open item that something is due for, when tick() next has work to do
 *	  for it -- the earliest of
 *		created_at + the after of its workstream's next step (the
 *		escalation_level-th, in order of after), and
 *		queued_at + its queue's max_wait, when that does something
 *		(timer_max_wait_acts: not 'queue', nor a transfer onto itself).
 *	  tick() reads one range of its due_at index (what is due), acts on
 *	  those items as it did, and sets each timer again (timer_refresh).
 *
 *	  Invariant: every open item that has a step or a max_wait due at some
 *	  time T has a timer due at or before T.  A timer may be stale (the
 *	  item was offered, closed or deleted since, or an item's due moved
 *	  later): tick() finds nothing due when it fires, and refreshes or
 *	  deletes it then.  So timers are written where an item becomes or
 *	  stays open in a queue (the router, lifecycle.c's requeue, overflow.c
 *	  when an item waits, tick after its actions) and never need deleting
 *	  elsewhere.  Nothing is read or written for an item whose workstream
 *	  has no steps and whose queue no acting max_wait (timer_wanted(), on
 *	  the cached configuration): an unconfigured insert pays one test.
 *
 *	  A configuration change that makes something due earlier (a step
 *	  added or its after shortened; max_wait set or shortened, an action
 *	  that now acts) arms the timers of the open items concerned: the
 *	  statement triggers work_item_timer_arm on escalation_step and queue
 *	  (sql/omniroute.sql; not in a restore, which carries the timers).  One
 *	  that makes things due later or never needs nothing: the old timers
 *	  fire early and are refreshed.
 *
 *	  Locking: a timer is written by whoever holds its item's row lock
 *	  (FOR UPDATE; the router: the row being inserted), after that
 *	  transaction took ROW EXCLUSIVE on work_item (tick takes it first of
 *	  all).  The triggers take SHARE on work_item before they read the
 *	  open items: they wait for every transaction that may have routed or
 *	  requeued an item under the old configuration, and those that follow
 *	  see the new one (they process the cache invalidation when they lock
 *	  work_item).  So a timer computed from old configuration never
 *	  overwrites one computed from the new.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "config.h"
#include "timer.h"
#include "util.h"

/* what a timer is computed from: an open item's row */
typedef struct TimerItem
{
	int64		id;
	int64		ws_id;
	int64		queue_id;
	int32		level;			/* escalation steps applied */
	TimestampTz created_at;
	TimestampTz queued_at;
	bool		queued_null;	/* never for an open item, but not assumed */
} TimerItem;

static UtilPlan set_plan = {
	"INSERT INTO omniroute.work_item_timer (work_item_id, due_at) VALUES ($1, $2)"
	" ON CONFLICT (work_item_id) DO UPDATE SET due_at = excluded.due_at"
	" WHERE work_item_timer.due_at IS DISTINCT FROM excluded.due_at",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};
static UtilPlan delete_plan = {
	"DELETE FROM omniroute.work_item_timer WHERE work_item_id = $1",
	1, {INT8OID}, NULL
};
static UtilPlan open_item_plan = {
	"SELECT workstream_id, queue_id, escalation_level, created_at, queued_at"
	"  FROM omniroute.work_item WHERE id = $1 AND state = 'open'",
	1, {INT8OID}, NULL
};
static UtilPlan lock_item_plan = {
	"SELECT workstream_id, queue_id, escalation_level, created_at, queued_at,"
	"       state = 'open'"
	"  FROM omniroute.work_item WHERE id = $1 FOR UPDATE SKIP LOCKED",
	1, {INT8OID}, NULL
};
static UtilPlan exists_plan = {
	"SELECT 1 FROM omniroute.work_item WHERE id = $1",
	1, {INT8OID}, NULL
};

/* when something is next due for the item, if anything is */
static bool
timer_due(const WorkstreamConfig *ws, const QueueConfig *q, const TimerItem *it,
		  TimestampTz *due)
{
	bool		has = false;

	if (it->level >= 0 && it->level < ws->nsteps)
	{
		*due = util_time_plus(it->created_at, &ws->step_afters[it->level]);
		has = true;
	}
	if (q != NULL && timer_max_wait_acts(q) && !it->queued_null)
	{
		TimestampTz t = util_time_plus(it->queued_at, &q->max_wait);

		if (!has || t < *due)
			*due = t;
		has = true;
	}
	return has;
}

static void
set_timer(int64 item_id, TimestampTz due)
{
	Datum		values[2] = {Int64GetDatum(item_id), TimestampTzGetDatum(due)};

	util_exec(util_plan(&set_plan), values, NULL, false, 0, SPI_OK_INSERT);
}

static void
drop_timer(int64 item_id)
{
	Datum		values[1] = {Int64GetDatum(item_id)};

	util_exec(util_plan(&delete_plan), values, NULL, false, 0, SPI_OK_DELETE);
}

/* columns 1-5 of open_item_plan and lock_item_plan */
static void
read_item(int64 id, TimerItem *it)
{
	bool		isnull;

	it->id = id;
	it->ws_id = util_col_int64(0, 1);
	it->queue_id = util_col_int64(0, 2);
	it->level = util_col_int32(0, 3);
	it->created_at = DatumGetTimestampTz(util_col(0, 4, &isnull));
	it->queued_at = DatumGetTimestampTz(util_col(0, 5, &isnull));
	it->queued_null = isnull;
}

/* the due time of an item read from its row, by its current configuration */
static bool
timer_due_of(const TimerItem *it, TimestampTz *due)
{
	WorkstreamConfig *ws = config_workstream(it->ws_id);

	return ws != NULL && timer_due(ws, config_queue(it->queue_id), it, due);
}

void
timer_arm_new(const WorkstreamConfig *ws, const QueueConfig *q, HeapTuple tup, TupleDesc desc)
{
	TimerItem	it;
	bool		isnull;
	TimestampTz due;

	it.id = util_attr_int64(tup, desc, SPI_fnumber(desc, "id"), NULL);
	it.queue_id = q->id;
	it.level = DatumGetInt32(heap_getattr(tup, SPI_fnumber(desc, "escalation_level"), desc, &isnull));
	if (isnull)
		it.level = 0;
	it.created_at = DatumGetTimestampTz(heap_getattr(tup, SPI_fnumber(desc, "created_at"),
													 desc, &isnull));
	if (isnull)
		return;					/* NOT NULL will refuse the row */
	/* it enters its queue when it is created */
	it.queued_at = it.created_at;
	it.queued_null = false;
	if (timer_due(ws, q, &it, &due))
		set_timer(it.id, due);
}

void
timer_arm(int64 item_id, const WorkstreamConfig *ws, const QueueConfig *q)
{
	Datum		values[1] = {Int64GetDatum(item_id)};
	TimerItem	it;
	TimestampTz due;

	if (ws != NULL && q != NULL && !timer_wanted(ws, q))
		return;
	if (util_exec(util_plan(&open_item_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return;
	read_item(item_id, &it);
	SPI_freetuptable(SPI_tuptable);
	if (timer_due_of(&it, &due))
		set_timer(item_id, due);
}

void
timer_refresh(int64 item_id)
{
	Datum		values[1] = {Int64GetDatum(item_id)};
	TimerItem	it;
	bool		open;
	bool		isnull;
	TimestampTz due;

	if (util_exec(util_plan(&lock_item_plan), values, NULL, false, 0, SPI_OK_SELECT) == 0)
	{
		/* held by another transaction: the next tick looks again */
		if (util_exec(util_plan(&exists_plan), values, NULL, false, 0, SPI_OK_SELECT) > 0)
			return;
		drop_timer(item_id);
		return;
	}
	read_item(item_id, &it);
	open = DatumGetBool(util_col(0, 6, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (open && timer_due_of(&it, &due))
		set_timer(item_id, due);
	else
		drop_timer(item_id);
}
