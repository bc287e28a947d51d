/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Agent notifications, sent by the tick worker after the routing
 *	  transaction commits instead of by that transaction's own commit.
 *
 *	  NOTIFY takes a lock on the database at commit (async.c), held while
 *	  the commit is recorded, so every transaction that notifies commits
 *	  one at a time: routers inserting work in parallel queue up behind
 *	  each other, a cost that grows with the number of routers.  So when
 *	  a tick worker serves this database, a router does not NOTIFY: at
 *	  its commit it hands the notifications to the worker through the
 *	  database's ring in shared memory and sets the worker's latch; the
 *	  worker sends them, many per transaction of its own: at once when it
 *	  is idle, every NOTIFY_GATHER_US (worker.c) under a stream.  What
 *	  listeners receive is the same (channel, payload), only from the
 *	  worker's process and after the item is visible.
 *
 *	  Rings: one per slot of the launcher (launcher.c), so one per served
 *	  database, omniroute.max_databases in all, each with its own lock.  A
 *	  ring serves the database of the worker attached to it; a router finds
 *	  its database's ring by a scan of the few rings (remembering the last
 *	  one found), and checks it again under the ring's lock before it
 *	  reserves room.  Entries left by a worker that restarts wait for the
 *	  next worker of the same database; a ring taken over by another
 *	  database drops them.
 *
 *	  A transaction's notifications go through the ring only if room for
 *	  all of them is reserved before it commits (XACT_EVENT_PRE_COMMIT); if
 *	  not, or no worker serves the database, or the library was not
 *	  preloaded (no shared memory), they are plain NOTIFYs of the
 *	  transaction as before.  A reservation becomes entries at commit and
 *	  is given back at abort, so an aborted transaction notifies nobody, and
 *	  notifications queued in a subtransaction that rolls back are dropped,
 *	  as NOTIFY does.  The worker sends in ring order, which is the order
 *	  of the commit callbacks (nearly always commit order), and takes
 *	  entries off the ring only once its transaction has sent them: a
 *	  failed send is tried again (a worker killed between its commit and
 *	  that step sends a batch twice); entries wait while the worker is away
 *	  and are lost only with the server (or with the ring, above).  A
 *	  worker busy in a tick for more than WORKER_BUSY_MS (a tick may wait
 *	  for locks) gets nothing new: routers send their own until it is back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "notify.h"
#include "omniroute.h"

#define RING_SIZE			2048	/* per database */
#define PAYLOAD_MAX			256
#define CHANNEL_MAX			NAMEDATALEN
#define NOTIFY_SEND_MAX		256	/* notifications per worker transaction */

/*
 * A worker in a tick (which may wait for locks) this long does not get new
 * notifications: routers send theirs themselves until it is back.
 */
#define WORKER_BUSY_MS		100

typedef struct RingEntry
{
	Oid			database;
	char		channel[CHANNEL_MAX];
	char		payload[PAYLOAD_MAX];
} RingEntry;

typedef struct NotifyShared
{
	LWLock	   *lock;
	Oid			database;		/* served by the worker; InvalidOid: none */
	Oid			owner;			/* the database the entries are for */
	Latch	   *latch;			/* the worker's, while it serves */
	TimestampTz busy_since;		/* the worker is in a tick since; 0: not */
	uint64		head;			/* entries ever written */
	uint64		tail;			/* entries ever taken by the worker */
	uint32		reserved;		/* slots promised to committing transactions */
	RingEntry	ring[RING_SIZE];
} NotifyShared;

static NotifyShared *rings = NULL;	/* omniroute_max_databases of them */

/*
 * The ring this backend works with: a worker's own; a router's, the one its
 * transaction's notifications go to (in a worker, the same)
 */
static NotifyShared *shared = NULL;

/* the ring that last served this backend's database, for a quick look */
static int	last_ring = 0;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's notifications waiting for its transaction to commit */
typedef struct Pending
{
	int			level;			/* transaction nesting level that queued it */
	RingEntry	entry;
} Pending;

static Pending *pending = NULL; /* in TopTransactionContext */
static int	npending = 0;
static int	maxpending = 0;
static uint32 reserved = 0;		/* slots this backend reserved */
static bool callbacks_registered = false;

/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */
static void
notify_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(mul_size(omniroute_max_databases, sizeof(NotifyShared))));
	RequestNamedLWLockTranche("omniroute notify", omniroute_max_databases);
}

static void
notify_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rings = ShmemInitStruct("omniroute notify",
							mul_size(omniroute_max_databases, sizeof(NotifyShared)),
							&found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("omniroute notify");

		for (int i = 0; i < omniroute_max_databases; i++)
		{
			NotifyShared *r = &rings[i];

			r->lock = &locks[i].lock;
			r->database = InvalidOid;
			r->owner = InvalidOid;
			r->latch = NULL;
			r->busy_since = 0;
			r->head = 0;
			r->tail = 0;
			r->reserved = 0;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
notify_init(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = notify_shmem_request;
#else
	notify_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = notify_shmem_startup;
}

/* ----------------------------------------------------------------
 * Routers
 * ----------------------------------------------------------------
 */
static void
send_pending_inline(void)
{
	for (int i = 0; i < npending; i++)
		Async_Notify(pending[i].entry.channel, pending[i].entry.payload);
	npending = 0;
}

/* the transaction is over: its notifications went with it */
static void
forget_pending(void)
{
	reserved = 0;
	npending = 0;
	pending = NULL;				/* it lived in TopTransactionContext */
	maxpending = 0;
}

/*
 * Before commit: reserve room in the ring for every notification of the
 * transaction, if the worker serves this database, is not stuck in a tick
 * and the ring has room; else send them as plain NOTIFYs of the
 * transaction.
 */
static void
reserve_at_pre_commit(void)
{
	if (npending == 0)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (shared->database == MyDatabaseId &&
		(shared->busy_since == 0 ||
		 !TimestampDifferenceExceeds(shared->busy_since, GetCurrentTimestamp(),
									 WORKER_BUSY_MS)) &&
		RING_SIZE - (shared->head - shared->tail) - shared->reserved >= (uint64) npending)
	{
		shared->reserved += npending;
		reserved = npending;
	}
	LWLockRelease(shared->lock);
	if (reserved == 0)
		send_pending_inline();	/* no worker, or the ring is full */
}

/* committed: the reservation becomes entries, and the worker is woken */
static void
publish_at_commit(void)
{
	Latch	   *latch;

	if (reserved == 0)
		return;
	/* nothing can queue a notification after PRE_COMMIT */
	Assert((uint32) npending == reserved);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (uint32 i = 0; i < reserved; i++)
		shared->ring[(shared->head + i) % RING_SIZE] = pending[i].entry;
	shared->head += reserved;
	shared->reserved -= reserved;
	latch = shared->latch;
	LWLockRelease(shared->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/* aborted: give the reservation back; nobody is notified */
static void
release_at_abort(void)
{
	if (reserved == 0)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->reserved -= reserved;
	LWLockRelease(shared->lock);
}

static void
notify_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			reserve_at_pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* NOTIFY refuses PREPARE: let it say so */
			send_pending_inline();
			break;
		case XACT_EVENT_COMMIT:
			publish_at_commit();
			forget_pending();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			release_at_abort();
			forget_pending();
			break;
		case XACT_EVENT_PREPARE:
			forget_pending();
			break;
		default:
			break;
	}
}

static void
notify_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			kept = 0;

	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].level >= level)
		{
			if (event == SUBXACT_EVENT_ABORT_SUB)
				continue;		/* rolled back with its subtransaction */
			pending[i].level = level - 1;
		}
		pending[kept++] = pending[i];
	}
	npending = kept;
}

/*
 * The ring through which a worker serves this database, by a look without
 * the lock (PRE_COMMIT looks again under it); NULL: no worker serves it.
 */
static NotifyShared *
serving_ring(void)
{
	if (rings == NULL)
		return NULL;
	if (rings[last_ring].database == MyDatabaseId)
		return &rings[last_ring];
	for (int i = 0; i < omniroute_max_databases; i++)
	{
		if (rings[i].database == MyDatabaseId)
		{
			last_ring = i;
			return &rings[i];
		}
	}
	return NULL;
}

void
notify_send(const char *channel, const char *payload)
{
	Pending    *p;
	NotifyShared *ring;

	/* no worker serves this database now: NOTIFY as usual */
	if (!omniroute_notify_by_worker || (ring = serving_ring()) == NULL ||
		strlen(channel) >= CHANNEL_MAX || strlen(payload) >= PAYLOAD_MAX ||
		IsInParallelMode())
	{
		Async_Notify(channel, payload);
		return;
	}
	if (!callbacks_registered)
	{
		RegisterXactCallback(notify_xact_callback, NULL);
		RegisterSubXactCallback(notify_subxact_callback, NULL);
		callbacks_registered = true;
	}
	/* a transaction's notifications go to the ring its first one found */
	if (npending == 0)
		shared = ring;
	if (npending == maxpending)
	{
		int			grown = Max(8, maxpending * 2);

		pending = (pending == NULL) ?
			MemoryContextAlloc(TopTransactionContext, sizeof(Pending) * grown) :
			repalloc(pending, sizeof(Pending) * grown);
		maxpending = grown;
	}
	p = &pending[npending++];
	p->level = GetCurrentTransactionNestLevel();
	p->entry.database = MyDatabaseId;
	strlcpy(p->entry.channel, channel, CHANNEL_MAX);
	strlcpy(p->entry.payload, payload, PAYLOAD_MAX);
}

/* ----------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------
 */
static void
notify_worker_detach(int code, Datum arg)
{
	(void) code;
	(void) arg;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->database = InvalidOid;
	shared->latch = NULL;
	LWLockRelease(shared->lock);
}

void
notify_worker_attach(int ring)
{
	uint64		dropped = 0;

	if (rings == NULL || ring < 0 || ring >= omniroute_max_databases)
		return;
	shared = &rings[ring];
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	/* what another database's worker left here is for nobody now */
	if (shared->owner != MyDatabaseId)
	{
		dropped = shared->head - shared->tail;
		shared->tail = shared->head;
		shared->owner = MyDatabaseId;
	}
	shared->database = MyDatabaseId;
	shared->latch = MyLatch;
	shared->busy_since = 0;
	LWLockRelease(shared->lock);
	before_shmem_exit(notify_worker_detach, (Datum) 0);
	if (dropped > 0)
		ereport(LOG,
				(errmsg("omniroute notifier: dropped " UINT64_FORMAT " notifications left for a database no longer served",
						dropped)));
}

void
notify_worker_busy(bool busy)
{
	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->busy_since = busy ? GetCurrentTimestamp() : 0;
	LWLockRelease(shared->lock);
}

/* whether (channel, payload) of batch[i] is already among batch[from..i-1] */
static bool
sent_already(const RingEntry *batch, int from, int i)
{
	for (int j = from; j < i; j++)
		if (strcmp(batch[j].payload, batch[i].payload) == 0 &&
			strcmp(batch[j].channel, batch[i].channel) == 0)
			return true;
	return false;
}

int
notify_worker_send(int max)
{
	/* for the life of the worker: under load this runs at every gather */
	static RingEntry *batch = NULL;
	int			n;
	int			from = 0;

	if (shared == NULL)
		return 0;
	max = Min(max, NOTIFY_SEND_MAX);
	if (batch == NULL)
		batch = MemoryContextAlloc(TopMemoryContext, sizeof(RingEntry) * NOTIFY_SEND_MAX);
	LWLockAcquire(shared->lock, LW_SHARED);
	n = (int) Min((uint64) max, shared->head - shared->tail);
	for (int i = 0; i < n; i++)
		batch[i] = shared->ring[(shared->tail + i) % RING_SIZE];
	LWLockRelease(shared->lock);
	if (n == 0)
		return 0;

	StartTransactionCommand();
	for (int i = 0; i < n; i++)
	{
		if (batch[i].database != MyDatabaseId)
		{
			ereport(LOG,
					(errmsg("omniroute notifier: dropped a notification on \"%s\" for another database",
							batch[i].channel)));
			continue;
		}

		/*
		 * NOTIFY sends a (channel, payload) once per transaction; these
		 * came from different ones (an assignment, its revocation, the
		 * same assignment again): each gets its own.
		 */
		if (sent_already(batch, from, i))
		{
			CommitTransactionCommand();
			StartTransactionCommand();
			from = i;
		}
		Async_Notify(batch[i].channel, batch[i].payload);
	}
	CommitTransactionCommand();

	/*
	 * Taken off the ring only now that they are sent: a failure above
	 * leaves them for the next try (the worker is the only one to take).
	 */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->tail += n;
	LWLockRelease(shared->lock);
	return n;
}
