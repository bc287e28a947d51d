/*-------------------------------------------------------------------------
 *
 * rules.c
 *	  The rule language: lexer, parser, type checker and evaluator.
 *
 *	  expr  := expr OR expr | expr AND expr | NOT expr | '(' expr ')' | test
 *	  test  := value op value | value [NOT] IN '(' literal {',' literal} ')'
 *			 | value IS [NOT] NULL
 *	  op    := = | == | != | <> | < | <= | > | >= | CONTAINS
 *			 | STARTS WITH | ENDS WITH
 *	  value := identifier | 'string' | "string" | number | TRUE | FALSE
 *
 *	  A bare TRUE or FALSE is also accepted as a whole expression (a rule
 *	  that always or never fires).  Keywords are case-insensitive,
 *	  identifiers are not (they are JSON keys of the item's context).
 *
 *	  Compilation checks syntax (42601), identifiers (42703) and types
 *	  (42804) and produces a tree whose variables are slot numbers, so that
 *	  evaluation never looks a name up.  AND and OR nodes are n-ary: a long
 *	  chain of ANDs is one flat node, so the depth of the tree -- and of the
 *	  evaluator's recursion -- is bounded by the nesting of NOT and
 *	  parentheses, which the parser limits to RULE_MAX_DEPTH.  The text is
 *	  limited to RULE_MAX_LENGTH bytes.  Together these make any input a
 *	  clean error, never a stack overflow.
 *
 *	  Semantics: a test on a missing or null value is false (IS NULL aside);
 *	  NOT inverts.  Text comparisons ignore case: text values are lower-cased
 *	  once, literals at compile time and item values when they are read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/formatting.h"
#include "utils/numeric.h"

#include "rules.h"

typedef enum TokKind
{
	TK_EOF,
	TK_IDENT,
	TK_STRING,
	TK_NUMBER,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_MINUS,
	TK_EQ,
	TK_NE,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_IN,
	TK_IS,
	TK_NULL,
	TK_TRUE,
	TK_FALSE,
	TK_CONTAINS,
	TK_STARTS,
	TK_ENDS,
	TK_WITH
} TokKind;

typedef enum CmpOp
{
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_CONTAINS,
	OP_STARTS,
	OP_ENDS
} CmpOp;

static const char *const op_names[] = {
	"=", "!=", "<", "<=", ">", ">=", "CONTAINS", "STARTS WITH", "ENDS WITH"
};

typedef enum NodeKind
{
	N_AND,
	N_OR,
	N_NOT,
	N_CONST,
	N_CMP,
	N_IN,
	N_ISNULL
} NodeKind;

/* an operand: a variable slot, or a literal */
typedef struct Operand
{
	int			slot;			/* -1 for a literal */
	RuleValue	lit;
	RuleType	type;
	int			pos;			/* for error messages */
} Operand;

struct RuleExpr
{
	NodeKind	kind;
	bool		negated;		/* NOT IN, IS NOT NULL */
	bool		constval;		/* N_CONST */
	CmpOp		op;				/* N_CMP */
	bool		dynamic;		/* N_CMP, N_IN: types checked when evaluated */
	Operand		left;
	Operand		right;			/* N_CMP */
	int			nchildren;		/* N_AND, N_OR: children; N_NOT: 1; N_IN: list */
	RuleExpr  **children;
	Operand    *list;			/* N_IN */
};

typedef struct Token
{
	TokKind		kind;
	int			start;			/* byte offset */
	int			len;			/* bytes in the source */
	char	   *sval;			/* unescaped string, identifier */
	int			slen;
	double		nval;
} Token;

typedef struct Parser
{
	const char *text;
	int			textlen;
	int			off;
	Token		tok;
	int			depth;
	const RuleVars *vars;
	RuleVars   *cvars;			/* an agent condition's (grows), else NULL */
	const RuleErrorContext *ectx;
} Parser;

const char *
rule_type_name(RuleType t)
{
	switch (t)
	{
		case RT_TEXT:
			return "text";
		case RT_NUMBER:
			return "number";
		case RT_BOOL:
			return "boolean";
		case RT_ANY:
			return "any";
	}
	return "?";
}

/* ----------------------------------------------------------------
 * Variables
 * ----------------------------------------------------------------
 */
RuleVars *
rule_vars_create(int ncontext)
{
	RuleVars   *vars = palloc0(sizeof(RuleVars));

	vars->nvars = RULE_NBUILTINS + ncontext;
	vars->cap = vars->nvars;
	vars->names = palloc0(sizeof(char *) * vars->nvars);
	vars->types = palloc0(sizeof(RuleType) * vars->nvars);
	rule_vars_set(vars, RULE_SLOT_CHANNEL, "channel", RT_TEXT);
	rule_vars_set(vars, RULE_SLOT_CUSTOMER_ID, "customer_id", RT_TEXT);
	rule_vars_set(vars, RULE_SLOT_EXTERNAL_ID, "external_id", RT_TEXT);
	rule_vars_set(vars, RULE_SLOT_PRIORITY, "priority", RT_NUMBER);
	return vars;
}

void
rule_vars_set(RuleVars *vars, int slot, const char *name, RuleType type)
{
	Assert(slot >= 0 && slot < vars->nvars);
	vars->names[slot] = pstrdup(name);
	vars->types[slot] = type;
}

RuleVars *
rule_vars_create_condition(int nnames, char **names, bool open)
{
	RuleVars   *vars = rule_vars_create(nnames);

	vars->condition = true;
	vars->open = open;
	for (int i = 0; i < nnames; i++)
		rule_vars_set(vars, RULE_NBUILTINS + i, names[i], RT_ANY);
	return vars;
}

/* a condition's new variable (type RT_ANY); returns its slot */
static int
rule_vars_add(RuleVars *vars, const char *name)
{
	if (vars->nvars == vars->cap)
	{
		vars->cap = vars->cap * 2 + 4;
		vars->names = repalloc(vars->names, sizeof(char *) * vars->cap);
		vars->types = repalloc(vars->types, sizeof(RuleType) * vars->cap);
	}
	vars->nvars++;
	rule_vars_set(vars, vars->nvars - 1, name, RT_ANY);
	return vars->nvars - 1;
}

int
rule_vars_lookup(const RuleVars *vars, const char *name, int len)
{
	for (int i = 0; i < vars->nvars; i++)
	{
		if (vars->names[i] && strncmp(vars->names[i], name, len) == 0 &&
			vars->names[i][len] == '\0')
			return i;
	}
	return -1;
}

/* ----------------------------------------------------------------
 * Values
 * ----------------------------------------------------------------
 */

/*
 * Text comparisons ignore case whatever the database's locale: non-ASCII
 * text is lower-cased with the ICU root collation when the server has ICU
 * (Debian's has), so 'ÉCOLE' = 'école' holds in a C-locale database too.
 */
static Oid
fold_collation(void)
{
	static Oid	coll = InvalidOid;

	if (!OidIsValid(coll))
	{
		Oid			icu = get_collation_oid(list_make2(makeString("pg_catalog"),
													   makeString("und-x-icu")), true);

		coll = OidIsValid(icu) ? icu : DEFAULT_COLLATION_OID;
	}
	return coll;
}

/*
 * A number written as text ("42", " -1.5e3 "): digits, sign, point and
 * exponent only, surrounded by optional spaces -- no hex, no inf/nan, no
 * empty or blank string.
 */
static bool
rule_parse_number(const char *s, int len, double *out)
{
	char	   *buf;
	char	   *end;
	int			start = 0;
	bool		digit = false;

	while (start < len && s[start] == ' ')
		start++;
	while (len > start && s[len - 1] == ' ')
		len--;
	if (start == len)
		return false;
	for (int i = start; i < len; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
			digit = true;
		else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
			return false;
	}
	if (!digit)
		return false;
	buf = pnstrdup(s + start, len - start);
	errno = 0;
	*out = strtod(buf, &end);
	return *end == '\0' && errno == 0 && !isinf(*out) && !isnan(*out);
}

void
rule_value_set_text(RuleValue *v, const char *s, int len)
{
	bool		plain = true;

	v->isnull = false;
	v->type = RT_TEXT;
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x80 || (c >= 'A' && c <= 'Z'))
		{
			plain = false;
			break;
		}
	}
	if (plain)
	{
		v->str = s;
		v->len = len;
	}
	else
	{
		char	   *lower = str_tolower(s, len, fold_collation());

		v->str = lower;
		v->len = strlen(lower);
	}
}

/* a JSON number, or a string holding one, as a double that fits */
static bool
jsonb_number(const JsonbValue *v, double *out)
{
	if (v->type == jbvNumeric)
	{
		*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
												  NumericGetDatum(v->val.numeric)));
		return !isinf(*out) && !isnan(*out);
	}
	if (v->type == jbvString)
		return rule_parse_number(v->val.string.val, v->val.string.len, out);
	return false;
}

bool
rule_value_from_jsonb(const JsonbValue *v, RuleType type, RuleValue *out)
{
	memset(out, 0, sizeof(RuleValue));
	if (v->type == jbvNull)
	{
		out->isnull = true;
		return true;
	}
	if (type == RT_NUMBER)
	{
		out->type = RT_NUMBER;
		return jsonb_number(v, &out->num);
	}
	switch (v->type)
	{
		case jbvString:
			rule_value_set_text(out, v->val.string.val, v->val.string.len);
			return true;
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));

				rule_value_set_text(out, s, strlen(s));
				return true;
			}
		case jbvBool:
			rule_value_set_text(out, v->val.boolean ? "true" : "false",
								v->val.boolean ? 4 : 5);
			return true;
		default:
			return false;
	}
}

void
rule_value_from_attribute(const JsonbValue *v, RuleValue *out)
{
	memset(out, 0, sizeof(RuleValue));
	out->isnull = true;
	switch (v->type)
	{
		case jbvNumeric:
			out->type = RT_NUMBER;
			out->isnull = !jsonb_number(v, &out->num);
			break;
		case jbvString:
			rule_value_set_text(out, v->val.string.val, v->val.string.len);
			break;
		case jbvBool:
			out->isnull = false;
			out->type = RT_BOOL;
			out->num = v->val.boolean ? 1 : 0;
			break;
		default:
			break;
	}
}

/* ----------------------------------------------------------------
 * Errors
 * ----------------------------------------------------------------
 */

/* 1-based character position of a byte offset */
static int
char_position(Parser *p, int off)
{
	return pg_mbstrlen_with_len(p->text, off) + 1;
}

static char *
caret_detail(Parser *p, int off)
{
	StringInfoData buf;
	int			col;

	if (p->textlen > 200 || memchr(p->text, '\n', p->textlen) != NULL)
		return NULL;
	col = char_position(p, off) - 1;
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n", p->text);
	for (int i = 0; i < col; i++)
		appendStringInfoChar(&buf, ' ');
	appendStringInfoChar(&buf, '^');
	return buf.data;
}

#define RULE_ERROR(p, code, off, ...) \
	do { \
		char *detail_ = caret_detail((p), (off)); \
		ereport(ERROR, \
				(errcode(code), \
				 errmsg("%s \"%s\": %s at position %d", \
						(p)->ectx->kind, (p)->ectx->name, \
						psprintf(__VA_ARGS__), char_position((p), (off))), \
				 detail_ ? errdetail("%s", detail_) : 0)); \
	} while (0)

static const char *
token_text(Parser *p, const Token *t)
{
	if (t->kind == TK_EOF)
		return "end of rule";
	/* at most 40 bytes, never cutting a character in two */
	return psprintf("\"%.*s\"", pg_mbcliplen(p->text + t->start, t->len, 40),
					p->text + t->start);
}

/* ----------------------------------------------------------------
 * Lexer
 * ----------------------------------------------------------------
 */
static const struct
{
	const char *word;
	TokKind		kind;
}			keywords[] =
{
	{"and", TK_AND},
	{"or", TK_OR},
	{"not", TK_NOT},
	{"in", TK_IN},
	{"is", TK_IS},
	{"null", TK_NULL},
	{"true", TK_TRUE},
	{"false", TK_FALSE},
	{"contains", TK_CONTAINS},
	{"starts", TK_STARTS},
	{"ends", TK_ENDS},
	{"with", TK_WITH},
};

static inline bool
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline bool
is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/*
 * Punctuation and operators, longest first so that "<=" is not read as
 * "<" followed by "=".
 */
static const struct
{
	const char *text;
	TokKind		kind;
}			operators[] =
{
	{"==", TK_EQ},
	{"!=", TK_NE},
	{"<>", TK_NE},
	{"<=", TK_LE},
	{">=", TK_GE},
	{"=", TK_EQ},
	{"<", TK_LT},
	{">", TK_GT},
	{"(", TK_LPAREN},
	{")", TK_RPAREN},
	{",", TK_COMMA},
	{"-", TK_MINUS},
};

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* an identifier, or a keyword (case-insensitive) */
static void
lex_word(Parser *p)
{
	const char *s = p->text;
	Token	   *t = &p->tok;
	int			j = t->start;

	while (j < p->textlen && is_ident_char(s[j]))
		j++;
	/* agent.<key> is one identifier (known in agent conditions only) */
	if (j - t->start == RULE_AGENT_PREFIX_LEN - 1 &&
		memcmp(s + t->start, RULE_AGENT_PREFIX, RULE_AGENT_PREFIX_LEN - 1) == 0 &&
		j + 1 < p->textlen && s[j] == '.' && is_ident_start(s[j + 1]))
	{
		j++;
		while (j < p->textlen && is_ident_char(s[j]))
			j++;
	}
	t->kind = TK_IDENT;
	t->len = j - t->start;
	for (size_t k = 0; k < lengthof(keywords); k++)
	{
		if (pg_strncasecmp(keywords[k].word, s + t->start, t->len) == 0 &&
			keywords[k].word[t->len] == '\0')
		{
			t->kind = keywords[k].kind;
			break;
		}
	}
	if (t->kind == TK_IDENT)
	{
		t->sval = pnstrdup(s + t->start, t->len);
		t->slen = t->len;
	}
}

/* 'string' or "string"; the quote doubled stands for itself */
static void
lex_string(Parser *p)
{
	const char *s = p->text;
	Token	   *t = &p->tok;
	char		q = s[t->start];
	StringInfoData buf;
	int			j = t->start + 1;

	initStringInfo(&buf);
	for (;;)
	{
		if (j >= p->textlen)
			RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, t->start, "unterminated string");
		if (s[j] == q)
		{
			if (j + 1 < p->textlen && s[j + 1] == q)
			{
				appendStringInfoChar(&buf, q);
				j += 2;
				continue;
			}
			j++;
			break;
		}
		appendStringInfoChar(&buf, s[j]);
		j++;
	}
	t->kind = TK_STRING;
	t->len = j - t->start;
	t->sval = buf.data;
	t->slen = buf.len;
}

/* digits [. digits] [e [+-] digits], or . digits ...; no sign */
static void
lex_number(Parser *p)
{
	const char *s = p->text;
	int			n = p->textlen;
	Token	   *t = &p->tok;
	int			i = t->start;
	int			j = i;
	char	   *num;
	char	   *end;

	while (j < n && is_digit(s[j]))
		j++;
	if (j < n && s[j] == '.')
	{
		j++;
		while (j < n && is_digit(s[j]))
			j++;
	}
	if (j < n && (s[j] == 'e' || s[j] == 'E'))
	{
		int			k = j + 1;

		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k < n && is_digit(s[k]))
		{
			j = k;
			while (j < n && is_digit(s[j]))
				j++;
		}
	}
	if (j < n && is_ident_char(s[j]))
		RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, i, "invalid number \"%.*s\"",
				   pg_mbcliplen(s + i, n - i, Min(j - i + 1, 40)), s + i);
	num = pnstrdup(s + i, j - i);
	errno = 0;
	t->nval = strtod(num, &end);
	if (errno != 0 || isinf(t->nval) || *end != '\0')
		RULE_ERROR(p, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, i,
				   "number \"%.40s\" is out of range", num);
	t->kind = TK_NUMBER;
	t->len = j - i;
}

/* punctuation or an operator; anything else is an error */
static void
lex_operator(Parser *p)
{
	const char *s = p->text + p->tok.start;
	int			left = p->textlen - p->tok.start;
	int			clen;

	for (size_t k = 0; k < lengthof(operators); k++)
	{
		int			len = strlen(operators[k].text);

		if (len <= left && memcmp(operators[k].text, s, len) == 0)
		{
			p->tok.kind = operators[k].kind;
			p->tok.len = len;
			return;
		}
	}
	if ((unsigned char) s[0] < 0x20 || s[0] == 0x7f)
		RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
				   "unexpected character 0x%02x", (unsigned char) s[0]);
	clen = Min(pg_mblen(s), left);
	RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
			   "unexpected character \"%.*s\"", clen, s);
}

/* read the next token into p->tok, past blanks */
static void
next_token(Parser *p)
{
	const char *s = p->text;
	int			n = p->textlen;
	int			i = p->off;
	Token	   *t = &p->tok;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	t->start = i;
	t->len = 0;
	t->sval = NULL;
	t->slen = 0;
	if (i >= n)
		t->kind = TK_EOF;
	else if (is_ident_start(s[i]))
		lex_word(p);
	else if (s[i] == '\'' || s[i] == '"')
		lex_string(p);
	else if (is_digit(s[i]) || (s[i] == '.' && i + 1 < n && is_digit(s[i + 1])))
		lex_number(p);
	else
		lex_operator(p);
	p->off = t->start + t->len;
}

/* ----------------------------------------------------------------
 * Parser and type checker
 * ----------------------------------------------------------------
 */
static RuleExpr *parse_or(Parser *p);

static RuleExpr *
new_node(NodeKind kind)
{
	RuleExpr   *e = palloc0(sizeof(RuleExpr));

	e->kind = kind;
	return e;
}

static void
expect(Parser *p, TokKind kind, const char *what)
{
	if (p->tok.kind != kind)
		RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
				   "expected %s but found %s", what, token_text(p, &p->tok));
	next_token(p);
}

static bool
starts_value(TokKind k)
{
	return k == TK_IDENT || k == TK_STRING || k == TK_NUMBER ||
		k == TK_TRUE || k == TK_FALSE || k == TK_MINUS;
}

static const char *
unknown_identifier_hint(Parser *p, const Token *t)
{
	bool		agent = strncmp(t->sval, RULE_AGENT_PREFIX, RULE_AGENT_PREFIX_LEN) == 0;

	if (p->cvars != NULL)
		return "Identifiers are agent.<key> (the candidate's attributes), channel, customer_id, external_id, priority and the context variables of any workstream.";
	if (agent)
		return "agent.<key> reads a candidate's attributes: only a queue's agent_condition may use it.";
	return "Identifiers are the workstream's context variables and channel, customer_id, external_id, priority.";
}

/*
 * The slot of an identifier: one of the vars; in an agent condition also
 * agent.<key>, and (open vars) any other name, added as they come.
 */
static int
resolve_identifier(Parser *p, const Token *t)
{
	int			slot = rule_vars_lookup(p->vars, t->sval, t->slen);
	char	   *detail;

	if (slot >= 0)
		return slot;
	if (p->cvars != NULL &&
		(p->cvars->open || strncmp(t->sval, RULE_AGENT_PREFIX, RULE_AGENT_PREFIX_LEN) == 0))
		return rule_vars_add(p->cvars, t->sval);
	detail = caret_detail(p, t->start);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s \"%s\": unknown identifier \"%s\" at position %d",
					p->ectx->kind, p->ectx->name, t->sval,
					char_position(p, t->start)),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("%s", unknown_identifier_hint(p, t))));
	return -1;					/* keep compiler quiet */
}

/* value := identifier | string | number | TRUE | FALSE */
static void
parse_value(Parser *p, Operand *o, bool literal_only)
{
	Token	   *t = &p->tok;

	memset(o, 0, sizeof(Operand));
	o->slot = -1;
	o->pos = t->start;
	switch (t->kind)
	{
		case TK_IDENT:
			if (literal_only)
				RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, t->start,
						   "expected a literal but found identifier \"%s\"", t->sval);
			o->slot = resolve_identifier(p, t);
			o->type = p->vars->types[o->slot];
			break;
		case TK_STRING:
			rule_value_set_text(&o->lit, t->sval, t->slen);
			o->type = RT_TEXT;
			break;
		case TK_MINUS:
			next_token(p);
			if (t->kind != TK_NUMBER)
				RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, t->start,
						   "expected a number after \"-\" but found %s", token_text(p, t));
			o->lit.type = RT_NUMBER;
			o->lit.num = -t->nval;
			o->type = RT_NUMBER;
			break;
		case TK_NUMBER:
			o->lit.type = RT_NUMBER;
			o->lit.num = t->nval;
			o->type = RT_NUMBER;
			break;
		case TK_TRUE:
		case TK_FALSE:
			o->lit.type = RT_BOOL;
			o->lit.num = (t->kind == TK_TRUE) ? 1 : 0;
			o->type = RT_BOOL;
			break;
		default:
			RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, t->start,
					   "expected a value but found %s", token_text(p, t));
	}
	next_token(p);
}

/*
 * Booleans compare with booleans, and with text (a JSON true/false read
 * into a text variable is the text "true"/"false"): such a literal is
 * turned into that text here.
 */
static void
bool_literal_as_text(Operand *o)
{
	if (o->slot < 0 && o->type == RT_BOOL)
	{
		rule_value_set_text(&o->lit, o->lit.num != 0 ? "true" : "false",
							o->lit.num != 0 ? 4 : 5);
		o->type = RT_TEXT;
	}
}

static void
check_comparable(Parser *p, Operand *l, Operand *r, const char *opname, int pos)
{
	if (p->cvars != NULL)
		return;					/* an agent condition: when evaluated */
	if (l->type == RT_BOOL && r->type == RT_TEXT)
		bool_literal_as_text(l);
	else if (r->type == RT_BOOL && l->type == RT_TEXT)
		bool_literal_as_text(r);
	if (l->type != r->type)
		RULE_ERROR(p, ERRCODE_DATATYPE_MISMATCH, pos,
				   "operator %s cannot compare %s with %s",
				   opname, rule_type_name(l->type), rule_type_name(r->type));
}

/* the comparison operator each token stands for */
static const struct
{
	TokKind		tok;
	CmpOp		op;
}			comparisons[] =
{
	{TK_EQ, OP_EQ},
	{TK_NE, OP_NE},
	{TK_LT, OP_LT},
	{TK_LE, OP_LE},
	{TK_GT, OP_GT},
	{TK_GE, OP_GE},
	{TK_CONTAINS, OP_CONTAINS},
	{TK_STARTS, OP_STARTS},
	{TK_ENDS, OP_ENDS},
};

/* value IS [NOT] NULL, after the value */
static RuleExpr *
parse_is_null(Parser *p, const Operand *left)
{
	RuleExpr   *e = new_node(N_ISNULL);

	e->left = *left;
	next_token(p);
	if (p->tok.kind == TK_NOT)
	{
		e->negated = true;
		next_token(p);
	}
	expect(p, TK_NULL, "NULL");
	return e;
}

/* value [NOT] IN '(' literal {',' literal} ')', after the value */
static RuleExpr *
parse_in_list(Parser *p, const Operand *left)
{
	RuleExpr   *e = new_node(N_IN);
	int			cap = 4;

	e->left = *left;
	e->dynamic = (p->cvars != NULL);
	if (p->tok.kind == TK_NOT)
	{
		e->negated = true;
		next_token(p);
		if (p->tok.kind != TK_IN)
			RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
					   "expected IN after NOT but found %s",
					   token_text(p, &p->tok));
	}
	next_token(p);
	expect(p, TK_LPAREN, "\"(\" after IN");
	e->list = palloc(sizeof(Operand) * cap);
	for (;;)
	{
		Operand    *item;

		if (e->nchildren == cap)
		{
			cap *= 2;
			e->list = repalloc(e->list, sizeof(Operand) * cap);
		}
		item = &e->list[e->nchildren];
		parse_value(p, item, true);
		check_comparable(p, &e->left, item, "IN", item->pos);
		e->nchildren++;
		if (p->tok.kind != TK_COMMA)
			break;
		next_token(p);
	}
	expect(p, TK_RPAREN, "\",\" or \")\" in IN list");
	return e;
}

/*
 * The operand types a comparison accepts: = and != any two of a type
 * (booleans with text, see above), < <= > >= numbers, CONTAINS, STARTS WITH
 * and ENDS WITH text.
 */
static void
check_operands(Parser *p, RuleExpr *e, int oppos)
{
	if (p->cvars != NULL)
		return;					/* an agent condition: when evaluated */
	if (e->op == OP_EQ || e->op == OP_NE)
		check_comparable(p, &e->left, &e->right, op_names[e->op], oppos);
	else if (e->op >= OP_LT && e->op <= OP_GE)
	{
		if (e->left.type != RT_NUMBER || e->right.type != RT_NUMBER)
			RULE_ERROR(p, ERRCODE_DATATYPE_MISMATCH, oppos,
					   "operator %s applies to numbers only, not %s and %s",
					   op_names[e->op], rule_type_name(e->left.type),
					   rule_type_name(e->right.type));
	}
	else
	{
		bool_literal_as_text(&e->left);
		bool_literal_as_text(&e->right);
		if (e->left.type != RT_TEXT || e->right.type != RT_TEXT)
			RULE_ERROR(p, ERRCODE_DATATYPE_MISMATCH, oppos,
					   "operator %s applies to text only, not %s and %s",
					   op_names[e->op], rule_type_name(e->left.type),
					   rule_type_name(e->right.type));
	}
}

/* value op value, at the operator op */
static RuleExpr *
parse_comparison(Parser *p, const Operand *left, CmpOp op)
{
	RuleExpr   *e = new_node(N_CMP);
	int			oppos = p->tok.start;

	e->left = *left;
	e->op = op;
	e->dynamic = (p->cvars != NULL);
	next_token(p);
	if (op == OP_STARTS || op == OP_ENDS)
		expect(p, TK_WITH, "WITH");
	parse_value(p, &e->right, false);
	check_operands(p, e, oppos);
	return e;
}

/* test := value op value | value [NOT] IN (...) | value IS [NOT] NULL */
static RuleExpr *
parse_test(Parser *p)
{
	Operand		left;

	parse_value(p, &left, false);
	if (p->tok.kind == TK_IS)
		return parse_is_null(p, &left);
	if (p->tok.kind == TK_NOT || p->tok.kind == TK_IN)
		return parse_in_list(p, &left);
	for (size_t k = 0; k < lengthof(comparisons); k++)
		if (p->tok.kind == comparisons[k].tok)
			return parse_comparison(p, &left, comparisons[k].op);

	/* a bare TRUE or FALSE is an expression of its own */
	if (left.slot < 0 && left.type == RT_BOOL)
	{
		RuleExpr   *e = new_node(N_CONST);

		e->constval = left.lit.num != 0;
		return e;
	}
	RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
			   "expected an operator but found %s", token_text(p, &p->tok));
	return NULL;				/* keep compiler quiet */
}

static void
enter(Parser *p)
{
	check_stack_depth();
	if (++p->depth > RULE_MAX_DEPTH)
		RULE_ERROR(p, ERRCODE_STATEMENT_TOO_COMPLEX, p->tok.start,
				   "rule is nested too deeply (more than %d levels)", RULE_MAX_DEPTH);
}

/* primary := NOT primary | '(' expr ')' | test */
static RuleExpr *
parse_not(Parser *p)
{
	RuleExpr   *e;

	enter(p);
	if (p->tok.kind == TK_NOT)
	{
		next_token(p);
		e = new_node(N_NOT);
		e->nchildren = 1;
		e->children = palloc(sizeof(RuleExpr *));
		e->children[0] = parse_not(p);
	}
	else if (p->tok.kind == TK_LPAREN)
	{
		next_token(p);
		e = parse_or(p);
		expect(p, TK_RPAREN, "\")\"");
	}
	else if (starts_value(p->tok.kind))
		e = parse_test(p);
	else
	{
		RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
				   "expected a condition but found %s", token_text(p, &p->tok));
		e = NULL;
	}
	p->depth--;
	return e;
}

/* one n-ary node for a chain of AND (or OR) */
static RuleExpr *
parse_chain(Parser *p, NodeKind kind, TokKind sep, RuleExpr *(*sub) (Parser *))
{
	RuleExpr   *first = sub(p);
	RuleExpr   *e;
	int			cap = 4;

	if (p->tok.kind != sep)
		return first;
	e = new_node(kind);
	e->children = palloc(sizeof(RuleExpr *) * cap);
	e->children[e->nchildren++] = first;
	while (p->tok.kind == sep)
	{
		next_token(p);
		if (e->nchildren == cap)
		{
			cap *= 2;
			e->children = repalloc(e->children, sizeof(RuleExpr *) * cap);
		}
		e->children[e->nchildren++] = sub(p);
	}
	return e;
}

static RuleExpr *
parse_and(Parser *p)
{
	return parse_chain(p, N_AND, TK_AND, parse_not);
}

static RuleExpr *
parse_or(Parser *p)
{
	return parse_chain(p, N_OR, TK_OR, parse_and);
}

static RuleExpr *compile(const char *text, const RuleVars *vars, RuleVars *cvars,
						 const RuleErrorContext *ectx);

RuleExpr *
rule_compile(const char *text, const RuleVars *vars, const RuleErrorContext *ectx)
{
	return compile(text, vars, NULL, ectx);
}

RuleExpr *
rule_compile_condition(const char *text, RuleVars *vars, const RuleErrorContext *ectx)
{
	Assert(vars->condition);
	return compile(text, vars, vars, ectx);
}

static RuleExpr *
compile(const char *text, const RuleVars *vars, RuleVars *cvars, const RuleErrorContext *ectx)
{
	Parser		p;
	RuleExpr   *e;
	size_t		len = strlen(text);

	if (len > RULE_MAX_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s \"%s\": rule is too long (%zu bytes, at most %d)",
						ectx->kind, ectx->name, len, RULE_MAX_LENGTH)));

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.textlen = (int) len;
	p.vars = vars;
	p.cvars = cvars;
	p.ectx = ectx;
	next_token(&p);
	if (p.tok.kind == TK_EOF)
		RULE_ERROR(&p, ERRCODE_SYNTAX_ERROR, 0, "empty condition");
	e = parse_or(&p);
	if (p.tok.kind != TK_EOF)
		RULE_ERROR(&p, ERRCODE_SYNTAX_ERROR, p.tok.start,
				   "unexpected %s after the end of the condition",
				   token_text(&p, &p.tok));
	return e;
}

/* ----------------------------------------------------------------
 * Evaluator
 * ----------------------------------------------------------------
 */
static inline const RuleValue *
operand_value(const Operand *o, const RuleValue *slots)
{
	return o->slot >= 0 ? &slots[o->slot] : &o->lit;
}

static bool
text_contains(const RuleValue *h, const RuleValue *n)
{
	if (n->len == 0)
		return true;
	for (int i = 0; i + n->len <= h->len; i++)
	{
		/* a hostile pattern against a huge value must stay cancellable */
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (h->str[i] == n->str[0] && memcmp(h->str + i, n->str, n->len) == 0)
			return true;
	}
	return false;
}

static bool
values_equal(const RuleValue *a, const RuleValue *b)
{
	if (a->type == RT_TEXT)
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	return a->num == b->num;
}

/*
 * An agent condition's operands, whose types are known only now: a
 * boolean compared with text is its text ("true", "false"), as a JSON
 * boolean read into a text variable is; other types that differ do not
 * compare.  Returns false when a and b cannot be compared; else their
 * text forms (or the originals) in *ta and *tb.
 */
static bool
dynamic_operands(const RuleValue *a, const RuleValue *b, RuleValue *ta, RuleValue *tb)
{
	*ta = *a;
	*tb = *b;
	if (a->type == b->type)
		return true;
	if (a->type == RT_BOOL && b->type == RT_TEXT)
		rule_value_set_text(ta, a->num != 0 ? "true" : "false", a->num != 0 ? 4 : 5);
	else if (b->type == RT_BOOL && a->type == RT_TEXT)
		rule_value_set_text(tb, b->num != 0 ? "true" : "false", b->num != 0 ? 4 : 5);
	else
		return false;
	return true;
}

static bool eval_cmp(CmpOp op, const RuleValue *a, const RuleValue *b);

/* a comparison whose types are checked now: a mismatch makes it false */
static bool
eval_dynamic_cmp(const RuleExpr *e, const RuleValue *a, const RuleValue *b)
{
	RuleValue	ta;
	RuleValue	tb;

	if (!dynamic_operands(a, b, &ta, &tb))
		return false;
	if (e->op >= OP_LT && e->op <= OP_GE && ta.type != RT_NUMBER)
		return false;
	if (e->op >= OP_CONTAINS && ta.type != RT_TEXT)
		return false;
	return eval_cmp(e->op, &ta, &tb);
}

/* IN with types checked now: items of another type never match; none of
 * the value's type makes the test false, NOT IN too */
static bool
eval_dynamic_in(const RuleExpr *e, const RuleValue *v)
{
	bool		comparable = false;

	for (int i = 0; i < e->nchildren; i++)
	{
		RuleValue	ta;
		RuleValue	tb;

		if (!dynamic_operands(v, &e->list[i].lit, &ta, &tb))
			continue;
		comparable = true;
		if (values_equal(&ta, &tb))
			return !e->negated;
	}
	return comparable && e->negated;
}

static bool
eval_cmp(CmpOp op, const RuleValue *a, const RuleValue *b)
{
	switch (op)
	{
		case OP_EQ:
			return values_equal(a, b);
		case OP_NE:
			return !values_equal(a, b);
		case OP_LT:
			return a->num < b->num;
		case OP_LE:
			return a->num <= b->num;
		case OP_GT:
			return a->num > b->num;
		case OP_GE:
			return a->num >= b->num;
		case OP_CONTAINS:
			return text_contains(a, b);
		case OP_STARTS:
			return a->len >= b->len && memcmp(a->str, b->str, b->len) == 0;
		case OP_ENDS:
			return a->len >= b->len &&
				memcmp(a->str + a->len - b->len, b->str, b->len) == 0;
	}
	return false;
}

bool
rule_eval(const RuleExpr *e, const RuleValue *slots)
{
	switch (e->kind)
	{
		case N_AND:
			for (int i = 0; i < e->nchildren; i++)
				if (!rule_eval(e->children[i], slots))
					return false;
			return true;
		case N_OR:
			for (int i = 0; i < e->nchildren; i++)
				if (rule_eval(e->children[i], slots))
					return true;
			return false;
		case N_NOT:
			return !rule_eval(e->children[0], slots);
		case N_CONST:
			return e->constval;
		case N_ISNULL:
			return operand_value(&e->left, slots)->isnull != e->negated;
		case N_IN:
			{
				const RuleValue *v = operand_value(&e->left, slots);

				if (v->isnull)
					return false;
				if (e->dynamic)
					return eval_dynamic_in(e, v);
				for (int i = 0; i < e->nchildren; i++)
					if (values_equal(v, &e->list[i].lit))
						return !e->negated;
				return e->negated;
			}
		case N_CMP:
			{
				const RuleValue *a = operand_value(&e->left, slots);
				const RuleValue *b = operand_value(&e->right, slots);

				if (a->isnull || b->isnull)
					return false;
				if (e->dynamic)
					return eval_dynamic_cmp(e, a, b);
				return eval_cmp(e->op, a, b);
			}
	}
	elog(ERROR, "unrecognized rule node kind %d", (int) e->kind);
	return false;
}

void
rule_slots_used(const RuleExpr *e, bool *used)
{
	if (e->left.slot >= 0 && (e->kind == N_CMP || e->kind == N_IN || e->kind == N_ISNULL))
		used[e->left.slot] = true;
	if (e->kind == N_CMP && e->right.slot >= 0)
		used[e->right.slot] = true;
	if (e->kind == N_AND || e->kind == N_OR || e->kind == N_NOT)
		for (int i = 0; i < e->nchildren; i++)
			rule_slots_used(e->children[i], used);
}
