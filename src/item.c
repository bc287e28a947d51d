/*-------------------------------------------------------------------------
 *
 * item.c
 *	  The states of a work item, between their C and their text form.
 *	  The state column's CHECK constraint admits exactly these names.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "item.h"

static const char *const item_state_names[ITEM_NSTATES] = {
	"open", "offered", "active", "waiting", "wrap_up", "closed"
};

const char *
item_state_name(ItemState s)
{
	Assert(s >= 0 && s < ITEM_NSTATES);
	return item_state_names[s];
}

ItemState
item_state_parse(const char *name)
{
	for (int s = 0; s < ITEM_NSTATES; s++)
		if (strcmp(name, item_state_names[s]) == 0)
			return (ItemState) s;
	elog(ERROR, "omniroute: unknown work item state \"%s\"", name);
	return ITEM_CLOSED;			/* keep the compiler quiet */
}
