/*
 * refs.h — a work item's references to its workstream, queue and agent
 * (see refs.c).
 */
#ifndef OMNIROUTE_REFS_H
#define OMNIROUTE_REFS_H

#include "postgres.h"

/* lock the workstream's (queue's, agent's) row FOR KEY SHARE; 23503 if there is none */
extern void refs_lock_workstream(int64 workstream_id);
extern void refs_lock_queue(int64 queue_id);
extern void refs_lock_agent(int64 agent_id);

/*
 * The row about to be inserted refers to workstream_id, queue_id and
 * agent_id (0: none), whose rows this transaction holds: its check may be
 * skipped.
 */
extern void refs_secured(int64 workstream_id, int64 queue_id, int64 agent_id);

#endif							/* OMNIROUTE_REFS_H */
