/*-------------------------------------------------------------------------
 *
 * overflow.c
 *	  Overflow: an item routed into a queue by a route rule, a
 *	  transfer or an escalation step, when that queue is closed (its
 *	  operating hours) or full (max_open open items), or an item open in a
 *	  queue longer than its max_wait (tick), gets the queue's
 *	  overflow_action before any agent is looked for:
 *		queue		it stays and waits, offered to nobody;
 *		transfer	it moves to overflow_queue_id, whose own overflow is
 *					checked in turn (a hop); it stays where it is when the
 *					next queue was already visited or after
 *					OVERFLOW_MAX_HOPS hops;
 *		close		it is closed with close_reason 'overflow'.
 *	  Each queue that overflows is one hop of an Overflow: an entry of the
 *	  item's diagnostics "overflow" array and an "overflowed" event.
 *
 *	  Callers: the router (route.c, the new row, before any agent is looked
 *	  for), and for an existing item overflow_item(): a transfer
 *	  (lifecycle.c), an escalation step and max_wait (tick).
 *
 *	  Invariant: nothing is read for a queue without operating hours and
 *	  max_open (overflow_possible()), so an unconfigured queue costs the
 *	  insert path one test.  "Full" counts the queue's open items on the
 *	  open-items index (read directly, stopping at max_open), so its cost
 *	  is bounded by max_open and paid only when max_open is set.
 *
 *	  Locking: none of its own.  The count sees committed items and the
 *	  caller's own: items routed into the same queue at the same moment by
 *	  other transactions do not see each other, so a queue may exceed
 *	  max_open by at most the number of items routed into it concurrently.
 *	  overflow_item() updates a row its caller holds locked, and arms the
 *	  timer (timer.c) of an item it leaves waiting; an item it sends on to
 *	  be offered gets one from the requeue if nobody takes it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xact.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "hours.h"
#include "overflow.h"
#include "timer.h"
#include "util.h"

/*
 * The open-items index, read directly: a prepared count would be planned
 * once per backend, and planned while work_item is small it is a
 * sequential scan for the life of the connection.
 */
static const char *const open_relations[] = {"work_item", "work_item_open_idx"};
static ConfigWatch open_watch = {.tables = open_relations, .ntables = lengthof(open_relations)};
static UtilPlan move_plan = {
	"UPDATE omniroute.work_item SET queue_id = $2, queued_at = $3 WHERE id = $1",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};
static UtilPlan close_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = 'closed', queue_id = $2, closed_at = $3, last_activity_at = $3,"
	"       close_reason = 'overflow', reserved_units = 0"
	" WHERE id = $1",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

const char *
overflow_condition_name(OverflowCondition c)
{
	switch (c)
	{
		case OVERFLOW_NONE:
			return "none";
		case OVERFLOW_FULL:
			return "full";
		case OVERFLOW_CLOSED:
			return "closed";
		case OVERFLOW_MAX_WAIT:
			return "max_wait";
	}
	return "?";
}

/* whether q holds max_open open items (bounded by max_open) */
static bool
overflow_queue_full(const QueueConfig *q)
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	Snapshot	snapshot;
	int64		n = 0;

	(void) config_watch_begin(&open_watch);
	heap = table_open(open_watch.oids[0], AccessShareLock);
	index = index_open(open_watch.oids[1], AccessShareLock);
	slot = table_slot_create(heap, NULL);

	/*
	 * As a statement run through SPI would see them: the items committed
	 * now and this transaction's own, those its current statement has
	 * inserted so far included.
	 */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	/* the index's first column is queue_id; its entries are the open items */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(q->id));
	scan = index_beginscan(heap, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (n < q->max_open && index_getnext_slot(scan, ForwardScanDirection, slot))
		n++;
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return n >= q->max_open;
}

/* why an item entering q at `at` overflows, if it does: closed first (cached), then full */
static OverflowCondition
overflow_condition(const QueueConfig *q, TimestampTz at)
{
	if (q->operating_hours != NULL && !hours_is_open(q->operating_hours, at))
		return OVERFLOW_CLOSED;
	if (q->max_open > 0 && overflow_queue_full(q))
		return OVERFLOW_FULL;
	return OVERFLOW_NONE;
}

/* a transfer's target: the queue, or an error if it has gone */
static QueueConfig *
overflow_target(const QueueConfig *q)
{
	QueueConfig *t = config_queue(q->overflow_queue_id);

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("overflow queue " INT64_FORMAT " of queue \"%s\" does not exist",
						q->overflow_queue_id, q->name)));
	return t;
}

/*
 * One queue's hop: records it in o and says whether the item moves on to
 * the target (o->queue then becomes it).
 */
static bool
overflow_hop(Overflow *o, OverflowCondition cond, const int64 *visited, int nvisited)
{
	QueueConfig *q = o->queue;
	OverflowHop *h = &o->hops[o->nhops++];

	h->queue_id = q->id;
	h->condition = cond;
	h->action = q->overflow_action;
	if (q->overflow_action == OVERFLOW_CLOSE)
	{
		o->closes = true;
		return false;
	}
	if (q->overflow_action == OVERFLOW_QUEUE)
	{
		o->waits = true;
		return false;
	}
	h->target_queue_id = q->overflow_queue_id;
	for (int i = 0; i < nvisited; i++)
		if (visited[i] == h->target_queue_id)
			h->stopped = "visited";
	if (h->stopped == NULL && nvisited > OVERFLOW_MAX_HOPS)
		h->stopped = "hops";
	if (h->stopped != NULL)
	{
		o->waits = true;
		return false;
	}
	o->queue = overflow_target(q);
	return true;
}

bool
overflow_resolve(QueueConfig *q, TimestampTz at, bool max_wait, Overflow *o)
{
	int64		visited[OVERFLOW_MAX_HOPS + 1];
	int			nvisited = 0;
	OverflowCondition cond;

	memset(o, 0, sizeof(Overflow));
	o->queue = q;
	cond = max_wait ? OVERFLOW_MAX_WAIT : overflow_condition(q, at);
	/* waiting on in the queue it waits in is no overflow */
	if (cond == OVERFLOW_MAX_WAIT && q->overflow_action == OVERFLOW_QUEUE)
		return false;
	while (cond != OVERFLOW_NONE)
	{
		visited[nvisited++] = o->queue->id;
		if (!overflow_hop(o, cond, visited, nvisited))
			break;
		cond = overflow_possible(o->queue) ? overflow_condition(o->queue, at) : OVERFLOW_NONE;
	}
	return o->nhops > 0;
}

/* a hop as a JSON object: diagnostics entry and event detail alike */
static void
overflow_hop_json(const OverflowHop *h, JsonBuild *b)
{
	jb_object(b);
	jb_kv_int(b, "queue_id", h->queue_id);
	jb_kv_string(b, "condition", overflow_condition_name(h->condition));
	jb_kv_string(b, "action", config_overflow_action_name(h->action));
	if (h->action == OVERFLOW_TRANSFER)
		jb_kv_int(b, "target_queue_id", h->target_queue_id);
	if (h->stopped != NULL)
		jb_kv_string(b, "stopped", h->stopped);
	jb_end_object(b);
}

void
overflow_describe(const Overflow *o, JsonBuild *b)
{
	for (int i = 0; i < o->nhops; i++)
		overflow_hop_json(&o->hops[i], b);
}

void
overflow_add_events(const Overflow *o, EventBuf *events, int64 item_id)
{
	for (int i = 0; i < o->nhops; i++)
	{
		JsonBuild	b;

		jb_init(&b);
		overflow_hop_json(&o->hops[i], &b);
		events_add_jsonb(events, item_id, "overflowed", 0, o->hops[i].queue_id, jb_finish(&b));
	}
}

OverflowNext
overflow_item(int64 item_id, int64 *queue_id, TimestampTz at, bool max_wait,
			  EventBuf *events)
{
	QueueConfig *q = config_queue(*queue_id);
	Overflow	o;
	Datum		values[3];

	if (q == NULL || (!max_wait && !overflow_possible(q)) ||
		!overflow_resolve(q, at, max_wait, &o))
		return OVERFLOW_NEXT_ASSIGN;
	overflow_add_events(&o, events, item_id);
	values[0] = Int64GetDatum(item_id);
	values[1] = Int64GetDatum(o.queue->id);
	values[2] = TimestampTzGetDatum(at);
	if (o.closes)
	{
		JsonBuild	b;

		util_exec(util_plan(&close_plan), values, NULL, false, 0, SPI_OK_UPDATE);
		jb_init(&b);
		jb_object(&b);
		jb_kv_string(&b, "from", "open");
		jb_kv_string(&b, "reason", "overflow");
		jb_end_object(&b);
		events_add_jsonb(events, item_id, "closed", 0, o.queue->id, jb_finish(&b));
	}
	else if (o.queue->id != *queue_id)
		util_exec(util_plan(&move_plan), values, NULL, false, 0, SPI_OK_UPDATE);
	/* one that waits is requeued by nobody: its timer here */
	if (o.waits)
		timer_arm(item_id, NULL, NULL);
	*queue_id = o.queue->id;
	return o.closes ? OVERFLOW_NEXT_CLOSED :
		o.waits ? OVERFLOW_NEXT_WAIT : OVERFLOW_NEXT_ASSIGN;
}
