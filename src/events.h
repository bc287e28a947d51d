/*
 * events.h — the work item history (work_item_event) and agent
 * notifications (NOTIFY omniroute_agent_<id>).
 */
#ifndef OMNIROUTE_EVENTS_H
#define OMNIROUTE_EVENTS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* events gathered during one operation, written by one INSERT */
typedef struct EventBuf
{
	MemoryContext cxt;			/* where the events are kept */
	int			n;
	int			cap;
	Datum	   *items;
	Datum	   *names;
	Datum	   *agents;
	bool	   *agent_nulls;
	Datum	   *queues;
	bool	   *queue_nulls;
	Datum	   *details;
	bool	   *detail_nulls;
} EventBuf;

extern void events_init(EventBuf *buf);
/*
 * agent and queue 0 mean none; detail is JSON text or NULL.  Kept for the
 * callers that still pass text (serve.c, tick.c): new ones build the detail
 * with jb and call events_add_jsonb.
 */
extern void events_add(EventBuf *buf, int64 item, const char *event,
					   int64 agent, int64 queue, const char *detail);
/* ... detail a jsonb Datum, or 0 */
extern void events_add_jsonb(EventBuf *buf, int64 item, const char *event,
							 int64 agent, int64 queue, Datum detail);
extern void events_flush(EventBuf *buf, TimestampTz at);

/* NOTIFY omniroute_agent_<agent> with a JSON payload; expires may be NULL */
extern void events_notify_agent(int64 agent, const char *event, int64 item,
						 int64 workstream, int64 queue, const TimestampTz *expires);

#endif							/* OMNIROUTE_EVENTS_H */
