/*-------------------------------------------------------------------------
 *
 * priv.c
 *	  Privilege handling for the functions agents call.
 *
 *	  The lifecycle functions must touch tables their callers may not (an
 *	  agent cannot update agent rows), yet must know who called, to keep an
 *	  agent to their own work.  A SECURITY DEFINER function loses the
 *	  caller's identity, so these C functions are not SECURITY DEFINER;
 *	  instead they note GetUserId(), then switch to the extension's owner
 *	  with SetUserIdAndSecContext and pin search_path in a GUC nest level,
 *	  exactly as fmgr_security_definer does, and switch back at the end.  On
 *	  error, transaction abort restores both.
 *
 *	  Who may act on what: an admin (superuser, the extension's owner or a
 *	  member of omniroute_admin) and a supervisor (omniroute_supervisor) on
 *	  any item and agent; an agent (the role an agent row's login_role
 *	  names) on their own items and presence only.  Refusals never name
 *	  who holds an item (lifecycle.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "priv.h"
#include "util.h"

static UtilPlan owner_plan = {
	"SELECT extowner FROM pg_catalog.pg_extension"
	" WHERE extname OPERATOR(pg_catalog.=) 'omniroute'",
	0, {InvalidOid}, NULL
};
static UtilPlan agent_plan = {
	"SELECT id FROM omniroute.agent"
	" WHERE login_role OPERATOR(pg_catalog.=) $1",
	1, {NAMEOID}, NULL
};

void
priv_enter(Caller *caller)
{
	Oid			owner;
	Oid			admin_role;
	Oid			supervisor_role;
	Datum		values[1];

	memset(caller, 0, sizeof(Caller));
	caller->userid = GetUserId();

	if (util_exec(util_plan(&owner_plan), NULL, NULL, true, 1, SPI_OK_SELECT) != 1)
		elog(ERROR, "omniroute: extension is not installed");
	owner = DatumGetObjectId(util_col(0, 1, &(bool){false}));
	admin_role = get_role_oid("omniroute_admin", true);
	caller->is_admin = superuser_arg(caller->userid) ||
		has_privs_of_role(caller->userid, owner) ||
		(OidIsValid(admin_role) && has_privs_of_role(caller->userid, admin_role));
	supervisor_role = get_role_oid("omniroute_supervisor", true);
	caller->is_supervisor = OidIsValid(supervisor_role) &&
		has_privs_of_role(caller->userid, supervisor_role);

	GetUserIdAndSecContext(&caller->saved_userid, &caller->saved_sec);
	SetUserIdAndSecContext(owner, caller->saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	caller->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* as on route_work_item(): our statements are keyed lookups */
	(void) set_config_option("enable_bitmapscan", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * and never worth compiling: a planner estimate over a big queue would
	 * otherwise JIT-compile a statement on every call (serving an agent per
	 * membership inserted took a JIT compilation each)
	 */
	(void) set_config_option("jit", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(caller->userid, false)));
	if (util_exec(util_plan(&agent_plan), values, NULL, true, 1, SPI_OK_SELECT) == 1)
		caller->agent_id = util_col_int64(0, 1);
}

void
priv_leave(Caller *caller)
{
	AtEOXact_GUC(true, caller->nestlevel);
	SetUserIdAndSecContext(caller->saved_userid, caller->saved_sec);
}

int64
priv_require_agent(const Caller *caller)
{
	if (caller->agent_id == 0 && !priv_acts_on_any(caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is neither an omniroute admin or supervisor nor an agent",
						GetUserNameFromId(caller->userid, false)),
				 errhint("Map the role to an agent with omniroute.agent.login_role.")));
	return caller->agent_id;
}

void
priv_check_agent(const Caller *caller, int64 agent_id, const char *what)
{
	if (priv_acts_on_any(caller))
		return;
	priv_require_agent(caller);
	if (agent_id != caller->agent_id)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent " INT64_FORMAT " cannot %s", caller->agent_id, what)));
}
