/*
 * prefer.h — preferred agents: offering a customer's item to their
 * preferred agents first, and holding it for them a while (see prefer.c).
 */
#ifndef OMNIROUTE_PREFER_H
#define OMNIROUTE_PREFER_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "assign.h"
#include "config.h"
#include "jb.h"

typedef enum PreferStep
{
	PREFER_NONE,				/* the queue's method decides (note: why) */
	PREFER_CHOSEN,				/* a preferred agent has it (the result) */
	PREFER_WAIT					/* it waits open for one until 'until' */
} PreferStep;

typedef struct PreferChoice
{
	PreferStep	step;
	int			n;				/* preferred agents tried (decliners left out) */
	int64	   *agents;			/* best rank first */
	int32	   *ranks;
	TimestampTz until;			/* PREFER_WAIT: when anyone may take it */
	const char *note;			/* PREFER_NONE: why no preferred agent, or NULL */
} PreferChoice;

/*
 * For an item of req->ws with this customer (NULL: none) in its queue since
 * queued_at: a preferred agent (reserved with req->reserve), a wait, or
 * nothing.  Without 'prefer' on the workstream nothing is read.
 */
extern PreferStep prefer_choose(const AssignRequest *req, const char *customer_id,
								TimestampTz queued_at, AssignResult *res, PreferChoice *pc);
/* the "assignment" object for PREFER_CHOSEN or PREFER_WAIT */
extern void prefer_describe(const AssignRequest *req, const PreferChoice *pc,
							const AssignResult *res, JsonBuild *diag);
/* hold the item for the preferred agents of a PREFER_WAIT (replacing any hold) */
extern void prefer_hold(int64 item_id, const PreferChoice *pc, bool fresh);
/* the item's holds go (it was taken, or its wait is over) */
extern void prefer_release(int64 item_id);

#endif							/* OMNIROUTE_PREFER_H */
