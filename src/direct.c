/*-------------------------------------------------------------------------
 *
 * direct.c
 *	  The routing hot path through the table and index access methods,
 *	  without the executor: reading the candidate indexes, taking an
 *	  agent's capacity, writing history rows.
 *
 *	  Routing runs inside the application's INSERT.  Through SPI each of
 *	  these small keyed operations paid for a whole executor start and end
 *	  (plan locking, node initialisation, a fresh snapshot, constraint
 *	  expressions rebuilt from their stored text); that was most of the cost
 *	  of a routed insert.  Here they are done the way logical replication's
 *	  apply worker and the system catalogs do them: an index scan under an
 *	  MVCC snapshot, table_tuple_lock() to lock the latest version,
 *	  table_tuple_update() and ExecInsertIndexTuples() for the new one.
 *
 *	  Semantics are those of the SQL they replace, run with a fresh
 *	  snapshot after a CommandCounterIncrement() (what a non-read-only SPI
 *	  statement does), so routing sees what this statement did before:
 *	    - a row is updated as our snapshot sees it, without locking it
 *	      first, as UPDATE does; when another transaction changed it since
 *	      (or holds it), under READ COMMITTED the latest version is locked
 *	      and the conditions are checked on it, as EvalPlanQual would;
 *	    - under REPEATABLE READ or SERIALIZABLE a row changed since the
 *	      snapshot is a serialization failure, as for an UPDATE;
 *	    - agent rows are locked FOR NO KEY UPDATE, as an UPDATE locks them,
 *	      so the FOR KEY SHARE locks that keep work items' references to
 *	      them (src/refs.c) never wait on routing;
 *	    - choosing among candidates never waits for an agent row
 *	      (UNITS_RESERVE skips one that another transaction holds): a row
 *	      locked and then found short of room stays locked until commit, so
 *	      two routings that waited could each hold the agent the other waits
 *	      for.  What a skip hides (the other transaction rolls back) is
 *	      served by the next tick().  Giving work to a named agent (affinity,
 *	      resume, transfer to an agent, picking) and giving units back do
 *	      wait, as the UPDATE they replaced did.
 *
 *	  What is written is the extension's own routing state (agent
 *	  used_units and last_assigned_at, the membership copies) and history
 *	  rows, the way the system writes its catalogs: no triggers fire for
 *	  them.  History rows go through SQL instead as soon as the table has a
 *	  trigger, a CHECK or a column we did not make, so that those apply.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "config.h"
#include "direct.h"
#include "util.h"

/* ----------------------------------------------------------------
 * Relations and columns, looked up once and forgotten on any relcache
 * invalidation of one of them (ALTER, REINDEX, DROP EXTENSION): a
 * ConfigWatch (config.c) follows them.
 * ----------------------------------------------------------------
 */
typedef enum DirectRelation
{
	REL_AGENT,
	REL_AGENT_PKEY,
	REL_QUEUE,
	REL_QUEUE_PKEY,
	REL_WORKSTREAM,
	REL_WORKSTREAM_PKEY,
	REL_MEMBER,
	REL_MEMBER_PKEY,
	REL_MEMBER_HIGHEST_CAPACITY,
	REL_MEMBER_ROUND_ROBIN,
	REL_MEMBER_LEAST_ACTIVE,
	REL_EVENT,
	REL_EVENT_SEQ
} DirectRelation;

/*
 * By DirectRelation.  The primary keys by name: the primary key lookup API
 * differs between major versions.
 */
static const char *const direct_relations[] = {
	"agent", "agent_pkey", "queue", "queue_pkey", "workstream", "workstream_pkey",
	"queue_member", "queue_member_pkey", "queue_member_highest_capacity_idx",
	"queue_member_round_robin_idx", "queue_member_least_active_idx",
	"work_item_event", "work_item_event_id_seq"
};
StaticAssertDecl(lengthof(direct_relations) == REL_EVENT_SEQ + 1,
				 "direct_relations must name every DirectRelation");
static ConfigWatch direct_watch = {.tables = direct_relations,
.ntables = lengthof(direct_relations)};

typedef struct DirectCache
{
	bool		valid;
	Oid			agent;
	Oid			agent_pkey;
	Oid			queue;
	Oid			queue_pkey;
	Oid			workstream;
	Oid			workstream_pkey;
	Oid			member;
	Oid			member_pkey;
	Oid			member_method_idx[3];	/* by AssignMethod */
	Oid			event;
	Oid			event_seq;
	/* agent */
	AttrNumber	ag_id;
	AttrNumber	ag_capacity;
	AttrNumber	ag_used;
	AttrNumber	ag_presence;
	AttrNumber	ag_last_assigned;
	AttrNumber	ag_last_released;
	AttrNumber	ag_attributes;
	/* queue */
	AttrNumber	qu_id;
	/* workstream */
	AttrNumber	ws_id;
	/* queue_member */
	AttrNumber	qm_queue;
	AttrNumber	qm_agent;
	AttrNumber	qm_free;
	AttrNumber	qm_agent_last;
	AttrNumber	qm_queue_last;
	AttrNumber	qm_released;
	AttrNumber	qm_join_seq;
	AttrNumber	qm_presence;
	Oid			qm_presence_collation;
	/* work_item_event */
	AttrNumber	ev_id;
	AttrNumber	ev_item;
	AttrNumber	ev_at;
	AttrNumber	ev_event;
	AttrNumber	ev_agent;
	AttrNumber	ev_queue;
	AttrNumber	ev_actor;
	AttrNumber	ev_detail;
} DirectCache;

static DirectCache cache;

static AttrNumber
att(Oid rel, const char *name)
{
	AttrNumber	a = get_attnum(rel, name);

	if (a == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("omniroute: column \"%s\" of \"%s\" is missing", name, get_rel_name(rel)),
				 errhint("Reinstall the extension.")));
	return a;
}

/*
 * The scans below give B-tree scan keys for the leading columns of these
 * indexes, with those columns' comparison functions: an index of another
 * layout (an install of an older script, an index recreated by hand) would
 * have its keys compared with the wrong function, so it is refused.
 */
static void
check_index_columns(Oid index, const AttrNumber *cols, int n)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
	Form_pg_index ix;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", index);
	ix = (Form_pg_index) GETSTRUCT(tup);
	ok = ix->indnkeyatts >= n;
	for (int i = 0; ok && i < n; i++)
		ok = ix->indkey.values[i] == cols[i];
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("omniroute: index \"omniroute.%s\" does not have the columns this version of omniroute reads",
						get_rel_name(index)),
				 errhint("Reinstall the extension.")));
}

/* the relations' oids, as direct_watch just looked them up */
static void
load_relations(DirectCache *c)
{
	const Oid  *oids = direct_watch.oids;

	c->agent = oids[REL_AGENT];
	c->agent_pkey = oids[REL_AGENT_PKEY];
	c->queue = oids[REL_QUEUE];
	c->queue_pkey = oids[REL_QUEUE_PKEY];
	c->workstream = oids[REL_WORKSTREAM];
	c->workstream_pkey = oids[REL_WORKSTREAM_PKEY];
	c->member = oids[REL_MEMBER];
	c->member_pkey = oids[REL_MEMBER_PKEY];
	c->member_method_idx[METHOD_HIGHEST_CAPACITY] = oids[REL_MEMBER_HIGHEST_CAPACITY];
	c->member_method_idx[METHOD_ROUND_ROBIN] = oids[REL_MEMBER_ROUND_ROBIN];
	c->member_method_idx[METHOD_LEAST_ACTIVE] = oids[REL_MEMBER_LEAST_ACTIVE];
	c->event = oids[REL_EVENT];
	c->event_seq = oids[REL_EVENT_SEQ];
}

static void
load_cache_once(void)
{
	DirectCache c;

	memset(&c, 0, sizeof(c));
	load_relations(&c);

	c.ag_id = att(c.agent, "id");
	c.ag_capacity = att(c.agent, "capacity");
	c.ag_used = att(c.agent, "used_units");
	c.ag_presence = att(c.agent, "presence");
	c.ag_last_assigned = att(c.agent, "last_assigned_at");
	c.ag_last_released = att(c.agent, "last_released_at");
	c.ag_attributes = att(c.agent, "attributes");

	c.qu_id = att(c.queue, "id");
	c.ws_id = att(c.workstream, "id");

	c.qm_queue = att(c.member, "queue_id");
	c.qm_agent = att(c.member, "agent_id");
	c.qm_free = att(c.member, "free_units");
	c.qm_agent_last = att(c.member, "agent_last_assigned_at");
	c.qm_queue_last = att(c.member, "queue_last_assigned_at");
	c.qm_released = att(c.member, "last_released_at");
	c.qm_join_seq = att(c.member, "join_seq");
	c.qm_presence = att(c.member, "presence");
	{
		Oid			type;
		int32		typmod;

		/* presence_key is hashtext(presence) under the column's collation */
		get_atttypetypmodcoll(c.member, c.qm_presence, &type, &typmod, &c.qm_presence_collation);
	}
	{
		AttrNumber	member_key[2] = {c.qm_agent, c.qm_queue};
		AttrNumber	candidate_key[3] = {c.qm_queue, att(c.member, "presence_key"), c.qm_free};

		check_index_columns(c.agent_pkey, &c.ag_id, 1);
		check_index_columns(c.queue_pkey, &c.qu_id, 1);
		check_index_columns(c.workstream_pkey, &c.ws_id, 1);
		check_index_columns(c.member_pkey, member_key, 2);
		/* highest_capacity's scan has a key on free units too */
		check_index_columns(c.member_method_idx[METHOD_HIGHEST_CAPACITY], candidate_key, 3);
		check_index_columns(c.member_method_idx[METHOD_ROUND_ROBIN], candidate_key, 2);
		check_index_columns(c.member_method_idx[METHOD_LEAST_ACTIVE], candidate_key, 2);
	}

	c.ev_id = att(c.event, "id");
	c.ev_item = att(c.event, "work_item_id");
	c.ev_at = att(c.event, "at");
	c.ev_event = att(c.event, "event");
	c.ev_agent = att(c.event, "agent_id");
	c.ev_queue = att(c.event, "queue_id");
	c.ev_actor = att(c.event, "actor");
	c.ev_detail = att(c.event, "detail");

	c.valid = true;
	cache = c;
}

/*
 * Partial-index predicates of the indexes we insert into, compiled once per
 * backend instead of once per call (ExecInsertIndexTuples would compile
 * them into each new executor state, on every routed insert).  Only
 * predicates that call nothing but built-in functions: a user function
 * could keep state (fn_extra) that must not outlive a query.  Forgotten
 * with the cache above, on any invalidation of our tables or indexes
 * (an index's predicate never changes, but a new index may reuse an oid).
 */
typedef struct PredicateEntry
{
	int64		index;			/* hash key: the index's oid */
	ExprState  *state;			/* NULL: compile per call, as the executor does */
} PredicateEntry;

static HTAB *predicates = NULL;
static MemoryContext predicates_cxt = NULL;

static bool
nonbuiltin_function(Oid func_id, void *context)
{
	(void) context;
	return func_id >= FirstNormalObjectId;
}

static bool
calls_nonbuiltin_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, nonbuiltin_function, context))
		return true;
	return expression_tree_walker(node, calls_nonbuiltin_walker, context);
}

/* the compiled predicate of the index, or NULL to let the executor compile it */
static ExprState *
cached_predicate(Relation index, List *predicate)
{
	int64		oid = RelationGetRelid(index);
	PredicateEntry *e;
	bool		found;

	if (predicates == NULL)
	{
		predicates_cxt = AllocSetContextCreate(CacheMemoryContext, "omniroute index predicates",
											   ALLOCSET_SMALL_SIZES);
		predicates = util_int64_hash("omniroute index predicates", sizeof(PredicateEntry),
									 predicates_cxt);
	}
	e = hash_search(predicates, &oid, HASH_FIND, &found);
	if (!found)
	{
		ExprState  *state = NULL;

		if (!calls_nonbuiltin_walker((Node *) predicate, NULL))
		{
			MemoryContext old = MemoryContextSwitchTo(predicates_cxt);

			/* as ExecPrepareQual, without an executor state to live in */
			state = ExecInitQual((List *) expression_planner((Expr *) copyObject(predicate)),
								 NULL);
			MemoryContextSwitchTo(old);
		}
		e = hash_search(predicates, &oid, HASH_ENTER, NULL);
		e->state = state;
	}
	return e->state;
}

/* drop the compiled predicates: no direct write is under way to use them */
static void
forget_predicates(void)
{
	if (predicates == NULL)
		return;
	hash_destroy(predicates);
	MemoryContextDelete(predicates_cxt);
	predicates = NULL;
	predicates_cxt = NULL;
}

/*
 * Load the cache if the watch found it stale, or the last load failed.
 * The lookups may process invalidations (a concurrent DROP and CREATE
 * EXTENSION, say) that concern what is being loaded: those mark the watch
 * stale again, and it is loaded again until none arrived meanwhile.
 */
static void
load_cache(void)
{
	while (config_watch_begin(&direct_watch) || !cache.valid)
	{
		cache.valid = false;
		forget_predicates();
		load_cache_once();
	}
}

/* ----------------------------------------------------------------
 * Index scans that prune a page only when it is nearly full
 *
 * Reading a heap page through an index prunes it (heap_page_prune_opt())
 * whenever it holds a version old enough to remove and its free space is
 * below Max(the table's fillfactor target, a tenth of the page).  agent and
 * queue_member have fillfactor 50, and every assignment rewrites an agent's
 * row and memberships, so their pages sit at that threshold: each reading
 * of one after a write pruned it again, to take back the one or two
 * versions written since, at the cost of a pass over the page and a WAL
 * record each time (once or more per routed insert; more with many agents,
 * whose pages are each read less often).  So the routing scans prune a page
 * only when under a tenth of it is free (or an update found it full), the
 * rule for a table at the default fillfactor: once for many versions, and
 * for queue_member often not before the tick worker's VACUUM (tidy.c).  HOT
 * updates of an agent only need room on its page, which that still leaves.
 * The queue and workstream tables, read here too, have the default
 * fillfactor: nothing changes for them.  SQL reading any of these tables
 * prunes as it always does.  test/prune/run.sh shows both sides.
 * ----------------------------------------------------------------
 */
typedef struct DirectScan
{
	IndexScanDesc scan;
	Buffer		buf;			/* the heap page last read */
} DirectScan;

static void
dscan_begin(DirectScan *ds, Relation heap, Relation index, Snapshot snapshot, int nkeys)
{
	/* dscan_fetch() reads heap pages itself */
	if (heap->rd_rel->relam != HEAP_TABLE_AM_OID)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("omniroute: table \"%s\" must use the heap access method",
						RelationGetRelationName(heap))));
	/* heap_hot_search_buffer() returns one version per entry only for these */
	if (!IsMVCCSnapshot(snapshot))
		elog(ERROR, "omniroute: index scan of \"%s\" without an MVCC snapshot",
			 RelationGetRelationName(heap));
	ds->scan = index_beginscan(heap, index, snapshot, nkeys, 0);
	ds->buf = InvalidBuffer;
}

static void
dscan_end(DirectScan *ds)
{
	if (BufferIsValid(ds->buf))
		ReleaseBuffer(ds->buf);
	index_endscan(ds->scan);
}

/*
 * The version the current index entry points to, if our snapshot sees it,
 * into slot: index_fetch_heap() with the pruning rule above.
 */
static bool
dscan_fetch(DirectScan *ds, TupleTableSlot *slot)
{
	IndexScanDesc scan = ds->scan;
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;
	Buffer		prev = ds->buf;
	bool		all_dead = false;
	bool		found;

	Assert(TTS_IS_BUFFERTUPLE(slot));
	ds->buf = ReleaseAndReadBuffer(ds->buf, scan->heapRelation,
								   ItemPointerGetBlockNumber(&scan->xs_heaptid));
	if (ds->buf != prev)
	{
		Page		page = BufferGetPage(ds->buf);

		/* read without the content lock, as heap_page_prune_opt() does: a hint */
		if (PageIsFull(page) || PageGetHeapFreeSpace(page) < BLCKSZ / 10)
			heap_page_prune_opt(scan->heapRelation, ds->buf);
	}
	LockBuffer(ds->buf, BUFFER_LOCK_SHARE);
	found = heap_hot_search_buffer(&scan->xs_heaptid, scan->heapRelation, ds->buf,
								   scan->xs_snapshot, &bslot->base.tupdata, &all_dead, true);
	bslot->base.tupdata.t_self = scan->xs_heaptid;
	LockBuffer(ds->buf, BUFFER_LOCK_UNLOCK);
	if (found)
	{
		slot->tts_tableOid = RelationGetRelid(scan->heapRelation);
		ExecStoreBufferHeapTuple(&bslot->base.tupdata, slot, ds->buf);
		pgstat_count_heap_fetch(scan->indexRelation);
	}

	/* a version nobody can see any more: the index AM may mark its entry dead */
	if (!scan->xactStartedInRecovery)
		scan->kill_prior_tuple = all_dead;
	return found;
}

/* the next index entry whose version our snapshot sees, into slot */
static bool
dscan_next(DirectScan *ds, TupleTableSlot *slot)
{
	while (index_getnext_tid(ds->scan, ForwardScanDirection) != NULL)
		if (dscan_fetch(ds, slot))
			return true;
	return false;
}

/* ----------------------------------------------------------------
 * A table opened for direct reads and writes
 * ----------------------------------------------------------------
 */
typedef struct DirectRel
{
	Relation	rel;
	EState	   *estate;			/* for index predicates and expressions */
	ResultRelInfo *rri;
	bool		indexes_open;
	TupleTableSlot *found;		/* rows read from an index */
	TupleTableSlot *locked;		/* the latest version, locked */
	TupleTableSlot *slot;		/* a new version (virtual) */
} DirectRel;

static void
drel_open(DirectRel *d, Oid relid, LOCKMODE lockmode)
{
	d->rel = table_open(relid, lockmode);
	d->estate = CreateExecutorState();
	d->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(d->rri, d->rel, 0, NULL, 0);
	d->indexes_open = false;
	d->found = table_slot_create(d->rel, NULL);
	d->locked = table_slot_create(d->rel, NULL);
	d->slot = MakeSingleTupleTableSlot(RelationGetDescr(d->rel), &TTSOpsVirtual);
}

static void
drel_close(DirectRel *d)
{
	if (d->indexes_open)
		ExecCloseIndices(d->rri);
	ExecDropSingleTupleTableSlot(d->found);
	ExecDropSingleTupleTableSlot(d->locked);
	ExecDropSingleTupleTableSlot(d->slot);
	FreeExecutorState(d->estate);
	/* the lock is kept until the end of the transaction, as for any write */
	table_close(d->rel, NoLock);
}

/* index entries for the new version in d->slot (its tts_tid set) */
static void
drel_insert_index_entries(DirectRel *d, bool summarizing_only)
{
	List	   *recheck;

	if (!d->indexes_open)
	{
		ExecOpenIndices(d->rri, false);
		for (int i = 0; i < d->rri->ri_NumIndices; i++)
		{
			IndexInfo  *ii = d->rri->ri_IndexRelationInfo[i];

			if (ii->ii_Predicate != NIL)
				ii->ii_PredicateState = cached_predicate(d->rri->ri_IndexRelationDescs[i],
														 ii->ii_Predicate);
		}
		d->indexes_open = true;
	}
	/*
	 * update = false: that argument only hints the btree that the key did
	 * not change (bottom-up deletion); it needs a range table we do not have.
	 */
#if PG_VERSION_NUM >= 160000
	recheck = ExecInsertIndexTuples(d->rri, d->slot, d->estate, false, false, NULL, NIL,
									summarizing_only);
#else
	(void) summarizing_only;
	recheck = ExecInsertIndexTuples(d->rri, d->slot, d->estate, false, false, NULL, NIL);
#endif
	list_free(recheck);
	ResetPerTupleExprContext(d->estate);
}

static void
drel_insert(DirectRel *d)
{
	table_tuple_insert(d->rel, d->slot, GetCurrentCommandId(true), 0, NULL);
	drel_insert_index_entries(d, false);
}

/*
 * Replace the row version at tid by the new version in d->slot, waiting
 * (wait) for a transaction that holds it, else TM_BeingModified; index
 * entries are made when it succeeds.
 */
static TM_Result
drel_try_update(DirectRel *d, ItemPointer tid, Snapshot snapshot, bool wait)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	result;

#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes;
#else
	bool		update_indexes;
#endif

	result = table_tuple_update(d->rel, tid, d->slot, GetCurrentCommandId(true),
								snapshot, InvalidSnapshot, wait, &tmfd, &lockmode,
								&update_indexes);
	if (result != TM_Ok)
		return result;
#if PG_VERSION_NUM >= 160000
	if (update_indexes != TU_None)
		drel_insert_index_entries(d, update_indexes == TU_Summarizing);
#else
	if (update_indexes)
		drel_insert_index_entries(d, false);
#endif
	return TM_Ok;
}

/* replace the locked row (d->locked) by the new version in d->slot */
static void
drel_update(DirectRel *d, Snapshot snapshot)
{
	TM_Result	result = drel_try_update(d, &d->locked->tts_tid, snapshot, true);

	/* we hold the lock on the latest version: nobody else can have changed it */
	if (result != TM_Ok)
		elog(ERROR, "omniroute: locked row of \"%s\" changed underneath (%d)",
			 RelationGetRelationName(d->rel), (int) result);
}

/*
 * Lock the latest version of rel's row at tid into slot, in mode.  Returns
 * false when it is gone or (LockWaitSkip) held by another transaction.
 */
static bool
lock_row(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot,
		 LockTupleMode mode, LockWaitPolicy wait)
{
	TM_FailureData tmfd;
	bool		xact_snapshot = IsolationUsesXactSnapshot();
	TM_Result	result;

	/*
	 * As ExecLockRows() does: LOCK_UPDATE_IN_PROGRESS locks the version an
	 * in-progress (or, since our snapshot, committed) update made too, not
	 * only the one we saw; without it a FOR KEY SHARE lock behind a non-key
	 * update protects nothing, and a DELETE of the row need not wait.
	 */
	result = table_tuple_lock(rel, tid, snapshot, slot, GetCurrentCommandId(true),
							  mode, wait,
							  TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS |
							  (xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION), &tmfd);
	switch (result)
	{
		case TM_Ok:
			return true;
		case TM_WouldBlock:
			return false;
		case TM_Updated:
			/* only without FIND_LAST_VERSION, i.e. under a transaction snapshot */
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		case TM_Deleted:
			if (xact_snapshot)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		default:
			elog(ERROR, "omniroute: unexpected result %d locking a row of \"%s\"",
				 (int) result, RelationGetRelationName(rel));
	}
	return false;
}

/* lock into d->locked for an update, as UPDATE does */
static bool
drel_lock(DirectRel *d, ItemPointer tid, Snapshot snapshot, LockWaitPolicy wait)
{
	return lock_row(d->rel, tid, snapshot, d->locked, LockTupleNoKeyExclusive, wait);
}

/*
 * Write the new version in d->slot over *row, the version at *tid: at once
 * if *row is the version we locked, else without locking it first, as
 * UPDATE does (waiting for a transaction that holds it when wait is
 * LockWaitBlock).  Returns true once written.  When another transaction
 * changed the row (or holds it), its latest version is locked with wait
 * into d->locked and false returned with *row and *tid on it, for the
 * caller to check and build again; or with *row NULL when the row is gone,
 * held (LockWaitSkip), or no longer the one whose column key_att is key.
 */
static bool
drel_write(DirectRel *d, TupleTableSlot **row, ItemPointer tid, Snapshot snapshot,
		   LockWaitPolicy wait, AttrNumber key_att, int64 key)
{
	TM_Result	result;
	bool		isnull;

	if (*row == d->locked)
	{
		drel_update(d, snapshot);
		return true;
	}
	result = drel_try_update(d, tid, snapshot, wait == LockWaitBlock);
	if (result == TM_Ok)
		return true;
	if (result != TM_Updated && result != TM_Deleted && result != TM_BeingModified)
		elog(ERROR, "omniroute: unexpected result %d updating a row of \"%s\"",
			 (int) result, RelationGetRelationName(d->rel));
	if (!drel_lock(d, tid, snapshot, wait) ||
		DatumGetInt64(slot_getattr(d->locked, key_att, &isnull)) != key)
	{
		*row = NULL;
		return false;
	}
	*row = d->locked;
	*tid = d->locked->tts_tid;
	return false;
}

/* start the new version as a copy of the row in from */
static void
drel_copy(DirectRel *d, TupleTableSlot *from)
{
	int			natts = RelationGetDescr(d->rel)->natts;

	slot_getallattrs(from);
	ExecClearTuple(d->slot);
	memcpy(d->slot->tts_values, from->tts_values, sizeof(Datum) * natts);
	memcpy(d->slot->tts_isnull, from->tts_isnull, sizeof(bool) * natts);
}

static void
set_col(TupleTableSlot *slot, AttrNumber a, Datum value, bool isnull)
{
	slot->tts_values[a - 1] = value;
	slot->tts_isnull[a - 1] = isnull;
}

/*
 * What a non-read-only SPI statement sees: everything this transaction did
 * so far (including earlier rows of the current statement), and under READ
 * COMMITTED whatever has committed.  Pop with PopActiveSnapshot().
 */
static Snapshot
push_snapshot(void)
{
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	return GetActiveSnapshot();
}

static bool presence_allowed(Datum presence, char *const *presences, int npresences);

/* a time of the queue_member row in slot: '-infinity' there means never */
static TimestampTz
member_time(TupleTableSlot *slot, AttrNumber a, bool *never)
{
	TimestampTz t = DatumGetTimestampTz(slot_getattr(slot, a, never));

	*never = *never || TIMESTAMP_IS_NOBEGIN(t);
	return t;
}

/* a candidate from the queue_member row in slot */
static void
fill_candidate(Candidate *c, TupleTableSlot *slot, int32 free_units)
{
	bool		isnull;

	c->agent_id = DatumGetInt64(slot_getattr(slot, cache.qm_agent, &isnull));
	c->free_units = free_units;
	c->agent_last = member_time(slot, cache.qm_agent_last, &c->agent_last_null);
	c->queue_last = member_time(slot, cache.qm_queue_last, &c->queue_last_null);
	c->released = member_time(slot, cache.qm_released, &c->released_null);
	c->join_seq = DatumGetInt64(slot_getattr(slot, cache.qm_join_seq, &isnull));
	c->meets = true;
	c->distance = 0;
	c->profile_room = false;
	c->declines = 0;
}

/* ----------------------------------------------------------------
 * Candidates
 * ----------------------------------------------------------------
 */
/* the column of index that holds agent_id (1-based), 0 if none */
static int
index_agent_column(Relation index)
{
	for (int i = 0; i < index->rd_index->indnatts; i++)
		if (index->rd_index->indkey.values[i] == cache.qm_agent)
			return i + 1;
	return 0;
}

/* what a candidate scan asks of the members of one presence's range */
typedef struct CandidateRange
{
	int32		units;			/* free units at least */
	char	   *presence;
	CandidateFilter admit;		/* or NULL */
	void	   *admit_arg;
	int			agent_col;		/* admit judges the index entry: its agent_id */
	int		   *passed;			/* counts the members admit refused */
	CandidateCheck *check;		/* or NULL: judges members with room */
} CandidateRange;

/*
 * Start the scan of one presence's range of the method's index: columns
 * queue_id, the presence's hash (presence_key), then the method's order;
 * by free units (highest_capacity), from units up.
 */
static void
candidate_range_begin(IndexScanDesc scan, int64 queue_id, const CandidateRange *r,
					  bool by_free)
{
	ScanKeyData keys[3];
	int			nkeys = 2;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(queue_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ,
				DirectFunctionCall1Coll(hashtext, cache.qm_presence_collation,
										CStringGetTextDatum(r->presence)));
	if (by_free)
		ScanKeyInit(&keys[nkeys++], 3, BTGreaterEqualStrategyNumber, F_INT4GE,
					Int32GetDatum(r->units));
	index_rescan(scan, keys, nkeys, NULL, 0);
}

/*
 * The next member of the range whose index entry admit admits, its row
 * (if our snapshot sees it) in slot: the entry is judged before its row is
 * read, so that passing over many costs little.
 */
static bool
candidate_next_admitted(DirectScan *ds, TupleTableSlot *slot, const CandidateRange *r)
{
	IndexScanDesc scan = ds->scan;

	while (index_getnext_tid(scan, ForwardScanDirection) != NULL)
	{
		bool		isnull;
		int64		agent = DatumGetInt64(index_getattr(scan->xs_itup, r->agent_col,
														scan->xs_itupdesc, &isnull));

		if (!r->admit(agent, r->admit_arg))
			(*r->passed)++;
		else if (dscan_fetch(ds, slot))
			return true;
		/* else not visible to us */
	}
	return false;
}

/*
 * The next member of the range that is a candidate, its row in slot and
 * its free units in *free_units: room for units, the very presence (not
 * another whose name hashes alike) and, given admit, admitted.
 */
static bool
candidate_next(DirectScan *ds, TupleTableSlot *slot, const CandidateRange *r,
			   int32 *free_units)
{
	for (;;)
	{
		bool		isnull;

		if (r->agent_col > 0)
		{
			if (!candidate_next_admitted(ds, slot, r))
				return false;
		}
		else if (!dscan_next(ds, slot))
			return false;
		*free_units = DatumGetInt32(slot_getattr(slot, cache.qm_free, &isnull));
		if (*free_units < r->units)
			continue;			/* round_robin, least_active: not an index key */
		if (!presence_allowed(slot_getattr(slot, cache.qm_presence, &isnull),
							  &r->presence, 1))
			continue;
		/* no agent_id in the index entry: judged on the row */
		if (r->admit != NULL && r->agent_col == 0 &&
			!r->admit(DatumGetInt64(slot_getattr(slot, cache.qm_agent, &isnull)),
					  r->admit_arg))
		{
			(*r->passed)++;
			continue;
		}
		/* last, on the few with room: it may read more than the entry */
		if (r->check != NULL &&
			!r->check->check(DatumGetInt64(slot_getattr(slot, cache.qm_agent, &isnull)),
							 r->check->arg))
			continue;
		return true;
	}
}

int
direct_candidates(int method, int64 queue_id, char *const *presences, int npresences,
				  int32 units, int64 limit, CandidateFilter admit, void *admit_arg,
				  CandidateCheck *check, Candidate **out, bool *more, int *passed)
{
	Snapshot	snapshot;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	int			n = 0;
	int			cap = 8;
	Candidate  *cands;
	bool		by_free = (method == METHOD_HIGHEST_CAPACITY);
	DirectScan	ds;
	CandidateRange range = {units, NULL, admit, admit_arg, 0, passed, check};

	load_cache();
	*more = false;
	*passed = 0;
	cands = palloc(sizeof(Candidate) * cap);

	snapshot = push_snapshot();
	heap = table_open(cache.member, AccessShareLock);
	index = index_open(cache.member_method_idx[method], AccessShareLock);
	slot = table_slot_create(heap, NULL);
	dscan_begin(&ds, heap, index, snapshot, by_free ? 3 : 2);

	/* with a filter, members are judged on their index entry if it can */
	if (admit != NULL && (range.agent_col = index_agent_column(index)) > 0)
		ds.scan->xs_want_itup = true;

	/* each presence's range in the method's order, up to limit members */
	for (int p = 0; p < npresences; p++)
	{
		int64		got = 0;
		int32		free_units;

		range.presence = presences[p];
		candidate_range_begin(ds.scan, queue_id, &range, by_free);
		while ((limit == 0 || got < limit) && candidate_next(&ds, slot, &range, &free_units))
		{
			if (n == cap)
			{
				cap *= 2;
				cands = repalloc(cands, sizeof(Candidate) * cap);
			}
			fill_candidate(&cands[n++], slot, free_units);
			got++;
		}
		if (limit > 0 && got >= limit)
			*more = true;
	}
	dscan_end(&ds);

	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	PopActiveSnapshot();
	*out = cands;
	return n;
}

int
direct_members(int64 queue_id, const int64 *agents, int n, char *const *presences,
			   int npresences, int32 units, Candidate **out)
{
	Snapshot	snapshot;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	Candidate  *cands = palloc(sizeof(Candidate) * Max(n, 1));
	int			got = 0;
	DirectScan	ds;

	load_cache();
	snapshot = push_snapshot();
	heap = table_open(cache.member, AccessShareLock);
	index = index_open(cache.member_pkey, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	/* one scan of the primary key (agent_id, queue_id), restarted per agent */
	dscan_begin(&ds, heap, index, snapshot, 2);
	for (int i = 0; i < n; i++)
	{
		ScanKeyData keys[2];
		bool		isnull;

		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(agents[i]));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(queue_id));
		index_rescan(ds.scan, keys, 2, NULL, 0);
		if (dscan_next(&ds, slot))
		{
			int32		free_units = DatumGetInt32(slot_getattr(slot, cache.qm_free, &isnull));

			if (free_units >= units &&
				presence_allowed(slot_getattr(slot, cache.qm_presence, &isnull),
								 presences, npresences))
				fill_candidate(&cands[got++], slot, free_units);
		}
	}
	dscan_end(&ds);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	PopActiveSnapshot();
	*out = cands;
	return got;
}

/* ----------------------------------------------------------------
 * Capacity
 * ----------------------------------------------------------------
 */
/* whether a presence (text) is one of the names: equal bytes, as texteq */
static bool
presence_allowed(Datum presence, char *const *presences, int npresences)
{
	text	   *t = DatumGetTextPP(presence);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	for (int i = 0; i < npresences; i++)
		if (strlen(presences[i]) == len && memcmp(presences[i], VARDATA_ANY(t), len) == 0)
			return true;
	return false;
}

/* the visible row of rel (into *into, at *tid) whose unique index idx has first column = key */
static bool
find_by_key(Relation rel, Oid idx, int64 key, Snapshot snapshot, TupleTableSlot *into,
			ItemPointer tid)
{
	Relation	index = index_open(idx, AccessShareLock);
	DirectScan	ds;
	ScanKeyData skey;
	bool		found;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	dscan_begin(&ds, rel, index, snapshot, 1);
	index_rescan(ds.scan, &skey, 1, NULL, 0);
	found = dscan_next(&ds, into);
	if (found)
		*tid = into->tts_tid;
	dscan_end(&ds);
	index_close(index, NoLock);
	return found;
}

Jsonb *
direct_agent_attributes(int64 agent_id)
{
	Relation	heap;
	TupleTableSlot *slot;
	ItemPointerData tid;
	Jsonb	   *attributes = NULL;
	bool		pushed = !ActiveSnapshotSet();
	Snapshot	snapshot;

	load_cache();
	snapshot = pushed ? push_snapshot() : GetActiveSnapshot();
	heap = table_open(cache.agent, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	if (find_by_key(heap, cache.agent_pkey, agent_id, snapshot, slot, &tid))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, cache.ag_attributes, &isnull);

		if (!isnull)
			attributes = DatumGetJsonbPCopy(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	if (pushed)
		PopActiveSnapshot();
	return attributes;
}

/* a change of an agent's units, as direct_agent_units() was asked for it */
typedef struct UnitsChange
{
	int64		agent_id;
	int32		units;
	UnitsMode	mode;
	char	   *const *presences;
	int			npresences;
	const int64 *queues;
	int			nqueues;
	TimestampTz at;
	bool		assigning;		/* takes units: not UNITS_RELEASE, UNITS_RETURN */
	bool		returning;		/* UNITS_RETURN */
} UnitsChange;

/* whether the agent row in row allows the change; its units into *capacity, *used */
static bool
agent_allows(TupleTableSlot *row, const UnitsChange *ch, int32 *capacity, int32 *used)
{
	bool		isnull;

	*capacity = DatumGetInt32(slot_getattr(row, cache.ag_capacity, &isnull));
	*used = DatumGetInt32(slot_getattr(row, cache.ag_used, &isnull));
	switch (ch->mode)
	{
		case UNITS_RESERVE:
			return *capacity - *used >= ch->units &&
				presence_allowed(slot_getattr(row, cache.ag_presence, &isnull),
								 ch->presences, ch->npresences);
		case UNITS_ROOM:
			return *capacity - *used >= ch->units;
		case UNITS_FORCE:
		case UNITS_RELEASE:
		case UNITS_RETURN:
			break;
	}
	return true;
}

/* the agent's new version in ag->slot: row with used units and times changed */
static void
agent_new_version(DirectRel *ag, TupleTableSlot *row, const UnitsChange *ch, int32 used)
{
	drel_copy(ag, row);
	set_col(ag->slot, cache.ag_used, Int32GetDatum(used), false);
	if (ch->assigning)
		set_col(ag->slot, cache.ag_last_assigned, TimestampTzGetDatum(ch->at), false);
	if (ch->returning)
		set_col(ag->slot, cache.ag_last_released, TimestampTzGetDatum(ch->at), false);
	ExecStoreVirtualTuple(ag->slot);
}

/*
 * Change the agent's row: the version our snapshot sees is checked and
 * updated without locking it first, as UPDATE does; only when someone else
 * changed or holds it is the latest version locked (not waiting, to
 * reserve), checked again and updated.  Reserving without room or presence
 * leaves the agent alone (locked only if it had to be looked at again).
 * Returns whether it changed, with its free units now in *free_units.
 */
static bool
agent_change_units(DirectRel *ag, const UnitsChange *ch, Snapshot snapshot,
				   int32 *free_units)
{
	LockWaitPolicy wait = (ch->mode == UNITS_RESERVE) ? LockWaitSkip : LockWaitBlock;
	TupleTableSlot *row = ag->found;
	ItemPointerData tid;

	if (!find_by_key(ag->rel, cache.agent_pkey, ch->agent_id, snapshot, row, &tid))
		return false;
	/* until written; row is then the latest version, locked */
	for (;;)
	{
		int32		capacity;
		int32		used;

		if (!agent_allows(row, ch, &capacity, &used))
			return false;
		used = ch->assigning ? used + ch->units : Max(used - ch->units, 0);
		agent_new_version(ag, row, ch, used);
		if (drel_write(ag, &row, &tid, snapshot, wait, cache.ag_id, ch->agent_id))
		{
			*free_units = capacity - used;
			return true;
		}
		if (row == NULL)
			return false;		/* gone, or held by another transaction */
	}
}

/* the membership's new version in qm->slot: from with the agent's change copied */
static void
member_new_version(DirectRel *qm, TupleTableSlot *from, const UnitsChange *ch,
				   int32 free_units)
{
	drel_copy(qm, from);
	set_col(qm->slot, cache.qm_free, Int32GetDatum(free_units), false);
	if (ch->assigning)
	{
		int64		queue = DatumGetInt64(qm->slot->tts_values[cache.qm_queue - 1]);

		set_col(qm->slot, cache.qm_agent_last, TimestampTzGetDatum(ch->at), false);
		for (int q = 0; q < ch->nqueues; q++)
			if (ch->queues[q] == queue)
				set_col(qm->slot, cache.qm_queue_last, TimestampTzGetDatum(ch->at), false);
	}
	if (ch->returning)
		set_col(qm->slot, cache.qm_released, TimestampTzGetDatum(ch->at), false);
	ExecStoreVirtualTuple(qm->slot);
}

/*
 * Copy the agent's change to the membership just read into qm->found.
 * Updated in place without a row lock first: whoever else writes
 * memberships holds the agent row, as we do, except an admin changing the
 * membership itself.  If one did since our snapshot, lock the latest
 * version and update that (READ COMMITTED), as an UPDATE's EvalPlanQual
 * would; gone (left the queue, or someone else's membership now): nothing.
 */
static void
member_copy_units(DirectRel *qm, const UnitsChange *ch, Snapshot snapshot, int32 free_units)
{
	ItemPointerData tid = qm->found->tts_tid;
	TupleTableSlot *from = qm->found;

	do
		member_new_version(qm, from, ch, free_units);
	while (!drel_write(qm, &from, &tid, snapshot, LockWaitBlock, cache.qm_agent, ch->agent_id) &&
		   from != NULL);
}

/* copy the agent's change to its memberships, in key order, each its latest version */
static void
members_copy_units(const UnitsChange *ch, Snapshot snapshot, int32 free_units)
{
	DirectRel	qm;
	Relation	pkey;
	DirectScan	ds;
	ScanKeyData skey;

	drel_open(&qm, cache.member, RowExclusiveLock);
	pkey = index_open(cache.member_pkey, AccessShareLock);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(ch->agent_id));
	dscan_begin(&ds, qm.rel, pkey, snapshot, 1);
	index_rescan(ds.scan, &skey, 1, NULL, 0);
	while (dscan_next(&ds, qm.found))
		member_copy_units(&qm, ch, snapshot, free_units);
	dscan_end(&ds);
	index_close(pkey, NoLock);
	drel_close(&qm);
}

bool
direct_agent_units(int64 agent_id, int32 units, UnitsMode mode, char *const *presences,
				   int npresences, const int64 *queues, int nqueues, TimestampTz at)
{
	UnitsChange ch = {agent_id, units, mode, presences, npresences, queues, nqueues, at,
		mode != UNITS_RELEASE && mode != UNITS_RETURN, mode == UNITS_RETURN};
	Snapshot	snapshot;
	DirectRel	ag;
	int32		free_units;
	bool		ok;

	load_cache();
	snapshot = push_snapshot();
	drel_open(&ag, cache.agent, RowExclusiveLock);
	ok = agent_change_units(&ag, &ch, snapshot, &free_units);
	if (ok)
	{
		/*
		 * Under READ COMMITTED, read the memberships with a snapshot taken
		 * now that the agent is ours: whatever joined a queue meanwhile
		 * (joining locks the agent, to serve it) is seen.
		 */
		if (!IsolationUsesXactSnapshot())
		{
			PopActiveSnapshot();
			snapshot = push_snapshot();
		}
		members_copy_units(&ch, snapshot, free_units);
	}
	drel_close(&ag);
	PopActiveSnapshot();
	return ok;
}

/* ----------------------------------------------------------------
 * References
 * ----------------------------------------------------------------
 */
bool
direct_key_share(DirectTable table, int64 id)
{
	Snapshot	snapshot;
	Relation	rel;
	TupleTableSlot *slot;
	ItemPointerData tid;
	Oid			relid = InvalidOid;
	Oid			pkey = InvalidOid;
	AttrNumber	id_att = InvalidAttrNumber;
	bool		ok;
	bool		isnull;

	load_cache();
	switch (table)
	{
		case DIRECT_QUEUE:
			relid = cache.queue;
			pkey = cache.queue_pkey;
			id_att = cache.qu_id;
			break;
		case DIRECT_AGENT:
			relid = cache.agent;
			pkey = cache.agent_pkey;
			id_att = cache.ag_id;
			break;
		case DIRECT_WORKSTREAM:
			relid = cache.workstream;
			pkey = cache.workstream_pkey;
			id_att = cache.ws_id;
			break;
	}
	snapshot = push_snapshot();
	/* a lock, not a write: no executor state, only a slot */
	rel = table_open(relid, RowShareLock);
	slot = table_slot_create(rel, NULL);
	/* the latest version may have another id (READ COMMITTED follows it) */
	ok = find_by_key(rel, pkey, id, snapshot, slot, &tid) &&
		lock_row(rel, &tid, snapshot, slot, LockTupleKeyShare, LockWaitBlock) &&
		DatumGetInt64(slot_getattr(slot, id_att, &isnull)) == id;
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	return ok;
}

/* ----------------------------------------------------------------
 * History
 * ----------------------------------------------------------------
 */

/* the history table's columns as the extension makes them */
static const struct
{
	const char *name;
	Oid			type;
	bool		notnull;
}			event_columns[] =
{
	{"id", INT8OID, true},
	{"work_item_id", INT8OID, true},
	{"at", TIMESTAMPTZOID, true},
	{"event", TEXTOID, true},
	{"agent_id", INT8OID, false},
	{"queue_id", INT8OID, false},
	{"actor", NAMEOID, true},
	{"detail", JSONBOID, false},
};

/*
 * The table as the extension made it, with nothing that SQL would have to
 * run or enforce: no trigger, rule or CHECK, no other column, no column of
 * another type or made NOT NULL.  Row-level security needs no check: the
 * SQL ran as the extension owner, a superuser, whom it does not restrict.
 */
static bool
events_plain(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			live = 0;

	if (rel->trigdesc != NULL || rel->rd_rules != NULL)
		return false;
	if (desc->constr != NULL && desc->constr->num_check > 0)
		return false;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		bool		known = false;

		if (a->attisdropped)
			continue;
		live++;
		for (int c = 0; c < (int) lengthof(event_columns); c++)
			if (strcmp(NameStr(a->attname), event_columns[c].name) == 0)
				known = a->atttypid == event_columns[c].type &&
					a->attnotnull == event_columns[c].notnull;
		if (!known)
			return false;
	}
	return live == (int) lengthof(event_columns);
}

bool
direct_insert_events(int n, const Datum *items, TimestampTz at, const Datum *names,
					 const Datum *agents, const bool *agent_nulls, const Datum *queues,
					 const bool *queue_nulls, const Datum *details, const bool *detail_nulls)
{
	DirectRel	ev;
	Datum		actor;

	load_cache();
	drel_open(&ev, cache.event, RowExclusiveLock);
	if (!events_plain(ev.rel))
	{
		drel_close(&ev);
		return false;
	}
	actor = DirectFunctionCall1(namein,
								CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = ev.slot;

		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, sizeof(bool) * RelationGetDescr(ev.rel)->natts);
		set_col(slot, cache.ev_id, Int64GetDatum(nextval_internal(cache.event_seq, false)), false);
		set_col(slot, cache.ev_item, items[i], false);
		set_col(slot, cache.ev_at, TimestampTzGetDatum(at), false);
		set_col(slot, cache.ev_event, names[i], false);
		set_col(slot, cache.ev_agent, agents[i], agent_nulls[i]);
		set_col(slot, cache.ev_queue, queues[i], queue_nulls[i]);
		set_col(slot, cache.ev_actor, actor, false);
		set_col(slot, cache.ev_detail, details[i], detail_nulls[i]);
		ExecStoreVirtualTuple(slot);
		drel_insert(&ev);
	}
	drel_close(&ev);
	return true;
}
