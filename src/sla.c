/*-------------------------------------------------------------------------
 *
 * sla.c
 *	  What the customer waits for: queue_position(id), where an
 *	  open item stands in its queue, and estimated_wait(id), how long it
 *	  may still wait.  (abandon(id) is a lifecycle function: lifecycle.c.)
 *
 *	  Position 1 is the next item the queue will serve, in the order
 *	  serving and picking use (serve.c): effective priority first (the
 *	  item's priority plus, with its workstream's priority_aging, one for
 *	  each whole priority_aging waited since created_at), then created_at,
 *	  then id.  The position is 1 + the number of open items of the queue
 *	  ahead, counted from work_item_open_idx without reading the rest of
 *	  the queue.  The index holds a queue's open items in groups
 *	  (workstream, required skills, skill matching), each in (priority
 *	  DESC, created_at, id) order; per group:
 *	    - every item of a priority above the item's effective priority E
 *	      is ahead (aging only adds): one range count;
 *	    - in a group without aging, the items of priority E that are older
 *	      (created_at, id) are ahead: one range count;
 *	    - in a group with aging, each priority level p <= E present (found
 *	      by a loose scan, one descent per level) has its items ahead as a
 *	      prefix in age order -- the older an item, the higher its
 *	      effective priority -- ending at a created_at computed here from
 *	      E - p and the aging interval (level_bound): one range count.
 *	  So a call reads the groups of the queue, the levels at or below E
 *	  of the groups with aging, and the index entries of the items ahead:
 *	  its time grows with the items ahead, not with the queue behind.
 *
 *	  estimated_wait is the position times the average interval between
 *	  consecutive answers in the item's queue over the last hour (the span
 *	  from the first to the last answer over the answers less one), read
 *	  from work_item_event_answer_idx (and each answerer's agent row, to
 *	  pass over bots): NULL with fewer than two answers.  "Answered" is
 *	  defined where that index is (sql/omniroute.sql), in the words
 *	  queue_interval_stats uses too.
 *
 *	  Both are as of now() of the calling transaction, and answer NULL for
 *	  an item that is not open or that an agent may not read (the
 *	  agent_read policy: lifecycle_may_read); the app, admin and supervisor
 *	  roles read every item.  They run as the extension owner (priv.c),
 *	  take no locks beyond those of their reads, and write nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "item.h"
#include "lifecycle.h"
#include "omniroute.h"
#include "priv.h"
#include "util.h"

/* the aging interval in microseconds, as serve.c's extract(epoch ...) reads it */
#define AGING_US(col) "(extract(epoch FROM " col ") * 1000000)::int8"

static UtilPlan item_plan = {
	"SELECT i.state, i.queue_id, i.workstream_id, i.required_skills, i.priority,"
	"       i.created_at, " AGING_US("w.priority_aging")
	"  FROM omniroute.work_item i"
	"  LEFT JOIN omniroute.workstream w ON w.id = i.workstream_id"
	" WHERE i.id = $1",
	1, {INT8OID}, NULL
};

/*
 * The groups of the queue's open items: a skip scan, one descent per
 * group.  The group after g is the first of: a later skill matching of
 * g's workstream and skills, their unset one (NULL, last in the index)
 * after a set one, the next workstream and skills (as serve.c reads them).
 */
#define SLA_GROUP "i.workstream_id, i.required_skills, i.skill_matching"
#define SLA_SAME_SKILLS \
	" AND i.workstream_id = g.workstream_id AND i.required_skills = g.required_skills"

static UtilPlan groups_plan = {
	"WITH RECURSIVE g AS ("
	"    (SELECT " SLA_GROUP
	"       FROM omniroute.work_item i"
	"      WHERE i.queue_id = $1 AND i.state = 'open'"
	"      ORDER BY " SLA_GROUP " LIMIT 1)"
	"  UNION ALL"
	"    SELECT n.workstream_id, n.required_skills, n.skill_matching"
	"      FROM g CROSS JOIN LATERAL"
	"           (SELECT * FROM"
	"             ((SELECT " SLA_GROUP " FROM omniroute.work_item i"
	"                WHERE i.queue_id = $1 AND i.state = 'open'" SLA_SAME_SKILLS
	"                  AND i.skill_matching > g.skill_matching"
	"                ORDER BY i.skill_matching LIMIT 1)"
	"              UNION ALL"
	"              (SELECT " SLA_GROUP " FROM omniroute.work_item i"
	"                WHERE g.skill_matching IS NOT NULL"
	"                  AND i.queue_id = $1 AND i.state = 'open'" SLA_SAME_SKILLS
	"                  AND i.skill_matching IS NULL"
	"                ORDER BY i.skill_matching LIMIT 1)"
	"              UNION ALL"
	"              (SELECT " SLA_GROUP " FROM omniroute.work_item i"
	"                WHERE i.queue_id = $1 AND i.state = 'open'"
	"                  AND (i.workstream_id, i.required_skills)"
	"                      > (g.workstream_id, g.required_skills)"
	"                ORDER BY " SLA_GROUP " LIMIT 1)) x"
	"            LIMIT 1) n)"
	"SELECT g.workstream_id, g.required_skills, " AGING_US("w.priority_aging") ", g.skill_matching"
	"  FROM g LEFT JOIN omniroute.workstream w ON w.id = g.workstream_id",
	1, {INT8OID}, NULL
};

/*
 * The open items of group ($1, $2, $3, matching): the matching NULL
 * (IN_GROUP_UNSET) or $5 (IN_GROUP_SET).  A NULL cannot be compared with
 * "=", hence two forms of each statement; and IS NULL does not make the
 * column a constant to the planner, hence skill_matching first in every
 * ORDER BY, so that the index order is used as it is.
 */
#define IN_GROUP(matching) \
	"i.queue_id = $1 AND i.workstream_id = $2 AND i.required_skills = $3" \
	" AND " matching " AND i.state = 'open'"
#define IN_GROUP_UNSET IN_GROUP("i.skill_matching IS NULL")
#define IN_GROUP_SET IN_GROUP("i.skill_matching = $5")

/* the items of a group above a priority: the head of its range */
#define ABOVE_SQL(in_group) \
	"SELECT count(*) FROM omniroute.work_item i WHERE " in_group " AND i.priority > $4"

static UtilPlan above_plans[2] = {
	{ABOVE_SQL(IN_GROUP_UNSET), 4, {INT8OID, INT8OID, JSONBOID, INT8OID}, NULL},
	{ABOVE_SQL(IN_GROUP_SET), 5, {INT8OID, INT8OID, JSONBOID, INT8OID, TEXTOID}, NULL},
};

/* the priority levels of a group at or below $4, best first (loose scan) */
#define LEVELS_SQL(in_group) \
	"WITH RECURSIVE lv(priority) AS (" \
	"    (SELECT i.priority FROM omniroute.work_item i" \
	"      WHERE " in_group " AND i.priority <= $4" \
	"      ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id LIMIT 1)" \
	"  UNION ALL" \
	"    SELECT n.priority" \
	"      FROM lv CROSS JOIN LATERAL" \
	"           (SELECT i.priority FROM omniroute.work_item i" \
	"             WHERE " in_group " AND i.priority < lv.priority" \
	"             ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id LIMIT 1) n)" \
	"SELECT priority FROM lv"

static UtilPlan levels_plans[2] = {
	{LEVELS_SQL(IN_GROUP_UNSET), 4, {INT8OID, INT8OID, JSONBOID, INT8OID}, NULL},
	{LEVELS_SQL(IN_GROUP_SET), 5, {INT8OID, INT8OID, JSONBOID, INT8OID, TEXTOID}, NULL},
};

/*
 * For each (group, level, bound): the items of that level of that group
 * before the bound in age order -- with the priority an equality, the
 * bound ends the index range, so nothing behind it is read.
 */
#define LEVEL_COUNT(matching) \
	"(SELECT count(*) FROM omniroute.work_item i" \
	"  WHERE i.queue_id = $1 AND i.workstream_id = r.workstream_id" \
	"    AND i.required_skills = r.required_skills AND " matching " AND i.state = 'open'" \
	"    AND i.priority = r.priority AND (i.created_at, i.id) < (r.t, r.tid))"

static UtilPlan level_counts_plan = {
	"SELECT coalesce(sum(c.n), 0)::int8"
	"  FROM unnest($2, $3, $4, $5, $6, $7)"
	"       AS r(workstream_id, required_skills, priority, t, tid, skill_matching)"
	" CROSS JOIN LATERAL"
	"       (SELECT " LEVEL_COUNT("r.skill_matching IS NULL AND i.skill_matching IS NULL")
	"             + " LEVEL_COUNT("i.skill_matching = r.skill_matching") " AS n) c",
	7, {INT8OID, INT8ARRAYOID, JSONBARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID,
		TEXTARRAYOID}, NULL
};

/* the answers of a queue in the hour up to $2 (work_item_event_answer_idx) */
static UtilPlan answers_plan = {
	"SELECT count(*), min(e.at), max(e.at) FROM omniroute.work_item_event e"
	" WHERE e.queue_id = $1 AND e.at > $2 - interval '1 hour' AND e.at <= $2"
	"   AND e.event IN ('accepted', 'assigned', 'picked')"
	"   AND NOT EXISTS (SELECT 1 FROM omniroute.agent b WHERE b.id = e.agent_id AND b.is_bot)",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};

/* an item as position and estimate see it */
typedef struct SlaItem
{
	int64		id;
	ItemState	state;
	int64		queue_id;
	int64		ws_id;
	Datum		skills;			/* jsonb */
	int32		priority;
	TimestampTz created;
	int64		effective;		/* priority with aging, at now */
	TimestampTz now;
} SlaItem;

/* the level counts to make: (group, level, bound) */
typedef struct LevelCounts
{
	int			n;
	int			cap;
	Datum	   *ws;
	Datum	   *skills;
	Datum	   *priority;
	Datum	   *t;
	Datum	   *tid;
	Datum	   *matching;		/* text, (Datum) 0 for NULL */
} LevelCounts;

/*
 * The whole aging intervals waited from created to now, as serve.c's
 * SERVE_AGING_BONUS computes them (0 before created, or without aging).
 */
static int64
aging_bonus(TimestampTz now, TimestampTz created, int64 aging)
{
	int64		waited;

	if (aging <= 0 || now <= created)
		return 0;
	if (pg_sub_s64_overflow(now, created, &waited))
		return PG_INT64_MAX / aging;
	return waited / aging;
}

/* now - m agings: an item created at or before it has waited m of them */
static TimestampTz
aged_since(TimestampTz now, int64 m, int64 aging)
{
	int64		span;
	int64		t;

	if (pg_mul_s64_overflow(m, aging, &span) || pg_sub_s64_overflow(now, span, &t))
		return DT_NOBEGIN;
	return t;
}

/*
 * The bound (t, tid) in age order before which an item of level p of a
 * group with aging is ahead of the item: with k = E - p, an item of level
 * p with k + 1 or more agings waited (created at or before lo) is ahead;
 * one with exactly k (after lo, and for k > 0 at or before hi) is ahead
 * if it is older than the item; one with fewer is behind.
 */
static void
level_bound(const SlaItem *it, int64 p, int64 aging, TimestampTz *t, int64 *tid)
{
	int64		k = it->effective - p;
	int64		k1;
	TimestampTz lo;

	lo = pg_add_s64_overflow(k, 1, &k1) ? DT_NOBEGIN : aged_since(it->now, k1, aging);
	*t = it->created;
	*tid = it->id;
	if (it->created <= lo)
	{
		*t = lo;
		*tid = PG_INT64_MAX;
	}
	else if (k > 0 && it->created > aged_since(it->now, k, aging))
	{
		*t = aged_since(it->now, k, aging);
		*tid = PG_INT64_MAX;
	}
}

static void
add_level(LevelCounts *lc, Datum ws, Datum skills, Datum matching, int32 p, TimestampTz t,
		  int64 tid)
{
	if (lc->n == lc->cap)
	{
		lc->cap = lc->cap ? lc->cap * 2 : 8;
		lc->ws = repalloc(lc->ws, sizeof(Datum) * lc->cap);
		lc->skills = repalloc(lc->skills, sizeof(Datum) * lc->cap);
		lc->priority = repalloc(lc->priority, sizeof(Datum) * lc->cap);
		lc->t = repalloc(lc->t, sizeof(Datum) * lc->cap);
		lc->tid = repalloc(lc->tid, sizeof(Datum) * lc->cap);
		lc->matching = repalloc(lc->matching, sizeof(Datum) * lc->cap);
	}
	lc->ws[lc->n] = ws;
	lc->skills[lc->n] = skills;
	lc->priority[lc->n] = Int32GetDatum(p);
	lc->t[lc->n] = TimestampTzGetDatum(t);
	lc->tid[lc->n] = Int64GetDatum(tid);
	lc->matching[lc->n] = matching;
	lc->n++;
}

/*
 * The items of one group ahead of the item: returns those above its
 * effective priority, and adds the levels to count to lc.  matching is
 * the group's skill matching (text), (Datum) 0 for NULL.
 */
static int64
group_ahead(const SlaItem *it, Datum ws, Datum skills, Datum matching, int64 aging,
			LevelCounts *lc)
{
	Datum		values[5] = {Int64GetDatum(it->queue_id), ws, skills,
							 Int64GetDatum(it->effective), matching};
	int			set = (matching != (Datum) 0);	/* which form of the statements */
	int64		above;
	uint64		nlevels;
	int64	   *levels;

	util_exec(util_plan(&above_plans[set]), values, NULL, true, 0, SPI_OK_SELECT);
	above = util_col_int64(0, 1);
	if (aging == 0)
	{
		/* no aging: the older items of the item's effective priority */
		if (it->effective <= PG_INT32_MAX)
			add_level(lc, ws, skills, matching, (int32) it->effective, it->created, it->id);
		return above;
	}
	nlevels = util_exec(util_plan(&levels_plans[set]), values, NULL, true, 0, SPI_OK_SELECT);
	levels = palloc(sizeof(int64) * (nlevels + 1));
	for (uint64 i = 0; i < nlevels; i++)
		levels[i] = util_col_int32(i, 1);
	for (uint64 i = 0; i < nlevels; i++)
	{
		TimestampTz t;
		int64		tid;

		level_bound(it, levels[i], aging, &t, &tid);
		add_level(lc, ws, skills, matching, (int32) levels[i], t, tid);
	}
	return above;
}

static Datum
array_of(Datum *values, int n, Oid type)
{
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_array(values, n, type, len, byval, align));
}

/* the group matchings of lc as a text[], NULL where unset */
static Datum
matchings_of(const LevelCounts *lc)
{
	bool	   *isnull = palloc(sizeof(bool) * (lc->n + 1));
	int			dims[1] = {lc->n};
	int			lbs[1] = {1};

	for (int i = 0; i < lc->n; i++)
		isnull[i] = (lc->matching[i] == (Datum) 0);
	return PointerGetDatum(construct_md_array(lc->matching, isnull, 1, dims, lbs, TEXTOID, -1,
											  false, TYPALIGN_INT));
}

/* the open items of the item's queue ahead of it */
static int64
items_ahead(const SlaItem *it)
{
	Datum		values[7];
	uint64		ngroups;
	Datum	   *ws;
	Datum	   *skills;
	Datum	   *matching;
	int64	   *aging;
	int64		ahead = 0;
	LevelCounts lc = {0, 8, NULL, NULL, NULL, NULL, NULL, NULL};

	values[0] = Int64GetDatum(it->queue_id);
	ngroups = util_exec(util_plan(&groups_plan), values, NULL, true, 0, SPI_OK_SELECT);
	/* copied out of SPI: the counts below replace its result */
	ws = palloc(sizeof(Datum) * (ngroups + 1));
	skills = palloc(sizeof(Datum) * (ngroups + 1));
	matching = palloc(sizeof(Datum) * (ngroups + 1));
	aging = palloc(sizeof(int64) * (ngroups + 1));
	for (uint64 g = 0; g < ngroups; g++)
	{
		bool		isnull;
		char	   *m;

		ws[g] = Int64GetDatum(util_col_int64(g, 1));
		skills[g] = PointerGetDatum(DatumGetJsonbPCopy(util_col(g, 2, &isnull)));
		(void) util_col(g, 3, &isnull);
		aging[g] = isnull ? 0 : util_col_int64(g, 3);
		m = util_col_text(g, 4);
		matching[g] = m ? CStringGetTextDatum(m) : (Datum) 0;
	}
	lc.ws = palloc(sizeof(Datum) * lc.cap);
	lc.skills = palloc(sizeof(Datum) * lc.cap);
	lc.priority = palloc(sizeof(Datum) * lc.cap);
	lc.t = palloc(sizeof(Datum) * lc.cap);
	lc.tid = palloc(sizeof(Datum) * lc.cap);
	lc.matching = palloc(sizeof(Datum) * lc.cap);
	for (uint64 g = 0; g < ngroups; g++)
		ahead += group_ahead(it, ws[g], skills[g], matching[g], aging[g], &lc);
	if (lc.n == 0)
		return ahead;
	values[1] = array_of(lc.ws, lc.n, INT8OID);
	values[2] = array_of(lc.skills, lc.n, JSONBOID);
	values[3] = array_of(lc.priority, lc.n, INT4OID);
	values[4] = array_of(lc.t, lc.n, TIMESTAMPTZOID);
	values[5] = array_of(lc.tid, lc.n, INT8OID);
	values[6] = matchings_of(&lc);
	util_exec(util_plan(&level_counts_plan), values, NULL, true, 0, SPI_OK_SELECT);
	return ahead + util_col_int64(0, 1);
}

/*
 * Whether the caller may read the item: the app, admin and supervisor
 * roles any; an agent an open item of a pick-mode queue of theirs (an item
 * they hold is not open, so has no position anyway).
 */
static bool
may_read(const Caller *caller, const SlaItem *it)
{
	Oid			app = get_role_oid("omniroute_app", true);
	WorkItem	w;

	if (priv_acts_on_any(caller) || (OidIsValid(app) && has_privs_of_role(caller->userid, app)))
		return true;
	if (caller->agent_id == 0)
		return false;
	memset(&w, 0, sizeof(w));
	w.id = it->id;
	w.ws_id = it->ws_id;
	w.state = it->state;
	w.queue_id = it->queue_id;
	return lifecycle_may_read(caller->agent_id, &w);
}

/*
 * Read the item; false if there is none, it is not open or the caller may
 * not read it.
 */
static bool
read_open_item(const Caller *caller, int64 id, SlaItem *it)
{
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	int64		aging;

	if (util_exec(util_plan(&item_plan), values, NULL, true, 0, SPI_OK_SELECT) == 0)
		return false;
	it->id = id;
	it->state = item_state_parse(util_col_text(0, 1));
	if (it->state != ITEM_OPEN)
		return false;
	it->queue_id = util_col_int64(0, 2);
	it->ws_id = util_col_int64(0, 3);
	it->skills = PointerGetDatum(DatumGetJsonbPCopy(util_col(0, 4, &isnull)));
	it->priority = util_col_int32(0, 5);
	it->created = DatumGetTimestampTz(util_col(0, 6, &isnull));
	(void) util_col(0, 7, &isnull);
	aging = isnull ? 0 : util_col_int64(0, 7);
	it->now = GetCurrentTransactionStartTimestamp();
	if (pg_add_s64_overflow(it->priority, aging_bonus(it->now, it->created, aging), &it->effective))
		it->effective = PG_INT64_MAX;
	return may_read(caller, it);
}

/*
 * The start of both functions: SPI, the extension owner's rights, and
 * index scans for the counts (a count of most of a queue must still walk
 * the index range, not the table with its history).
 */
static void
sla_begin(Caller *caller)
{
	omniroute_check_version();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	priv_enter(caller);
	(void) set_config_option("enable_seqscan", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

static void
sla_end(Caller *caller)
{
	priv_leave(caller);
	SPI_finish();
}

/* the position of the item (0: none) */
static int64
position_of(const Caller *caller, int64 id, SlaItem *it)
{
	if (!read_open_item(caller, id, it))
		return 0;
	return 1 + items_ahead(it);
}

PG_FUNCTION_INFO_V1(omniroute_queue_position);

Datum
omniroute_queue_position(PG_FUNCTION_ARGS)
{
	Caller		caller;
	SlaItem		it;
	int64		pos;

	sla_begin(&caller);
	pos = position_of(&caller, PG_GETARG_INT64(0), &it);
	sla_end(&caller);
	if (pos == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) Min(pos, PG_INT32_MAX));
}

/*
 * The average interval between consecutive answers in the queue over the
 * hour up to now, times n, in microseconds; false with fewer than two
 * answers.
 */
static bool
answer_pace(int64 queue_id, TimestampTz now, int64 n, int64 *result)
{
	Datum		values[2] = {Int64GetDatum(queue_id), TimestampTzGetDatum(now)};
	bool		isnull;
	int64		answers;
	int64		span;
	int64		total;

	util_exec(util_plan(&answers_plan), values, NULL, true, 0, SPI_OK_SELECT);
	answers = util_col_int64(0, 1);
	if (answers < 2)
		return false;
	span = DatumGetTimestampTz(util_col(0, 3, &isnull)) - DatumGetTimestampTz(util_col(0, 2, &isnull));
	if (pg_mul_s64_overflow(span, n, &total))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("estimated wait out of range for queue " INT64_FORMAT " at position " INT64_FORMAT,
						queue_id, n)));
	/* rounded to the nearest microsecond */
	*result = (total + (answers - 1) / 2) / (answers - 1);
	return true;
}

PG_FUNCTION_INFO_V1(omniroute_estimated_wait);

Datum
omniroute_estimated_wait(PG_FUNCTION_ARGS)
{
	Caller		caller;
	SlaItem		it;
	int64		pos;
	int64		wait = 0;
	bool		known;
	Interval   *result;

	sla_begin(&caller);
	pos = position_of(&caller, PG_GETARG_INT64(0), &it);
	known = pos != 0 && answer_pace(it.queue_id, it.now, pos, &wait);
	sla_end(&caller);
	if (!known)
		PG_RETURN_NULL();
	result = palloc0(sizeof(Interval));
	result->time = wait;
	PG_RETURN_INTERVAL_P(result);
}
