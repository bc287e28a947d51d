/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Per-backend cache of workstream and queue configuration, with each
 *	  workstream's rules compiled once.
 *
 *	  Entries are loaded with SPI on first use and live in a memory context
 *	  under CacheMemoryContext.  Any change to the tables they are built from
 *	  (workstream, context_variable, classification_rule, route_rule, queue,
 *	  presence, escalation_step; route_rule_split counts as route_rule)
 *	  fires the statement trigger invalidate_cache(), which queues a
 *	  relcache invalidation for that table; every backend receives it (the
 *	  changing one at once, the others when they next process invalidations,
 *	  at latest when they lock work_item for their next insert) and our
 *	  relcache callback marks the cache stale -- the pattern pg_cron uses for
 *	  its job cache.
 *
 *	  A stale cache is not freed in the callback, since a caller may be
 *	  holding pointers into it: the next lookup moves the old context under
 *	  TopTransactionContext, so it goes away at the end of the transaction,
 *	  and starts a fresh one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "agentcond.h"
#include "config.h"
#include "jb.h"
#include "route.h"
#include "util.h"

typedef struct WsEntry
{
	int64		id;
	WorkstreamConfig *cfg;
} WsEntry;

typedef struct QueueEntry
{
	int64		id;
	QueueConfig *cfg;
} QueueEntry;

static MemoryContext cache_ctx = NULL;
static HTAB *ws_cache = NULL;
static HTAB *queue_cache = NULL;

static const char *const config_tables[] = {
	"workstream", "context_variable", "classification_rule", "route_rule",
	"queue", "presence", "escalation_step"
};
static ConfigWatch config_watch = {.tables = config_tables, .ntables = lengthof(config_tables)};

/* ----------------------------------------------------------------
 * Watches: per-backend caches built from the extension's tables
 *
 * A statement trigger on each watched table (invalidate_cache) sends a
 * relcache invalidation of it at commit, which reaches every backend; the
 * callback below then marks the caches built from it stale, and each is
 * rebuilt on its next use.  Callbacks only mark: a cache may be in use
 * when one runs.
 *
 * Entries loaded through a transaction snapshot (REPEATABLE READ,
 * SERIALIZABLE) may be older than the invalidations already processed:
 * such a transaction uses what its snapshot shows, but the cache is marked
 * stale when it ends, or that would outlive it with nothing to drop it.
 * ----------------------------------------------------------------
 */
#define MAX_WATCHES 8
static ConfigWatch *watches[MAX_WATCHES];
static int	nwatches = 0;

static void
relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	for (int w = 0; w < nwatches; w++)
	{
		if (!OidIsValid(relid))
			watches[w]->stale = true;
		for (int i = 0; i < watches[w]->ntables; i++)
			if (watches[w]->oids[i] == relid)
				watches[w]->stale = true;
	}
}

static void
xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			for (int w = 0; w < nwatches; w++)
			{
				if (watches[w]->from_xact_snapshot)
					watches[w]->stale = true;
				watches[w]->from_xact_snapshot = false;
			}
			break;
		default:
			break;
	}
}

void
config_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	RegisterXactCallback(xact_callback, NULL);
}

bool
config_watch_begin(ConfigWatch *w)
{
	Oid			nsp;

	if (!w->registered)
	{
		if (nwatches == MAX_WATCHES || w->ntables > (int) lengthof(w->oids))
			elog(ERROR, "omniroute: too many cache watches");
		watches[nwatches++] = w;
		w->registered = true;
		w->stale = true;
	}
	if (!w->stale)
		return false;

	/*
	 * Cleared first: an invalidation the lookups below process marks it
	 * stale again, and the cache built now is rebuilt on its next use.
	 */
	w->stale = false;
	w->from_xact_snapshot = false;
	nsp = get_namespace_oid("omniroute", false);
	for (int i = 0; i < w->ntables; i++)
	{
		w->oids[i] = get_relname_relid(w->tables[i], nsp);
		/* a cache no invalidation could reach would go stale for good */
		if (!OidIsValid(w->oids[i]))
		{
			w->stale = true;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("omniroute: relation \"omniroute.%s\" is missing", w->tables[i]),
					 errhint("Reinstall the extension.")));
		}
	}
	return true;
}

void
config_watch_loaded(ConfigWatch *w)
{
	if (IsolationUsesXactSnapshot())
		w->from_xact_snapshot = true;
}

static void
ensure_cache(void)
{
	if (!config_watch_begin(&config_watch) && cache_ctx != NULL)
		return;

	if (cache_ctx != NULL)
		MemoryContextSetParent(cache_ctx, TopTransactionContext);

	cache_ctx = AllocSetContextCreate(CacheMemoryContext, "omniroute config cache",
									  ALLOCSET_DEFAULT_SIZES);
	ws_cache = util_int64_hash("omniroute workstreams", sizeof(WsEntry), cache_ctx);
	queue_cache = util_int64_hash("omniroute queues", sizeof(QueueEntry), cache_ctx);
}

TimestampTz
config_offer_expires(const WorkstreamConfig *ws, TimestampTz offered_at)
{
	return util_time_plus(offered_at, &ws->offer_timeout);
}

const char *
config_method_name(AssignMethod m)
{
	switch (m)
	{
		case METHOD_HIGHEST_CAPACITY:
			return "highest_capacity";
		case METHOD_ROUND_ROBIN:
			return "round_robin";
		case METHOD_LEAST_ACTIVE:
			return "least_active";
	}
	return "?";
}

const char *
config_skill_matching_name(SkillMatching m)
{
	switch (m)
	{
		case SKILLS_EXACT:
			return "exact";
		case SKILLS_CLOSEST:
			return "closest";
		case SKILLS_NONE:
			return "none";
	}
	return "?";
}

/*
 * The skill matching an item is judged by: the one an escalation step set
 * on it (work_item.skill_matching), else its workstream's.  The column is
 * written by tick() from a step's checked value; anything else there (or
 * NULL) counts as unset.
 */
SkillMatching
config_item_matching(const WorkstreamConfig *ws, const char *item_matching)
{
	if (item_matching != NULL)
	{
		if (strcmp(item_matching, "exact") == 0)
			return SKILLS_EXACT;
		if (strcmp(item_matching, "closest") == 0)
			return SKILLS_CLOSEST;
		if (strcmp(item_matching, "none") == 0)
			return SKILLS_NONE;
	}
	return ws->skill_matching;
}

const char *
config_overflow_action_name(OverflowAction a)
{
	switch (a)
	{
		case OVERFLOW_QUEUE:
			return "queue";
		case OVERFLOW_TRANSFER:
			return "transfer";
		case OVERFLOW_CLOSE:
			return "close";
	}
	return "?";
}

/* ----------------------------------------------------------------
 * SPI helpers
 * ----------------------------------------------------------------
 */
static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static int64
get_int64(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static int32
get_int32(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

static bool
get_bool(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? false : DatumGetBool(d);
}

static bool
get_interval(HeapTuple tup, TupleDesc desc, int col, Interval *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return false;
	*out = *DatumGetIntervalP(d);
	return true;
}

/*
 * Run one of the statements below for an id, not read-only, so that the
 * rule triggers see their own transaction's changes; returns the rows.
 */
static int
run_by_id(UtilPlan *p, int64 id)
{
	Datum		values[1] = {Int64GetDatum(id)};

	return (int) util_exec(util_plan(p), values, NULL, false, 0, SPI_OK_SELECT);
}

static UtilPlan vars_plan = {
	"SELECT name, type FROM omniroute.context_variable"
	" WHERE workstream_id = $1 ORDER BY name", 1, {INT8OID}, NULL
};
static UtilPlan class_rules_plan = {
	"SELECT id, position, name, condition, output FROM omniroute.classification_rule"
	" WHERE workstream_id = $1 ORDER BY position", 1, {INT8OID}, NULL
};
static UtilPlan route_rules_plan = {
	"SELECT r.id, r.position, r.name, r.condition, r.queue_id,"
	"       ARRAY(SELECT s.queue_id FROM omniroute.route_rule_split s"
	"              WHERE s.route_rule_id = r.id ORDER BY s.queue_id),"
	"       ARRAY(SELECT s.percent FROM omniroute.route_rule_split s"
	"              WHERE s.route_rule_id = r.id ORDER BY s.queue_id)"
	"  FROM omniroute.route_rule r"
	" WHERE r.workstream_id = $1 ORDER BY r.position", 1, {INT8OID}, NULL
};
static UtilPlan workstream_plan = {
	"SELECT w.name, w.channel, w.mode, w.capacity_units, w.capacity_profile,"
	"       w.fallback_queue_id, w.skill_matching, w.keep_same_agent,"
	"       w.auto_accept, w.bot_agent_id, w.offer_timeout,"
	"       w.auto_close_after, w.wrap_up_block, w.max_offers_per_agent,"
	"       ARRAY(SELECT p.name FROM omniroute.presence p"
	"              WHERE p.name = ANY (w.allowed_presences)"
	"                 OR p.base = ANY (w.allowed_presences)"
	"              ORDER BY p.name),"
	"       w.preferred_agents, w.preferred_wait"
	"  FROM omniroute.workstream w WHERE w.id = $1", 1, {INT8OID}, NULL
};
static UtilPlan step_afters_plan = {
	"SELECT after FROM omniroute.escalation_step"
	" WHERE workstream_id = $1 ORDER BY after", 1, {INT8OID}, NULL
};
static UtilPlan queue_plan = {
	"SELECT name, assignment, priority, operating_hours, max_open, max_wait,"
	"       overflow_action, overflow_queue_id, agent_condition"
	"  FROM omniroute.queue WHERE id = $1", 1, {INT8OID}, NULL
};

/* ----------------------------------------------------------------
 * Context variables and classification outputs
 * ----------------------------------------------------------------
 */

/*
 * The variables of a workstream as a RuleVars.  The caller must be
 * connected to SPI; the result is allocated in the caller's context.
 */
RuleVars *
config_load_vars(int64 workstream_id)
{
	RuleVars   *vars;
	int			n;

	n = run_by_id(&vars_plan, workstream_id);
	vars = rule_vars_create(n);
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *type = get_text(tup, desc, 2);

		rule_vars_set(vars, RULE_NBUILTINS + i, get_text(tup, desc, 1),
					  strcmp(type, "number") == 0 ? RT_NUMBER : RT_TEXT);
	}
	return vars;
}

/* a JSON integer that fits an int32 */
static bool
jsonb_value_is_int(JsonbValue *v, int32 *out)
{
	RuleValue	rv;

	if (v->type != jbvNumeric || !rule_value_from_jsonb(v, RT_NUMBER, &rv))
		return false;
	if (rv.num != floor(rv.num) || rv.num < PG_INT32_MIN || rv.num > PG_INT32_MAX)
		return false;
	*out = (int32) rv.num;
	return true;
}

static void
skill_must_exist(const char *skill, const RuleErrorContext *ectx)
{
	static UtilPlan plan = {"SELECT 1 FROM omniroute.skill WHERE name = $1", 1, {TEXTOID}, NULL};
	Datum		values[1] = {CStringGetTextDatum(skill)};

	if (util_exec(util_plan(&plan), values, NULL, true, 1, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("%s \"%s\": output skill \"%s\" does not exist",
						ectx->kind, ectx->name, skill)));
}

/* output "priority": an integer */
static void
compile_output_priority(JsonbValue *val, const RuleErrorContext *ectx, ClassOutput *out)
{
	if (!jsonb_value_is_int(val, &out->priority))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\": output \"priority\" must be an integer",
						ectx->kind, ectx->name)));
	out->has_priority = true;
}

/*
 * output "skills": an object of existing skill to proficiency, checked as
 * an item's required_skills are, each skill in turn
 */
static void
compile_output_skills(JsonbValue *val, const RuleErrorContext *ectx, ClassOutput *out)
{
	RequiredSkills rs;
	char	   *bad;
	bool		ok;

	if (val->type != jbvBinary || !JsonContainerIsObject(val->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\": output \"skills\" must be an object of skill name to proficiency",
						ectx->kind, ectx->name)));
	out->skills = JsonbValueToJsonb(val);
	ok = route_required_skills_parse(out->skills, &rs, &bad);
	/* the skills before a bad proficiency are checked first */
	for (int i = 0; i < rs.n; i++)
		skill_must_exist(rs.names[i], ectx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\": proficiency of skill \"%s\" must be an integer from 1 to 10",
						ectx->kind, ectx->name, bad)));
}

/*
 * output key that is a context variable: its value, of the variable's type,
 * into rv; returns the variable's slot
 */
static int
compile_output_variable(const char *key, JsonbValue *val, const RuleVars *vars,
						const RuleErrorContext *ectx, RuleValue *rv)
{
	int			slot = rule_vars_lookup(vars, key, strlen(key));

	if (slot < RULE_NBUILTINS)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s \"%s\": output key \"%s\" is not a context variable of the workstream",
						ectx->kind, ectx->name, key),
				 errhint("Output keys are \"priority\", \"skills\" and the workstream's context variables.")));
	if (!rule_value_from_jsonb(val, vars->types[slot], rv))
	{
		if (vars->types[slot] == RT_NUMBER)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s \"%s\": output \"%s\" must be a number, as the variable is declared",
							ectx->kind, ectx->name, key)));
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s \"%s\": output \"%s\" must be a scalar",
						ectx->kind, ectx->name, key)));
	}
	return slot;
}

/*
 * Check a classification rule's output and compile it.  Keys: "priority"
 * (an integer), "skills" (an object skill -> proficiency 1..10), and
 * otherwise context variables with a value of their type, which make up
 * the context patch.  Needs SPI.
 */
void
config_compile_class_output(Jsonb *output, const RuleVars *vars,
							const RuleErrorContext *ectx, ClassOutput *out)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	val;
	JsonbIteratorToken tok;
	JsonBuild	patch;
	int			cap;

	memset(out, 0, sizeof(ClassOutput));
	out->source = output;
	if (!JB_ROOT_IS_OBJECT(output))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\": output must be a JSON object", ectx->kind, ectx->name)));

	cap = JB_ROOT_COUNT(output) + 1;
	out->patched_slots = palloc(sizeof(int) * cap);
	out->patched_values = palloc0(sizeof(RuleValue) * cap);

	jb_init(&patch);
	jb_object(&patch);
	it = JsonbIteratorInit(&output->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);

		if (strcmp(key, "priority") == 0)
			compile_output_priority(&val, ectx, out);
		else if (strcmp(key, "skills") == 0)
			compile_output_skills(&val, ectx, out);
		else
		{
			out->patched_slots[out->npatched] =
				compile_output_variable(key, &val, vars, ectx,
										&out->patched_values[out->npatched]);
			out->npatched++;
			jb_key(&patch, key);
			jb_value(&patch, &val);
		}
	}
	jb_end_object(&patch);
	out->context_patch = out->npatched > 0 ? DatumGetJsonbP(jb_finish(&patch)) : NULL;
}

/* ----------------------------------------------------------------
 * Loading
 * ----------------------------------------------------------------
 */
/* a route rule's split from its two arrays (queues ascending, percents) */
static void
load_split(HeapTuple tup, TupleDesc desc, CompiledRule *r)
{
	bool		isnull;
	Datum	   *queues;
	Datum	   *percents;
	int			n;

	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 6, &isnull)),
					  INT8OID, 8, true, TYPALIGN_DOUBLE, &queues, NULL, &n);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 7, &isnull)),
					  INT4OID, 4, true, TYPALIGN_INT, &percents, NULL, &n);
	r->nsplit = n;
	r->split_total = 0;
	if (n == 0)
		return;
	r->split_queues = palloc(sizeof(int64) * n);
	r->split_percents = palloc(sizeof(int32) * n);
	for (int i = 0; i < n; i++)
	{
		r->split_queues[i] = DatumGetInt64(queues[i]);
		r->split_percents[i] = DatumGetInt32(percents[i]);
		r->split_total += r->split_percents[i];
	}
}

static void
load_rules(int64 wsid, bool classification, WorkstreamConfig *cfg)
{
	int			n;
	CompiledRule *rules;
	RuleErrorContext ectx;

	ectx.kind = classification ? "classification rule" : "route rule";
	n = run_by_id(classification ? &class_rules_plan : &route_rules_plan, wsid);
	rules = palloc0(sizeof(CompiledRule) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		/* SPI_tuptable is replaced by nested queries: keep ours */
		SPITupleTable *tt = SPI_tuptable;
		HeapTuple	tup = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		CompiledRule *r = &rules[i];

		r->id = get_int64(tup, desc, 1);
		r->position = get_int32(tup, desc, 2);
		r->name = get_text(tup, desc, 3);
		ectx.name = r->name;
		r->expr = rule_compile(get_text(tup, desc, 4), cfg->vars, &ectx);
		if (classification)
		{
			bool		isnull;
			Jsonb	   *output = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));

			config_compile_class_output(output, cfg->vars, &ectx, &r->output);
			SPI_tuptable = tt;
		}
		else
		{
			r->queue_id = get_int64(tup, desc, 5);
			load_split(tup, desc, r);
		}
	}
	if (classification)
	{
		cfg->nclass = n;
		cfg->class_rules = rules;
	}
	else
	{
		cfg->nroute = n;
		cfg->route_rules = rules;
	}
}

/* the afters of the workstream's escalation steps, in order */
static void
load_step_afters(int64 wsid, WorkstreamConfig *cfg)
{
	int			n = run_by_id(&step_afters_plan, wsid);

	cfg->nsteps = n;
	cfg->step_afters = palloc(sizeof(Interval) * Max(n, 1));
	for (int i = 0; i < n; i++)
		get_interval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &cfg->step_afters[i]);
}

static WorkstreamConfig *
load_workstream(int64 id)
{
	WorkstreamConfig *cfg;
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *s;
	bool		isnull;
	Datum		arr;
	Datum	   *elems;
	int			nelems;

	if (run_by_id(&workstream_plan, id) == 0)
		return NULL;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	cfg = palloc0(sizeof(WorkstreamConfig));
	cfg->id = id;
	cfg->name = get_text(tup, desc, 1);
	cfg->channel = get_text(tup, desc, 2);
	cfg->pick_mode = strcmp(get_text(tup, desc, 3), "pick") == 0;
	cfg->capacity_units = get_int32(tup, desc, 4);
	cfg->capacity_profile = get_text(tup, desc, 5);
	cfg->fallback_queue_id = get_int64(tup, desc, 6);
	s = get_text(tup, desc, 7);
	cfg->skill_matching = strcmp(s, "closest") == 0 ? SKILLS_CLOSEST :
		strcmp(s, "none") == 0 ? SKILLS_NONE : SKILLS_EXACT;
	cfg->keep_same_agent = get_bool(tup, desc, 8);
	cfg->auto_accept = get_bool(tup, desc, 9);
	cfg->bot_agent_id = get_int64(tup, desc, 10);
	get_interval(tup, desc, 11, &cfg->offer_timeout);
	cfg->has_auto_close = get_interval(tup, desc, 12, &cfg->auto_close_after);
	cfg->has_wrap_up_block = get_interval(tup, desc, 13, &cfg->wrap_up_block);
	cfg->max_offers = get_int32(tup, desc, 14);
	arr = SPI_getbinval(tup, desc, 15, &isnull);
	deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &nelems);
	cfg->npresences = nelems;
	cfg->presences = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		cfg->presences[i] = TextDatumGetCString(elems[i]);
	cfg->prefer = strcmp(get_text(tup, desc, 16), "prefer") == 0;
	cfg->has_preferred_wait = get_interval(tup, desc, 17, &cfg->preferred_wait);

	load_step_afters(id, cfg);
	cfg->vars = config_load_vars(id);
	load_rules(id, true, cfg);
	load_rules(id, false, cfg);
	return cfg;
}

/*
 * The configuration of a workstream, or NULL if there is none.  The result
 * stays valid until the end of the transaction.
 */
WorkstreamConfig *
config_workstream(int64 id)
{
	WsEntry    *entry;
	bool		found;
	MemoryContext build_ctx;
	MemoryContext old;
	WorkstreamConfig *cfg;

	ensure_cache();
	entry = hash_search(ws_cache, &id, HASH_FIND, &found);
	if (found)
		return entry->cfg;

	/*
	 * Build in a context of its own under the current one, so that an error
	 * leaks nothing; adopt it into the cache once complete.
	 */
	old = CurrentMemoryContext;
	build_ctx = AllocSetContextCreate(old, "omniroute workstream",
									  ALLOCSET_SMALL_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	MemoryContextSwitchTo(build_ctx);
	cfg = load_workstream(id);
	SPI_finish();
	MemoryContextSwitchTo(old);

	if (cfg == NULL)
	{
		MemoryContextDelete(build_ctx);
		return NULL;
	}
	/* the cache may have been reset by invalidations while we loaded */
	ensure_cache();
	MemoryContextSetParent(build_ctx, cache_ctx);
	entry = hash_search(ws_cache, &id, HASH_ENTER, &found);
	entry->cfg = cfg;
	config_watch_loaded(&config_watch);
	return cfg;
}

/* a queue's row as read by queue_plan, in the current context */
static QueueConfig *
load_queue(int64 id, HeapTuple tup, TupleDesc desc)
{
	QueueConfig *cfg = palloc0(sizeof(QueueConfig));
	char	   *method = get_text(tup, desc, 2);
	char	   *action = get_text(tup, desc, 7);
	char	   *condition;

	cfg->id = id;
	cfg->name = get_text(tup, desc, 1);
	cfg->method = strcmp(method, "round_robin") == 0 ? METHOD_ROUND_ROBIN :
		strcmp(method, "least_active") == 0 ? METHOD_LEAST_ACTIVE :
		METHOD_HIGHEST_CAPACITY;
	cfg->priority = get_int32(tup, desc, 3);
	cfg->operating_hours = get_text(tup, desc, 4);
	cfg->max_open = get_int32(tup, desc, 5);
	cfg->has_max_wait = get_interval(tup, desc, 6, &cfg->max_wait);
	cfg->overflow_action = strcmp(action, "transfer") == 0 ? OVERFLOW_TRANSFER :
		strcmp(action, "close") == 0 ? OVERFLOW_CLOSE : OVERFLOW_QUEUE;
	cfg->overflow_queue_id = get_int64(tup, desc, 8);
	condition = get_text(tup, desc, 9);
	if (condition != NULL)
		cfg->condition = agentcond_compile(condition, cfg->name, true);
	return cfg;
}

QueueConfig *
config_queue(int64 id)
{
	QueueEntry *entry;
	bool		found;
	QueueConfig *cfg = NULL;

	ensure_cache();
	entry = hash_search(queue_cache, &id, HASH_FIND, &found);
	if (found)
		return entry->cfg;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	if (run_by_id(&queue_plan, id) > 0)
	{
		/* built apart (an agent condition may fail to compile), then adopted */
		MemoryContext build_ctx = AllocSetContextCreate(CurrentMemoryContext, "omniroute queue",
														ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(build_ctx);

		cfg = load_queue(id, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
		ensure_cache();
		MemoryContextSetParent(build_ctx, cache_ctx);
		entry = hash_search(queue_cache, &id, HASH_ENTER, &found);
		entry->cfg = cfg;
		config_watch_loaded(&config_watch);
	}
	SPI_finish();
	return cfg;
}

/* ----------------------------------------------------------------
 * Trigger: invalidate_cache
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(omniroute_invalidate_cache);

Datum
omniroute_invalidate_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("invalidate_cache() must be called as a trigger")));
	/* the table itself, or the relation of schema omniroute its argument names */
	if (trigdata->tg_trigger->tgnargs > 0)
	{
		const char *name = trigdata->tg_trigger->tgargs[0];
		Oid			relid = get_relname_relid(name, get_namespace_oid("omniroute", false));

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"omniroute.%s\" does not exist", name)));
		CacheInvalidateRelcacheByRelid(relid);
	}
	else
		CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}
