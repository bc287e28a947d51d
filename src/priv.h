/*
 * priv.h — running extension work with the extension owner's rights while
 * knowing who called.
 */
#ifndef OMNIROUTE_PRIV_H
#define OMNIROUTE_PRIV_H

#include "postgres.h"

typedef struct Caller
{
	Oid			userid;			/* the role that called */
	bool		is_admin;		/* superuser, extension owner or omniroute_admin */
	bool		is_supervisor;	/* omniroute_supervisor: acts on any item */
	int64		agent_id;		/* the agent that role logs in as, or 0 */
	/* saved state while privileged */
	Oid			saved_userid;
	int			saved_sec;
	int			nestlevel;
} Caller;

/*
 * Identify the caller, then switch to the extension owner with search_path
 * pinned to pg_catalog, pg_temp -- what SECURITY DEFINER ... SET search_path
 * does, except that we keep the caller's identity.  The caller must be
 * connected to SPI.  Transaction abort undoes the switch.
 */
extern void priv_enter(Caller *caller);
extern void priv_leave(Caller *caller);

/* may act on any work item and any agent: an admin or a supervisor */
#define priv_acts_on_any(caller) ((caller)->is_admin || (caller)->is_supervisor)

/*
 * 42501 unless the caller may act on any agent or is the agent named;
 * 'what' completes "agent N cannot ...", naming what was asked
 */
extern void priv_check_agent(const Caller *caller, int64 agent_id, const char *what);
/* 42501 unless the caller is an agent (or may act on any); returns its agent id */
extern int64 priv_require_agent(const Caller *caller);

#endif							/* OMNIROUTE_PRIV_H */
