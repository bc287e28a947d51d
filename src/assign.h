/*
 * assign.h — choosing the agent for a work item and reserving capacity.
 */
#ifndef OMNIROUTE_ASSIGN_H
#define OMNIROUTE_ASSIGN_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "agentcond.h"
#include "config.h"
#include "jb.h"
#include "util.h"

typedef struct RequiredSkills
{
	int			n;
	char	  **names;
	int32	   *levels;
} RequiredSkills;

typedef struct AssignRequest
{
	WorkstreamConfig *ws;
	QueueConfig *queue;
	const RequiredSkills *skills;
	const char *skill_matching; /* the item's, set by a step; NULL: ws's */
	const int64 *excluded;		/* agents who declined the item, once per
								 * decline: offered it again only under
								 * ws->max_offers, after everyone else */
	int			nexcluded;
	bool		reserve;		/* false: only choose (simulate) */
	TimestampTz now;
	const char *preferred_note; /* why no preferred agent took it, or NULL */
	const CondItem *item;		/* for the queue's agent condition, if it has one */
} AssignRequest;

typedef struct AssignResult
{
	int64		agent_id;		/* 0: nobody */
	int32		free_units;		/* the winner's free units before */
	TimestampTz score_time;		/* round_robin / least_active score */
	bool		score_time_null;
	bool		meets_skills;	/* the winner meets every requirement */
	int32		skill_distance; /* over- (meets) or under-qualification */
	int			examined;		/* candidates looked at */
	int			raced;			/* candidates lost to concurrent work */
	int			lacking_skills; /* passed over for skills (exact) */
	int			excluded;		/* passed over: rejected or missed before */
	int			declined_before;	/* a re-offer: the winner declined it so often */
	int			no_profile_slot;	/* passed over: capacity profile full or missing */
	int			failed_condition;	/* passed over: the queue's agent condition */
	const char *unreached_skill;	/* exact: a skill no member has at its level */
	int32		unreached_level;
	int32		unreached_best; /* the best proficiency a member has in it */
	bool		unreached_all;	/* exact: each skill is there, never all in one */
	int32		rank;			/* assign_choose_preferred: the winner's rank */
} AssignResult;

extern bool assign_choose(const AssignRequest *req, AssignResult *res);
/* the best-ranked eligible of the n agents given (ranks[i]: agents[i]'s) */
extern bool assign_choose_preferred(const AssignRequest *req, const int64 *agents,
									const int32 *ranks, int n, AssignResult *res);
/* reserve units for a named agent whatever their capacity and presence */
/* capacity profile slots (see assign.c) */
extern bool assign_profile_charge(int64 agent_id, const char *profile, TimestampTz now, bool force);
extern void assign_profile_uncharge(int64 agent_id, const char *profile, TimestampTz now);
extern void assign_profile_release(int64 agent_id, const char *profile);
extern void assign_unreserve(int64 agent_id, int32 units);

/* reserve units for a named agent if they have room (picking) */
extern bool assign_if_room(int64 agent_id, int32 units, int64 queue_id, TimestampTz now);
extern bool assign_force(int64 agent_id, int32 units, int64 queue_id, TimestampTz now);
/* choose as assign_choose, and add the "assignment" object to diag */
extern bool assign_and_describe(const AssignRequest *req, AssignResult *res,
								JsonBuild *diag);

#endif							/* OMNIROUTE_ASSIGN_H */
