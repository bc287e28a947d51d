/*
 * overflow.h — what happens to an item that enters a full or closed queue
 * (README: Operating hours, overflow, escalation, aging).
 */
#ifndef OMNIROUTE_OVERFLOW_H
#define OMNIROUTE_OVERFLOW_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "config.h"
#include "events.h"
#include "jb.h"

/* transfers one overflow may chain */
#define OVERFLOW_MAX_HOPS	8

typedef enum OverflowCondition
{
	OVERFLOW_NONE,
	OVERFLOW_FULL,				/* max_open open items */
	OVERFLOW_CLOSED,			/* its operating hours say closed */
	OVERFLOW_MAX_WAIT			/* open in it longer than max_wait (tick) */
} OverflowCondition;

/* one queue's overflow: an entry of diagnostics' "overflow", an event's detail */
typedef struct OverflowHop
{
	int64		queue_id;
	OverflowCondition condition;
	OverflowAction action;
	int64		target_queue_id;	/* transfer: where to */
	const char *stopped;		/* a transfer not made: "visited" or "hops" */
} OverflowHop;

/* what overflow made of an item entering a queue */
typedef struct Overflow
{
	int			nhops;
	OverflowHop hops[OVERFLOW_MAX_HOPS + 1];
	QueueConfig *queue;			/* the queue the item ends in */
	bool		waits;			/* stays open there, offered to nobody */
	bool		closes;			/* closed, close_reason 'overflow' */
} Overflow;

/* whether a queue can overflow at all: the test that keeps the rest off the insert path */
static inline bool
overflow_possible(const QueueConfig *q)
{
	return q->operating_hours != NULL || q->max_open > 0;
}

/*
 * An item enters queue q at `at` (by a route rule, a transfer or an
 * escalation step), or has waited longer than q's max_wait (max_wait true,
 * from tick): apply overflow, hop by hop.  False when nothing applied (o
 * then says the item stays in q).  Needs SPI (the count of open items).
 */
extern bool overflow_resolve(QueueConfig *q, TimestampTz at, bool max_wait, Overflow *o);

/* the entries of diagnostics' "overflow" array, one per hop */
extern void overflow_describe(const Overflow *o, JsonBuild *b);

/* the "overflowed" events of item_id, one per hop */
extern void overflow_add_events(const Overflow *o, EventBuf *events, int64 item_id);

/* what the caller of overflow_item() does next */
typedef enum OverflowNext
{
	OVERFLOW_NEXT_ASSIGN,		/* look for an agent in the (final) queue */
	OVERFLOW_NEXT_WAIT,			/* leave it open, offered to nobody */
	OVERFLOW_NEXT_CLOSED		/* overflow closed it */
} OverflowNext;

/*
 * For an existing item, locked by the caller, open with no agent, that has
 * just been moved into *queue_id (a transfer, an escalation step: the
 * caller's move sets queued_at), or (max_wait) has waited too long there:
 * resolve overflow at `at` and apply it to the row -- moved on (queue_id,
 * queued_at) or closed (close_reason 'overflow') -- with its events.
 * *queue_id becomes the final queue.  Needs SPI.
 */
extern OverflowNext overflow_item(int64 item_id, int64 *queue_id, TimestampTz at,
								  bool max_wait, EventBuf *events);

extern const char *overflow_condition_name(OverflowCondition c);

#endif							/* OMNIROUTE_OVERFLOW_H */
