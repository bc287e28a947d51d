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
 *	  the agent may have it (refusal()): a push workstream, an allowed
 *	  presence, enough free units, the skills (exact matching), not
 *	  rejected or missed by this agent before, and a free slot of the
 *	  workstream's capacity profile.
 *
 *	  Picking (pick_next(), pick(id)) is the same search and the same rules
 *	  but for the mode: pick workstreams only, which are never served.  So
 *	  is an agent's handing an item to a colleague (transfer_to_agent by an
 *	  agent), whatever the mode.  Only admins and supervisors may give work
 *	  to an agent these rules would not (lifecycle.c, give_to_agent).
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
static SPIPlanPtr member_plan;

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

		member_plan = util_prepare("SELECT 1 FROM omniroute.queue_member"
								   " WHERE agent_id = $1 AND queue_id = $2", 2, types);
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

/* an agent as serving and picking see them: their row locked */
typedef struct ServeAgent
{
	int64		id;
	int32		free_units;
	char	   *presence;
	bool		is_bot;
	AgentSkills skills;
} ServeAgent;

/* what an agent would take: a workstream's items, or one of them */
typedef enum ServeMode
{
	SERVE_PUSH,					/* serving freed capacity: push items */
	SERVE_PICK,					/* pick(id), pick_next(): pick items */
	SERVE_HANDOVER				/* an agent hands their item to a colleague */
} ServeMode;

/* lock the agent's row; false if it is gone (or held, with skip_locked) */
static bool
lock_agent(int64 agent_id, bool skip_locked, ServeAgent *ag)
{
	Datum		values[1] = {Int64GetDatum(agent_id)};
	bool		isnull;

	prepare_plans();
	memset(ag, 0, sizeof(ServeAgent));
	if (util_exec(skip_locked ? try_lock_agent_plan : lock_agent_plan,
				  values, NULL, false, 0, SPI_OK_SELECT) == 0)
		return false;
	ag->id = agent_id;
	ag->free_units = util_col_int32(0, 1);
	ag->presence = util_col_text(0, 2);
	ag->is_bot = DatumGetBool(util_col(0, 3, &isnull));
	return true;
}

/* the agent's proficiency in a skill, 0 if none (their skills read once) */
static int32
skill_level(ServeAgent *ag, const char *skill)
{
	AgentSkills *as = &ag->skills;

	if (!as->loaded)
	{
		Datum		values[1] = {Int64GetDatum(ag->id)};
		SPITupleTable *saved = SPI_tuptable;
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
		SPI_tuptable = saved;
	}
	for (int k = 0; k < as->n; k++)
		if (strcmp(as->names[k], skill) == 0)
			return as->levels[k];
	return 0;
}

static bool
presence_allowed(WorkstreamConfig *ws, const char *presence)
{
	for (int i = 0; i < ws->npresences; i++)
		if (strcmp(ws->presences[i], presence) == 0)
			return true;
	return false;
}

/* whether the agent is in an item's declined_agents (rejected or missed it) */
bool
serve_declined_by(Datum arr, int64 agent_id)
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

/* "available, busy": every presence a workstream allows, by name or base */
static char *
allowed_list(WorkstreamConfig *ws)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < ws->npresences; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "", ws->presences[i]);
	return s.data;
}

/*
 * Whether the agent may take an open item of workstream ws, by the rules
 * of push assignment (README, Concepts) whoever asks, in this order:
 * not a bot; the mode (push items are served, pick items picked; a
 * handover takes either); an allowed presence (by name or base); free
 * units for the workstream's; not rejected or missed by this agent
 * before; with exact skill matching, every required skill at its level
 * (closest and none never hold an item back for skills).  Membership of
 * the item's queue is the caller's to check (serving reads only the
 * agent's queues), and so is the capacity profile slot, which is taken,
 * not looked at.
 *
 * Returns 0 when the agent may take it; else the SQLSTATE of the refusal,
 * with *why (if why is not NULL) saying what is missing.
 */
static int
refusal(ServeAgent *ag, WorkstreamConfig *ws, ServeMode mode, int64 item,
		Datum declined, Jsonb *required, char **why)
{
	if (ws == NULL)
	{
		if (why)
			*why = psprintf("its workstream is gone");
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if (ag->is_bot)
	{
		/* bots take work only as a workstream's bot */
		if (why)
			*why = psprintf("agent " INT64_FORMAT " is a bot", ag->id);
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if ((mode == SERVE_PUSH && ws->pick_mode) || (mode == SERVE_PICK && !ws->pick_mode))
	{
		if (why)
			*why = psprintf("workstream \"%s\" is in %s mode", ws->name,
							ws->pick_mode ? "pick" : "push");
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if (!presence_allowed(ws, ag->presence))
	{
		if (why)
			*why = psprintf("presence \"%s\" is not allowed by workstream \"%s\" (allowed: %s)",
							ag->presence, ws->name, allowed_list(ws));
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if (ws->capacity_units > ag->free_units)
	{
		if (why)
			*why = psprintf("it needs %d free unit(s), agent " INT64_FORMAT " has %d",
							ws->capacity_units, ag->id, ag->free_units);
		return ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
	}
	if (serve_declined_by(declined, ag->id))
	{
		if (why)
			*why = psprintf("agent " INT64_FORMAT " rejected or missed work item " INT64_FORMAT " before",
							ag->id, item);
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if (ws->skill_matching == SKILLS_EXACT && required != NULL)
	{
		RequiredSkills rs;

		parse_required_skills(required, &rs);
		for (int r = 0; r < rs.n; r++)
		{
			int32		have = skill_level(ag, rs.names[r]);

			if (have < rs.levels[r])
			{
				if (why)
					*why = have == 0 ?
						psprintf("work item " INT64_FORMAT " needs skill %s at %d; agent " INT64_FORMAT " has none",
								 item, rs.names[r], rs.levels[r], ag->id) :
						psprintf("work item " INT64_FORMAT " needs skill %s at %d; agent " INT64_FORMAT " has %d",
								 item, rs.names[r], rs.levels[r], ag->id, have);
				return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
			}
		}
	}
	return 0;
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
 * Give an open item the agent may take to them: its profile slot, then the
 * item itself if no other transaction holds it (false otherwise, or when
 * the profile has no free slot: *no_slot).  The agent row is ours, so the
 * slot check cannot race.  Units are taken afterwards, for all items at
 * once (finish_taken).
 */
static bool
take_item(ServeAgent *ag, WorkstreamConfig *ws, int64 item, int64 queue_id, bool pick,
		  TimestampTz now, Taken *t, bool *no_slot)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', 'n'};
	SPITupleTable *saved = SPI_tuptable;
	bool		active = pick || ws->auto_accept;
	bool		took;

	*no_slot = false;
	if (ws->capacity_profile != NULL)
	{
		if (!assign_profile_charge(ag->id, ws->capacity_profile, now, false))
		{
			SPI_tuptable = saved;
			*no_slot = true;
			return false;
		}
		values[6] = CStringGetTextDatum(ws->capacity_profile);
		nulls[6] = ' ';
	}
	values[0] = Int64GetDatum(item);
	values[1] = CStringGetTextDatum(active ? "active" : "offered");
	values[2] = Int64GetDatum(ag->id);
	values[3] = Int32GetDatum(ws->capacity_units);
	values[4] = TimestampTzGetDatum(now);
	values[5] = util_jsonb(pick ?
						   psprintf("{\"outcome\": \"active\", \"agent_id\": " INT64_FORMAT
									", \"method\": \"picked\"}", ag->id) :
						   psprintf("{\"outcome\": \"%s\", \"agent_id\": " INT64_FORMAT
									", \"method\": \"served\", \"reason\": \"the agent freed capacity\"}",
									active ? "active" : "offered", ag->id));
	took = util_exec(take_item_plan, values, nulls, false, 0, SPI_OK_UPDATE_RETURNING) > 0;
	if (!took && ws->capacity_profile != NULL)
		assign_profile_uncharge(ag->id, ws->capacity_profile, now);
	SPI_tuptable = saved;
	if (!took)
		return false;
	ag->free_units -= ws->capacity_units;
	t->item = item;
	t->ws = ws->id;
	t->queue = queue_id;
	t->active = active;
	t->expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(now),
														 IntervalPGetDatum(&ws->offer_timeout)));
	return true;
}

/* the units of the items taken, their events and the agent's notifications */
static void
finish_taken(int64 agent_id, Taken *taken, int ntaken, bool pick, TimestampTz now,
			 EventBuf *events)
{
	int32		units = 0;
	int64	   *queues;

	if (ntaken == 0)
		return;
	queues = palloc(sizeof(int64) * ntaken);
	/* the units taken: what the items reserved; the agent row is ours */
	for (int i = 0; i < ntaken; i++)
	{
		units += catalog_workstream(taken[i].ws)->capacity_units;
		queues[i] = taken[i].queue;
	}
	direct_agent_units(agent_id, units, UNITS_FORCE, NULL, 0, queues, ntaken, now);

	for (int i = 0; i < ntaken; i++)
	{
		const char *ev = pick ? "picked" : taken[i].active ? "assigned" : "offered";

		events_add(events, taken[i].item, ev, agent_id, taken[i].queue,
				   pick ? NULL : "{\"served\": true}");
		notify_agent(agent_id, pick ? "assigned" : ev, taken[i].item, taken[i].ws, taken[i].queue,
					 taken[i].active ? NULL : &taken[i].expires);
	}
}

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
 * The agent takes the best open item of their pick-mode queues that they
 * may have (pick_next), by the same rules as serving; it becomes active.
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
 * Serving (push: items of push workstreams, as many as fit) and picking
 * (one item of a pick workstream, the agent asked for it) share the
 * search and the rules (refusal()).
 */
static int
serve_or_pick(int64 agent_id, TimestampTz now, EventBuf *events, bool skip_locked,
			  bool pick, int64 *picked)
{
	Datum		values[2];
	bool		isnull;
	int64		limit = 32;
	ServeAgent	ag;
	HTAB	   *seen;
	Taken	   *taken = NULL;
	int			ntaken = 0;
	int			cap = 0;

	if (!lock_agent(agent_id, skip_locked, &ag) || ag.is_bot)
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
			bool		no_slot;
			Datum		skills_datum;
			Datum		declined;

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
			if (refusal(&ag, ws, pick ? SERVE_PICK : SERVE_PUSH, item, declined,
						DatumGetJsonbP(skills_datum), NULL) != 0)
				continue;

			if (ntaken == cap)
			{
				cap = cap ? cap * 2 : 8;
				taken = taken ? repalloc(taken, sizeof(Taken) * cap) : palloc(sizeof(Taken) * cap);
			}
			/* no slot, or another transaction holds it: the next one */
			if (!take_item(&ag, ws, item, queue_id, pick, now, &taken[ntaken], &no_slot))
				continue;
			ntaken++;
			if (pick)
			{
				*picked = item;
				break;
			}
		}
		SPI_tuptable = tt;
		if (pick && ntaken > 0)
			break;
		if (!more || !fresh || ag.free_units <= 0)
			break;
		limit *= 4;
	}

	finish_taken(agent_id, taken, ntaken, pick, now, events);
	return ntaken;
}

int
serve_agent(int64 agent_id, TimestampTz now, EventBuf *events)
{
	return serve_agent_ext(agent_id, now, events, false);
}

/*
 * pick(id): the agent takes the named open item, which the caller has
 * locked (FOR UPDATE) and found visible to them, if serve_or_pick would
 * let them have it: a member of its queue, and refusal() says nothing.
 * Otherwise an error that names the reason.  Lock order: the item (the
 * caller's), then the agent row -- as every lifecycle function.
 */
void
serve_pick_item(int64 agent_id, int64 item, int64 ws_id, int64 queue_id, Datum declined,
				Jsonb *required, TimestampTz now, EventBuf *events)
{
	ServeAgent	ag;
	WorkstreamConfig *ws = catalog_workstream(ws_id);
	Taken		t;
	bool		no_slot;
	char	   *why;
	int			code;

	if (!lock_agent(agent_id, false, &ag))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent " INT64_FORMAT " does not exist", agent_id)));
	if (!serve_is_member(agent_id, queue_id))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT
						": not a member of its queue " INT64_FORMAT, agent_id, item, queue_id)));
	if ((code = refusal(&ag, ws, SERVE_PICK, item, declined, required, &why)) != 0)
		ereport(ERROR,
				(errcode(code),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT ": %s",
						agent_id, item, why)));
	if (!take_item(&ag, ws, item, queue_id, true, now, &t, &no_slot))
	{
		if (no_slot)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT
							": no free slot of capacity profile \"%s\"",
							agent_id, item, ws->capacity_profile)));
		elog(ERROR, "omniroute: work item " INT64_FORMAT " is locked but could not be taken", item);
	}
	finish_taken(agent_id, &t, 1, true, now, events);
}

/*
 * An agent hands an item they hold to a colleague (transfer_to_agent by
 * an agent): the colleague must be someone routing could offer it to --
 * a member of its queue, eligible by refusal() whatever the workstream's
 * mode.  Errors name the reason.  The colleague's row is locked (the
 * caller locked it already; this reads it).  The capacity profile slot is
 * the offer's to take.
 */
void
serve_check_handover(int64 target, int64 item, WorkstreamConfig *ws, int64 queue_id,
					 Datum declined, Jsonb *required)
{
	ServeAgent	ag;
	char	   *why;
	int			code;

	if (!lock_agent(target, false, &ag))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot transfer work item " INT64_FORMAT ": agent " INT64_FORMAT " does not exist",
						item, target)));
	if (!serve_is_member(target, queue_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot transfer work item " INT64_FORMAT " to agent " INT64_FORMAT
						": not a member of its queue " INT64_FORMAT, item, target, queue_id),
				 errhint("A supervisor may assign it to anyone.")));
	if ((code = refusal(&ag, ws, SERVE_HANDOVER, item, declined, required, &why)) != 0)
		ereport(ERROR,
				(errcode(code),
				 errmsg("cannot transfer work item " INT64_FORMAT " to agent " INT64_FORMAT ": %s",
						item, target, why),
				 errhint("A supervisor may assign it to anyone.")));
}

bool
serve_is_member(int64 agent_id, int64 queue_id)
{
	Datum		values[2] = {Int64GetDatum(agent_id), Int64GetDatum(queue_id)};

	prepare_plans();
	return util_exec(member_plan, values, NULL, false, 0, SPI_OK_SELECT) > 0;
}
