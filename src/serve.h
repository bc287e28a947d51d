/*
 * serve.h — giving waiting work to an agent who freed capacity.
 */
#ifndef OMNIROUTE_SERVE_H
#define OMNIROUTE_SERVE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "utils/jsonb.h"

#include "config.h"
#include "events.h"

extern int	serve_agent(int64 agent_id, TimestampTz now, EventBuf *events);
extern int	serve_agent_ext(int64 agent_id, TimestampTz now, EventBuf *events,
							bool skip_locked);
extern int64 serve_pick_next(int64 agent_id, TimestampTz now, EventBuf *events);
/* pick(id): errors name why the agent may not have it */
extern void serve_pick_item(int64 agent_id, int64 item, int64 ws_id, int64 queue_id,
							Datum declined, Jsonb *required, const char *skill_matching,
							TimestampTz now, EventBuf *events);
/* an agent's handover of an item to a colleague: errors name why not */
extern void serve_check_handover(int64 target, int64 item, WorkstreamConfig *ws, int64 queue_id,
								 Datum declined, Jsonb *required, const char *skill_matching);
extern bool serve_is_member(int64 agent_id, int64 queue_id);
extern bool serve_declined_by(Datum declined, int64 agent_id);
/* how many times the agent declined (rejected or missed) the item */
extern int	serve_declined_count(Datum declined, int64 agent_id);

#endif							/* OMNIROUTE_SERVE_H */
