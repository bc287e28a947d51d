/*
 * direct.h — the routing hot path through the table and index access
 * methods, without the executor (see direct.c).
 */
#ifndef OMNIROUTE_DIRECT_H
#define OMNIROUTE_DIRECT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* a queue member as the candidate indexes hold it */
typedef struct Candidate
{
	int64		agent_id;
	int32		free_units;
	TimestampTz agent_last;
	bool		agent_last_null;
	TimestampTz queue_last;
	bool		queue_last_null;
	TimestampTz released;
	bool		released_null;
	int64		join_seq;
	/* skills */
	bool		meets;
	int32		distance;
	/* a free slot of the workstream's capacity profile */
	bool		profile_room;
	/* times it declined the item (re-offers only, assign.c) */
	int			declines;
} Candidate;

/* whether a member may be a candidate, judged on its agent id alone */
typedef bool (*CandidateFilter) (int64 agent_id, void *arg);

/*
 * A second filter, judged on the members a scan found with room and an
 * allowed presence, last (it may read their agent rows)
 */
typedef struct CandidateCheck
{
	CandidateFilter check;
	void	   *arg;
} CandidateCheck;

/*
 * Up to limit (0: all) members of queue_id for each of the npresences
 * presences with at least units free and, given admit, admitted by it, each
 * presence's range in the order of the method's index (method:
 * AssignMethod).  Members admit refused are passed over without reading
 * their rows; *passed counts them.  Returns how many, palloc'd in *out;
 * *more is set when some range may hold more.
 */
extern int	direct_candidates(int method, int64 queue_id, char *const *presences,
							  int npresences, int32 units, int64 limit,
							  CandidateFilter admit, void *admit_arg, CandidateCheck *check,
							  Candidate **out, bool *more, int *passed);

/*
 * The members of queue_id among agents[0..n-1] with one of the npresences
 * presences and at least units free (any order).  Returns how many.
 */
extern int	direct_members(int64 queue_id, const int64 *agents, int n, char *const *presences,
						   int npresences, int32 units, Candidate **out);

/*
 * An agent's attributes (jsonb, copied) as the active snapshot (or a fresh
 * one) sees the row, read by primary key; NULL if there is no such agent
 */
extern Jsonb *direct_agent_attributes(int64 agent_id);

typedef enum UnitsMode
{
	UNITS_RESERVE,				/* never wait; needs room and an allowed presence */
	UNITS_ROOM,					/* wait for the agent row; needs room */
	UNITS_FORCE,				/* wait; whatever the capacity and presence */
	UNITS_RELEASE,				/* wait; give back units taken a moment ago */
	UNITS_RETURN				/* wait; an item gives its units back: the
								 * agent's last release is at */
} UnitsMode;

/*
 * Take (or give back, floor 0) units of an agent's capacity and copy the
 * agent's new free units and assignment (or release) time to every
 * membership; when assigning, the memberships in the nqueues queues also
 * record the time as their queue's last assignment.  The npresences presences are used by
 * UNITS_RESERVE only.  Returns false when the agent is gone, locked by
 * another transaction (UNITS_RESERVE) or short of room or of an allowed
 * presence (checked on the version our snapshot sees, and again on the
 * latest, locked, if another transaction changed it: that lock then stays,
 * as after a failed conditional UPDATE).
 */
extern bool direct_agent_units(int64 agent_id, int32 units, UnitsMode mode,
							   char *const *presences, int npresences,
							   const int64 *queues, int nqueues, TimestampTz at);

typedef enum DirectTable
{
	DIRECT_QUEUE,
	DIRECT_AGENT,
	DIRECT_WORKSTREAM
} DirectTable;

/*
 * Lock the row of the queue, agent or workstream with this id FOR KEY SHARE, as a
 * foreign key check does, waiting for a transaction that holds it.  Returns
 * false when there is no such row (any more).
 */
extern bool direct_key_share(DirectTable table, int64 id);

/*
 * Insert n history rows.  Returns false, having done nothing, when the table
 * is not the plain shape the extension made (someone added a trigger, a
 * CHECK or a column): the caller then inserts with SQL so that it all fires.
 */
extern bool direct_insert_events(int n, const Datum *items, TimestampTz at,
								 const Datum *names, const Datum *agents,
								 const bool *agent_nulls, const Datum *queues,
								 const bool *queue_nulls, const Datum *details,
								 const bool *detail_nulls);

#endif							/* OMNIROUTE_DIRECT_H */
