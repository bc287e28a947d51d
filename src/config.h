/*
 * config.h — per-backend cache of workstream and queue configuration with
 * compiled rules.
 */
#ifndef OMNIROUTE_CONFIG_H
#define OMNIROUTE_CONFIG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "rules.h"

typedef enum SkillMatching
{
	SKILLS_EXACT,
	SKILLS_CLOSEST,
	SKILLS_NONE
} SkillMatching;

typedef enum AssignMethod
{
	METHOD_HIGHEST_CAPACITY,
	METHOD_ROUND_ROBIN,
	METHOD_LEAST_ACTIVE
} AssignMethod;

/* what a full or closed queue does with an item routed into it (overflow.c) */
typedef enum OverflowAction
{
	OVERFLOW_QUEUE,				/* it stays and waits */
	OVERFLOW_TRANSFER,			/* it moves to overflow_queue_id */
	OVERFLOW_CLOSE				/* it is closed, close_reason 'overflow' */
} OverflowAction;

/* what a classification rule does when it fires */
typedef struct ClassOutput
{
	Jsonb	   *source;			/* the output as written */
	bool		has_priority;
	int32		priority;
	Jsonb	   *skills;			/* skill -> proficiency, or NULL */
	Jsonb	   *context_patch;	/* context keys to set, or NULL */
	int		   *patched_slots;	/* slots whose value the patch changes */
	RuleValue  *patched_values; /* ... and their new values */
	int			npatched;
} ClassOutput;

typedef struct CompiledRule
{
	int64		id;
	int32		position;
	char	   *name;
	RuleExpr   *expr;
	ClassOutput output;			/* classification rules */
	int64		queue_id;		/* route rules */
	/* a route rule's percentage split (route_rule_split), nsplit 0: none */
	int			nsplit;
	int64	   *split_queues;	/* ascending */
	int32	   *split_percents;
	int32		split_total;	/* 100 but inside a transaction editing it */
} CompiledRule;

typedef struct WorkstreamConfig
{
	int64		id;
	char	   *name;
	char	   *channel;
	bool		pick_mode;
	int32		capacity_units;
	char	   *capacity_profile;	/* or NULL */
	int64		fallback_queue_id;
	SkillMatching skill_matching;
	bool		keep_same_agent;
	bool		auto_accept;
	int64		bot_agent_id;	/* 0: none */
	Interval	offer_timeout;
	bool		has_auto_close;
	Interval	auto_close_after;
	bool		has_wrap_up_block;
	Interval	wrap_up_block;
	int32		max_offers;		/* max_offers_per_agent: offers of one item to one agent */
	/* preferred agents: preferred_agents = 'prefer', and preferred_wait */
	bool		prefer;
	bool		has_preferred_wait;
	Interval	preferred_wait;
	/* the afters of its escalation steps, in order (timer.c) */
	int			nsteps;
	Interval   *step_afters;
	/* allowed presences, expanded to every presence name whose base is allowed */
	int			npresences;
	char	  **presences;
	RuleVars   *vars;
	int			nclass;
	CompiledRule *class_rules;
	int			nroute;
	CompiledRule *route_rules;
} WorkstreamConfig;

/*
 * A queue's agent condition, compiled (agentcond.c): its vars are the
 * built-ins, then the names it uses past them, each either agent.<key>
 * (read from the candidate's attributes) or a context variable read by
 * name from the item, of the type the item's workstream declares it.
 */
typedef struct AgentCondition
{
	char	   *text;
	RuleExpr   *expr;
	RuleVars   *vars;
	int			nitem;			/* context variables: their slots */
	int		   *item_slots;
	int			nagent;			/* agent.<key>: their slots and keys */
	int		   *agent_slots;
	char	  **agent_keys;
	bool		reads_item;		/* a built-in or a context variable */
} AgentCondition;

typedef struct QueueConfig
{
	int64		id;
	char	   *name;
	AssignMethod method;
	int32		priority;
	/* time: operating hours, overflow */
	char	   *operating_hours;	/* NULL: always open */
	int32		max_open;		/* 0: never full */
	bool		has_max_wait;
	Interval	max_wait;
	OverflowAction overflow_action;
	int64		overflow_queue_id;	/* 0: none */
	AgentCondition *condition;	/* NULL: every member may be offered work */
} QueueConfig;

extern void config_init(void);

/*
 * A per-backend cache built from some of the extension's tables, stale
 * once any of them changes (see config.c).  Declare it static, naming
 * its tables: {.tables = names, .ntables = lengthof(names)}.
 */
typedef struct ConfigWatch
{
	const char *const *tables;
	int			ntables;
	bool		registered;
	bool		stale;			/* rebuild before the next use */
	bool		from_xact_snapshot; /* loaded through a transaction snapshot */
	Oid			oids[16];
} ConfigWatch;

/* true when the cache must be (re)built now; call before each use */
extern bool config_watch_begin(ConfigWatch *w);
/* note that entries were loaded (under REPEATABLE READ: stale at its end) */
extern void config_watch_loaded(ConfigWatch *w);
extern WorkstreamConfig *config_workstream(int64 id);
extern QueueConfig *config_queue(int64 id);
/* when an offer made at offered_at under ws expires */
extern TimestampTz config_offer_expires(const WorkstreamConfig *ws, TimestampTz offered_at);
extern const char *config_method_name(AssignMethod m);
extern const char *config_skill_matching_name(SkillMatching m);
/* an item's skill matching: its own (set by an escalation step), else ws's */
extern SkillMatching config_item_matching(const WorkstreamConfig *ws, const char *item_matching);
extern const char *config_overflow_action_name(OverflowAction a);

/* used by the rule triggers and the cache loader alike */
extern RuleVars *config_load_vars(int64 workstream_id);
extern void config_compile_class_output(Jsonb *output, const RuleVars *vars,
										const RuleErrorContext *ectx, ClassOutput *out);

#endif							/* OMNIROUTE_CONFIG_H */
