/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The history of work items and the notifications to agents.
 *
 *	  Every state change is a row in work_item_event.  An operation gathers
 *	  its events in an EventBuf and writes them with one prepared INSERT
 *	  over unnest()ed arrays, so routing one item costs one statement for
 *	  its history however many events it makes.
 *
 *	  Notifications use Async_Notify directly (what pg_notify() does): they
 *	  are queued in the transaction and delivered at commit, so a rolled
 *	  back offer is never announced.  NOTIFY takes a global lock at commit;
 *	  omniroute.notify = off turns them off (the benchmark measures both).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datum.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "direct.h"
#include "events.h"
#include "notify.h"
#include "omniroute.h"
#include "util.h"

/* the fallback when direct_insert_events cannot write the rows itself */
static UtilPlan events_plan = {
	"INSERT INTO omniroute.work_item_event"
	" (work_item_id, at, event, agent_id, queue_id, detail)"
	" SELECT i, $2, e, a, q, d"
	"   FROM unnest($1, $3, $4, $5, $6) AS u(i, e, a, q, d)",
	6, {INT8ARRAYOID, TIMESTAMPTZOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, JSONBARRAYOID}, NULL
};

void
events_init(EventBuf *buf)
{
	memset(buf, 0, sizeof(EventBuf));
	/* events outlive whatever (nested SPI) context they are added in */
	buf->cxt = CurrentMemoryContext;
}

#define GROW(field, type) buf->field = buf->field ? repalloc(buf->field, sizeof(type) * buf->cap) : palloc(sizeof(type) * buf->cap)

void
events_add(EventBuf *buf, int64 item, const char *event, int64 agent, int64 queue,
		   const char *detail)
{
	events_add_jsonb(buf, item, event, agent, queue, detail ? util_jsonb(detail) : (Datum) 0);
}

void
events_add_jsonb(EventBuf *buf, int64 item, const char *event, int64 agent, int64 queue,
				 Datum detail)
{
	int			i;
	MemoryContext old = MemoryContextSwitchTo(buf->cxt);

	if (buf->n == buf->cap)
	{
		buf->cap = buf->cap ? buf->cap * 2 : 4;
		GROW(items, Datum);
		GROW(names, Datum);
		GROW(agents, Datum);
		GROW(agent_nulls, bool);
		GROW(queues, Datum);
		GROW(queue_nulls, bool);
		GROW(details, Datum);
		GROW(detail_nulls, bool);
	}
	i = buf->n++;
	buf->items[i] = Int64GetDatum(item);
	buf->names[i] = CStringGetTextDatum(event);
	buf->agents[i] = Int64GetDatum(agent);
	buf->agent_nulls[i] = (agent == 0);
	buf->queues[i] = Int64GetDatum(queue);
	buf->queue_nulls[i] = (queue == 0);
	buf->details[i] = detail ? datumCopy(detail, false, -1) : (Datum) 0;
	buf->detail_nulls[i] = (detail == (Datum) 0);
	MemoryContextSwitchTo(old);
}

static Datum
array_of(Datum *values, bool *nulls, int n, Oid type, int16 len, bool byval, char align)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type, len, byval, align));
}

void
events_flush(EventBuf *buf, TimestampTz at)
{
	Datum		values[6];

	if (buf->n == 0)
		return;
	if (direct_insert_events(buf->n, buf->items, at, buf->names, buf->agents, buf->agent_nulls,
							 buf->queues, buf->queue_nulls, buf->details, buf->detail_nulls))
	{
		buf->n = 0;
		return;
	}
	values[0] = array_of(buf->items, NULL, buf->n, INT8OID, 8, true, TYPALIGN_DOUBLE);
	values[1] = TimestampTzGetDatum(at);
	values[2] = array_of(buf->names, NULL, buf->n, TEXTOID, -1, false, TYPALIGN_INT);
	values[3] = array_of(buf->agents, buf->agent_nulls, buf->n, INT8OID, 8, true, TYPALIGN_DOUBLE);
	values[4] = array_of(buf->queues, buf->queue_nulls, buf->n, INT8OID, 8, true, TYPALIGN_DOUBLE);
	values[5] = array_of(buf->details, buf->detail_nulls, buf->n, JSONBOID, -1, false, TYPALIGN_INT);
	util_exec(util_plan(&events_plan), values, NULL, false, 0, SPI_OK_INSERT);
	buf->n = 0;
}

void
events_notify_agent(int64 agent, const char *event, int64 item, int64 workstream, int64 queue,
			 const TimestampTz *expires)
{
	char		channel[64];
	StringInfoData payload;

	if (!omniroute_notify || agent == 0)
		return;
	snprintf(channel, sizeof(channel), "omniroute_agent_" INT64_FORMAT, agent);

	/*
	 * Printed rather than built with jb: listeners get the keys in this
	 * order (test/specs/notify.spec compares the text), where jsonb would
	 * sort them by length; no value needs escaping.
	 */
	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"event\": \"%s\", \"work_item_id\": " INT64_FORMAT
					 ", \"workstream_id\": " INT64_FORMAT ", \"queue_id\": " INT64_FORMAT,
					 event, item, workstream, queue);
	if (expires != NULL)
	{
		struct pg_tm tm;
		fsec_t		fsec;

		/* RFC 3339 in UTC: the same text whatever the session's time zone */
		if (timestamp2tm(*expires, NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "omniroute: offer expiry out of range");
		appendStringInfo(&payload, ", \"expires_at\": \"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
						 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						 tm.tm_sec, (int) fsec);
	}
	appendStringInfoChar(&payload, '}');
	notify_send(channel, payload.data);
}
