/*
 * route.h — classification and queue choice for a work item.
 */
#ifndef OMNIROUTE_ROUTE_H
#define OMNIROUTE_ROUTE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "assign.h"
#include "config.h"
#include "overflow.h"

/* what the application gave */
typedef struct ItemInput
{
	Jsonb	   *context;
	int32		priority;
	Jsonb	   *required_skills;
	const char *external_id;	/* or NULL */
	const char *customer_id;	/* or NULL */
	int64		given_queue_id; /* 0: let the route rules choose */
	int64		item_id;		/* what a split divides on ... */
	bool		has_item_id;	/* ... if known (simulate: work_item_id) */
	TimestampTz created_at;		/* when it entered its queue */
} ItemInput;

/* what classification and routing made of it */
typedef struct RouteOutcome
{
	Jsonb	   *context;
	bool		context_changed;
	int32		priority;
	RequiredSkills skills;
	bool		skills_changed;
	QueueConfig *queue;			/* after overflow, the queue it ends in */
	const char *route_rule;		/* NULL: fallback or given */
	Overflow   *overflow;		/* what overflow did, or NULL: nothing */
	bool		held;			/* no agent: overflow keeps it waiting or
								 * closes it, or its queue is closed */
} RouteOutcome;

/*
 * Steps 2 and 3 of route.c: check the context against the declared types,
 * apply the classification rules, choose the queue.  Appends the
 * "classification" and "route" members of the diagnostics to diag (an
 * open JSON object).
 */
extern void route_classify(WorkstreamConfig *ws, const ItemInput *in,
						   RouteOutcome *out, JsonBuild *diag);
extern Jsonb *route_skills_to_jsonb(const RequiredSkills *rs);
/*
 * An item's required skills: an object of skill name to an integer
 * proficiency from 1 to 10.  At the first value that is not one: with bad
 * NULL, an error (22023); else false, *bad naming the skill (NULL: not an
 * object) and rs holding the skills before it, so that serving can pass
 * over an item whose requirement is bad instead of failing on it.
 */
extern bool route_required_skills_parse(Jsonb *js, RequiredSkills *rs, char **bad);
/* what is wrong with a requirement route_required_skills_parse() refused */
extern char *route_required_skills_problem(const char *bad);
extern int64 route_affinity_agent(int64 ws_id, const char *external_id);

#endif							/* OMNIROUTE_ROUTE_H */
