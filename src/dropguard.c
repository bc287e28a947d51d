/*-------------------------------------------------------------------------
 *
 * dropguard.c
 *	  DROP EXTENSION omniroute (and DROP SCHEMA omniroute) while work is
 *	  being routed: lock every relation of the extension first, without
 *	  ever waiting while holding one.
 *
 *	  Dropping an extension locks its objects one by one, ACCESS EXCLUSIVE,
 *	  in the order it finds them in pg_depend (about the order the install
 *	  script made them: presence, ..., agent, ..., work_item, ...), and
 *	  waits for each.  Routing and the lifecycle functions lock the same
 *	  tables in the order their work needs them: an INSERT locks work_item
 *	  first and agent, queue_member and the rest while it routes;
 *	  set_presence locks agent first and work_item when it serves.  So a
 *	  DROP that holds agent and waits for work_item meets an INSERT that
 *	  holds work_item and waits for agent: a deadlock, which the detector
 *	  resolves by cancelling one of the two (under load, every time).
 *
 *	  No single order suits every transaction, so the guard, an event
 *	  trigger on ddl_command_start, takes all the locks before the drop
 *	  looks for them, and never waits while it holds any: it tries each
 *	  relation without waiting (work_item first, the table most work starts
 *	  from); when one is busy it gives back every lock it got and waits for
 *	  that one alone, holding nothing, so that it queues ahead of newcomers
 *	  and cannot be part of a cycle; then it tries the rest again.  When it
 *	  returns it holds every table, view and sequence of the extension: the
 *	  drop then finds each lock already held (indexes and TOAST tables are
 *	  reached only through their tables, functions and types are locked by
 *	  nobody else), so it cannot deadlock either.  It waits as long as the
 *	  work goes on (the tables are busy, not stuck) or until the session's
 *	  lock_timeout or statement_timeout: then the drop fails with
 *	  PostgreSQL's "canceling statement due to lock timeout" (55P03), whose
 *	  context names the relation it was waiting for.
 *
 *	  The guard does not call omniroute_check_version(): dropping the
 *	  extension is how a database at another version than the library is
 *	  left behind, and the trigger fires for the DROP of any extension.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

/* does the DROP statement drop the extension (or its schema)? */
static bool
drops_omniroute(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_SCHEMA && stmt->removeType != OBJECT_EXTENSION)
		return false;
	/* the extension and its schema are both "omniroute" (not relocatable) */
	foreach(lc, stmt->objects)
	{
		Node	   *name = lfirst(lc);

		if (IsA(name, String) && strcmp(strVal(name), "omniroute") == 0)
			return true;
	}
	return false;
}

/* the extension's tables, views and sequences; work_item first */
static Oid *
member_relations(Oid ext, int *n)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			first = get_relname_relid("work_item", get_namespace_oid("omniroute", false));
	int			cap = 64;
	Oid		   *oids = palloc(sizeof(Oid) * cap);

	*n = 0;
	if (OidIsValid(first))
		oids[(*n)++] = first;
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		char		kind;

		if (dep->deptype != DEPENDENCY_EXTENSION || dep->classid != RelationRelationId ||
			dep->objid == first)
			continue;
		kind = get_rel_relkind(dep->objid);
		if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
			kind != RELKIND_VIEW && kind != RELKIND_MATVIEW && kind != RELKIND_SEQUENCE)
			continue;
		if (*n == cap)
		{
			cap *= 2;
			oids = repalloc(oids, sizeof(Oid) * cap);
		}
		oids[(*n)++] = dep->objid;
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return oids;
}

/* the relation the guard waits for, named in the context of an error */
static const char *waiting_for = NULL;

static void
waiting_context(void *arg pg_attribute_unused())
{
	if (waiting_for != NULL)
		errcontext("omniroute: waiting to drop relation omniroute.%s, which other sessions are using",
				   waiting_for);
}

/*
 * Hold ACCESS EXCLUSIVE on every relation in oids, never waiting while
 * holding one of them (see the file's comment).
 */
static void
lock_all(const Oid *oids, int n)
{
	bool	   *held = palloc0(sizeof(bool) * n);
	ErrorContextCallback context;

	context.callback = waiting_context;
	context.arg = NULL;
	context.previous = error_context_stack;
	error_context_stack = &context;
	waiting_for = NULL;

	for (;;)
	{
		int			busy = -1;

		for (int i = 0; i < n && busy < 0; i++)
		{
			if (held[i])
				continue;
			if (ConditionalLockRelationOid(oids[i], AccessExclusiveLock))
				held[i] = true;
			else
				busy = i;
		}
		if (busy < 0)
			break;
		for (int i = 0; i < n; i++)
		{
			if (held[i])
				UnlockRelationOid(oids[i], AccessExclusiveLock);
			held[i] = false;
		}
		/* holding none of them: waiting here closes no cycle */
		waiting_for = get_rel_name(oids[busy]);
		LockRelationOid(oids[busy], AccessExclusiveLock);
		waiting_for = NULL;
		held[busy] = true;
	}
	error_context_stack = context.previous;
}

PG_FUNCTION_INFO_V1(omniroute_drop_guard);

Datum
omniroute_drop_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			ext;
	Oid		   *oids;
	int			n;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("omniroute.drop_guard() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	ext = get_extension_oid("omniroute", true);
	if (!OidIsValid(ext) || !drops_omniroute(trigdata->parsetree))
		PG_RETURN_VOID();
	oids = member_relations(ext, &n);
	lock_all(oids, n);
	PG_RETURN_VOID();
}
