/*
 * timer.h — when tick() next has something to do for an open item: its
 * workstream's next escalation step or its queue's max_wait
 * (omniroute.work_item_timer; README: Operating hours, overflow,
 * escalation, aging).
 */
#ifndef OMNIROUTE_TIMER_H
#define OMNIROUTE_TIMER_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"

#include "config.h"

/*
 * Whether max_wait does something in q: set, and an overflow action that
 * moves or closes the item ('queue', or a transfer onto q itself, leaves
 * it where it is).
 */
static inline bool
timer_max_wait_acts(const QueueConfig *q)
{
	return q->has_max_wait && q->overflow_action != OVERFLOW_QUEUE &&
		(q->overflow_action == OVERFLOW_CLOSE || q->overflow_queue_id != q->id);
}

/*
 * Whether an item of ws open in q may ever need a timer: the test that
 * keeps everything else off the insert path when neither is configured.
 */
static inline bool
timer_wanted(const WorkstreamConfig *ws, const QueueConfig *q)
{
	return ws->nsteps > 0 || timer_max_wait_acts(q);
}

/*
 * The router's new row, left open in q: its timer, if something is due
 * for it.  Call only when timer_wanted(); needs SPI.
 */
extern void timer_arm_new(const WorkstreamConfig *ws, const QueueConfig *q,
						  HeapTuple tup, TupleDesc desc);

/*
 * An existing item, locked by the caller, (left) open in a queue: its
 * timer, if something is due for it.  ws and q are its workstream's and
 * queue's configuration when the caller has them (then nothing is read
 * unless timer_wanted()), or NULL: read from the row.  Needs SPI.
 */
extern void timer_arm(int64 item_id, const WorkstreamConfig *ws, const QueueConfig *q);

/*
 * For tick(), after it acted on a timer that fired: lock the item (SKIP
 * LOCKED) and set its timer to what is due next, or delete it when the
 * item is gone, no longer open, or nothing is due.  An item another
 * transaction holds keeps its timer (the next tick looks again).  Needs
 * SPI.
 */
extern void timer_refresh(int64 item_id);

#endif							/* OMNIROUTE_TIMER_H */
