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
#include "utils/formatting.h"

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
bool
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
	t->sval = NULL;
	t->slen = 0;
	if (i >= n)
	{
		t->kind = TK_EOF;
		t->len = 0;
		p->off = i;
		return;
	}

	if (is_ident_start(s[i]))
	{
		int			j = i;

		while (j < n && is_ident_char(s[j]))
			j++;
		t->kind = TK_IDENT;
		t->len = j - i;
		for (size_t k = 0; k < lengthof(keywords); k++)
		{
			if (pg_strncasecmp(keywords[k].word, s + i, t->len) == 0 &&
				keywords[k].word[t->len] == '\0')
			{
				t->kind = keywords[k].kind;
				break;
			}
		}
		if (t->kind == TK_IDENT)
		{
			t->sval = pnstrdup(s + i, t->len);
			t->slen = t->len;
		}
		p->off = j;
		return;
	}

	if (s[i] == '\'' || s[i] == '"')
	{
		char		q = s[i];
		StringInfoData buf;
		int			j = i + 1;

		initStringInfo(&buf);
		for (;;)
		{
			if (j >= n)
				RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, i, "unterminated string");
			if (s[j] == q)
			{
				if (j + 1 < n && s[j + 1] == q)
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
		t->len = j - i;
		t->sval = buf.data;
		t->slen = buf.len;
		p->off = j;
		return;
	}

	if ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9'))
	{
		int			j = i;
		char	   *num;
		char	   *end;

		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j < n && s[j] == '.')
		{
			j++;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
		}
		if (j < n && (s[j] == 'e' || s[j] == 'E'))
		{
			int			k = j + 1;

			if (k < n && (s[k] == '+' || s[k] == '-'))
				k++;
			if (k < n && s[k] >= '0' && s[k] <= '9')
			{
				j = k;
				while (j < n && s[j] >= '0' && s[j] <= '9')
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
		p->off = j;
		return;
	}

	t->len = 1;
	switch (s[i])
	{
		case '(':
			t->kind = TK_LPAREN;
			break;
		case ')':
			t->kind = TK_RPAREN;
			break;
		case ',':
			t->kind = TK_COMMA;
			break;
		case '-':
			t->kind = TK_MINUS;
			break;
		case '=':
			t->kind = TK_EQ;
			if (i + 1 < n && s[i + 1] == '=')
				t->len = 2;
			break;
		case '!':
			if (i + 1 < n && s[i + 1] == '=')
			{
				t->kind = TK_NE;
				t->len = 2;
				break;
			}
			RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, i, "unexpected character \"!\"");
			break;
		case '<':
			t->kind = TK_LT;
			if (i + 1 < n && s[i + 1] == '=')
			{
				t->kind = TK_LE;
				t->len = 2;
			}
			else if (i + 1 < n && s[i + 1] == '>')
			{
				t->kind = TK_NE;
				t->len = 2;
			}
			break;
		case '>':
			t->kind = TK_GT;
			if (i + 1 < n && s[i + 1] == '=')
			{
				t->kind = TK_GE;
				t->len = 2;
			}
			break;
		default:
			{
				int			clen = pg_mblen(s + i);

				if (clen > n - i)
					clen = n - i;
				if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
					RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, i,
							   "unexpected character 0x%02x", (unsigned char) s[i]);
				RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, i,
						   "unexpected character \"%.*s\"", clen, s + i);
			}
	}
	p->off = i + t->len;
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
			o->slot = rule_vars_lookup(p->vars, t->sval, t->slen);
			if (o->slot < 0)
			{
				char	   *detail = caret_detail(p, t->start);

				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("%s \"%s\": unknown identifier \"%s\" at position %d",
								p->ectx->kind, p->ectx->name, t->sval,
								char_position(p, t->start)),
						 detail ? errdetail("%s", detail) : 0,
						 errhint("Identifiers are the workstream's context variables and channel, customer_id, external_id, priority.")));
			}
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
	if (l->type == RT_BOOL && r->type == RT_TEXT)
		bool_literal_as_text(l);
	else if (r->type == RT_BOOL && l->type == RT_TEXT)
		bool_literal_as_text(r);
	if (l->type != r->type)
		RULE_ERROR(p, ERRCODE_DATATYPE_MISMATCH, pos,
				   "operator %s cannot compare %s with %s",
				   opname, rule_type_name(l->type), rule_type_name(r->type));
}

/* test := value op value | value [NOT] IN (...) | value IS [NOT] NULL */
static RuleExpr *
parse_test(Parser *p)
{
	RuleExpr   *e;
	Operand		left;
	int			oppos;

	parse_value(p, &left, false);
	oppos = p->tok.start;

	switch (p->tok.kind)
	{
		case TK_IS:
			e = new_node(N_ISNULL);
			e->left = left;
			next_token(p);
			if (p->tok.kind == TK_NOT)
			{
				e->negated = true;
				next_token(p);
			}
			expect(p, TK_NULL, "NULL");
			return e;

		case TK_NOT:
		case TK_IN:
			{
				int			cap = 4;

				e = new_node(N_IN);
				e->left = left;
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
					if (p->tok.kind == TK_COMMA)
					{
						next_token(p);
						continue;
					}
					expect(p, TK_RPAREN, "\",\" or \")\" in IN list");
					break;
				}
				return e;
			}

		case TK_EQ:
		case TK_NE:
		case TK_LT:
		case TK_LE:
		case TK_GT:
		case TK_GE:
		case TK_CONTAINS:
		case TK_STARTS:
		case TK_ENDS:
			e = new_node(N_CMP);
			e->left = left;
			switch (p->tok.kind)
			{
				case TK_EQ:
					e->op = OP_EQ;
					break;
				case TK_NE:
					e->op = OP_NE;
					break;
				case TK_LT:
					e->op = OP_LT;
					break;
				case TK_LE:
					e->op = OP_LE;
					break;
				case TK_GT:
					e->op = OP_GT;
					break;
				case TK_GE:
					e->op = OP_GE;
					break;
				case TK_CONTAINS:
					e->op = OP_CONTAINS;
					break;
				case TK_STARTS:
					e->op = OP_STARTS;
					break;
				default:
					e->op = OP_ENDS;
					break;
			}
			next_token(p);
			if (e->op == OP_STARTS || e->op == OP_ENDS)
				expect(p, TK_WITH, "WITH");
			parse_value(p, &e->right, false);

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
			return e;

		default:
			/* a bare TRUE or FALSE is an expression of its own */
			if (left.slot < 0 && left.type == RT_BOOL)
			{
				e = new_node(N_CONST);
				e->constval = left.lit.num != 0;
				return e;
			}
			RULE_ERROR(p, ERRCODE_SYNTAX_ERROR, p->tok.start,
					   "expected an operator but found %s", token_text(p, &p->tok));
	}
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

RuleExpr *
rule_compile(const char *text, const RuleVars *vars, const RuleErrorContext *ectx)
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
				switch (e->op)
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
			}
	}
	elog(ERROR, "unrecognized rule node kind %d", (int) e->kind);
	return false;
}
