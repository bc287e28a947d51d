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

/* 42501 unless the caller is an admin or the agent named */
extern void priv_check_agent(const Caller *caller, int64 agent_id, const char *what);

#endif							/* OMNIROUTE_PRIV_H */
