/*-------------------------------------------------------------------------
 *
 * serve.c
 *	  Serving waiting work: when an agent frees capacity (an item closes or
 *	  leaves active work, their presence becomes allowed, they join a queue,
 *	  their capacity grows), give them the best open items they can take,
 *	  in the transaction that freed them.
 *
 *	  Order: queue priority, then item priority, then age; with the
 *	  workstream's priority_aging, the item's effective priority (priority
 *	  plus one per priority_aging waited since created_at), then age: read
 *	  by a loose scan of work_item_open_idx, one descent per priority level
 *	  present (open_items_aging_plan), never a sort of the queue.  A queue
 *	  its operating hours say is closed offers to nobody and lets nobody
 *	  pick: its groups are passed over (the first tick after it opens
 *	  serves them).  An item is taken
 *	  only if the agent may have it (refusal()): a push workstream, an
 *	  allowed presence, enough free units, the skills (exact matching: the
 *	  item's skill_matching, which an escalation step sets, else the
 *	  workstream's), not rejected or missed by this agent before (with
 *	  max_offers_per_agent above 1: not that many times, and then only if
 *	  routing would choose them -- nobody who declined it fewer times is
 *	  eligible; picking needs only the limit), a free slot of the
 *	  workstream's capacity profile, and the queue's agent condition
 *	  (agentcond.c: one that reads only the agent is judged per group, one
 *	  that reads the item per item, the item's values read by key).  All of
 *	  that but the declined list, the slot and such a condition depends only
 *	  on the item's queue, workstream, required skills and skill matching,
 *	  so the open items of the agent's queues are looked at in groups of
 *	  those four, which work_item_open_idx holds together, each group best
 *	  first:
 *	    1. the distinct groups of each queue are read from the index, one
 *	       descent per group (a skip scan), without reading their items;
 *	    2. the groups the agent may not take from are dropped, whatever
 *	       their size: a backlog that nobody in the queue has the skills for
 *	       costs one index descent, not a read of every item in it;
 *	    3. the top items of the groups left are merged in the order above
 *	       and taken while the agent has room, each checked for the
 *	       declined list, the profile slot and another transaction's lock.
 *	  So a call reads the groups of the agent's queues and the items it
 *	  takes or passes over for those reasons, not the backlog.
 *
 *	  Preferred agents (prefer.c): an item held for its customer's
 *	  preferred agents is passed over like a declined one (its hold is
 *	  probed by key, only in groups of workstreams that hold items); and
 *	  serving a preferred agent first takes the items held for them, found
 *	  by agent_id in preferred_hold, not in the backlog.  An item
 *	  whose required skills cannot be read (written before they were
 *	  checked on update) is passed over with a WARNING naming it.
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

#include "agentcond.h"
#include "assign.h"
#include "config.h"
#include "direct.h"
#include "events.h"
#include "hours.h"
#include "item.h"
#include "jb.h"
#include "prefer.h"
#include "route.h"
#include "serve.h"
#include "util.h"

static int	serve_or_pick(int64 agent_id, TimestampTz now, EventBuf *events,
						  bool skip_locked, bool pick, int64 *picked);

/*
 * Priority aging: the whole priority_aging intervals waited from created
 * to now, 0 before created.  Exact: the epochs are numeric and div()
 * truncates, which is floor for the non-negative quotient.
 */
#define SERVE_AGING_BONUS(now, created, aging) \
	"(CASE WHEN " now " > " created \
	" THEN div(extract(epoch FROM " now " - " created "), extract(epoch FROM " aging "))::bigint" \
	" ELSE 0 END)"

#define AGENT_SQL \
	"SELECT capacity - used_units, presence, is_bot FROM omniroute.agent WHERE id = $1"

static UtilPlan lock_agent_plan = {AGENT_SQL " FOR UPDATE", 1, {INT8OID}, NULL};
static UtilPlan try_lock_agent_plan = {AGENT_SQL " FOR UPDATE SKIP LOCKED", 1, {INT8OID}, NULL};

static UtilPlan agent_skills_plan = {
	"SELECT skill, proficiency FROM omniroute.agent_skill WHERE agent_id = $1",
	1, {INT8OID}, NULL
};

static UtilPlan member_plan = {
	"SELECT 1 FROM omniroute.queue_member WHERE agent_id = $1 AND queue_id = $2",
	2, {INT8OID, INT8OID}, NULL
};

/* pick(id): whether the agent is a member of the queue, its operating hours */
static UtilPlan pick_queue_plan = {
	"SELECT EXISTS (SELECT 1 FROM omniroute.queue_member"
	"                WHERE agent_id = $1 AND queue_id = $2),"
	"       (SELECT operating_hours FROM omniroute.queue WHERE id = $2)",
	2, {INT8OID, INT8OID}, NULL
};

/*
 * An item's group: its queue, workstream, required skills and skill
 * matching (NULL: the workstream's), the leading columns of
 * work_item_open_idx.  A NULL matching cannot be compared with "=", so
 * each read of a group's items has two arms: GROUP_UNSET for a group g
 * without one (the arm of a group with one stops at its gate) and
 * GROUP_SET for a group with one (the arm of a group without one has a
 * NULL key, which the index answers without a descent).  Every ORDER BY
 * of the items names skill_matching first: IS NULL does not make it a
 * constant to the planner, and the index order is then used as it is.
 */
#define IN_GROUP(matching) \
	"i.queue_id = g.queue_id AND i.workstream_id = g.workstream_id" \
	" AND i.required_skills = g.required_skills AND " matching " AND i.state = 'open'"
#define GROUP_UNSET "g.skill_matching IS NULL AND i.skill_matching IS NULL"
#define GROUP_SET "i.skill_matching = g.skill_matching"

/* the open items of a queue, for the groups' skip scan */
#define IN_QUEUE "i.queue_id = m.queue_id AND i.state = 'open'"
#define GROUP_COLUMNS "i.workstream_id, i.required_skills, i.skill_matching, i.id"

/*
 * The groups of open items in each of the agent's queues: a skip scan of
 * work_item_open_idx, one descent per group, with the first item of each
 * to name it; with the queue's operating hours and the workstream's
 * priority aging.  The group after g is the first of: a later matching
 * of g's workstream and skills, their unset matching (last in the index)
 * after a set one, the next workstream and skills.
 */
static UtilPlan groups_plan = {
	"SELECT m.queue_id, q.priority, g.workstream_id, g.required_skills, g.id,"
	"       q.operating_hours, w.priority_aging, g.skill_matching"
	"  FROM omniroute.queue_member m"
	"  JOIN omniroute.queue q ON q.id = m.queue_id"
	" CROSS JOIN LATERAL"
	"       (WITH RECURSIVE g AS ("
	"            (SELECT " GROUP_COLUMNS
	"               FROM omniroute.work_item i"
	"              WHERE " IN_QUEUE
	"              ORDER BY i.workstream_id, i.required_skills, i.skill_matching LIMIT 1)"
	"          UNION ALL"
	"            SELECT n.workstream_id, n.required_skills, n.skill_matching, n.id"
	"              FROM g CROSS JOIN LATERAL"
	"                   (SELECT * FROM"
	"                     ((SELECT " GROUP_COLUMNS
	"                         FROM omniroute.work_item i"
	"                        WHERE " IN_QUEUE " AND i.workstream_id = g.workstream_id"
	"                          AND i.required_skills = g.required_skills"
	"                          AND i.skill_matching > g.skill_matching"
	"                        ORDER BY i.skill_matching LIMIT 1)"
	"                      UNION ALL"
	"                      (SELECT " GROUP_COLUMNS
	"                         FROM omniroute.work_item i"
	"                        WHERE g.skill_matching IS NOT NULL AND " IN_QUEUE
	"                          AND i.workstream_id = g.workstream_id"
	"                          AND i.required_skills = g.required_skills"
	"                          AND i.skill_matching IS NULL"
	"                        ORDER BY i.skill_matching LIMIT 1)"
	"                      UNION ALL"
	"                      (SELECT " GROUP_COLUMNS
	"                         FROM omniroute.work_item i"
	"                        WHERE " IN_QUEUE
	"                          AND (i.workstream_id, i.required_skills)"
	"                              > (g.workstream_id, g.required_skills)"
	"                        ORDER BY i.workstream_id, i.required_skills, i.skill_matching"
	"                        LIMIT 1)) x"
	"                    LIMIT 1) n)"
	"        SELECT * FROM g) g"
	"  JOIN omniroute.workstream w ON w.id = g.workstream_id"
	" WHERE m.agent_id = $1",
	1, {INT8OID}, NULL
};

/*
 * Whether an item of a group whose workstream prefers (g.prefer, from $9)
 * is held for its preferred agents at $8, now (prefer.c): one probe of
 * preferred_hold's key.
 */
#define HELD \
	"CASE WHEN g.prefer THEN EXISTS (SELECT 1 FROM omniroute.preferred_hold h" \
	" WHERE h.work_item_id = i.id AND h.until > $8) ELSE false END"

/* the top $6 items of group g, best first (matching: GROUP_UNSET, GROUP_SET) */
#define TOP_ITEMS(matching) \
	"(SELECT i.id, i.priority, i.created_at, i.declined_agents, " HELD " AS held" \
	"   FROM omniroute.work_item i" \
	"  WHERE " IN_GROUP(matching) \
	"  ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id" \
	"  LIMIT $6)"

/*
 * The top $6 items of each group given, merged in serving order ($7: the
 * groups' skill matchings; $8: now; $9: whether each group's workstream
 * prefers with a wait).  Without priority aging: column 4 is empty, the
 * caller counts each group's rows.  Column 5: held (HELD).
 */
static UtilPlan open_items_plan = {
	"SELECT w.id, g.n, w.declined_agents, NULL, w.held"
	"  FROM unnest($1, $2, $3, $4, $5, $7, $9)"
	"       AS g(queue_id, workstream_id, required_skills, queue_priority, n, skill_matching, prefer)"
	" CROSS JOIN LATERAL"
	"       (" TOP_ITEMS(GROUP_UNSET) " UNION ALL " TOP_ITEMS(GROUP_SET) ") w"
	" ORDER BY g.queue_priority DESC, w.priority DESC, w.created_at, w.id",
	9, {INT8ARRAYOID, INT8ARRAYOID, JSONBARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT8OID,
		TEXTARRAYOID, TIMESTAMPTZOID, BOOLARRAYOID}, NULL
};

/* ... as open_items_aging_plan reads a group without aging */
#define TOP_ITEMS_RANKED(matching) \
	"(SELECT i.id, i.priority::bigint AS effective, i.created_at, i.declined_agents," \
	"        row_number() OVER (ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id)" \
	"            AS rn, " HELD " AS held" \
	"   FROM omniroute.work_item i" \
	"  WHERE g.aging IS NULL AND " IN_GROUP(matching) \
	"  ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id" \
	"  LIMIT $6)"

/* ... and with aging: the top $6 of each priority level, the levels by a loose scan */
#define TOP_ITEMS_AGED(matching) \
	"(SELECT t.id, t.effective, t.created_at, t.declined_agents, t.rn, t.held" \
	"   FROM (WITH RECURSIVE lv(priority) AS (" \
	"             (SELECT i.priority FROM omniroute.work_item i" \
	"               WHERE g.aging IS NOT NULL AND " IN_GROUP(matching) \
	"               ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id LIMIT 1)" \
	"           UNION ALL" \
	"             SELECT n.priority" \
	"               FROM lv CROSS JOIN LATERAL" \
	"                    (SELECT i.priority FROM omniroute.work_item i" \
	"                      WHERE " IN_GROUP(matching) " AND i.priority < lv.priority" \
	"                      ORDER BY i.skill_matching, i.priority DESC, i.created_at, i.id" \
	"                      LIMIT 1) n)" \
	"         SELECT priority FROM lv) l" \
	"  CROSS JOIN LATERAL" \
	"        (SELECT i.id, i.created_at, i.declined_agents," \
	"                i.priority + " SERVE_AGING_BONUS("$8", "i.created_at", "g.aging") \
	"                    AS effective," \
	"                row_number() OVER (ORDER BY i.skill_matching, i.created_at, i.id) AS rn," \
	"                " HELD " AS held" \
	"           FROM omniroute.work_item i" \
	"          WHERE " IN_GROUP(matching) " AND i.priority = l.priority" \
	"          ORDER BY i.skill_matching, i.created_at, i.id" \
	"          LIMIT $6) t)"

/*
 * The same with priority aging ($10: each group's workstream's, NULL for
 * none; $8: now).  An item's effective priority is its priority plus one
 * for each whole priority_aging it has waited since created_at.  Within a
 * priority level, the older item is never behind, so the best items of a
 * group are among the oldest of each level it holds: the levels are found
 * by a loose scan of work_item_open_idx (the first item below the last
 * level found: one descent per distinct priority present), the top $6 of
 * each level are read in age order, and the whole is merged by effective
 * priority, then age.  No queue is sorted whole.  A group without aging is
 * read as by open_items_plan.  Column 4 numbers each row within its level
 * (its group, without aging): the caller knows from it which lists gave
 * all they were asked for; column 5 is HELD.
 */
static UtilPlan open_items_aging_plan = {
	"SELECT w.id, g.n, w.declined_agents, w.rn, w.held"
	"  FROM unnest($1, $2, $3, $4, $5, $7, $9, $10)"
	"       AS g(queue_id, workstream_id, required_skills, queue_priority, n, skill_matching, prefer,"
	"            aging)"
	" CROSS JOIN LATERAL"
	"       (" TOP_ITEMS_RANKED(GROUP_UNSET) " UNION ALL " TOP_ITEMS_RANKED(GROUP_SET)
	"        UNION ALL " TOP_ITEMS_AGED(GROUP_UNSET) " UNION ALL " TOP_ITEMS_AGED(GROUP_SET) ") w"
	" ORDER BY g.queue_priority DESC, w.effective DESC, w.created_at, w.id",
	10, {INT8ARRAYOID, INT8ARRAYOID, JSONBARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT8OID,
		 TEXTARRAYOID, TIMESTAMPTZOID, BOOLARRAYOID, INTERVALARRAYOID}, NULL
};

/*
 * Items held for the agent as a preferred agent of their customer
 * (prefer.c), by preferred_hold's agent_id: open, the hold not over; best
 * queue priority, then item priority, then age.
 */
static UtilPlan held_items_plan = {
	"SELECT i.id, i.queue_id, i.workstream_id, i.required_skills, i.declined_agents,"
	"       i.skill_matching"
	"  FROM omniroute.preferred_hold h"
	"  JOIN omniroute.work_item i ON i.id = h.work_item_id AND i.state = 'open'"
	"  JOIN omniroute.queue q ON q.id = i.queue_id"
	" WHERE h.agent_id = $1 AND h.until > $2"
	" ORDER BY q.priority DESC, i.priority DESC, i.created_at, i.id"
	" LIMIT 64",
	2, {INT8OID, TIMESTAMPTZOID}, NULL
};

static UtilPlan take_item_plan = {
	"UPDATE omniroute.work_item"
	"   SET state = $2, agent_id = $3, reserved_units = $4, offered_at = $5,"
	"       assigned_at = CASE WHEN $2 = 'active' THEN $5 END,"
	"       last_activity_at = $5, profile = $7,"
	"       diagnostics = coalesce(diagnostics, '{}')"
	"                     || jsonb_build_object('assignment', $6)"
	" WHERE id = (SELECT id FROM omniroute.work_item"
	"              WHERE id = $1 AND state = 'open'"
	"              FOR UPDATE SKIP LOCKED)"
	" RETURNING id",
	7, {INT8OID, TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, JSONBOID, TEXTOID}, NULL
};

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
	bool		attributes_read;
	Jsonb	   *attributes;		/* read when a queue's agent condition asks */
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

	memset(ag, 0, sizeof(ServeAgent));
	if (util_exec(util_plan(skip_locked ? &try_lock_agent_plan : &lock_agent_plan),
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
		uint64		n = util_exec(util_plan(&agent_skills_plan), values, NULL, false, 0,
								  SPI_OK_SELECT);

		as->n = (int) n;
		as->names = palloc(sizeof(char *) * (n + 1));
		as->levels = palloc(sizeof(int32) * (n + 1));
		for (uint64 i = 0; i < n; i++)
		{
			as->names[i] = util_col_text(i, 1);
			as->levels[i] = util_col_int32(i, 2);
		}
		as->loaded = true;
		SPI_freetuptable(SPI_tuptable);
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
	return serve_declined_count(arr, agent_id) > 0;
}

/* how often the agent is in an item's declined_agents (one entry a decline) */
int
serve_declined_count(Datum arr, int64 agent_id)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			count = 0;

	deconstruct_array(a, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && DatumGetInt64(elems[i]) == agent_id)
			count++;
	return count;
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
 * max_offers_per_agent times (once, by default); with exact skill
 * matching (the item's, an escalation step set it, else the
 * workstream's), every required skill at its level (closest and none
 * never hold an item back for skills).  Membership of
 * the item's queue is the caller's to check (serving reads only the
 * agent's queues), and so is the capacity profile slot, which is taken,
 * not looked at.
 *
 * Returns 0 when the agent may take it; else the SQLSTATE of the refusal,
 * with *why (if why is not NULL) saying what is missing.
 */
static int
refusal(ServeAgent *ag, WorkstreamConfig *ws, const char *item_matching, ServeMode mode,
		int64 item, Datum declined, Jsonb *required, char **why)
{
	int			declines;

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
	if ((declines = serve_declined_count(declined, ag->id)) >= ws->max_offers)
	{
		if (why)
			*why = ws->max_offers == 1 ?
				psprintf("agent " INT64_FORMAT " rejected or missed work item " INT64_FORMAT " before",
						 ag->id, item) :
				psprintf("agent " INT64_FORMAT " declined work item " INT64_FORMAT " %d of %d times",
						 ag->id, item, declines, ws->max_offers);
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	}
	if (config_item_matching(ws, item_matching) == SKILLS_EXACT && required != NULL)
	{
		RequiredSkills rs;

		route_required_skills_parse(required, &rs, NULL);
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

/*
 * Whether the agent satisfies a queue's agent condition for an item (NULL:
 * the condition reads nothing of it); their attributes are read once.
 */
static bool
satisfies(ServeAgent *ag, const AgentCondition *cond, const CondItem *item)
{
	CondCheck	cc;

	if (!ag->attributes_read)
	{
		ag->attributes = direct_agent_attributes(ag->id);
		ag->attributes_read = true;
	}
	agentcond_begin(&cc, cond, item);
	return agentcond_holds(&cc, ag->attributes);
}

/*
 * The agent condition of the queue of an item, for the agent: 0 when
 * satisfied (or none); else the SQLSTATE, with *why saying so.
 */
static int
condition_refusal(ServeAgent *ag, WorkstreamConfig *ws, int64 item, int64 queue_id,
				  char **why)
{
	QueueConfig *q = config_queue(queue_id);
	CondItem	ci;

	if (q == NULL || q->condition == NULL)
		return 0;
	if (agentcond_load_item(item, ws, &ci) && satisfies(ag, q->condition, &ci))
		return 0;
	*why = psprintf("agent " INT64_FORMAT " does not satisfy the agent condition of queue \"%s\": %s",
					ag->id, q->name, q->condition->text);
	return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
}

typedef struct Taken
{
	int64		item;
	int64		ws;
	int64		queue;
	bool		active;
	TimestampTz expires;
} Taken;

/* the "assignment" member of the diagnostics of an item served or picked */
static Datum
taken_assignment(int64 agent_id, bool pick, bool active, bool preferred)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_kv_string(&b, "outcome", item_state_name(active ? ITEM_ACTIVE : ITEM_OFFERED));
	jb_kv_int(&b, "agent_id", agent_id);
	jb_kv_string(&b, "method", pick ? "picked" : preferred ? "preferred_agent" : "served");
	if (!pick)
		jb_kv_string(&b, "reason", preferred ? "a preferred agent freed capacity" :
					 "the agent freed capacity");
	jb_end_object(&b);
	return jb_finish(&b);
}

/*
 * Give an open item the agent may take to them: its profile slot, then the
 * item itself if no other transaction holds it (false otherwise, or when
 * the profile has no free slot: *no_slot).  The agent row is ours, so the
 * slot check cannot race.  Units are taken afterwards, for all items at
 * once (finish_taken).  Runs statements: the caller keeps nothing in
 * SPI_tuptable across it.
 */
static bool
take_item(ServeAgent *ag, WorkstreamConfig *ws, int64 item, int64 queue_id, bool pick,
		  bool preferred, TimestampTz now, Taken *t, bool *no_slot)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', 'n'};
	bool		active = pick || ws->auto_accept;

	*no_slot = false;
	if (ws->capacity_profile != NULL)
	{
		if (!assign_profile_charge(ag->id, ws->capacity_profile, now, false))
		{
			*no_slot = true;
			return false;
		}
		values[6] = CStringGetTextDatum(ws->capacity_profile);
		nulls[6] = ' ';
	}
	values[0] = Int64GetDatum(item);
	values[1] = CStringGetTextDatum(item_state_name(active ? ITEM_ACTIVE : ITEM_OFFERED));
	values[2] = Int64GetDatum(ag->id);
	values[3] = Int32GetDatum(ws->capacity_units);
	values[4] = TimestampTzGetDatum(now);
	values[5] = taken_assignment(ag->id, pick, active, preferred);
	if (util_exec(util_plan(&take_item_plan), values, nulls, false, 0,
				  SPI_OK_UPDATE_RETURNING) == 0)
	{
		if (ws->capacity_profile != NULL)
			assign_profile_uncharge(ag->id, ws->capacity_profile, now);
		return false;
	}
	ag->free_units -= ws->capacity_units;
	t->item = item;
	t->ws = ws->id;
	t->queue = queue_id;
	t->active = active;
	t->expires = config_offer_expires(ws, now);
	return true;
}

/* the detail of the event of an item served: {"served": true} */
static Datum
served_detail(void)
{
	JsonBuild	b;

	jb_init(&b);
	jb_object(&b);
	jb_kv_bool(&b, "served", true);
	jb_end_object(&b);
	return jb_finish(&b);
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
		units += config_workstream(taken[i].ws)->capacity_units;
		queues[i] = taken[i].queue;
	}
	direct_agent_units(agent_id, units, UNITS_FORCE, NULL, 0, queues, ntaken, now);

	for (int i = 0; i < ntaken; i++)
	{
		const char *ev = pick ? "picked" : taken[i].active ? "assigned" : "offered";

		events_add_jsonb(events, taken[i].item, ev, agent_id, taken[i].queue,
						 pick ? (Datum) 0 : served_detail());
		events_notify_agent(agent_id, pick ? "assigned" : ev, taken[i].item, taken[i].ws,
							taken[i].queue, taken[i].active ? NULL : &taken[i].expires);
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
serve_pick_next(int64 agent_id, TimestampTz now, EventBuf *events)
{
	int64		item = 0;

	serve_or_pick(agent_id, now, events, false, true, &item);
	return item;
}

/*
 * open items of one queue with the same workstream, required skills and
 * skill matching
 */
typedef struct ItemGroup
{
	int64		queue_id;
	int32		queue_priority;
	int64		ws_id;
	Datum		skills;			/* jsonb */
	char	   *matching;		/* the items' skill_matching, or NULL */
	int64		first_item;		/* its best item, to name it */
	char	   *hours;			/* the queue's operating hours, or NULL */
	Datum		aging;			/* the workstream's priority_aging, or 0 */
	WorkstreamConfig *ws;
	const AgentCondition *item_condition;	/* its queue's, to check per item */
	bool		takable;		/* the agent may take its items */
	int			fetched;		/* items read from it in this round */
} ItemGroup;

/* the item being looked at, for the error context */
typedef struct ServeContext
{
	int64		agent_id;
	bool		pick;
	int64		item;
} ServeContext;

static void
serve_error_context(void *arg)
{
	ServeContext *sc = (ServeContext *) arg;

	if (sc->item != 0)
		errcontext("while %s work item " INT64_FORMAT " for agent " INT64_FORMAT,
				   sc->pick ? "picking" : "serving", sc->item, sc->agent_id);
}

/* the groups of open items in the agent's queues, copied out of SPI */
static ItemGroup *
load_groups(int64 agent_id, int *ngroups)
{
	Datum		values[1] = {Int64GetDatum(agent_id)};
	uint64		n = util_exec(util_plan(&groups_plan), values, NULL, false, 0, SPI_OK_SELECT);
	ItemGroup  *groups = palloc0(sizeof(ItemGroup) * (n + 1));
	bool		isnull;
	Datum		d;

	for (uint64 i = 0; i < n; i++)
	{
		groups[i].queue_id = util_col_int64(i, 1);
		groups[i].queue_priority = util_col_int32(i, 2);
		groups[i].ws_id = util_col_int64(i, 3);
		groups[i].skills = PointerGetDatum(DatumGetJsonbPCopy(util_col(i, 4, &isnull)));
		groups[i].first_item = util_col_int64(i, 5);
		groups[i].hours = util_col_text(i, 6);
		groups[i].matching = util_col_text(i, 8);
		d = util_col(i, 7, &isnull);
		if (!isnull)
		{
			Interval   *aging = palloc(sizeof(Interval));

			*aging = *DatumGetIntervalP(d);
			groups[i].aging = PointerGetDatum(aging);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	*ngroups = (int) n;
	return groups;
}

/*
 * The agent condition of a group's queue: one that reads only the agent
 * is judged for the whole group now; one that reads the item, per item
 * (g->item_condition).
 */
static bool
group_condition(ServeAgent *ag, ItemGroup *g)
{
	QueueConfig *q = config_queue(g->queue_id);

	g->item_condition = NULL;
	if (q == NULL || q->condition == NULL)
		return true;
	if (!agentcond_reads_item(q->condition))
		return satisfies(ag, q->condition, NULL);
	g->item_condition = q->condition;
	return true;
}

/*
 * Whether the agent may take the items of a group: refusal() for all of
 * it but the declined list, which is each item's (and the profile slot,
 * known only by taking it).  Required skills that cannot be read refuse
 * the group, with a WARNING naming its best item.
 */
static bool
group_takable(ServeAgent *ag, ItemGroup *g, ServeMode mode, Datum nobody)
{
	RequiredSkills rs;
	char	   *bad;

	g->ws = config_workstream(g->ws_id);
	if (g->ws != NULL && config_item_matching(g->ws, g->matching) == SKILLS_EXACT &&
		!route_required_skills_parse(DatumGetJsonbP(g->skills), &rs, &bad))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("work item " INT64_FORMAT " cannot be served: %s",
						g->first_item, route_required_skills_problem(bad)),
				 errdetail("Every open item of queue " INT64_FORMAT " and workstream " INT64_FORMAT
						   " with the same required_skills is passed over.",
						   g->queue_id, g->ws_id),
				 errhint("Correct its required_skills.")));
		return false;
	}
	if (refusal(ag, g->ws, g->matching, mode, g->first_item, nobody,
				DatumGetJsonbP(g->skills), NULL) != 0)
		return false;
	return group_condition(ag, g);
}

/* no slot of this profile is left for the agent: none of its groups is takable */
static void
profile_exhausted(ItemGroup *groups, int ngroups, const char *profile)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i].takable && groups[i].ws->capacity_profile != NULL &&
			strcmp(groups[i].ws->capacity_profile, profile) == 0)
			groups[i].takable = false;
}

/* an item a round read, copied out of SPI's result before anything else runs */
typedef struct RoundItem
{
	int64		item;
	ItemGroup  *group;
	int			declines;		/* times the agent rejected or missed it */
	Datum		declined;		/* its declined_agents, when a re-offer may be */
	bool		held;			/* held for its customer's preferred agents */
} RoundItem;

/* one serve_or_pick(): the agent, their groups, what they took so far */
typedef struct ServeSearch
{
	ServeAgent	ag;				/* the agent, their row locked */
	bool		pick;
	TimestampTz now;
	ItemGroup  *groups;
	int			ngroups;
	int64		limit;			/* items read per takable group this round */
	HTAB	   *seen;			/* items looked at in an earlier round */
	Taken	   *taken;
	int			ntaken;
	int			cap;
	ServeContext sc;			/* the item being looked at, for errors */
	bool		preferred;		/* taking items held for them (serve_held) */
} ServeSearch;

/*
 * Judge each group: none of a queue its operating hours say is closed now
 * (its items wait for the first tick after it opens), else group_takable.
 * Returns the fewest units a takable group's items need, -1 if none is
 * takable.
 */
static int32
judge_groups(ServeSearch *s)
{
	ServeMode	mode = s->pick ? SERVE_PICK : SERVE_PUSH;
	Datum		nobody = PointerGetDatum(construct_empty_array(INT8OID));
	int32		min_units = -1;

	for (int i = 0; i < s->ngroups; i++)
	{
		ItemGroup  *g = &s->groups[i];

		s->sc.item = g->first_item;
		g->takable = (g->hours == NULL || hours_is_open(g->hours, s->now)) &&
			group_takable(&s->ag, g, mode, nobody);
		if (g->takable && (min_units < 0 || g->ws->capacity_units < min_units))
			min_units = g->ws->capacity_units;
	}
	s->sc.item = 0;
	return min_units;
}

/* the skill matching of each takable group, a text[] with NULLs for none */
static Datum
round_matchings(ServeSearch *s, int nsent)
{
	Datum	   *texts = palloc(sizeof(Datum) * (nsent + 1));
	bool	   *isnull = palloc(sizeof(bool) * (nsent + 1));
	int			dims[1] = {nsent};
	int			lbs[1] = {1};
	int			k = 0;

	for (int i = 0; i < s->ngroups; i++)
	{
		ItemGroup  *g = &s->groups[i];

		if (!g->takable)
			continue;
		isnull[k] = (g->matching == NULL);
		texts[k] = isnull[k] ? (Datum) 0 : CStringGetTextDatum(g->matching);
		k++;
	}
	return PointerGetDatum(construct_md_array(texts, isnull, 1, dims, lbs, TEXTOID, -1, false,
											  TYPALIGN_INT));
}

/*
 * The arguments of open_items_plan (with *aging, of open_items_aging_plan)
 * for the takable groups, the group's index in s->groups as its n; *aging
 * says whether any of them ages.  Returns how many groups, 0 when none is
 * left.
 */
static int
round_arguments(ServeSearch *s, Datum *values, char *nulls, bool *aging)
{
	int			ng = s->ngroups + 1;
	Datum	   *qids = palloc(sizeof(Datum) * ng);
	Datum	   *wsids = palloc(sizeof(Datum) * ng);
	Datum	   *skills = palloc(sizeof(Datum) * ng);
	Datum	   *qprios = palloc(sizeof(Datum) * ng);
	Datum	   *index = palloc(sizeof(Datum) * ng);
	Datum	   *agings = palloc(sizeof(Datum) * ng);
	bool	   *aging_nulls = palloc(sizeof(bool) * ng);
	Datum	   *prefers = palloc(sizeof(Datum) * ng);
	int			nsent = 0;
	int			dims[1];
	int			lbs[1] = {1};

	*aging = false;
	for (int i = 0; i < s->ngroups; i++)
	{
		ItemGroup  *g = &s->groups[i];

		if (!g->takable)
			continue;
		qids[nsent] = Int64GetDatum(g->queue_id);
		wsids[nsent] = Int64GetDatum(g->ws_id);
		skills[nsent] = g->skills;
		qprios[nsent] = Int32GetDatum(g->queue_priority);
		index[nsent] = Int32GetDatum(i);
		agings[nsent] = g->aging;
		aging_nulls[nsent] = (g->aging == (Datum) 0);
		*aging |= (g->aging != (Datum) 0);
		prefers[nsent] = BoolGetDatum(g->ws->prefer && g->ws->has_preferred_wait &&
									   !g->ws->pick_mode);
		g->fetched = 0;
		nsent++;
	}
	memset(nulls, ' ', 10);
	values[0] = PointerGetDatum(construct_array(qids, nsent, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(wsids, nsent, INT8OID, 8, true, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(skills, nsent, JSONBOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(qprios, nsent, INT4OID, 4, true, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(index, nsent, INT4OID, 4, true, TYPALIGN_INT));
	values[5] = Int64GetDatum(s->limit);
	values[6] = round_matchings(s, nsent);
	values[7] = TimestampTzGetDatum(s->now);
	values[8] = PointerGetDatum(construct_array(prefers, nsent, BOOLOID, 1, true, TYPALIGN_CHAR));
	if (*aging)
	{
		dims[0] = nsent;
		values[9] = PointerGetDatum(construct_md_array(agings, aging_nulls, 1, dims, lbs,
													   INTERVALOID, sizeof(Interval), false,
													   TYPALIGN_DOUBLE));
	}
	return nsent;
}

/* how often the agent declined the item, and its declined list if a re-offer may be */
static void
round_item_declines(RoundItem *ri, Datum declined, WorkstreamConfig *ws, int64 agent_id)
{
	ri->declines = serve_declined_count(declined, agent_id);
	ri->declined = (Datum) 0;
	if (ri->declines > 0 && ws != NULL && ri->declines < ws->max_offers)
		ri->declined = PointerGetDatum(DatumGetArrayTypePCopy(declined));
}

/*
 * A round: the top s->limit items of each takable group, merged in serving
 * order, copied out of SPI's result (nothing is kept in SPI_tuptable while
 * items are taken, which runs statements).  A group that gave all it was
 * asked for may have more, any of them better than a later row of another
 * group: the round is sure of the merged order only up to the first such
 * group's last row, and returns the items up to there; *more says that a
 * longer round would read further.  NULL when no group is takable.
 */
static RoundItem *
read_round(ServeSearch *s, int *nitems, bool *more)
{
	Datum		values[10];
	char		nulls[10];
	bool		aging;
	uint64		n;
	uint64		upto;
	RoundItem  *items;

	*more = false;
	if (round_arguments(s, values, nulls, &aging) == 0)
		return NULL;
	n = util_exec(util_plan(aging ? &open_items_aging_plan : &open_items_plan), values, nulls,
				  false, 0, SPI_OK_SELECT);
	items = palloc(sizeof(RoundItem) * (n + 1));
	upto = n;
	for (uint64 r = 0; r < n; r++)
	{
		ItemGroup  *g = &s->groups[util_col_int32(r, 2)];
		int64		nth = aging ? util_col_int64(r, 4) : ++g->fetched;

		items[r].item = util_col_int64(r, 1);
		items[r].group = g;
		/* the last row a full list gave: sure of the order up to here */
		if (nth >= s->limit && !*more)
		{
			*more = true;
			upto = r + 1;
		}
	}
	for (uint64 r = 0; r < upto; r++)
	{
		bool		isnull;
		Datum		arr = util_col(r, 3, &isnull);
		WorkstreamConfig *ws = items[r].group->ws;

		round_item_declines(&items[r], arr, ws, s->ag.id);
		items[r].held = DatumGetBool(util_col(r, 5, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	*nitems = (int) upto;
	return items;
}

/*
 * An item the agent declined before: never at max_offers_per_agent;
 * under it, picking may take it, serving only if routing would give it to
 * this agent now (nobody who declined it fewer times, then nobody ahead
 * of them in the method's order, is eligible: assign.c's two passes,
 * reserving nothing).
 */
static bool
reoffer_allowed(ServeSearch *s, const RoundItem *ri)
{
	ItemGroup  *g = ri->group;
	AssignRequest req;
	AssignResult res;
	RequiredSkills rs;
	Datum	   *elems;
	int			n;
	int64	   *excluded;
	char	   *bad;

	if (ri->declined == (Datum) 0)
		return false;
	if (s->pick)
		return true;
	deconstruct_array(DatumGetArrayTypeP(ri->declined), INT8OID, 8, true, TYPALIGN_DOUBLE,
					  &elems, NULL, &n);
	excluded = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
		excluded[i] = DatumGetInt64(elems[i]);
	memset(&req, 0, sizeof(req));
	req.ws = g->ws;
	req.queue = config_queue(g->queue_id);
	req.skills = route_required_skills_parse(DatumGetJsonbP(g->skills), &rs, &bad) ? &rs : NULL;
	req.skill_matching = g->matching;
	req.excluded = excluded;
	req.nexcluded = n;
	req.reserve = false;
	req.now = s->now;
	if (req.queue == NULL)
		return false;
	if (req.queue->condition != NULL && agentcond_reads_item(req.queue->condition))
	{
		CondItem   *item = palloc(sizeof(CondItem));

		if (!agentcond_load_item(ri->item, g->ws, item))
			return false;
		req.item = item;
	}
	return !assign_choose(&req, &res) || res.agent_id == s->ag.id;
}

/*
 * Take one item of a round if the agent still may: the group still
 * takable, room for it, not declined by them, a profile slot (none left:
 * none for its profile's groups either), not held by another transaction.
 */
static bool
take_round_item(ServeSearch *s, const RoundItem *ri)
{
	ItemGroup  *g = ri->group;
	bool		no_slot;
	bool		took;

	if (!g->takable)
		return false;
	if (g->ws->capacity_units > s->ag.free_units)
	{
		g->takable = false;
		return false;
	}
	/* held for a customer's preferred agents (not this one): passed over */
	if (ri->held)
		return false;
	if (ri->declines > 0 && !reoffer_allowed(s, ri))
		return false;
	if (g->item_condition != NULL)
	{
		CondItem	ci;

		if (!agentcond_load_item(ri->item, g->ws, &ci) ||
			!satisfies(&s->ag, g->item_condition, &ci))
			return false;
	}
	if (s->ntaken == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 8;
		s->taken = s->taken ? repalloc(s->taken, sizeof(Taken) * s->cap) :
			palloc(sizeof(Taken) * s->cap);
	}
	s->sc.item = ri->item;
	took = take_item(&s->ag, g->ws, ri->item, g->queue_id, s->pick, s->preferred, s->now,
					 &s->taken[s->ntaken], &no_slot);
	s->sc.item = 0;
	if (took)
		s->ntaken++;
	else if (no_slot)
		profile_exhausted(s->groups, s->ngroups, g->ws->capacity_profile);
	return took;
}

/*
 * Take what the agent may of a round's items, in order (picking: the
 * first).  Returns whether any item was new, not looked at in an earlier
 * round.
 */
static bool
take_round(ServeSearch *s, const RoundItem *items, int n, int64 *picked)
{
	bool		fresh = false;

	for (int r = 0; r < n; r++)
	{
		bool		found;

		hash_search(s->seen, &items[r].item, HASH_ENTER, &found);
		if (found)
			continue;
		fresh = true;
		if (take_round_item(s, &items[r]) && s->pick)
		{
			*picked = items[r].item;
			break;
		}
	}
	return fresh;
}

/* the group of the agent's groups an item belongs to, or NULL */
static ItemGroup *
find_group(ServeSearch *s, int64 queue_id, int64 ws_id, Jsonb *skills, const char *matching)
{
	for (int i = 0; i < s->ngroups; i++)
	{
		ItemGroup  *g = &s->groups[i];

		if (g->queue_id == queue_id && g->ws_id == ws_id &&
			(g->matching == NULL ? matching == NULL :
			 matching != NULL && strcmp(g->matching, matching) == 0) &&
			compareJsonbContainers(&DatumGetJsonbP(g->skills)->root, &skills->root) == 0)
			return g;
	}
	return NULL;
}

/* whether some takable group's workstream holds items for preferred agents */
static bool
groups_hold(const ServeSearch *s)
{
	for (int i = 0; i < s->ngroups; i++)
	{
		const ItemGroup *g = &s->groups[i];

		if (g->takable && g->ws->prefer && g->ws->has_preferred_wait)
			return true;
	}
	return false;
}

/* an item held for the agent, copied out of SPI's result */
typedef struct HeldItem
{
	int64		item;
	int64		queue_id;
	int64		ws_id;
	Jsonb	   *skills;
	char	   *matching;		/* the item's skill_matching, or NULL */
	Datum		declined;		/* its declined_agents */
} HeldItem;

/*
 * Serving a preferred agent: first the items held for them (prefer.c),
 * found by key, not in the backlog of their queues, each taken as a
 * round's item would be (its group takable, room, not declined, a profile
 * slot, not held by another transaction); an item taken loses its holds.
 * Every item looked at here is seen: the rounds pass over it.
 */
static void
serve_held(ServeSearch *s)
{
	Datum		values[2] = {Int64GetDatum(s->ag.id), TimestampTzGetDatum(s->now)};
	uint64		n;
	HeldItem   *held;
	bool		isnull;

	if (s->pick || !groups_hold(s))
		return;
	n = util_exec(util_plan(&held_items_plan), values, NULL, false, 0, SPI_OK_SELECT);
	held = palloc(sizeof(HeldItem) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		held[r].item = util_col_int64(r, 1);
		held[r].queue_id = util_col_int64(r, 2);
		held[r].ws_id = util_col_int64(r, 3);
		held[r].skills = DatumGetJsonbPCopy(util_col(r, 4, &isnull));
		held[r].declined = PointerGetDatum(DatumGetArrayTypePCopy(util_col(r, 5, &isnull)));
		held[r].matching = util_col_text(r, 6);
	}
	SPI_freetuptable(SPI_tuptable);
	s->preferred = true;
	for (uint64 r = 0; r < n && s->ag.free_units > 0; r++)
	{
		RoundItem	ri;

		ri.group = find_group(s, held[r].queue_id, held[r].ws_id, held[r].skills, held[r].matching);
		if (ri.group == NULL || !ri.group->ws->prefer)
			continue;
		ri.item = held[r].item;
		ri.held = false;
		round_item_declines(&ri, held[r].declined, ri.group->ws, s->ag.id);
		hash_search(s->seen, &ri.item, HASH_ENTER, NULL);
		if (take_round_item(s, &ri))
			prefer_release(ri.item);
	}
	s->preferred = false;
}

/*
 * Serving (push: items of push workstreams, as many as fit) and picking
 * (one item of a pick workstream, the agent asked for it) share the
 * search and the rules (refusal()): lock the agent, read and judge the
 * groups of their queues, then rounds of the groups' top items, each
 * reading further than the last, until the agent is full (picking: has
 * one), or nothing new is left; the items taken are booked at the end.
 */
static int
serve_or_pick(int64 agent_id, TimestampTz now, EventBuf *events, bool skip_locked,
			  bool pick, int64 *picked)
{
	ServeSearch s = {0};
	ErrorContextCallback errcb;
	int32		min_units;

	if (!lock_agent(agent_id, skip_locked, &s.ag) || s.ag.is_bot)
		return 0;				/* bots take work only as a workstream's bot */
	s.pick = pick;
	s.now = now;
	s.sc.agent_id = agent_id;
	s.sc.pick = pick;
	errcb.callback = serve_error_context;
	errcb.arg = &s.sc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	s.groups = load_groups(agent_id, &s.ngroups);
	min_units = judge_groups(&s);

	/*
	 * Items read per takable group in the first round: as many as the
	 * agent could take, up to 32 (more rounds read further when some were
	 * passed over)
	 */
	s.limit = pick ? 1 : min_units > 0 ? Min(32, Max(1, s.ag.free_units / min_units)) : 32;
	s.seen = util_int64_hash("omniroute served items", sizeof(int64), CurrentMemoryContext);
	serve_held(&s);

	for (;;)
	{
		int			n;
		bool		more;
		RoundItem  *items = read_round(&s, &n, &more);
		bool		fresh;

		if (items == NULL)
			break;
		fresh = take_round(&s, items, n, picked);
		if (pick && s.ntaken > 0)
			break;
		if (!more || !fresh || s.ag.free_units <= 0)
			break;
		s.limit *= 4;
	}
	error_context_stack = errcb.previous;

	finish_taken(agent_id, s.taken, s.ntaken, pick, now, events);
	return s.ntaken;
}

int
serve_agent(int64 agent_id, TimestampTz now, EventBuf *events)
{
	return serve_agent_ext(agent_id, now, events, false);
}

/* pick(id): the agent is a member of the item's queue, which is open now */
static void
check_pick_queue(int64 agent_id, int64 item, int64 queue_id, TimestampTz now)
{
	Datum		values[2] = {Int64GetDatum(agent_id), Int64GetDatum(queue_id)};
	bool		isnull;
	bool		member;
	char	   *hours;

	util_exec(util_plan(&pick_queue_plan), values, NULL, false, 0, SPI_OK_SELECT);
	member = DatumGetBool(util_col(0, 1, &isnull));
	hours = util_col_text(0, 2);
	SPI_freetuptable(SPI_tuptable);
	if (!member)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT
						": not a member of its queue " INT64_FORMAT, agent_id, item, queue_id)));
	if (hours != NULL && !hours_is_open(hours, now))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT
						": its queue " INT64_FORMAT " is closed (operating hours \"%s\")",
						agent_id, item, queue_id, hours),
				 errhint("Its items wait until the queue opens.")));
}

/*
 * pick(id): the agent takes the named open item, which the caller has
 * locked (FOR UPDATE) and found visible to them, if serve_or_pick would
 * let them have it: a member of its queue, the queue open, and refusal()
 * says nothing.
 * Otherwise an error that names the reason.  Lock order: the item (the
 * caller's), then the agent row -- as every lifecycle function.
 */
void
serve_pick_item(int64 agent_id, int64 item, int64 ws_id, int64 queue_id, Datum declined,
				Jsonb *required, const char *skill_matching, TimestampTz now, EventBuf *events)
{
	ServeAgent	ag;
	WorkstreamConfig *ws = config_workstream(ws_id);
	Taken		t;
	bool		no_slot;
	char	   *why;
	int			code;

	if (!lock_agent(agent_id, false, &ag))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent " INT64_FORMAT " does not exist", agent_id)));
	check_pick_queue(agent_id, item, queue_id, now);
	if ((code = refusal(&ag, ws, skill_matching, SERVE_PICK, item, declined, required, &why)) != 0 ||
		(code = condition_refusal(&ag, ws, item, queue_id, &why)) != 0)
		ereport(ERROR,
				(errcode(code),
				 errmsg("agent " INT64_FORMAT " cannot pick work item " INT64_FORMAT ": %s",
						agent_id, item, why)));
	if (!take_item(&ag, ws, item, queue_id, true, false, now, &t, &no_slot))
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
					 Datum declined, Jsonb *required, const char *skill_matching)
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
	if ((code = refusal(&ag, ws, skill_matching, SERVE_HANDOVER, item, declined, required,
						&why)) != 0 ||
		(code = condition_refusal(&ag, ws, item, queue_id, &why)) != 0)
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

	return util_exec(util_plan(&member_plan), values, NULL, false, 0, SPI_OK_SELECT) > 0;
}
