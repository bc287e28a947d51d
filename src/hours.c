/*-------------------------------------------------------------------------
 *
 * hours.c
 *	  Operating hours: whether a queue is open at an instant, and when it
 *	  opens next.
 *
 *	  A set of operating hours (table operating_hours) is a time zone, slots
 *	  per weekday (operating_hours_slot: opens included, closes excluded,
 *	  '24:00' the end of the day) and holidays (holiday: local dates closed
 *	  all day).  It is open at an instant when the local wall-clock time
 *	  there falls in a slot of that local weekday and the local date is no
 *	  holiday.
 *
 *	  Time zones and the nights the clocks move.  An instant has exactly one
 *	  wall-clock time in a zone, so "open at an instant" is always defined:
 *	  on the night the clocks go forward, a slot (or the part of one) inside
 *	  the skipped hour never shows on the clock and is not open that night
 *	  (02:30-04:00 in Europe/Berlin on the last Sunday of March opens at
 *	  03:00 local, the instant the clocks jump); on the night they go back,
 *	  a slot inside the repeated hour is open both times the clock shows it
 *	  (02:00-02:30 is open for two half hours).  hours_next_open() follows
 *	  the same rule: it walks the spans of constant UTC offset between the
 *	  zone's transitions (pg_next_dst_boundary) and, within each, the local
 *	  days, so a local time that does not exist is never returned and one
 *	  that exists twice gives its first instant first.
 *
 *	  Cache.  Each set is read once per backend (SPI) and compiled: the zone
 *	  (pg_tzset, whose result PostgreSQL keeps for the life of the backend),
 *	  per weekday its slots merged and sorted as microseconds since local
 *	  midnight, and its holidays sorted.  The cache follows a ConfigWatch
 *	  (config.c) on the three tables: the statement triggers
 *	  invalidate_cache on them mark it stale in every backend when a change
 *	  commits (and in the changing one at once), and it is rebuilt on its
 *	  next use.  Nothing outside this file keeps pointers into it.
 *
 *	  SQL: queue_is_open(queue_id, at) and queue_next_open(queue_id, at)
 *	  (NULL: not within the horizon) answer for a queue's hours.
 *	  check_operating_hours(), a BEFORE INSERT OR UPDATE OF timezone
 *	  trigger, refuses a time zone pg_tzset() does not know (22023) --
 *	  cheaper than a look at pg_timezone_names, and the same function that
 *	  will read it.  The other rules of the three tables are constraints.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "config.h"
#include "hours.h"
#include "omniroute.h"
#include "util.h"

/* how far hours_next_open() looks, in local days from `at` */
#define HOURS_HORIZON_DAYS 1500

/* a slot: [opens, closes) in microseconds since local midnight */
typedef struct HoursSlot
{
	int64		opens;
	int64		closes;
} HoursSlot;

typedef struct CompiledHours
{
	char	   *name;
	pg_tz	   *tz;
	int			nslots[7];		/* by weekday, 0 = Sunday */
	HoursSlot  *slots[7];		/* merged, by opens */
	int			nholidays;
	DateADT    *holidays;		/* ascending */
	struct CompiledHours *next; /* same name hash */
} CompiledHours;

/* the cache: name hash -> chain of compiled hours */
typedef struct HoursEntry
{
	int64		hash;
	CompiledHours *chain;
} HoursEntry;

static const char *const hours_tables[] = {"operating_hours", "operating_hours_slot", "holiday"};
static ConfigWatch hours_watch = {.tables = hours_tables, .ntables = lengthof(hours_tables)};
static MemoryContext hours_ctx = NULL;
static HTAB *hours_cache = NULL;

static UtilPlan zone_plan = {
	"SELECT timezone FROM omniroute.operating_hours WHERE name = $1", 1, {TEXTOID}, NULL
};
static UtilPlan slots_plan = {
	"SELECT day, opens, closes FROM omniroute.operating_hours_slot WHERE hours = $1 ORDER BY day, opens",
	1, {TEXTOID}, NULL
};
static UtilPlan holidays_plan = {
	"SELECT day FROM omniroute.holiday WHERE hours = $1 ORDER BY day", 1, {TEXTOID}, NULL
};
static UtilPlan queue_hours_plan = {
	"SELECT operating_hours FROM omniroute.queue WHERE id = $1", 1, {INT8OID}, NULL
};

/* ----------------------------------------------------------------
 * Time zones
 * ----------------------------------------------------------------
 */

/* the zone named, or NULL if PostgreSQL does not know it */
static pg_tz *
hours_zone(const char *zone)
{
	pg_tz	   *tz;

	if (zone[0] == '\0')
		return NULL;
	tz = pg_tzset(zone);
	return tz != NULL && pg_tz_acceptable(tz) ? tz : NULL;
}

/* seconds since the Unix epoch, rounded down */
static pg_time_t
hours_time_t(TimestampTz t)
{
	int64		s = t / USECS_PER_SEC;

	if (t % USECS_PER_SEC < 0)
		s--;
	return (pg_time_t) (s + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

/*
 * The local wall-clock time of t in tz, as microseconds since 2000-01-01
 * 00:00 local; *until is when the UTC offset in force at t next changes
 * (DT_NOEND: never).
 */
static Timestamp
hours_local(const pg_tz *tz, TimestampTz t, TimestampTz *until)
{
	pg_time_t	tt = hours_time_t(t);
	pg_time_t	boundary;
	long int	before_off;
	long int	after_off;
	int			before_dst;
	int			after_dst;
	int			r;

	r = pg_next_dst_boundary(&tt, &before_off, &before_dst, &boundary,
							 &after_off, &after_dst, tz);
	if (r < 0)
		elog(ERROR, "omniroute: cannot find the UTC offset of a time zone");
	*until = DT_NOEND;
	if (r == 1)
		*until = (TimestampTz) (boundary - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
			* USECS_PER_SEC;
	return t + (int64) before_off * USECS_PER_SEC;
}

/* the local date (days since 2000-01-01) of a local time */
static int32
hours_date(Timestamp local)
{
	int64		d = local / USECS_PER_DAY;

	if (local % USECS_PER_DAY < 0)
		d--;
	return (int32) d;
}

/* the weekday of a local date, 0 = Sunday (2000-01-01 was a Saturday) */
static int
hours_weekday(int32 date)
{
	return (int) (((date % 7) + 7 + 6) % 7);
}

/* ----------------------------------------------------------------
 * Compiled hours
 * ----------------------------------------------------------------
 */

static bool
hours_is_holiday(const CompiledHours *h, int32 date)
{
	int			lo = 0;
	int			hi = h->nholidays - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (h->holidays[mid] == date)
			return true;
		if (h->holidays[mid] < date)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* whether the hours say open at a local wall-clock time */
static bool
hours_open_local(const CompiledHours *h, Timestamp local)
{
	int32		date = hours_date(local);
	int64		tod = local - (int64) date * USECS_PER_DAY;
	int			wd = hours_weekday(date);

	if (hours_is_holiday(h, date))
		return false;
	for (int i = 0; i < h->nslots[wd]; i++)
		if (h->slots[wd][i].opens <= tod && tod < h->slots[wd][i].closes)
			return true;
	return false;
}

/*
 * The earliest local time in [local, end) at which the hours say open, on
 * a local date no later than last_date; DT_NOEND if none.
 */
static Timestamp
hours_next_open_local(const CompiledHours *h, Timestamp local, Timestamp end, int32 last_date)
{
	if (hours_open_local(h, local))
		return local;
	for (int32 date = hours_date(local); date <= last_date; date++)
	{
		Timestamp	midnight = (Timestamp) date * USECS_PER_DAY;
		int			wd = hours_weekday(date);

		if (midnight >= end)
			break;
		if (hours_is_holiday(h, date))
			continue;
		for (int i = 0; i < h->nslots[wd]; i++)
		{
			Timestamp	opens = midnight + h->slots[wd][i].opens;

			if (opens > local)
				return opens < end ? opens : DT_NOEND;
		}
	}
	return DT_NOEND;
}

/* store one weekday's slots (sorted by opens), merging those that touch */
static void
hours_add_slots(CompiledHours *h, int wd, HoursSlot *slots, int n)
{
	int			m = 0;

	for (int i = 0; i < n; i++)
	{
		if (m > 0 && slots[i].opens <= slots[m - 1].closes)
			slots[m - 1].closes = Max(slots[m - 1].closes, slots[i].closes);
		else
			slots[m++] = slots[i];
	}
	h->nslots[wd] = m;
	h->slots[wd] = slots;
}

/* read the slots of h->name (inside SPI) */
static void
hours_load_slots(CompiledHours *h, Datum name)
{
	uint64		n = util_exec(util_plan(&slots_plan), &name, NULL, true, 0, SPI_OK_SELECT);
	uint64		row = 0;

	while (row < n)
	{
		int			wd = util_col_int32(row, 1);
		uint64		first = row;
		HoursSlot  *slots;
		bool		isnull;

		while (row < n && util_col_int32(row, 1) == wd)
			row++;
		if (wd < 0 || wd > 6)
			continue;			/* the CHECK refuses it */
		slots = palloc(sizeof(HoursSlot) * (row - first));
		for (uint64 i = first; i < row; i++)
		{
			slots[i - first].opens = DatumGetTimeADT(util_col(i, 2, &isnull));
			slots[i - first].closes = DatumGetTimeADT(util_col(i, 3, &isnull));
		}
		hours_add_slots(h, wd, slots, (int) (row - first));
	}
}

/* read h->name's holidays (inside SPI) */
static void
hours_load_holidays(CompiledHours *h, Datum name)
{
	uint64		n = util_exec(util_plan(&holidays_plan), &name, NULL, true, 0, SPI_OK_SELECT);
	bool		isnull;

	h->nholidays = (int) n;
	h->holidays = palloc(sizeof(DateADT) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		h->holidays[i] = DatumGetDateADT(util_col(i, 1, &isnull));
}

/* read and compile the hours named, in the current context; NULL if none */
static CompiledHours *
hours_load(const char *name)
{
	Datum		arg = CStringGetTextDatum(name);
	CompiledHours *h;
	char	   *zone;

	if (util_exec(util_plan(&zone_plan), &arg, NULL, true, 1, SPI_OK_SELECT) == 0)
		return NULL;
	zone = util_col_text(0, 1);
	h = palloc0(sizeof(CompiledHours));
	h->name = pstrdup(name);
	h->tz = hours_zone(zone);
	if (h->tz == NULL)			/* written before the trigger, or zone data changed */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operating hours \"%s\": time zone \"%s\" not recognized", name, zone)));
	hours_load_slots(h, arg);
	hours_load_holidays(h, arg);
	return h;
}

static void
hours_reset_cache(void)
{
	if (hours_ctx != NULL)
		MemoryContextDelete(hours_ctx);
	hours_ctx = AllocSetContextCreate(CacheMemoryContext, "omniroute hours cache",
									  ALLOCSET_SMALL_SIZES);
	hours_cache = util_int64_hash("omniroute hours", sizeof(HoursEntry), hours_ctx);
}

/* the compiled hours named; error 42704 if there are none */
static CompiledHours *
hours_get(const char *name)
{
	int64		key = (int64) hash_bytes((const unsigned char *) name, strlen(name));
	HoursEntry *entry;
	bool		found;
	MemoryContext build_ctx;
	MemoryContext old;
	CompiledHours *h;

	if (config_watch_begin(&hours_watch) || hours_ctx == NULL)
		hours_reset_cache();
	entry = hash_search(hours_cache, &key, HASH_FIND, &found);
	for (h = found ? entry->chain : NULL; h != NULL; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;

	/* built in a context of its own, adopted by the cache once complete */
	old = CurrentMemoryContext;
	build_ctx = AllocSetContextCreate(old, "omniroute hours", ALLOCSET_SMALL_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	MemoryContextSwitchTo(build_ctx);
	h = hours_load(name);
	SPI_finish();
	MemoryContextSwitchTo(old);
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("operating hours \"%s\" do not exist", name)));

	/* invalidations processed while loading may have reset the cache */
	if (hours_ctx == NULL)
		hours_reset_cache();
	MemoryContextSetParent(build_ctx, hours_ctx);
	entry = hash_search(hours_cache, &key, HASH_ENTER, &found);
	h->next = found ? entry->chain : NULL;
	entry->chain = h;
	config_watch_loaded(&hours_watch);
	return h;
}

static void
hours_check_finite(TimestampTz at)
{
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("operating hours: the time must be finite, not %s",
						TIMESTAMP_IS_NOBEGIN(at) ? "-infinity" : "infinity")));
}

/* ----------------------------------------------------------------
 * API (hours.h)
 * ----------------------------------------------------------------
 */

bool
hours_is_open(const char *hours_name, TimestampTz at)
{
	CompiledHours *h;
	TimestampTz until;

	if (hours_name == NULL)
		return true;
	hours_check_finite(at);
	h = hours_get(hours_name);
	return hours_open_local(h, hours_local(h->tz, at, &until));
}

TimestampTz
hours_next_open(const char *hours_name, TimestampTz at)
{
	CompiledHours *h;
	TimestampTz t = at;
	TimestampTz until;
	Timestamp	local;
	int32		last_date;

	if (hours_name == NULL)
		return at;
	hours_check_finite(at);
	h = hours_get(hours_name);
	local = hours_local(h->tz, at, &until);

	/* past the last holiday, a week shows every slot */
	last_date = hours_date(local) + 8;
	if (h->nholidays > 0 && h->holidays[h->nholidays - 1] + 8 > last_date)
		last_date = h->holidays[h->nholidays - 1] + 8;
	last_date = Min(last_date, hours_date(local) + HOURS_HORIZON_DAYS);

	/* each span of one UTC offset: local time runs with the instant there */
	for (;;)
	{
		Timestamp	end = until == DT_NOEND ? DT_NOEND : local + (until - t);
		Timestamp	opens = hours_next_open_local(h, local, end, last_date);

		if (opens != DT_NOEND)
			return t + (opens - local);
		if (until == DT_NOEND || hours_date(end) > last_date)
			return DT_NOEND;
		t = until;
		local = hours_local(h->tz, t, &until);
	}
}

/* ----------------------------------------------------------------
 * SQL: queue_is_open(queue_id, at), queue_next_open(queue_id, at),
 * trigger check_operating_hours
 * ----------------------------------------------------------------
 */

/* the operating hours of a queue (NULL: none); error 42704 if no queue */
static char *
hours_of_queue(int64 queue_id)
{
	Datum		arg = Int64GetDatum(queue_id);
	MemoryContext outer = CurrentMemoryContext;
	char	   *name;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "omniroute: SPI_connect failed");
	if (util_exec(util_plan(&queue_hours_plan), &arg, NULL, true, 1, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue " INT64_FORMAT " does not exist", queue_id)));
	name = util_col_text(0, 1);
	if (name != NULL)
		name = MemoryContextStrdup(outer, name);
	SPI_finish();
	return name;
}

PG_FUNCTION_INFO_V1(omniroute_queue_is_open);

Datum
omniroute_queue_is_open(PG_FUNCTION_ARGS)
{
	int64		queue_id = PG_GETARG_INT64(0);
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	char	   *hours_name;

	omniroute_check_version();
	hours_name = hours_of_queue(queue_id);
	hours_check_finite(at);
	PG_RETURN_BOOL(hours_is_open(hours_name, at));
}

PG_FUNCTION_INFO_V1(omniroute_queue_next_open);

Datum
omniroute_queue_next_open(PG_FUNCTION_ARGS)
{
	int64		queue_id = PG_GETARG_INT64(0);
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz opens;

	omniroute_check_version();
	hours_check_finite(at);
	opens = hours_next_open(hours_of_queue(queue_id), at);
	if (opens == DT_NOEND)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(opens);
}

PG_FUNCTION_INFO_V1(omniroute_check_operating_hours);

Datum
omniroute_check_operating_hours(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *zone;

	omniroute_check_version();
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_operating_hours() must be an INSERT or UPDATE row trigger")));
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	d = heap_getattr(tup, SPI_fnumber(desc, "timezone"), desc, &isnull);
	if (isnull)
		PG_RETURN_POINTER(tup); /* NOT NULL refuses it */
	zone = TextDatumGetCString(d);
	if (hours_zone(zone) == NULL)
	{
		d = heap_getattr(tup, SPI_fnumber(desc, "name"), desc, &isnull);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operating hours \"%s\": time zone \"%s\" not recognized",
						isnull ? "" : TextDatumGetCString(d), zone),
				 errhint("Use a name from pg_timezone_names, such as 'Europe/Berlin' or 'UTC'.")));
	}
	PG_RETURN_POINTER(tup);
}
