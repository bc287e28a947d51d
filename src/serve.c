/*-------------------------------------------------------------------------
 *
 * serve.c
 *	  Serving waiting work: when an agent frees capacity (an item closes or
 *	  leaves active work, their presence becomes allowed, they join a queue,
 *	  their capacity grows), give them the best open items they can take,
 *	  in the transaction that freed them.
 *
 *	  Order: queue priority, then item priority, then age -- the top open
 *	  items of each of the agent's queues come from work_item_open_idx, one
 *	  index range per queue, merged in that order.  An item is taken only if
 *	  the agent may have it: a push workstream, an allowed presence, enough
 *	  free units, the skills (exact matching), and not rejected or missed by
 *	  this agent before.
 *
 *	  Locking: the agent row first (FOR UPDATE: its free units are ours to
 *	  hand out), then each item with FOR UPDATE SKIP LOCKED, so two agents
 *	  serving at once never wait for each other's items and never take the
 *	  same one; an item another transaction holds is simply skipped.  Items
 *	  are never waited on here, so no lock cycle can form with the insert
 *	  path (agent row only) or the lifecycle functions (item, then agent).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "assign.h"
#include "catalog.h"
#include "direct.h"
#include "events.h"
#include "route.h"
#include "serve.h"
#include "util.h"

static int	serve_or_pick(int64 agent_id, TimestampTz now, EventBuf *events,
						  bool skip_locked, bool pick, int64 *picked);

static SPIPlanPtr lock_agent_plan;
static SPIPlanPtr try_lock_agent_plan;
static SPIPlanPtr agent_skills_plan;
static SPIPlanPtr open_items_plan;
static SPIPlanPtr take_item_plan;

static bool plans_ready = false;

static void
prepare_plans(void)
{
	if (plans_ready)
		return;
	{
		Oid			types[1] = {INT8OID};

		lock_agent_plan = util_prepare("SELECT capacity - used_units, presence, is_bot"
									   "  FROM omniroute.agent WHERE id = $1 FOR UPDATE", 1, types);
		try_lock_agent_plan = util_prepare("SELECT capacity - used_units, presence, is_bot"
										   "  FROM omniroute.agent WHERE id = $1"
										   "   FOR UPDATE SKIP LOCKED", 1, types);
		agent_skills_plan = util_prepare("SELECT skill, proficiency FROM omniroute.agent_skill"
										 " WHERE agent_id = $1", 1, types);
	}
	{
		Oid			types[2] = {INT8OID, INT8OID};

		open_items_plan = util_prepare(
									   "SELECT w.id, w.workstream_id, w.required_skills, m.queue_id, w.declined_agents"
									   "  FROM omniroute.queue_member m"
									   "  JOIN omniroute.queue q ON q.id = m.queue_id"
									   " CROSS JOIN LATERAL"
									   "       (SELECT i.id, i.workstream_id, i.required_skills, i.priority,"
									   "               i.created_at, i.declined_agents"
									   "          FROM omniroute.work_item i"
									   "         WHERE i.queue_id = m.queue_id AND i.state = 'open'"
									   "         ORDER BY i.priority DESC, i.created_at, i.id"
									   "         LIMIT $2) w"
									   " WHERE m.agent_id = $1"
									   " ORDER BY q.priority DESC, w.priority DESC, w.created_at, w.id",
									   2, types);
	}
	{
		Oid			types[7] = {INT8OID, TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, JSONBOID, TEXTOID};

		take_item_plan = util_prepare(
									  "UPDATE omniroute.work_item"
									  "   SET state = $2, agent_id = $3, reserved_units = $4, offered_at = $5,"
									  "       assigned_at = CASE WHEN $2 = 'active' THEN $5 END,"
									  "       last_activity_at = $5, profile = $7,"
									  "       diagnostics = coalesce(diagnostics, '{}')"
									  "                     || jsonb_build_object('assignment', $6)"
									  " WHERE id = (SELECT id FROM omniroute.work_item"
									  "              WHERE id = $1 AND state = 'open'"
									  "              FOR UPDATE SKIP LOCKED)"
									  " RETURNING id", 7, types);
	}
	/* only now: a failed prepare above is retried on the next call */
	plans_ready = true;
}

typedef struct AgentSkills
{
	bool		loaded;
	int			n;
	char	  **names;
	int32	   *levels;
} AgentSkills;

static bool
has_skills(int64 agent_id, AgentSkills *as, const RequiredSkills *req)
{
	if (!as->loaded)
	{
		Datum		values[1] = {Int64GetDatum(agent_id)};
		uint64		n = util_exec(agent_skills_plan, values, NULL, false, 0, SPI_OK_SELECT);

		as->n = (int) n;
		as->names = palloc(sizeof(char *) * (n + 1));
		as->levels = palloc(sizeof(int32) * (n + 1));
		for (uint64 i = 0; i < n; i++)
		{
			as->names[i] = util_col_text(i, 1);
			as->levels[i] = util_col_int32(i, 2);
		}
		as->loaded = true;
	}
	for (int r = 0; r < req->n; r++)
	{
		int			k;

		for (k = 0; k < as->n; k++)
			if (strcmp(as->names[k], req->names[r]) == 0)
				break;
		if (k == as->n || as->levels[k] < req->levels[r])
			return false;
	}
	return true;
}

static bool
presence_allowed(WorkstreamConfig *ws, const char *presence)
{
	for (int i = 0; i < ws->npresences; i++)
		if (strcmp(ws->presences[i], presence) == 0)
			return true;
	return false;
}

static bool
declined_by(Datum arr, int64 agent_id)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(a, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && DatumGetInt64(elems[i]) == agent_id)
			return true;
	return false;
}

typedef struct Taken
{
	int64		item;
	int64		ws;
	int64		queue;
	bool		active;
	TimestampTz expires;
} Taken;

/*
 * Give agent_id the best open items they can take.  The caller is
 * connected to SPI and privileged.  Returns how many items were taken.
 * With skip_locked, an agent row another transaction holds is left alone
 * (tick() must never wait).
 */
int
serve_agent_ext(int64 agent_id, TimestampTz now, EventBuf *events, bool skip_locked)
{
	return serve_or_pick(agent_id, now, events, skip_locked, false, NULL);
}

/*
 * The agent takes the best open item of their queues they may have
 * (pick_next): any mode, whatever their presence; it becomes active.
 * Returns the item's id, or 0.
 */
int64
pick_next_for(int64 agent_id, TimestampTz now, EventBuf *events)
{
	int64		item = 0;

	serve_or_pick(agent_id, now, events, false, true, &item);
	return item;
}

/*
 * Serving (push: items of push workstreams whose allowed presences include
 * the agent's, as many as fit) and picking (one item, any workstream, the
 * agent asked for it) share the search.
 */
static int
serve_or_pick(int64 agent_id, TimestampTz now, EventBuf *events, bool skip_locked,
			  bool pick, int64 *picked)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int32		free_units;
	char	   *presence;
	bool		isnull;
	int64		limit = 32;
	AgentSkills skills = {0};
	HTAB	   *seen;
	Taken	   *taken = NULL;
	int			ntaken = 0;
	int			cap = 0;

	prepare_plans();
	values[0] = Int64GetDatum(agent_id);
	if (util_exec(skip_locked ? try_lock_agent_plan : lock_agent_plan,
				  values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return 0;
	free_units = util_col_int32(0, 1);
	presence = util_col_text(0, 2);
	if (DatumGetBool(util_col(0, 3, &isnull)))
		return 0;				/* bots take work only as a workstream's bot */

	seen = util_int64_hash("omniroute served items", sizeof(int64), CurrentMemoryContext);

	for (;;)
	{
		uint64		n;
		SPITupleTable *tt;
		bool		more;
		bool		fresh = false;

		values[0] = Int64GetDatum(agent_id);
		values[1] = Int64GetDatum(limit);
		n = util_exec(open_items_plan, values, NULL, false, 0, SPI_OK_SELECT);
		tt = SPI_tuptable;
		more = n >= (uint64) limit;

		for (uint64 i = 0; i < n; i++)
		{
			int64		item;
			int64		ws_id;
			int64		queue_id;
			WorkstreamConfig *ws;
			bool		found;
			Datum		skills_datum;
			Datum		declined;
			StringInfoData diag;

			SPI_tuptable = tt;
			item = util_col_int64(i, 1);
			hash_search(seen, &item, HASH_ENTER, &found);
			if (found)
				continue;
			fresh = true;
			ws_id = util_col_int64(i, 2);
			skills_datum = util_col(i, 3, &isnull);
			queue_id = util_col_int64(i, 4);
			declined = util_col(i, 5, &isnull);

			ws = catalog_workstream(ws_id);
			if (ws == NULL || ws->capacity_units > free_units || declined_by(declined, agent_id))
				continue;
			if (!pick && (ws->pick_mode || !presence_allowed(ws, presence)))
				continue;
			if (ws->skill_matching == SKILLS_EXACT)
			{
				RequiredSkills rs;

				parse_required_skills(DatumGetJsonbP(skills_datum), &rs);
				if (rs.n > 0 && !has_skills(agent_id, &skills, &rs))
					continue;
				SPI_tuptable = tt;
			}

			initStringInfo(&diag);
			if (pick)
				appendStringInfo(&diag, "{\"outcome\": \"active\", \"agent_id\": " INT64_FORMAT
								 ", \"method\": \"picked\"}", agent_id);
			else
				appendStringInfo(&diag, "{\"outcome\": \"%s\", \"agent_id\": " INT64_FORMAT
								 ", \"method\": \"served\", \"reason\": \"the agent freed capacity\"}",
								 ws->auto_accept ? "active" : "offered", agent_id);
			values[0] = Int64GetDatum(item);
			values[1] = CStringGetTextDatum(pick || ws->auto_accept ? "active" : "offered");
			values[2] = Int64GetDatum(agent_id);
			values[3] = Int32GetDatum(ws->capacity_units);
			values[4] = TimestampTzGetDatum(now);
			values[5] = util_jsonb(diag.data);
			nulls[6] = 'n';
			if (ws->capacity_profile != NULL)
			{
				/* the agent row is ours: the slot check cannot race */
				if (!assign_profile_charge(agent_id, ws->capacity_profile, now, false))
				{
					SPI_tuptable = tt;
					continue;
				}
				values[6] = CStringGetTextDatum(ws->capacity_profile);
				nulls[6] = ' ';
			}
			if (util_exec(take_item_plan, values, nulls, false, 0, SPI_OK_UPDATE_RETURNING) == 0)
			{
				if (ws->capacity_profile != NULL)
					assign_profile_uncharge(agent_id, ws->capacity_profile, now);
				SPI_tuptable = tt;
				continue;		/* another transaction holds it */
			}
			SPI_tuptable = tt;
			free_units -= ws->capacity_units;
			if (ntaken == cap)
			{
				cap = cap ? cap * 2 : 8;
				taken = taken ? repalloc(taken, sizeof(Taken) * cap) : palloc(sizeof(Taken) * cap);
			}
			taken[ntaken].item = item;
			taken[ntaken].ws = ws_id;
			taken[ntaken].queue = queue_id;
			taken[ntaken].active = pick || ws->auto_accept;
			taken[ntaken].expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																			TimestampTzGetDatum(now),
																			IntervalPGetDatum(&ws->offer_timeout)));
			ntaken++;
			if (pick)
			{
				*picked = item;
				break;
			}
		}
		if (pick && ntaken > 0)
			break;
		if (!more || !fresh || free_units <= 0)
			break;
		limit *= 4;
	}

	if (ntaken == 0)
		return 0;

	{
		int32		units = 0;
		int64	   *queues = palloc(sizeof(int64) * ntaken);

		/* the units taken: what the items reserved; the agent row is ours */
		for (int i = 0; i < ntaken; i++)
		{
			units += catalog_workstream(taken[i].ws)->capacity_units;
			queues[i] = taken[i].queue;
		}
		direct_agent_units(agent_id, units, UNITS_FORCE, NULL, 0, queues, ntaken, now);
	}

	for (int i = 0; i < ntaken; i++)
	{
		const char *ev = pick ? "picked" : taken[i].active ? "assigned" : "offered";

		events_add(events, taken[i].item, ev, agent_id, taken[i].queue,
				   pick ? NULL : "{\"served\": true}");
		notify_agent(agent_id, pick ? "assigned" : ev, taken[i].item, taken[i].ws, taken[i].queue,
					 taken[i].active ? NULL : &taken[i].expires);
	}
	return ntaken;
}

int
serve_agent(int64 agent_id, TimestampTz now, EventBuf *events)
{
	return serve_agent_ext(agent_id, now, events, false);
}
