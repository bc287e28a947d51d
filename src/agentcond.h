/*
 * agentcond.h — a queue's agent condition: which members may be offered
 * its items (see agentcond.c).
 */
#ifndef OMNIROUTE_AGENTCOND_H
#define OMNIROUTE_AGENTCOND_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "config.h"

/* the item a condition is checked for: what its rules would see */
typedef struct CondItem
{
	WorkstreamConfig *ws;		/* the item's workstream (its context variables) */
	Jsonb	   *context;
	const char *customer_id;	/* or NULL */
	const char *external_id;	/* or NULL */
	int32		priority;
} CondItem;

/* one item's condition, ready for its candidates */
typedef struct CondCheck
{
	const AgentCondition *cond;
	RuleValue  *slots;			/* the item's values; agent slots per candidate */
	int			failed;			/* candidates that did not satisfy it */
} CondCheck;

/*
 * Compile a queue's condition.  open: names past the built-ins and
 * agent.<key> are context variables read by name (the cache: a variable
 * added later works); else each must be a context variable of some
 * workstream (42703; the caller is connected to SPI).
 */
extern AgentCondition *agentcond_compile(const char *text, const char *queue, bool open);
/* whether the condition reads the item (a built-in or a context variable) */
extern bool agentcond_reads_item(const AgentCondition *cond);
/* the item's values, for its candidates (item NULL: the condition reads none) */
extern void agentcond_begin(CondCheck *cc, const AgentCondition *cond, const CondItem *item);
/* whether a member with these attributes (NULL: none) satisfies it */
extern bool agentcond_holds(CondCheck *cc, Jsonb *attributes);
/* the same, their attributes read by key; a CandidateFilter (arg: CondCheck) */
extern bool agentcond_admits(int64 agent_id, void *arg);
/* read an item's values by its id (inside SPI); false if it is gone */
extern bool agentcond_load_item(int64 item_id, WorkstreamConfig *ws, CondItem *item);
/* whether the agent satisfies the condition of queue_id for the item (inside SPI) */
extern bool agentcond_item_agent(int64 queue_id, int64 item_id, WorkstreamConfig *ws,
								 int64 agent_id);

#endif							/* OMNIROUTE_AGENTCOND_H */
