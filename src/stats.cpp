// Live statistics in shared memory, the pg_stat_statements way.
//
// Locking contract: the entries array is found and extended under the named
// LWLock "booking" (shared to find an entry, exclusive to add one), and the
// prepared transactions' counts are parked, published and dropped under it
// (exclusive); each entry's counters are read and written under its own
// spinlock. Nothing here raises an error while holding the spinlock.
//
// Counts are kept per backend and per subtransaction level until the
// transaction ends: a commit adds them to the shared entry of the database,
// an abort (of the transaction or a subtransaction) forgets them. Levels are
// a stack of the nest levels that counted, as deep as subtransactions go.
//
// A prepared transaction commits later, possibly from another session, and
// PostgreSQL runs no callback of ours then (its own statistics ride in the
// two-phase state file, which has no room for an extension's). At
// pre-prepare the counts are parked in shared memory under the
// transaction's full id; whoever reads or resets booking.stats (and a
// pre-prepare that finds no free place) first looks up what became of each
// parked transaction, as pg_xact_status() tells it: committed, its counts
// are added; rolled back, they are dropped; still prepared, they wait. So a
// reader sees a prepared transaction's counts once COMMIT PREPARED has
// returned, never after ROLLBACK PREPARED. There is a place for every
// transaction that can be prepared or be preparing at once
// (max_prepared_transactions plus every backend that can run one), so
// parking never fails.
//
// Shared memory holds only what can be rebuilt: after a crash restart every
// counter starts again from zero, and a transaction prepared before a
// restart counts nothing when it commits after it.
#include "stats.hpp"

#include "bodies.hpp"
#include "core/error.hpp"
#include "pg/fmgr.hpp"
#include "shmem.hpp"

extern "C" {
#include "access/twophase.h"
#include "replication/walsender.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/xid8.h"
}

#include <cstddef>
#include <cstring>
#include <vector>

namespace booking::stats {

namespace {

constexpr int max_databases = 64;

struct Entry {
	Oid dbid;
	slock_t mutex;
	int64 counters[NumCounters];
	TimestampTz reset_at;
};

// The counts of a transaction prepared in database dbid, until it ends.
struct Parked {
	FullTransactionId fxid;	 // invalid: the place is free
	Oid dbid;
	int64 counters[NumCounters];
};

struct Shared {
	LWLock *lock;
	int used;
	TimestampTz started_at;
	Entry entries[max_databases];
	int nparked;  // places in parked[]
	Parked parked[FLEXIBLE_ARRAY_MEMBER];
};

Shared *shared = nullptr;
bool enabled = false;
int nparked = 0;  // places, fixed when the library is preloaded

// What this transaction counted, per nest level that counted, shallowest
// first: only the top one can be the current level, since a subtransaction
// that ends merges or drops its counts.
struct Level {
	int level;
	int64 counters[NumCounters];
};
std::vector<Level> levels;

int
current_level() noexcept
{
	int level = GetCurrentTransactionNestLevel();
	return level < 1 ? 1 : level;
}

// The entry of a database, created if absent; null when the table is full.
// The LWLock is held exclusively.
Entry *
entry_locked(Oid dbid) noexcept
{
	for (int i = 0; i < shared->used; i++)
		if (shared->entries[i].dbid == dbid)
			return &shared->entries[i];
	if (shared->used == max_databases)
		return nullptr;
	Entry *e = &shared->entries[shared->used];
	e->dbid = dbid;
	SpinLockInit(&e->mutex);
	std::memset(e->counters, 0, sizeof(e->counters));
	e->reset_at = shared->started_at;
	shared->used++;
	return e;
}

// The entry of a database, created if absent; null when the table is full.
Entry *
entry_for(Oid dbid) noexcept
{
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->used; i++)
		if (shared->entries[i].dbid == dbid) {
			Entry *e = &shared->entries[i];
			LWLockRelease(shared->lock);
			return e;
		}
	LWLockRelease(shared->lock);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	Entry *found = entry_locked(dbid);
	LWLockRelease(shared->lock);
	return found;
}

void
add_to(Entry *e, const int64 *counters) noexcept
{
	SpinLockAcquire(&e->mutex);
	for (int c = 0; c < NumCounters; c++)
		e->counters[c] += counters[c];
	SpinLockRelease(&e->mutex);
}

// This transaction's counts, all levels together; false when there are none.
bool
sum_levels(int64 *counters) noexcept
{
	bool any = false;
	std::memset(counters, 0, sizeof(int64) * NumCounters);
	for (const Level &l : levels)
		for (int c = 0; c < NumCounters; c++) {
			counters[c] += l.counters[c];
			any = any || l.counters[c] != 0;
		}
	return any;
}

void
flush() noexcept
{
	// At commit every subtransaction has ended: only level 1 is left.
	int64 counters[NumCounters];
	if (sum_levels(counters) && shared && OidIsValid(MyDatabaseId)) {
		// Entries are never removed or moved: find this database's once, so
		// a commit takes only its spinlock, not the shared LWLock as well.
		static Entry *mine = nullptr;
		if (mine == nullptr)
			mine = entry_for(MyDatabaseId);
		if (Entry *e = mine)
			add_to(e, counters);
	}
	levels.clear();
}

// What became of a parked transaction, as pg_xact_status() says (it holds
// off clog truncation while it looks, and checks the proc array before the
// clog, as visibility checks do).
enum class Fate { Prepared, Committed, Gone };

Fate
fate(FullTransactionId fxid)
{
	LOCAL_FCINFO(fcinfo, 1);
	InitFunctionCallInfoData(*fcinfo, nullptr, 1, InvalidOid, nullptr, nullptr);
	fcinfo->args[0].value = FullTransactionIdGetDatum(fxid);
	fcinfo->args[0].isnull = false;
	Datum status = pg_xact_status(fcinfo);
	if (fcinfo->isnull)
		return Fate::Gone;	// too old to tell: its clog is truncated away
	char *answer = text_to_cstring(DatumGetTextPP(status));
	Fate result = strcmp(answer, "in progress") == 0 ? Fate::Prepared
				  : strcmp(answer, "committed") == 0 ? Fate::Committed
													 : Fate::Gone;
	pfree(answer);
	return result;
}

// Add the counts of every parked transaction that committed and free the
// places of those that ended. The LWLock is held exclusively; reads the
// clog, so it may raise an error (the LWLock is then released by the abort).
void
settle_locked()
{
	for (int i = 0; i < shared->nparked; i++) {
		Parked &p = shared->parked[i];
		if (!FullTransactionIdIsValid(p.fxid))
			continue;
		Fate f = fate(p.fxid);
		if (f == Fate::Prepared)
			continue;
		if (f == Fate::Committed)
			if (Entry *e = entry_locked(p.dbid))
				add_to(e, p.counters);
		p.fxid = InvalidFullTransactionId;
	}
}

Parked *
free_place_locked() noexcept
{
	for (int i = 0; i < shared->nparked; i++)
		if (!FullTransactionIdIsValid(shared->parked[i].fxid))
			return &shared->parked[i];
	return nullptr;
}

// Pre-prepare: park this transaction's counts under its full id (assigned
// by now: PrepareTransaction() takes one before this callback). Runs
// before anything is durable, so an error here fails the PREPARE cleanly.
void
park()
{
	int64 counters[NumCounters];
	FullTransactionId fxid = GetTopFullTransactionIdIfAny();
	if (!shared || shared->nparked == 0 || !FullTransactionIdIsValid(fxid) || !sum_levels(counters))
		return;	 // nothing to keep (or PREPARE is off and fails next)
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	Parked *place = free_place_locked();
	if (!place) {
		settle_locked();
		place = free_place_locked();
	}
	if (place) {
		place->fxid = fxid;
		place->dbid = MyDatabaseId;
		std::memcpy(place->counters, counters, sizeof(counters));
	}
	LWLockRelease(shared->lock);
	if (!place)	 // cannot happen: see the places at the top of this file
		elog(WARNING, "booking: no place to keep the statistics of a prepared transaction; they are dropped");
	levels.clear();
}

// Publish what prepared transactions that ended have left.
void
settle()
{
	pg::guard([] {
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		settle_locked();
		LWLockRelease(shared->lock);
	});
}

void
xact_callback(XactEvent event, void *) noexcept
{
	switch (event) {
	case XACT_EVENT_COMMIT:
		flush();
		break;
	case XACT_EVENT_PRE_PREPARE:
		park();
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PREPARE:
		levels.clear();
		break;
	default:
		break;
	}
}

void
subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) noexcept
{
	// Called while the ending subtransaction is still the current one.
	int level = current_level();
	if (levels.empty() || levels.back().level < level)
		return;	 // it counted nothing
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		levels.pop_back();
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		std::size_t n = levels.size();
		if (n >= 2 && levels[n - 2].level == level - 1) {
			for (int c = 0; c < NumCounters; c++)
				levels[n - 2].counters[c] += levels[n - 1].counters[c];
			levels.pop_back();
		} else {
			levels.back().level = level - 1;
		}
	}
}

void
request_lock()
{
	RequestNamedLWLockTranche("booking", 1);
}

void
attach(void *memory, bool found)
{
	shared = static_cast<Shared *>(memory);
	if (!found) {
		std::memset(static_cast<void *>(shared), 0, offsetof(Shared, parked) + sizeof(Parked) * nparked);
		shared->lock = &(GetNamedLWLockTranche("booking"))->lock;
		shared->started_at = GetCurrentTimestamp();
		shared->nparked = nparked;
		for (int i = 0; i < nparked; i++)
			shared->parked[i].fxid = InvalidFullTransactionId;
	}
}

// Raise 55000 unless the shared counters exist.
void
require_shared()
{
	if (!shared)
		throw Error(SqlState::ObjectNotInPrerequisiteState,
					"booking.stats needs booking in shared_preload_libraries",
					"Statistics live in shared memory, which is set up when the server starts.",
					"Add booking to shared_preload_libraries and restart the server.");
}

}  // namespace

void
count(Counter counter, int64_t n)
{
	if (!enabled || n == 0)
		return;
	int level = current_level();
	if (levels.empty() || levels.back().level != level)
		levels.push_back(Level{level, {}});
	levels.back().counters[counter] += n;
}

void
count_outcome(core::Status status)
{
	switch (status) {
	case core::Status::Confirmed:
		count(Confirmed);
		break;
	case core::Status::Held:
		count(Held);
		break;
	case core::Status::Waitlisted:
		count(Waitlisted);
		break;
	case core::Status::SoldOut:
		count(SoldOut);
		break;
	case core::Status::Conflict:
		count(Conflict);
		break;
	case core::Status::LimitExceeded:
		count(LimitExceeded);
		break;
	case core::Status::Released:
	case core::Status::Expired:
		break;  // never a call's outcome: counted where the row changes
	}
}

void
init(bool preloaded)
{
	if (!preloaded)
		return;
	enabled = true;
	// Every transaction that can be prepared, or be preparing (one per
	// backend that can run it), at once. These settings need a restart.
	nparked = max_prepared_xacts > 0 ? max_prepared_xacts + MaxConnections + max_worker_processes + max_wal_senders
									 : 0;
	shmem::add({"booking stats", offsetof(Shared, parked) + sizeof(Parked) * Size(nparked), request_lock, attach});
	RegisterXactCallback(xact_callback, nullptr);
	RegisterSubXactCallback(subxact_callback, nullptr);
}

}  // namespace booking::stats

namespace booking {

Datum
stats_read(FunctionCallInfo fcinfo)
{
	stats::require_shared();
	stats::settle();
	int64 counters[stats::NumCounters] = {};
	TimestampTz reset_at = stats::shared->started_at;
	if (stats::Entry *e = stats::entry_for(MyDatabaseId)) {
		SpinLockAcquire(&e->mutex);
		std::memcpy(counters, e->counters, sizeof(counters));
		reset_at = e->reset_at;
		SpinLockRelease(&e->mutex);
	}
	return pg::composite(fcinfo, {pg::int8_param(counters[stats::Confirmed]), pg::int8_param(counters[stats::Held]),
								  pg::int8_param(counters[stats::Waitlisted]), pg::int8_param(counters[stats::SoldOut]),
								  pg::int8_param(counters[stats::Conflict]),
								  pg::int8_param(counters[stats::LimitExceeded]),
								  pg::int8_param(counters[stats::Promoted]), pg::int8_param(counters[stats::Released]),
								  pg::int8_param(counters[stats::Expired]), pg::timestamptz_param(reset_at)});
}

Datum
stats_reset(FunctionCallInfo fcinfo)
{
	stats::require_shared();
	// What committed before the reset is counted before it, and zeroed.
	stats::settle();
	if (stats::Entry *e = stats::entry_for(MyDatabaseId)) {
		TimestampTz now = GetCurrentTimestamp();
		SpinLockAcquire(&e->mutex);
		std::memset(e->counters, 0, sizeof(e->counters));
		e->reset_at = now;
		SpinLockRelease(&e->mutex);
	}
	return Datum(0);
}

}  // namespace booking
