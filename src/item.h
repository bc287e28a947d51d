/*
 * item.h — the states of a work item.
 *
 * C code holds a state as an ItemState; the text form is what the table's
 * state column, events and messages carry.
 */
#ifndef OMNIROUTE_ITEM_H
#define OMNIROUTE_ITEM_H

#include "postgres.h"

typedef enum ItemState
{
	ITEM_OPEN,					/* in a queue, no agent */
	ITEM_OFFERED,				/* reserved for one agent, awaiting accept */
	ITEM_ACTIVE,
	ITEM_WAITING,
	ITEM_WRAP_UP,
	ITEM_CLOSED
} ItemState;

#define ITEM_NSTATES (ITEM_CLOSED + 1)

/* the state's name in the state column */
extern const char *item_state_name(ItemState s);

/* the state named by the state column; errors on anything else */
extern ItemState item_state_parse(const char *name);

#endif							/* OMNIROUTE_ITEM_H */
