/*-------------------------------------------------------------------------
 *
 * assign.c
 *	  Choose the agent for a work item and reserve their capacity.
 *
 *	  Candidates come from queue_member, which carries a copy of each
 *	  member's presence, free units and assignment times.  For each presence
 *	  the workstream allows we read one range of the index that matches the
 *	  queue's method, best first and LIMITed, so the cost does not grow with
 *	  the size of the queue or of the agent table; the ranges are merged in
 *	  the method's order.  Skill requirements are then checked for the batch
 *	  in one query.  Only "closest" skill matching must see every eligible
 *	  member, since its ranking cuts across the method's order.
 *
 *	  Reservation is one conditional UPDATE of the agent row:
 *		  used_units + units <= capacity AND presence allowed
 *	  Under READ COMMITTED a concurrent reservation for the same agent
 *	  blocks on the row lock and then re-evaluates that condition against
 *	  the committed row, so two transactions can never both take the last
 *	  unit: the loser's UPDATE finds no row and we move on to the next
 *	  candidate.  Lock order is always agent row, then its queue_member rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "assign.h"

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
} Candidate;

static SPIPlanPtr candidate_plans[3];
static SPIPlanPtr skills_plan;
static SPIPlanPtr reserve_plan;
static SPIPlanPtr members_plan;

static const char *const candidate_sql[3] = {
	/* highest_capacity */
	"SELECT agent_id, free_units, agent_last_assigned_at, queue_last_assigned_at,"
	"       last_released_at, join_seq"
	"  FROM omniroute.queue_member"
	" WHERE queue_id = $1 AND presence = $2 AND free_units >= $3"
	" ORDER BY free_units DESC, agent_last_assigned_at NULLS FIRST, agent_id"
	" LIMIT $4",
	/* round_robin */
	"SELECT agent_id, free_units, agent_last_assigned_at, queue_last_assigned_at,"
	"       last_released_at, join_seq"
	"  FROM omniroute.queue_member"
	" WHERE queue_id = $1 AND presence = $2 AND free_units >= $3"
	" ORDER BY queue_last_assigned_at NULLS FIRST, join_seq"
	" LIMIT $4",
	/* least_active */
	"SELECT agent_id, free_units, agent_last_assigned_at, queue_last_assigned_at,"
	"       last_released_at, join_seq"
	"  FROM omniroute.queue_member"
	" WHERE queue_id = $1 AND presence = $2 AND free_units >= $3"
	" ORDER BY last_released_at NULLS FIRST, agent_last_assigned_at NULLS FIRST, agent_id"
	" LIMIT $4",
};

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "omniroute: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
prepare_plans(void)
{
	if (candidate_plans[0] != NULL)
		return;
	{
		Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT8OID};

		for (int i = 0; i < 3; i++)
			candidate_plans[i] = prepare(candidate_sql[i], 4, types);
	}
	{
		Oid			types[2] = {INT8ARRAYOID, TEXTARRAYOID};

		skills_plan = prepare("SELECT agent_id, skill, proficiency FROM omniroute.agent_skill"
							  " WHERE agent_id = ANY ($1) AND skill = ANY ($2)", 2, types);
	}
	{
		Oid			types[4] = {INT8OID, INT4OID, TIMESTAMPTZOID, TEXTARRAYOID};

		reserve_plan = prepare("UPDATE omniroute.agent"
							   "   SET used_units = used_units + $2, last_assigned_at = $3"
							   " WHERE id = $1 AND capacity - used_units >= $2"
							   "   AND presence = ANY ($4)"
							   " RETURNING capacity - used_units", 4, types);
	}
	{
		Oid			types[4] = {INT8OID, INT4OID, TIMESTAMPTZOID, INT8OID};

		members_plan = prepare("UPDATE omniroute.queue_member"
							   "   SET free_units = $2, agent_last_assigned_at = $3,"
							   "       queue_last_assigned_at = CASE WHEN queue_id = $4 THEN $3"
							   "                                     ELSE queue_last_assigned_at END"
							   " WHERE agent_id = $1", 4, types);
	}
}

/* ---------------------------------------------------------------- */

static AssignMethod sort_method;

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
cmp_method(const Candidate *a, const Candidate *b)
{
	int			c = 0;

	switch (sort_method)
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

static int
cmp_candidate_qsort(const void *pa, const void *pb)
{
	return cmp_method((const Candidate *) pa, (const Candidate *) pb);
}

/* closest: those meeting every requirement, least over-qualified first; then
 * the rest by smallest shortfall; then the method */
static int
cmp_closest_qsort(const void *pa, const void *pb)
{
	const Candidate *a = pa;
	const Candidate *b = pb;

	if (a->meets != b->meets)
		return a->meets ? -1 : 1;
	if (a->distance != b->distance)
		return a->distance < b->distance ? -1 : 1;
	return cmp_method(a, b);
}

/*
 * Fetch up to limit (0: all) candidates for each allowed presence, merged
 * in the method's order.  Returns how many; *more says whether any range
 * may have more rows.
 */
static int
fetch_candidates(const AssignRequest *req, int64 limit, Candidate **out, bool *more)
{
	WorkstreamConfig *ws = req->ws;
	SPIPlanPtr	plan = candidate_plans[req->queue->method];
	Candidate  *cands = NULL;
	int			n = 0;
	int			cap = 0;

	*more = false;
	for (int p = 0; p < ws->npresences; p++)
	{
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', limit > 0 ? ' ' : 'n'};
		MemoryContext caller = CurrentMemoryContext;
		int			ret;

		values[0] = Int64GetDatum(req->queue->id);
		values[1] = CStringGetTextDatum(ws->presences[p]);
		values[2] = Int32GetDatum(ws->capacity_units);
		values[3] = Int64GetDatum(limit);
		ret = SPI_execute_plan(plan, values, nulls, true, 0);
		MemoryContextSwitchTo(caller);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "omniroute: candidate query failed: %s", SPI_result_code_string(ret));
		if (limit > 0 && SPI_processed >= (uint64) limit)
			*more = true;
		if (SPI_processed == 0)
			continue;
		if (cands == NULL)
		{
			cap = (int) SPI_processed * ws->npresences;
			cands = palloc(sizeof(Candidate) * cap);
		}
		else if (n + (int) SPI_processed > cap)
		{
			cap = n + (int) SPI_processed * 2;
			cands = repalloc(cands, sizeof(Candidate) * cap);
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Candidate  *c = &cands[n++];
			bool		isnull;

			c->agent_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			c->free_units = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			c->agent_last = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &c->agent_last_null));
			c->queue_last = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &c->queue_last_null));
			c->released = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &c->released_null));
			c->join_seq = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
			c->meets = true;
			c->distance = 0;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (n > 1)
	{
		sort_method = req->queue->method;
		qsort(cands, n, sizeof(Candidate), cmp_candidate_qsort);
	}
	*out = cands;
	return n;
}

/* fill meets/distance for each candidate from their skills */
static void
rate_skills(const AssignRequest *req, Candidate *cands, int n)
{
	const RequiredSkills *rs = req->skills;
	Datum	   *ids;
	Datum	   *names;
	Datum		values[2];
	int32	   *have;
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

	ids = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(cands[i].agent_id);
	names = palloc(sizeof(Datum) * rs->n);
	for (int s = 0; s < rs->n; s++)
		names[s] = CStringGetTextDatum(rs->names[s]);
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(names, rs->n, TEXTOID, -1, false, TYPALIGN_INT));
	ret = SPI_execute_plan(skills_plan, values, NULL, true, 0);
	MemoryContextSwitchTo(caller);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "omniroute: skill query failed: %s", SPI_result_code_string(ret));

	/* have[i * rs->n + s]: proficiency of candidate i in skill s, 0 if none */
	have = palloc0(sizeof(int32) * n * rs->n);
	for (uint64 r = 0; r < SPI_processed; r++)
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
	Datum		values[4];
	MemoryContext caller = CurrentMemoryContext;
	int			ret;
	int32		free_after;
	bool		isnull;

	values[0] = Int64GetDatum(c->agent_id);
	values[1] = Int32GetDatum(req->ws->capacity_units);
	values[2] = TimestampTzGetDatum(req->now);
	values[3] = req->ws->presence_array;
	ret = SPI_execute_plan(reserve_plan, values, NULL, false, 0);
	MemoryContextSwitchTo(caller);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "omniroute: reservation failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	free_after = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);

	values[1] = Int32GetDatum(free_after);
	values[3] = Int64GetDatum(req->queue->id);
	ret = SPI_execute_plan(members_plan, values, NULL, false, 0);
	MemoryContextSwitchTo(caller);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "omniroute: membership update failed: %s", SPI_result_code_string(ret));
	return true;
}

/*
 * Choose (and, with req->reserve, reserve) the best eligible agent for an
 * item in req->queue.  The caller is connected to SPI.  Returns false when
 * nobody is eligible.
 */
bool
assign_choose(const AssignRequest *req, AssignResult *res)
{
	bool		use_skills = req->skills != NULL && req->skills->n > 0 &&
		req->ws->skill_matching != SKILLS_NONE;
	bool		closest = use_skills && req->ws->skill_matching == SKILLS_CLOSEST;
	int64		limit = closest ? 0 : 8;

	memset(res, 0, sizeof(AssignResult));
	if (req->ws->npresences == 0)
		return false;
	prepare_plans();

	for (;;)
	{
		Candidate  *cands;
		bool		more;
		int			n = fetch_candidates(req, limit, &cands, &more);

		if (n > 0 && use_skills)
		{
			rate_skills(req, cands, n);
			if (closest)
				qsort(cands, n, sizeof(Candidate), cmp_closest_qsort);
		}
		res->examined = 0;
		res->raced = 0;
		res->lacking_skills = 0;
		res->excluded = 0;
		for (int i = 0; i < n; i++)
		{
			Candidate  *c = &cands[i];

			res->examined++;
			if (use_skills && !closest && !c->meets)
			{
				res->lacking_skills++;
				continue;
			}
			if (is_excluded(req, c->agent_id))
			{
				res->excluded++;
				continue;
			}
			if (req->reserve && !reserve(req, c))
			{
				res->raced++;
				continue;
			}
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
			return true;
		}
		if (!more)
			return false;
		/* every candidate of this batch was passed over: look further */
		limit = (limit >= 512) ? 0 : limit * 8;
	}
}

static void
append_time(StringInfo buf, TimestampTz t, bool isnull)
{
	if (isnull)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, timestamptz_to_str(t));
}

/* the "assignment" member of diagnostics for a successful choice */
static void
assign_result_json(StringInfo buf, const AssignRequest *req, const AssignResult *res)
{
	appendStringInfo(buf, "\"outcome\": \"%s\", \"agent_id\": " INT64_FORMAT ", \"method\": ",
					 req->ws->auto_accept ? "active" : "offered", res->agent_id);
	escape_json(buf, method_name(req->queue->method));
	appendStringInfoString(buf, ", \"score\": {");
	switch (req->queue->method)
	{
		case METHOD_HIGHEST_CAPACITY:
			appendStringInfo(buf, "\"free_units\": %d", res->free_units);
			break;
		case METHOD_ROUND_ROBIN:
			appendStringInfoString(buf, "\"last_assigned_from_queue\": ");
			append_time(buf, res->score_time, res->score_time_null);
			break;
		case METHOD_LEAST_ACTIVE:
			appendStringInfoString(buf, "\"last_released\": ");
			append_time(buf, res->score_time, res->score_time_null);
			break;
	}
	if (req->skills != NULL && req->skills->n > 0 && req->ws->skill_matching != SKILLS_NONE)
		appendStringInfo(buf, ", \"skills\": \"%s\", \"skill_%s\": %d",
						 res->meets_skills ? "met" : "closest",
						 res->meets_skills ? "surplus" : "shortfall",
						 res->skill_distance);
	appendStringInfo(buf, "}, \"candidates_examined\": %d", res->examined);
	if (res->raced > 0)
		appendStringInfo(buf, ", \"lost_to_concurrent\": %d", res->raced);
}

/* ... and when nobody was eligible: say why */
static void
assign_none_json(StringInfo buf, const AssignRequest *req, const AssignResult *res)
{
	appendStringInfoString(buf, "\"outcome\": \"open\", \"reason\": ");
	if (res->examined == 0)
		escape_json(buf, psprintf("no member of queue \"%s\" has an allowed presence and %d free unit(s)",
								  req->queue->name, req->ws->capacity_units));
	else if (res->lacking_skills == res->examined)
		escape_json(buf, psprintf("%d member(s) with room, none with the required skills",
								  res->examined));
	else
		escape_json(buf, psprintf("%d member(s) with room: %d without the skills, %d rejected or missed it before, %d taken by concurrent work",
								  res->examined, res->lacking_skills, res->excluded, res->raced));
	appendStringInfoString(buf, ", \"method\": ");
	escape_json(buf, method_name(req->queue->method));
	appendStringInfo(buf, ", \"candidates_examined\": %d", res->examined);
}

/*
 * Choose (and with req->reserve, reserve) an agent and append the
 * diagnostics' "assignment" object, braces included.
 */
bool
assign_and_describe(const AssignRequest *req, AssignResult *res, StringInfo diag)
{
	bool		found;

	appendStringInfoChar(diag, '{');
	if (req->ws->pick_mode)
	{
		memset(res, 0, sizeof(AssignResult));
		appendStringInfoString(diag, "\"outcome\": \"open\", \"reason\": \"pick mode: waiting to be picked\"");
		found = false;
	}
	else if ((found = assign_choose(req, res)))
		assign_result_json(diag, req, res);
	else
		assign_none_json(diag, req, res);
	appendStringInfoChar(diag, '}');
	return found;
}
