/*
 * lifecycle.h — the steps every lifecycle function shares.
 */
#ifndef OMNIROUTE_LIFECYCLE_H
#define OMNIROUTE_LIFECYCLE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "events.h"
#include "item.h"
#include "priv.h"

typedef struct LifecycleCall
{
	Caller		caller;
	TimestampTz now;
	EventBuf	events;
} LifecycleCall;

/* a work item as locked for a transition */
typedef struct WorkItem
{
	int64		id;
	int64		ws_id;
	ItemState	state;
	int64		queue_id;
	int64		agent_id;		/* 0: none */
	int32		reserved;
	Datum		declined;		/* int8[] of agents who rejected or missed it */
	Jsonb	   *required_skills;
	char	   *profile;		/* capacity profile slot held, or NULL */
	char	   *external_id;	/* the conversation or record, or NULL */
	char	   *skill_matching; /* set by an escalation step; NULL: ws's */
	char	   *customer_id;	/* or NULL */
	TimestampTz queued_at;		/* when it entered its queue (0: not known) */
} WorkItem;

extern void lifecycle_begin(LifecycleCall *call);
/* flush events, leave privileged mode; returns the item's row if item_id */
extern Datum lifecycle_end(LifecycleCall *call, int64 item_id);
extern void lifecycle_lock_item(int64 id, WorkItem *it);
extern bool lifecycle_try_lock_item(int64 id, WorkItem *it);
extern void lifecycle_open(LifecycleCall *call, int64 id, WorkItem *it, const char *verb);
/* refuse unless the caller may act on the item (NULL: none); see lifecycle.c */
extern void lifecycle_check_caller(LifecycleCall *call, int64 id, const WorkItem *it,
								   const char *verb);
/* whether an agent may read an item they do not hold (open, pick mode, their queue) */
extern bool lifecycle_may_read(int64 agent, const WorkItem *it);
extern void lifecycle_wrong_state(const WorkItem *it, const char *action, const char *allowed,
								  const char *done);
/* give back what an item holds of its agent: units and profile slot */
extern void lifecycle_release_item(WorkItem *it, TimestampTz now);
extern void lifecycle_add_declined(WorkItem *it, int64 agent_id);
extern void lifecycle_reroute(LifecycleCall *call, WorkItem *it, const char *why);

#endif							/* OMNIROUTE_LIFECYCLE_H */
