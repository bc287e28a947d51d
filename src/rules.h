/*
 * rules.h — the rule language: compile a condition against a set of typed
 * variables, evaluate it against a set of values.
 */
#ifndef OMNIROUTE_RULES_H
#define OMNIROUTE_RULES_H

#include "postgres.h"

#include "utils/jsonb.h"

/* longest rule text accepted, in bytes */
#define RULE_MAX_LENGTH		65536
/* deepest nesting of NOT and parentheses accepted */
#define RULE_MAX_DEPTH		64

typedef enum RuleType
{
	RT_TEXT,
	RT_NUMBER,
	RT_BOOL,
	RT_ANY						/* agent conditions: known when evaluated */
} RuleType;

/*
 * Variables a rule can name.  Slots 0..RULE_NBUILTINS-1 are the built-ins;
 * the workstream's context variables follow.
 */
#define RULE_SLOT_CHANNEL		0
#define RULE_SLOT_CUSTOMER_ID	1
#define RULE_SLOT_EXTERNAL_ID	2
#define RULE_SLOT_PRIORITY		3
#define RULE_NBUILTINS			4

typedef struct RuleVars
{
	int			nvars;			/* including the built-ins */
	char	  **names;
	RuleType   *types;
	/*
	 * A queue's agent condition (rule_compile_condition): agent.<key> is
	 * allowed, every name past the built-ins is of type RT_ANY, and the
	 * types are checked when evaluated (a mismatch makes the test false).
	 * With open, a name the vars do not hold is added (a context variable
	 * of some workstream, read by name from the item); else it is 42703.
	 */
	bool		condition;
	bool		open;
	int			cap;			/* allocated slots (condition vars grow) */
} RuleVars;

/* agent.<key>: a condition's variable read from the candidate's attributes */
#define RULE_AGENT_PREFIX		"agent."
#define RULE_AGENT_PREFIX_LEN	6

/*
 * A value as the evaluator sees it.  Text is stored lower-cased (text
 * comparisons ignore case); numbers as double.
 */
typedef struct RuleValue
{
	bool		isnull;
	RuleType	type;
	double		num;
	const char *str;
	int			len;
} RuleValue;

typedef struct RuleExpr RuleExpr;

/*
 * Context for error messages: which rule is being compiled.  Errors are
 * raised with ereport and name the rule and the position (1-based, in
 * characters) in its text.
 */
typedef struct RuleErrorContext
{
	const char *kind;			/* "classification rule" or "route rule" */
	const char *name;
} RuleErrorContext;

extern RuleVars *rule_vars_create(int ncontext);
extern void rule_vars_set(RuleVars *vars, int slot, const char *name, RuleType type);
extern int	rule_vars_lookup(const RuleVars *vars, const char *name, int len);

extern RuleExpr *rule_compile(const char *text, const RuleVars *vars,
							  const RuleErrorContext *ectx);
/* vars for a condition: the built-ins, then names (RT_ANY) */
extern RuleVars *rule_vars_create_condition(int nnames, char **names, bool open);
/* compile an agent condition; vars gains the names it uses */
extern RuleExpr *rule_compile_condition(const char *text, RuleVars *vars,
										const RuleErrorContext *ectx);
extern bool rule_eval(const RuleExpr *expr, const RuleValue *slots);

/* lower-cases text for the evaluator; result palloc'd unless unchanged */
extern void rule_value_set_text(RuleValue *v, const char *s, int len);
extern const char *rule_type_name(RuleType t);

/*
 * The one conversion of a JSON value into the value of a variable of the
 * given type, for an item's context and a classification rule's output
 * alike: JSON null is null; a number variable takes a JSON number or a
 * string holding one (digits, sign, point and exponent only, with optional
 * spaces around: no hex, inf or nan); a text variable takes a string,
 * a number (as written) or a boolean ("true", "false").  False, for the
 * caller to report, on anything else (out->type says which type was
 * wanted).  Strings are not copied: v must outlive the value.
 */
extern bool rule_value_from_jsonb(const JsonbValue *v, RuleType type, RuleValue *out);

/*
 * An agent attribute as a condition's agent.<key> sees it: a JSON number
 * is a number, a string text, true/false a boolean; anything else (null,
 * an object, an array, a number out of range) is null.
 */
extern void rule_value_from_attribute(const JsonbValue *v, RuleValue *out);

/* mark used[slot] for every variable slot the expression reads */
extern void rule_slots_used(const RuleExpr *expr, bool *used);

#endif							/* OMNIROUTE_RULES_H */
