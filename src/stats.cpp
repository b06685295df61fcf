// Live statistics in shared memory, the pg_stat_statements way.
//
// Locking contract: the entries array is found and extended under the named
// LWLock "booking" (shared to find an entry, exclusive to add one); each
// entry's counters are read and written under its own spinlock. Nothing here
// may raise an error while holding either.
//
// Counts are kept per backend and per subtransaction level until the
// transaction ends: a commit adds them to the shared entry of the database,
// an abort (of the transaction or a subtransaction) forgets them. Shared
// memory holds only what can be rebuilt: after a crash restart every counter
// starts again from zero.
#include "stats.hpp"

#include "bodies.hpp"
#include "booking/error.hpp"
#include "pg/fmgr.hpp"
#include "shmem.hpp"

extern "C" {
#include "storage/lwlock.h"
#include "storage/spin.h"
}

#include <cstring>

namespace booking::stats {

namespace {

constexpr int max_databases = 64;
constexpr int max_levels = 32;	// deeper subtransactions count with level 32

struct Entry {
	Oid dbid;
	slock_t mutex;
	int64 counters[NumCounters];
	TimestampTz reset_at;
};

struct Shared {
	LWLock *lock;
	int used;
	TimestampTz started_at;
	Entry entries[max_databases];
};

Shared *shared = nullptr;
bool enabled = false;
int64 pending[max_levels][NumCounters];
int deepest = 0;  // highest level with pending counts

int
level_index() noexcept
{
	int level = GetCurrentTransactionNestLevel();
	if (level < 1)
		level = 1;
	return (level > max_levels ? max_levels : level) - 1;
}

void
forget_from(int index) noexcept
{
	for (int i = index; i <= deepest && i < max_levels; i++)
		std::memset(pending[i], 0, sizeof(pending[i]));
	if (deepest >= index)
		deepest = index > 0 ? index - 1 : 0;
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
	Entry *found = nullptr;
	for (int i = 0; i < shared->used && !found; i++)
		if (shared->entries[i].dbid == dbid)
			found = &shared->entries[i];
	if (!found && shared->used < max_databases) {
		found = &shared->entries[shared->used];
		found->dbid = dbid;
		SpinLockInit(&found->mutex);
		std::memset(found->counters, 0, sizeof(found->counters));
		found->reset_at = shared->started_at;
		shared->used++;
	}
	LWLockRelease(shared->lock);
	return found;
}

void
flush() noexcept
{
	bool any = false;
	for (int c = 0; c < NumCounters; c++)
		any = any || pending[0][c] != 0;
	if (any && shared && OidIsValid(MyDatabaseId)) {
		// Entries are never removed or moved: find this database's once, so
		// a commit takes only its spinlock, not the shared LWLock as well.
		static Entry *mine = nullptr;
		if (mine == nullptr)
			mine = entry_for(MyDatabaseId);
		if (Entry *e = mine) {
			SpinLockAcquire(&e->mutex);
			for (int c = 0; c < NumCounters; c++)
				e->counters[c] += pending[0][c];
			SpinLockRelease(&e->mutex);
		}
	}
	forget_from(0);
}

void
xact_callback(XactEvent event, void *) noexcept
{
	switch (event) {
	case XACT_EVENT_COMMIT:
		flush();
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PREPARE:
		forget_from(0);
		break;
	default:
		break;
	}
}

void
subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) noexcept
{
	int index = level_index();
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		forget_from(index);
	} else if (event == SUBXACT_EVENT_COMMIT_SUB && index > 0 && index < max_levels - 1) {
		for (int c = 0; c < NumCounters; c++) {
			pending[index - 1][c] += pending[index][c];
			pending[index][c] = 0;
		}
		if (deepest >= index)
			deepest = index - 1;
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
		std::memset(shared, 0, sizeof(Shared));
		shared->lock = &(GetNamedLWLockTranche("booking"))->lock;
		shared->started_at = GetCurrentTimestamp();
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
count(Counter counter, int64_t n) noexcept
{
	if (!enabled || n == 0)
		return;
	int index = level_index();
	pending[index][counter] += n;
	if (index > deepest)
		deepest = index;
}

void
count_outcome(std::string_view status) noexcept
{
	if (status == "confirmed")
		count(Confirmed);
	else if (status == "held")
		count(Held);
	else if (status == "waitlisted")
		count(Waitlisted);
	else if (status == "sold_out")
		count(SoldOut);
	else if (status == "conflict")
		count(Conflict);
	else if (status == "limit_exceeded")
		count(LimitExceeded);
}

void
init(bool preloaded)
{
	if (!preloaded)
		return;
	enabled = true;
	shmem::add({"booking stats", sizeof(Shared), request_lock, attach});
	RegisterXactCallback(xact_callback, nullptr);
	RegisterSubXactCallback(subxact_callback, nullptr);
}

}  // namespace booking::stats

namespace booking {

Datum
stats_read(FunctionCallInfo fcinfo)
{
	stats::require_shared();
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
