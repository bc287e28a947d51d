/*
 * serve.h — giving waiting work to an agent who freed capacity.
 */
#ifndef OMNIROUTE_SERVE_H
#define OMNIROUTE_SERVE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "events.h"

extern int	serve_agent(int64 agent_id, TimestampTz now, EventBuf *events);
extern int	serve_agent_ext(int64 agent_id, TimestampTz now, EventBuf *events,
							bool skip_locked);
extern int64 pick_next_for(int64 agent_id, TimestampTz now, EventBuf *events);

#endif							/* OMNIROUTE_SERVE_H */
