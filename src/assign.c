/*-------------------------------------------------------------------------
 *
 * assign.c
 *	  Choose the agent for a work item and reserve their capacity.
 *
 *	  Every read here (SPI queries run non-read-only, and the direct scans
 *	  of src/direct.c) sees what this statement did before: an INSERT of
 *	  many rows routes each row knowing where the earlier ones went.
 *
 *	  Candidates come from queue_member, which carries a copy of each
 *	  member's presence, free units and assignment times.  For each presence
 *	  the workstream allows we read one range of the index that matches the
 *	  queue's method, best first and limited, so the cost does not grow with
 *	  the size of the queue or of the agent table; the ranges are merged in
 *	  the method's order.  Skill requirements are then checked for the batch
 *	  in one query, unless the skill reach (below) says few members qualify:
 *	  then those are looked up by key.  Only "closest" skill matching must
 *	  see every eligible member, since its ranking cuts across the method's
 *	  order.
 *
 *	  Re-offers: agents who declined the item (req->excluded) are passed
 *	  over by that scan.  Only when it finds nobody, and the workstream's
 *	  max_offers_per_agent is above 1, are the decliners still under it
 *	  looked up by key (direct_members) and tried, fewest declines first,
 *	  then in the method's order: a second pass bounded by the decliners,
 *	  not the queue, and never run with a limit of 1.
 *
 *	  Reservation (direct_agent_units) locks the agent row without waiting
 *	  and takes the units only if, on the locked row,
 *		  used_units + units <= capacity AND presence allowed
 *	  so two transactions can never both take the last unit; an agent
 *	  another transaction holds is passed over (waiting could deadlock: see
 *	  src/direct.c), and we move on to the next candidate.  Lock order is
 *	  agent row, then its queue_member rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "assign.h"
#include "direct.h"
#include "hours.h"
#include "jb.h"
#include "util.h"

/* items counted against a profile now, for an agent in their timezone */
#define PROFILE_USED \
	"CASE WHEN cp.reset = 'never' THEN ap.active_items" \
	"     WHEN ap.day = ($3 AT TIME ZONE a.timezone)::date THEN ap.day_items ELSE 0 END"
#define PROFILE_LIMIT "coalesce(ap.max_items, cp.max_items)"
#define PROFILE_FROM \
	"  FROM omniroute.capacity_profile cp, omniroute.agent a" \
	" WHERE ap.agent_id = $1 AND ap.profile = $2 AND cp.name = ap.profile AND a.id = ap.agent_id"

static UtilPlan skills_plan = {
	"SELECT agent_id, skill, proficiency FROM omniroute.agent_skill"
	" WHERE agent_id = ANY ($1) AND skill = ANY ($2)",
	2, {INT8ARRAYOID, TEXTARRAYOID}, NULL
};

/* the method names the partial index that holds the queue's members */
#define REACH_SQL(method) \
	"SELECT s.skill, s.agent_id, s.proficiency," \
	"       (SELECT count(*) FROM omniroute.queue_member c" \
	"         WHERE c.queue_id = $1 AND c.method = '" method "')" \
	"  FROM omniroute.queue_member m" \
	"  JOIN omniroute.agent_skill s ON s.agent_id = m.agent_id" \
	" WHERE m.queue_id = $1 AND m.method = '" method "'" \
	" ORDER BY s.skill, s.agent_id"

static UtilPlan reach_plans[] = {
	[METHOD_HIGHEST_CAPACITY] = {REACH_SQL("highest_capacity"), 1, {INT8OID}, NULL},
	[METHOD_ROUND_ROBIN] = {REACH_SQL("round_robin"), 1, {INT8OID}, NULL},
	[METHOD_LEAST_ACTIVE] = {REACH_SQL("least_active"), 1, {INT8OID}, NULL},
};

static UtilPlan profile_room_plan = {
	"SELECT ap.agent_id FROM omniroute.agent_profile ap"
	"  JOIN omniroute.capacity_profile cp ON cp.name = ap.profile"
	"  JOIN omniroute.agent a ON a.id = ap.agent_id"
	" WHERE ap.agent_id = ANY ($1) AND ap.profile = $2"
	"   AND " PROFILE_USED " < " PROFILE_LIMIT,
	3, {INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID}, NULL
};

static UtilPlan profile_charge_plan = {
	"UPDATE omniroute.agent_profile ap"
	"   SET active_items = ap.active_items"
	"         + CASE WHEN cp.reset = 'never' THEN 1 ELSE 0 END,"
	"       day_items = CASE WHEN cp.reset = 'end_of_day'"
	"                        THEN (" PROFILE_USED ") + 1 ELSE ap.day_items END,"
	"       day = CASE WHEN cp.reset = 'end_of_day'"
	"                  THEN ($3 AT TIME ZONE a.timezone)::date ELSE ap.day END"
	PROFILE_FROM
	"   AND ($4 OR " PROFILE_USED " < " PROFILE_LIMIT ")"
	" RETURNING 1",
	4, {INT8OID, TEXTOID, TIMESTAMPTZOID, BOOLOID}, NULL
};

static UtilPlan profile_uncharge_plan = {
	"UPDATE omniroute.agent_profile ap"
	"   SET active_items = greatest(ap.active_items"
	"         - CASE WHEN cp.reset = 'never' THEN 1 ELSE 0 END, 0),"
	"       day_items = greatest(ap.day_items"
	"         - CASE WHEN cp.reset = 'end_of_day' THEN 1 ELSE 0 END, 0)"
	PROFILE_FROM,
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}, NULL
};

/* capacity released: a 'never' profile gives its slot back */
static UtilPlan profile_release_plan = {
	"UPDATE omniroute.agent_profile ap"
	"   SET active_items = greatest(ap.active_items - 1, 0)"
	"  FROM omniroute.capacity_profile cp"
	" WHERE ap.agent_id = $1 AND ap.profile = $2"
	"   AND cp.name = ap.profile AND cp.reset = 'never'",
	2, {INT8OID, TEXTOID}, NULL
};

/* ---------------------------------------------------------------- */

static int
cmp_time(TimestampTz a, bool anull, TimestampTz b, bool bnull)
{
	/* NULLS FIRST, then ascending */
	if (anull || bnull)
		return (anull ? 0 : 1) - (bnull ? 0 : 1);
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
cmp_int64(int64 a, int64 b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* the queue's method, then least recently assigned, then lowest id */
static int
cmp_method(const Candidate *a, const Candidate *b, AssignMethod method)
{
	int			c = 0;

	switch (method)
	{
		case METHOD_HIGHEST_CAPACITY:
			c = cmp_int64(b->free_units, a->free_units);
			break;
		case METHOD_ROUND_ROBIN:
			c = cmp_time(a->queue_last, a->queue_last_null, b->queue_last, b->queue_last_null);
			if (c == 0 && a->queue_last_null && b->queue_last_null)
				return cmp_int64(a->join_seq, b->join_seq);
			break;
		case METHOD_LEAST_ACTIVE:
			c = cmp_time(a->released, a->released_null, b->released, b->released_null);
			break;
	}
	if (c == 0)
		c = cmp_time(a->agent_last, a->agent_last_null, b->agent_last, b->agent_last_null);
	if (c == 0)
		c = cmp_int64(a->agent_id, b->agent_id);
	return c;
}

/* qsort_arg comparator: arg points to the queue's AssignMethod */
static int
cmp_candidate_qsort(const void *pa, const void *pb, void *arg)
{
	return cmp_method((const Candidate *) pa, (const Candidate *) pb, *(AssignMethod *) arg);
}

/* closest: those meeting every requirement, least over-qualified first; then
 * the rest by smallest shortfall; then the method (arg as above) */
static int
cmp_closest_qsort(const void *pa, const void *pb, void *arg)
{
	const Candidate *a = pa;
	const Candidate *b = pb;

	if (a->meets != b->meets)
		return a->meets ? -1 : 1;
	if (a->distance != b->distance)
		return a->distance < b->distance ? -1 : 1;
	return cmp_method(a, b, *(AssignMethod *) arg);
}

/* re-offers: fewest declines first, then as sort_by_method/_closest (arg: closest?) */
typedef struct DeclinerOrder
{
	AssignMethod method;
	bool		closest;
} DeclinerOrder;

static int
cmp_decliner_qsort(const void *pa, const void *pb, void *arg)
{
	const Candidate *a = pa;
	const Candidate *b = pb;
	DeclinerOrder *o = (DeclinerOrder *) arg;

	if (a->declines != b->declines)
		return a->declines < b->declines ? -1 : 1;
	if (o->closest)
		return cmp_closest_qsort(pa, pb, &o->method);
	return cmp_method(a, b, o->method);
}

/* the candidates in the method's order */
static void
sort_by_method(const AssignRequest *req, Candidate *cands, int n)
{
	AssignMethod method = req->queue->method;

	if (n > 1)
		qsort_arg(cands, n, sizeof(Candidate), cmp_candidate_qsort, &method);
}

/* the candidates in closest-skills order */
static void
sort_by_closest(const AssignRequest *req, Candidate *cands, int n)
{
	AssignMethod method = req->queue->method;

	if (n > 1)
		qsort_arg(cands, n, sizeof(Candidate), cmp_closest_qsort, &method);
}

/*
 * Fetch up to limit (0: all) candidates for each allowed presence (that
 * admit, if given, admits), merged in the method's order.  Returns how many;
 * *more says whether any range may have more rows, *passed how many admit
 * refused.
 */
static int
fetch_candidates(const AssignRequest *req, int64 limit, CandidateFilter admit, void *admit_arg,
				 CandidateCheck *check, Candidate **out, bool *more, int *passed)
{
	Candidate  *cands;
	int			n = direct_candidates(req->queue->method, req->queue->id, req->ws->presences,
									  req->ws->npresences, req->ws->capacity_units, limit,
									  admit, admit_arg, check, &cands, more, passed);

	sort_by_method(req, cands, n);
	*out = cands;
	return n;
}

/*
 * meets/distance of each candidate from have[i * rs->n + s], candidate i's
 * proficiency in required skill s (0 if none)
 */
static void
rate_levels(const RequiredSkills *rs, Candidate *cands, int n, const int32 *have)
{
	for (int i = 0; i < n; i++)
	{
		int32		over = 0;
		int32		under = 0;

		for (int s = 0; s < rs->n; s++)
		{
			int32		h = have[i * rs->n + s];
			int32		need = rs->levels[s];

			if (h >= need)
				over += h - need;
			else
				under += need - h;
		}
		cands[i].meets = (under == 0);
		cands[i].distance = cands[i].meets ? over : under;
	}
}

/* fill meets/distance for each candidate from their skills, read with SQL */
static void
rate_skills(const AssignRequest *req, Candidate *cands, int n)
{
	const RequiredSkills *rs = req->skills;
	Datum	   *ids;
	Datum	   *names;
	Datum		values[2];
	int32	   *have;
	uint64		got;

	ids = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(cands[i].agent_id);
	names = palloc(sizeof(Datum) * rs->n);
	for (int s = 0; s < rs->n; s++)
		names[s] = CStringGetTextDatum(rs->names[s]);
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(names, rs->n, TEXTOID, -1, false, TYPALIGN_INT));
	got = util_exec(util_plan(&skills_plan), values, NULL, false, 0, SPI_OK_SELECT);

	/* have[i * rs->n + s]: proficiency of candidate i in skill s, 0 if none */
	have = palloc0(sizeof(int32) * n * rs->n);
	for (uint64 r = 0; r < got; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		agent = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *skill = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		int32		prof = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));

		for (int i = 0; i < n; i++)
		{
			if (cands[i].agent_id != agent)
				continue;
			for (int s = 0; s < rs->n; s++)
				if (strcmp(rs->names[s], skill) == 0)
					have[i * rs->n + s] = prof;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	rate_levels(rs, cands, n, have);
}

static bool
is_excluded(const AssignRequest *req, int64 agent_id)
{
	for (int i = 0; i < req->nexcluded; i++)
		if (req->excluded[i] == agent_id)
			return true;
	return false;
}

/* take the agent's units; false if a concurrent transaction took them first */
static bool
reserve(const AssignRequest *req, const Candidate *c)
{
	return direct_agent_units(c->agent_id, req->ws->capacity_units, UNITS_RESERVE,
							  req->ws->presences, req->ws->npresences, &req->queue->id, 1,
							  req->now);
}

/* ----------------------------------------------------------------
 * Capacity profiles
 *
 * A workstream with a capacity profile counts items per agent: only agents
 * with that profile are eligible, and only while their count is below the
 * profile's max_items (or their own override).  'never' profiles count the
 * items holding capacity now; 'end_of_day' ones count the items assigned
 * since the agent's local midnight (the count restarts lazily on the first
 * assignment of a new day, so no job has to reset it).  The slot is taken
 * after the agent row is locked for the units, and re-checked then.
 * ----------------------------------------------------------------
 */
bool
assign_profile_charge(int64 agent_id, const char *profile, TimestampTz now, bool force)
{
	Datum		values[4];

	values[0] = Int64GetDatum(agent_id);
	values[1] = CStringGetTextDatum(profile);
	values[2] = TimestampTzGetDatum(now);
	values[3] = BoolGetDatum(force);
	return util_exec(util_plan(&profile_charge_plan), values, NULL, false, 0, SPI_OK_UPDATE_RETURNING) > 0;
}

void
assign_profile_uncharge(int64 agent_id, const char *profile, TimestampTz now)
{
	Datum		values[3];

	values[0] = Int64GetDatum(agent_id);
	values[1] = CStringGetTextDatum(profile);
	values[2] = TimestampTzGetDatum(now);
	util_exec(util_plan(&profile_uncharge_plan), values, NULL, false, 0, SPI_OK_UPDATE);
}

void
assign_profile_release(int64 agent_id, const char *profile)
{
	Datum		values[2];

	values[0] = Int64GetDatum(agent_id);
	values[1] = CStringGetTextDatum(profile);
	util_exec(util_plan(&profile_release_plan), values, NULL, false, 0, SPI_OK_UPDATE);
}

/* give back units reserved a moment ago (the profile refused the item) */
void
assign_unreserve(int64 agent_id, int32 units)
{
	direct_agent_units(agent_id, units, UNITS_RELEASE, NULL, 0, NULL, 0, 0);
}

/* mark the candidates with no free slot of the workstream's profile */
static void
rate_profiles(const AssignRequest *req, Candidate *cands, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum		values[3];
	uint64		got;

	for (int i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(cands[i].agent_id);
		cands[i].profile_room = false;
	}
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[1] = CStringGetTextDatum(req->ws->capacity_profile);
	values[2] = TimestampTzGetDatum(req->now);
	got = util_exec(util_plan(&profile_room_plan), values, NULL, false, 0, SPI_OK_SELECT);
	for (uint64 r = 0; r < got; r++)
	{
		int64		agent = util_col_int64(r, 1);

		for (int i = 0; i < n; i++)
			if (cands[i].agent_id == agent)
				cands[i].profile_room = true;
	}
}

bool
assign_if_room(int64 agent_id, int32 units, int64 queue_id, TimestampTz now)
{
	return direct_agent_units(agent_id, units, UNITS_ROOM, NULL, 0, &queue_id, 1, now);
}

bool
assign_force(int64 agent_id, int32 units, int64 queue_id, TimestampTz now)
{
	return direct_agent_units(agent_id, units, UNITS_FORCE, NULL, 0, &queue_id, 1, now);
}

/* ----------------------------------------------------------------
 * Skill reach
 *
 * For each queue, which members have which skill at which proficiency.
 * With exact matching the method's order ignores skills, so when few
 * members have what an item needs they are scattered through the order
 * (and sink in it: they get all of that work); reading the queue in order
 * until they turn up, or to its end to learn that nobody has the skill,
 * costs in proportion to the queue, on every such insert.  Instead:
 *   - a skill no member has at the level: nobody, without reading members;
 *   - few qualified members (k with k * k <= 4 * members): those are
 *     looked up by key and ordered by the method (skill first);
 *   - many: the method's order, members without the skills passed over
 *     on the agent id of their index entry, from this cache (a binary
 *     search per required skill, nothing read); the first one left in each
 *     presence is the best there.
 * Built per queue on first use (one pass over its members' skills) and
 * forgotten when skills or memberships change: the invalidate_cache
 * triggers on agent_skill and queue_member invalidate the sequence
 * skill_reach_signal, which a ConfigWatch follows (see config.c); not
 * the tables themselves, which every VACUUM of them invalidates too.
 * ----------------------------------------------------------------
 */
typedef struct ReachSkill
{
	char	   *name;
	int32		best;			/* the highest proficiency of a member */
	int			n;				/* members with the skill */
	int64	   *agents;			/* ascending */
	int32	   *levels;
} ReachSkill;

typedef struct ReachEntry
{
	int64		queue_id;		/* hash key */
	int			members;		/* members of the queue */
	int			n;
	ReachSkill *skills;
} ReachEntry;

static HTAB *reach_cache = NULL;
static MemoryContext reach_ctx = NULL;
/* the triggers on agent_skill and queue_member invalidate this one */
static const char *const reach_tables[] = {"skill_reach_signal"};
static ConfigWatch reach_watch = {.tables = reach_tables, .ntables = lengthof(reach_tables)};

static ReachEntry *
reach_of(const QueueConfig *queue)
{
	ReachEntry	built;
	ReachEntry *e;
	Datum		value = Int64GetDatum(queue->id);
	uint64		got;
	MemoryContext old;
	MemoryContext caller = CurrentMemoryContext;
	bool		keep;

	if (config_watch_begin(&reach_watch) || reach_cache == NULL)
	{
		if (reach_ctx != NULL)
			MemoryContextDelete(reach_ctx);
		reach_ctx = NULL;
		reach_cache = NULL;
		reach_ctx = AllocSetContextCreate(CacheMemoryContext, "omniroute skill reach",
										  ALLOCSET_DEFAULT_SIZES);
		reach_cache = util_int64_hash("omniroute skill reach", sizeof(ReachEntry), reach_ctx);
	}
	e = hash_search(reach_cache, &queue->id, HASH_FIND, NULL);
	if (e != NULL)
		return e;

	got = util_exec(util_plan(&reach_plans[queue->method]), &value, NULL, false, 0, SPI_OK_SELECT);
	/* the query may have processed an invalidation: then keep nothing */
	keep = !reach_watch.stale;

	/* built whole, then entered: an error half way leaves no entry */
	old = MemoryContextSwitchTo(keep ? reach_ctx : caller);
	memset(&built, 0, sizeof(built));
	built.queue_id = queue->id;
	built.members = got > 0 ? (int) util_col_int64(0, 4) : 0;
	built.skills = palloc(sizeof(ReachSkill) * Max(got, 1));
	for (uint64 i = 0; i < got; i++)
	{
		char	   *name = util_col_text(i, 1);
		int64		agent = util_col_int64(i, 2);
		int32		level = util_col_int32(i, 3);
		ReachSkill *rs = built.n > 0 ? &built.skills[built.n - 1] : NULL;

		/* rows come by skill, then agent */
		if (rs == NULL || strcmp(rs->name, name) != 0)
		{
			uint64		j = i;

			rs = &built.skills[built.n++];
			rs->name = name;
			rs->best = 0;
			rs->n = 0;
			while (j < got && strcmp(util_col_text(j, 1), name) == 0)
				j++;
			rs->agents = palloc(sizeof(int64) * (j - i));
			rs->levels = palloc(sizeof(int32) * (j - i));
		}
		rs->agents[rs->n] = agent;
		rs->levels[rs->n++] = level;
		rs->best = Max(rs->best, level);
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);

	if (!keep)
	{
		e = palloc(sizeof(ReachEntry));
		*e = built;
		return e;
	}
	e = hash_search(reach_cache, &queue->id, HASH_ENTER, NULL);
	*e = built;
	config_watch_loaded(&reach_watch);
	return e;
}

/* skill first up to this many qualified members per member, squared */
#define SKILL_FIRST_FACTOR 4

static const ReachSkill *
reach_skill(const ReachEntry *e, const char *name)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->skills[i].name, name) == 0)
			return &e->skills[i];
	return NULL;
}

/* proficiency of agent in a skill the cache knows, 0 if none */
static int32
reach_level(const ReachSkill *rs, int64 agent)
{
	int			lo = 0;
	int			hi = rs->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (rs->agents[mid] == agent)
			return rs->levels[mid];
		if (rs->agents[mid] < agent)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/*
 * An item's required skills as the queue's skill reach knows them: for
 * passing members over on their agent id (a CandidateFilter) and rating
 * the others, without reading anything
 */
typedef struct SkillFilter
{
	const RequiredSkills *rs;
	const ReachSkill **by_skill;	/* per required skill, NULL: nobody has it;
									 * the whole array NULL: reach not known */
} SkillFilter;

/* rate_skills() from the skill reach */
static void
rate_skills_reach(const SkillFilter *f, Candidate *cands, int n)
{
	const RequiredSkills *rs = f->rs;
	int32	   *have = palloc(sizeof(int32) * Max(n * rs->n, 1));

	for (int s = 0; s < rs->n; s++)
		for (int i = 0; i < n; i++)
			have[i * rs->n + s] = f->by_skill[s] ?
				reach_level(f->by_skill[s], cands[i].agent_id) : 0;
	rate_levels(rs, cands, n, have);
}

static bool
admit_skilled(int64 agent_id, void *arg)
{
	const SkillFilter *f = (const SkillFilter *) arg;

	for (int s = 0; s < f->rs->n; s++)
	{
		int32		need = f->rs->levels[s];

		if (need > 0 && (f->by_skill[s] == NULL || reach_level(f->by_skill[s], agent_id) < need))
			return false;
	}
	return true;
}

/*
 * Exact matching: the members who have every required skill at its level.
 * Returns false when some skill is out of reach (res says which); else
 * agents, surplus and n give the qualified members (n = -1: not known now,
 * or too many to be worth looking up one by one), and filter the skills
 * as the reach knows them (filter->by_skill NULL: not known now).
 */
static bool
skills_reach(const AssignRequest *req, AssignResult *res, int64 **agents, int32 **surplus,
			 int *n, SkillFilter *filter)
{
	ReachEntry *e = reach_of(req->queue);
	const ReachSkill *rarest = NULL;
	const ReachSkill **by_skill;
	int			count = 0;

	*n = -1;
	filter->rs = req->skills;
	filter->by_skill = NULL;
	if (e == NULL)
		return true;			/* not known now: let the members say */
	by_skill = palloc(sizeof(ReachSkill *) * req->skills->n);
	filter->by_skill = by_skill;
	for (int s = 0; s < req->skills->n; s++)
	{
		const ReachSkill *rs = reach_skill(e, req->skills->names[s]);
		int32		best = rs ? rs->best : 0;

		if (best < req->skills->levels[s])
		{
			res->unreached_skill = req->skills->names[s];
			res->unreached_level = req->skills->levels[s];
			res->unreached_best = best;
			return false;
		}
		by_skill[s] = rs;
		/* a level of 0 or less is met by every member, with the skill or not */
		if (req->skills->levels[s] > 0 && (rarest == NULL || rs->n < rarest->n))
			rarest = rs;
	}
	/*
	 * Looking the k qualified members up by key costs k reads; reading the
	 * method's order until one turns up costs about members / k.  Skill
	 * first while k * k <= SKILL_FIRST_FACTOR * members (a queue of 600: up
	 * to 49 qualified; of 6: all).
	 */
	if (rarest == NULL || (int64) rarest->n * rarest->n > (int64) SKILL_FIRST_FACTOR * e->members)
		return true;
	*agents = palloc(sizeof(int64) * rarest->n);
	*surplus = palloc(sizeof(int32) * rarest->n);
	for (int i = 0; i < rarest->n; i++)
	{
		int64		agent = rarest->agents[i];
		int32		over = 0;
		bool		meets = true;

		for (int s = 0; s < req->skills->n && meets; s++)
		{
			int32		have = by_skill[s] ? reach_level(by_skill[s], agent) : 0;

			meets = (have >= req->skills->levels[s]);
			over += have - req->skills->levels[s];
		}
		if (meets)
		{
			(*agents)[count] = agent;
			(*surplus)[count++] = over;
		}
	}
	if (count == 0)
	{
		res->unreached_skill = NULL;
		res->unreached_all = true;
		return false;
	}
	*n = count;
	return true;
}

/*
 * One search for an item's agent: how its candidates are found, and how
 * many of them are read per presence in the current round.
 */
typedef struct AssignSearch
{
	bool		use_skills;		/* the item's required skills count */
	bool		closest;		/* ... ranked by closeness (every member read) */
	int64		limit;			/* members read per presence (0: all) */
	SkillFilter filter;			/* exact skills as the skill reach knows them */
	int64	   *qualified;		/* skill first: the qualified members ... */
	int32	   *surplus;		/* ... and their over-qualification */
	int			nqualified;		/* -1: not skill first */
	CondCheck	cond;			/* the queue's agent condition ... */
	CandidateCheck check;		/* ... as the candidate scan applies it */
	CandidateCheck *checkp;		/* NULL: the queue has none */
	bool		scanned;		/* the candidates came from the scan, condition applied */
} AssignSearch;

/*
 * How many members to read per presence in the first round: every one for
 * closest skills; a batch when skills or a profile may pass some over
 * (rated in one query each); otherwise the head of each range, since the
 * best is nearly always taken, and more only when concurrent work took
 * those.  Exact skills that the skill reach judges need only the head as
 * well: whoever the filter admits meets them, and all who meet them rank
 * alike, so the first admitted member of each presence is the best there.
 */
static int64
first_round_limit(const AssignRequest *req, const AssignSearch *s)
{
	if (s->closest)
		return 0;
	if (s->filter.by_skill != NULL && req->ws->capacity_profile == NULL)
		return 1;
	return (s->use_skills || req->ws->capacity_profile != NULL) ? 8 : 1;
}

/* skill first: the few qualified members, by key, in the method's order */
static int
qualified_candidates(const AssignRequest *req, AssignSearch *s, Candidate **out)
{
	Candidate  *cands;
	int			n = direct_members(req->queue->id, s->qualified, s->nqualified,
								   req->ws->presences, req->ws->npresences,
								   req->ws->capacity_units, &cands);

	for (int i = 0; i < n; i++)
		for (int q = 0; q < s->nqualified; q++)
			if (s->qualified[q] == cands[i].agent_id)
				cands[i].distance = s->surplus[q];
	sort_by_method(req, cands, n);
	*out = cands;
	return n;
}

/*
 * Otherwise: the round's candidates in the method's order (exact skills
 * known from the skill reach pass over the others unread), rated for the
 * item's skills, in closest order for closest matching.
 */
static int
ranked_candidates(const AssignRequest *req, AssignSearch *s, Candidate **out, bool *more,
				  int *passed)
{
	int			n = fetch_candidates(req, s->limit, s->filter.by_skill ? admit_skilled : NULL,
									 &s->filter, s->checkp, out, more, passed);

	if (n > 0 && s->use_skills)
	{
		if (s->filter.by_skill != NULL)
			rate_skills_reach(&s->filter, *out, n);
		else
			rate_skills(req, *out, n);
		if (s->closest)
			sort_by_closest(req, *out, n);
	}
	return n;
}

/* the winner's figures for the diagnostics: its score by the queue's method */
static void
describe_winner(const AssignRequest *req, const Candidate *c, AssignResult *res)
{
	res->agent_id = c->agent_id;
	res->free_units = c->free_units;
	res->meets_skills = c->meets;
	res->skill_distance = c->distance;
	switch (req->queue->method)
	{
		case METHOD_HIGHEST_CAPACITY:
			res->score_time_null = true;
			break;
		case METHOD_ROUND_ROBIN:
			res->score_time = c->queue_last;
			res->score_time_null = c->queue_last_null;
			break;
		case METHOD_LEAST_ACTIVE:
			res->score_time = c->released;
			res->score_time_null = c->released_null;
			break;
	}
}

/*
 * Whether this candidate may have the item: its skills (exact), not
 * excluded, a profile slot; with req->reserve, its units and slot are
 * taken now (a concurrent transaction may have been first).  Counts the
 * reason it is passed over in res.
 */
static bool
candidate_takes(const AssignRequest *req, AssignSearch *s, const Candidate *c,
				AssignResult *res, bool reoffer)
{
	if (s->use_skills && !s->closest && !c->meets)
	{
		res->lacking_skills++;
		return false;
	}
	/*
	 * The agent condition: the candidate index scan applies it itself
	 * (ranked_candidates()); every other list is judged here, in its order.
	 */
	if (s->checkp != NULL && !s->scanned && !agentcond_admits(c->agent_id, &s->cond))
		return false;
	if (!reoffer && is_excluded(req, c->agent_id))
	{
		res->excluded++;
		return false;
	}
	if (req->ws->capacity_profile != NULL && !c->profile_room)
	{
		res->no_profile_slot++;
		return false;
	}
	if (req->reserve && !reserve(req, c))
	{
		res->raced++;
		return false;
	}
	if (req->reserve && req->ws->capacity_profile != NULL &&
		!assign_profile_charge(c->agent_id, req->ws->capacity_profile, req->now, false))
	{
		/* the slot went between our look and our lock */
		assign_unreserve(c->agent_id, req->ws->capacity_units);
		res->raced++;
		return false;
	}
	return true;
}

/*
 * One round: this round's candidates, best first, until one takes the
 * item.  Returns true with the winner in res; else *more says whether a
 * later round with a larger limit may find more.
 */
static bool
choose_round(const AssignRequest *req, AssignSearch *s, AssignResult *res, bool *more)
{
	Candidate  *cands;
	int			n;
	int			passed = 0;

	*more = false;
	s->cond.failed = 0;
	s->scanned = s->nqualified < 0;
	if (s->nqualified >= 0)
		n = qualified_candidates(req, s, &cands);
	else
		n = ranked_candidates(req, s, &cands, more, &passed);
	if (n > 0 && req->ws->capacity_profile != NULL)
		rate_profiles(req, cands, n);

	res->examined = passed + s->cond.failed;
	res->raced = 0;
	res->lacking_skills = passed;
	res->excluded = 0;
	res->no_profile_slot = 0;
	for (int i = 0; i < n; i++)
	{
		res->examined++;
		if (candidate_takes(req, s, &cands[i], res, false))
		{
			res->failed_condition = s->cond.failed;
			describe_winner(req, &cands[i], res);
			return true;
		}
	}
	res->failed_condition = s->cond.failed;
	return false;
}

/*
 * The agents who declined the item fewer than max_offers_per_agent times,
 * each once, with how many times they did.  Returns how many.
 */
static int
reoffer_decliners(const AssignRequest *req, int64 **ids, int **counts)
{
	int64	   *a = palloc(sizeof(int64) * Max(req->nexcluded, 1));
	int		   *c = palloc(sizeof(int) * Max(req->nexcluded, 1));
	int			n = 0;
	int			kept = 0;

	for (int i = 0; i < req->nexcluded; i++)
	{
		int			j = 0;

		while (j < n && a[j] != req->excluded[i])
			j++;
		if (j == n)
		{
			a[n] = req->excluded[i];
			c[n++] = 0;
		}
		c[j]++;
	}
	for (int j = 0; j < n; j++)
		if (c[j] < req->ws->max_offers)
		{
			a[kept] = a[j];
			c[kept++] = c[j];
		}
	*ids = a;
	*counts = c;
	return kept;
}

/*
 * The second pass of a re-offer, when nobody who never declined the item
 * could take it: the decliners under the limit who are members with an
 * allowed presence and room, read by key, fewest declines first, then in
 * the method's (or closest skills') order, each checked as in a round.
 */
static bool
choose_decliners(const AssignRequest *req, AssignSearch *s, AssignResult *res)
{
	int64	   *ids;
	int		   *counts;
	int			n = reoffer_decliners(req, &ids, &counts);
	Candidate  *cands;
	DeclinerOrder order = {req->queue->method, s->closest};

	if (n == 0)
		return false;
	s->scanned = false;
	n = direct_members(req->queue->id, ids, n, req->ws->presences, req->ws->npresences,
					   req->ws->capacity_units, &cands);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < req->nexcluded; k++)
			cands[i].declines += (req->excluded[k] == cands[i].agent_id);
	if (n > 0 && s->use_skills)
	{
		if (s->filter.by_skill != NULL)
			rate_skills_reach(&s->filter, cands, n);
		else
			rate_skills(req, cands, n);
	}
	if (n > 1)
		qsort_arg(cands, n, sizeof(Candidate), cmp_decliner_qsort, &order);
	if (n > 0 && req->ws->capacity_profile != NULL)
		rate_profiles(req, cands, n);
	for (int i = 0; i < n; i++)
	{
		res->examined++;
		if (candidate_takes(req, s, &cands[i], res, true))
		{
			describe_winner(req, &cands[i], res);
			res->declined_before = cands[i].declines;
			return true;
		}
	}
	return false;
}

/* the queue's agent condition, if it has one, ready for candidate_takes() and the scans */
static void
condition_begin(const AssignRequest *req, AssignSearch *s)
{
	if (req->queue->condition == NULL)
		return;
	if (req->item == NULL && agentcond_reads_item(req->queue->condition))
		elog(ERROR, "omniroute: queue " INT64_FORMAT " has an agent condition but no item was given",
			 req->queue->id);
	agentcond_begin(&s->cond, req->queue->condition, req->item);
	s->check.check = agentcond_admits;
	s->check.arg = &s->cond;
	s->checkp = &s->check;
}

/*
 * Choose (and, with req->reserve, reserve) the best eligible agent for an
 * item in req->queue.  The caller is connected to SPI.  Returns false when
 * nobody is eligible.  Exact skills are looked up in the queue's skill
 * reach first (a skill nobody has ends the search unread; few qualified
 * members are read by key); then rounds of candidates, each reading
 * further than the last, until one takes the item or none is left.
 * Skills are judged by the item's skill matching if a step set one
 * (req->skill_matching), else by its workstream's.
 */
bool
assign_choose(const AssignRequest *req, AssignResult *res)
{
	AssignSearch s = {0};
	SkillMatching matching = config_item_matching(req->ws, req->skill_matching);

	memset(res, 0, sizeof(AssignResult));
	if (req->ws->npresences == 0)
		return false;
	s.use_skills = req->skills != NULL && req->skills->n > 0 && matching != SKILLS_NONE;
	s.closest = s.use_skills && matching == SKILLS_CLOSEST;
	s.nqualified = -1;
	condition_begin(req, &s);
	if (s.use_skills && !s.closest &&
		!skills_reach(req, res, &s.qualified, &s.surplus, &s.nqualified, &s.filter))
		return false;
	s.limit = first_round_limit(req, &s);

	for (;;)
	{
		bool		more;

		if (choose_round(req, &s, res, &more))
			return true;
		if (!more)
			break;
		/* every candidate of this round was passed over: look further */
		s.limit = (s.limit >= 512) ? 0 : s.limit * 8;
	}
	/* nobody else: those who declined it, while under the limit */
	return req->ws->max_offers > 1 && req->nexcluded > 0 && choose_decliners(req, &s, res);
}

/* ----------------------------------------------------------------
 * Preferred agents (src/prefer.c decides when this applies)
 *
 * The customer's preferred agents are few and named: they are read by key
 * (direct_members: members of the queue with an allowed presence and room),
 * rated for skills and the profile as a batch would be, and tried best rank
 * first; ties go by closeness for closest matching, then by the queue's
 * method order (which ends with the lowest id).  Each is judged by
 * candidate_takes(), the one place every push candidate is judged.
 * ----------------------------------------------------------------
 */
typedef struct PreferOrder
{
	AssignMethod method;
	bool		closest;
	const int64 *agents;
	const int32 *ranks;
	int			n;
} PreferOrder;

static int32
preferred_rank(const PreferOrder *o, int64 agent_id)
{
	for (int i = 0; i < o->n; i++)
		if (o->agents[i] == agent_id)
			return o->ranks[i];
	return PG_INT32_MAX;
}

static int
cmp_preferred_qsort(const void *pa, const void *pb, void *arg)
{
	const PreferOrder *o = (const PreferOrder *) arg;
	const Candidate *a = pa;
	const Candidate *b = pb;
	int32		ra = preferred_rank(o, a->agent_id);
	int32		rb = preferred_rank(o, b->agent_id);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (o->closest)
		return cmp_closest_qsort(pa, pb, (void *) &o->method);
	return cmp_method(a, b, o->method);
}

bool
assign_choose_preferred(const AssignRequest *req, const int64 *agents, const int32 *ranks,
						int n, AssignResult *res)
{
	AssignSearch s = {0};
	PreferOrder order = {req->queue->method, false, agents, ranks, n};
	Candidate  *cands;
	int			ncands;

	SkillMatching matching = config_item_matching(req->ws, req->skill_matching);

	memset(res, 0, sizeof(AssignResult));
	if (req->ws->npresences == 0 || n == 0)
		return false;
	s.use_skills = req->skills != NULL && req->skills->n > 0 && matching != SKILLS_NONE;
	s.closest = order.closest = s.use_skills && matching == SKILLS_CLOSEST;
	s.nqualified = -1;
	condition_begin(req, &s);
	ncands = direct_members(req->queue->id, agents, n, req->ws->presences,
							req->ws->npresences, req->ws->capacity_units, &cands);
	if (ncands > 0 && s.use_skills)
		rate_skills(req, cands, ncands);
	if (ncands > 0 && req->ws->capacity_profile != NULL)
		rate_profiles(req, cands, ncands);
	if (ncands > 1)
		qsort_arg(cands, ncands, sizeof(Candidate), cmp_preferred_qsort, &order);
	for (int i = 0; i < ncands; i++)
	{
		res->examined++;
		if (candidate_takes(req, &s, &cands[i], res, false))
		{
			describe_winner(req, &cands[i], res);
			res->rank = preferred_rank(&order, cands[i].agent_id);
			return true;
		}
	}
	return false;
}

/* the "assignment" member of diagnostics for a successful choice */
static void
assign_result_json(JsonBuild *b, const AssignRequest *req, const AssignResult *res)
{
	jb_kv_string(b, "outcome", req->ws->auto_accept ? "active" : "offered");
	jb_kv_int(b, "agent_id", res->agent_id);
	jb_kv_string(b, "method", config_method_name(req->queue->method));
	jb_key(b, "score");
	jb_object(b);
	switch (req->queue->method)
	{
		case METHOD_HIGHEST_CAPACITY:
			jb_kv_int(b, "free_units", res->free_units);
			break;
		case METHOD_ROUND_ROBIN:
			jb_key(b, "last_assigned_from_queue");
			jb_time(b, res->score_time, res->score_time_null);
			break;
		case METHOD_LEAST_ACTIVE:
			jb_key(b, "last_released");
			jb_time(b, res->score_time, res->score_time_null);
			break;
	}
	if (req->skills != NULL && req->skills->n > 0 &&
		config_item_matching(req->ws, req->skill_matching) != SKILLS_NONE)
	{
		jb_kv_string(b, "skills", res->meets_skills ? "met" : "closest");
		jb_kv_int(b, res->meets_skills ? "skill_surplus" : "skill_shortfall", res->skill_distance);
	}
	jb_end_object(b);
	jb_kv_int(b, "candidates_examined", res->examined);
	if (res->failed_condition > 0)
		jb_kv_int(b, "agent_condition_failed", res->failed_condition);
	if (res->raced > 0)
		jb_kv_int(b, "lost_to_concurrent", res->raced);
	if (res->declined_before > 0)
	{
		jb_kv_string(b, "reoffer",
					 psprintf("declined %d of %d times before; nobody who declined it fewer times was eligible",
							  res->declined_before, req->ws->max_offers));
	}
	if (req->preferred_note != NULL)
		jb_kv_string(b, "preferred", req->preferred_note);
}

/* ... and when nobody was eligible: say why */
static void
assign_none_json(JsonBuild *b, const AssignRequest *req, const AssignResult *res)
{
	const char *reason;

	if (res->unreached_skill != NULL)
		reason = psprintf("no member of queue \"%s\" has skill \"%s\" at level %d (best: %d)",
						  req->queue->name, res->unreached_skill,
						  res->unreached_level, res->unreached_best);
	else if (res->unreached_all)
		reason = psprintf("no member of queue \"%s\" has every required skill at its level",
						  req->queue->name);
	else if (res->examined == 0)
		reason = psprintf("no member of queue \"%s\" has an allowed presence and %d free unit(s)",
						  req->queue->name, req->ws->capacity_units);
	else if (res->lacking_skills == res->examined)
		reason = psprintf("%d member(s) with room, none with the required skills",
						  res->examined);
	else if (res->failed_condition == res->examined)
		reason = psprintf("%d member(s) with room, none satisfying the agent condition of queue \"%s\"",
						  res->examined, req->queue->name);
	else if (res->no_profile_slot == res->examined)
		reason = psprintf("%d member(s) with room, none with a free slot of capacity profile \"%s\"",
						  res->examined, req->ws->capacity_profile);
	else
		reason = psprintf("%d member(s) with room: %d without the skills, %d without a capacity profile slot, %d rejected or missed it before, %d taken by concurrent work%s",
						  res->examined, res->lacking_skills, res->no_profile_slot,
						  res->excluded, res->raced,
						  res->failed_condition > 0 ?
						  psprintf(", %d not satisfying the agent condition", res->failed_condition) : "");
	jb_kv_string(b, "outcome", "open");
	jb_kv_string(b, "reason", reason);
	jb_kv_string(b, "method", config_method_name(req->queue->method));
	jb_kv_int(b, "candidates_examined", res->examined);
	if (req->preferred_note != NULL)
		jb_kv_string(b, "preferred", req->preferred_note);
	if (res->failed_condition > 0)
		jb_kv_int(b, "agent_condition_failed", res->failed_condition);
}

/* whether the request's queue is closed now by its operating hours: it offers to nobody */
static bool
assign_queue_closed(const AssignRequest *req)
{
	const char *hours = req->queue->operating_hours;

	return hours != NULL && !hours_is_open(hours, req->now);
}

/*
 * Choose (and with req->reserve, reserve) an agent and add the
 * diagnostics' "assignment" object to diag, as a value or an element.
 */
bool
assign_and_describe(const AssignRequest *req, AssignResult *res, JsonBuild *diag)
{
	bool		found;

	jb_object(diag);
	if (req->ws->pick_mode || assign_queue_closed(req))
	{
		memset(res, 0, sizeof(AssignResult));
		jb_kv_string(diag, "outcome", "open");
		jb_kv_string(diag, "reason", req->ws->pick_mode ? "pick mode: waiting to be picked" : "queue closed");
		found = false;
	}
	else if ((found = assign_choose(req, res)))
		assign_result_json(diag, req, res);
	else
		assign_none_json(diag, req, res);
	jb_end_object(diag);
	return found;
}
