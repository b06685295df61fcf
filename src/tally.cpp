// Locking contract: an entry's key and slots are read under its own LWLock
// held shared and written under it held exclusively; an entry is given to
// another pool only under the first LWLock of tranche "booking tally"
// (exclusive, taken before the entry's), so one pool never has two
// entries. A reader sums up to 256 slots while it holds its lock, so it is
// an LWLock (readers share it, a writer sleeps while they finish), not a
// spinlock, which is for a few instructions only (storage/spin.h). Nothing
// here raises an error while holding one.
#include "tally.hpp"

#include "core/validate.hpp"
#include "pg/boundary.hpp"
#include "pg/compat.hpp"
#include "shmem.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
}

#include <cstring>
#include <unordered_map>

namespace booking::tally {

namespace {

constexpr int max_shards = int(core::max_shards);
constexpr int ways = 4;				 // an entry's pool is found among 4 places
constexpr int nentries = 128 * ways;	 // sharded pools remembered at once
constexpr int epochs = 256;			 // databases share epochs by OID
constexpr int max_pending = 1024;	 // (pool, shard) lines a transaction keeps

struct Slot {
	uint64 epoch;  // 0: stale
	TransactionId xid;
	int32 used;
};

struct Entry {
	LWLock *lock;
	Oid db;	 // InvalidOid: free
	Oid rel;  // booking.pool_shard of that database
	int64 pool_id;
	uint64 touched;
	Slot slots[max_shards];
};

struct Shared {
	LWLock *lock;
	pg_atomic_uint64 tick;
	pg_atomic_uint64 epoch[epochs];
	Entry entries[nentries];
};

Shared *shared = nullptr;

// The shard rows this transaction took from (count: how many updates, a
// take written back counting as one more), in order; consecutive ones of
// one shard at one subtransaction level share a line.
struct Pending {
	int64 pool_id;
	int32 shard;
	int32 used;
	int level;
	int64 count;
};
Pending pending[max_pending];
int npending = 0;
bool overflow = false;
// Set while this transaction's slots are published and its commit may fail.
TransactionId published_xid = InvalidTransactionId;
Oid published_rel = InvalidOid;

// The epoch under which this backend last filled each pool's idle shards.
std::unordered_map<int64_t, uint64> filled;
Oid filled_rel = InvalidOid;  // the pool_shard table those pools are of

// booking.pool_shard of this database, looked up once per relcache reset.
bool rel_known = false;
Oid rel_cached = InvalidOid;

Oid
shard_rel() noexcept
{
	if (!rel_known) {
		Oid nsp = get_namespace_oid("booking", true);
		rel_cached = OidIsValid(nsp) ? get_relname_relid("pool_shard", nsp) : InvalidOid;
		rel_known = true;
	}
	return rel_cached;
}

// The same from a C++ frame: a catalog error comes back as an exception.
Oid
shard_rel_guarded()
{
	return pg::guard([] { return shard_rel(); });
}

void
forget_rel(Datum, Oid) noexcept
{
	rel_known = false;
}

pg_atomic_uint64 *
epoch() noexcept
{
	return &shared->epoch[MyDatabaseId % epochs];
}

void
bump() noexcept
{
	pg_atomic_fetch_add_u64(epoch(), 1);
}

// The strongest lock on rel this transaction holds that writing takes:
// every INSERT, UPDATE, DELETE, MERGE and COPY takes RowExclusiveLock on
// the table; TRUNCATE and the ALTER TABLE forms that rewrite it take
// AccessExclusiveLock. Without one it wrote no row of rel that can commit
// (a rolled-back subtransaction lets go of its locks with its writes). A
// probe of the backend's own lock table, where the pgstat lookup below is
// a shared hash probe, on every commit of every transaction that wrote.
LOCKMODE
write_lock(Oid rel) noexcept
{
	LOCKTAG tag;
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, rel);
	for (LOCKMODE mode = AccessExclusiveLock; mode >= RowExclusiveLock; mode--)
		if (pg::lock_held_by_me(&tag, mode))
			return mode;
	return NoLock;
}

// Rows of rel this transaction inserted, updated or deleted; -1 when that
// cannot be told (truncated).
int64
writes(Oid rel) noexcept
{
	PgStat_TableStatus *status = pg::pending_table_status(rel);
	if (!status)
		return 0;
	int64 n = 0;
	for (PgStat_TableXactStatus *t = status->trans; t; t = t->upper) {
		if (t->truncdropped)
			return -1;
		n += t->tuples_inserted + t->tuples_updated + t->tuples_deleted;
	}
	return n;
}

int64
pending_takes() noexcept
{
	int64 n = 0;
	for (int i = 0; i < npending; i++)
		n += pending[i].count;
	return n;
}

// Every write this transaction made to pool_shard is a take it recorded.
bool
only_takes(Oid rel) noexcept
{
	return !overflow && writes(rel) == pending_takes();
}

int
first_way(Oid rel, int64 pool_id) noexcept
{
	uint64 h = (uint64(MyDatabaseId) * 0x9E3779B97F4A7C15ULL) ^ (uint64(rel) * 0xC2B2AE3D27D4EB4FULL) ^
			   (uint64(pool_id) * 0x165667B19E3779F9ULL);
	h ^= h >> 29;
	return int(h % (nentries / ways)) * ways;
}

bool
is(const Entry &e, Oid rel, int64 pool_id) noexcept
{
	return e.db == MyDatabaseId && e.rel == rel && e.pool_id == pool_id;
}

// The pool's entry, its lock held in mode; null when it has none.
Entry *
find_locked(Oid rel, int64 pool_id, LWLockMode mode) noexcept
{
	int first = first_way(rel, pool_id);
	for (int w = 0; w < ways; w++) {
		Entry *e = &shared->entries[first + w];
		if (!is(*e, rel, pool_id))	// unlocked glance, checked again below
			continue;
		LWLockAcquire(e->lock, mode);
		if (is(*e, rel, pool_id))
			return e;
		LWLockRelease(e->lock);
	}
	return nullptr;
}

// The pool's entry, given the least recently written place of its four
// when it has none; its lock held exclusively. Null in the rare case the
// entry is given away again before it is locked: then the pool has none,
// and no slot of it can be stale.
Entry *
claim_locked(Oid rel, int64 pool_id) noexcept
{
	if (Entry *e = find_locked(rel, pool_id, LW_EXCLUSIVE))
		return e;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	Entry *e = find_locked(rel, pool_id, LW_EXCLUSIVE);	 // claimed meanwhile
	if (e)
		LWLockRelease(e->lock);
	else {
		int first = first_way(rel, pool_id);
		Entry *victim = &shared->entries[first];
		for (int w = 1; w < ways; w++) {
			Entry *other = &shared->entries[first + w];
			if (other->touched < victim->touched)
				victim = other;
		}
		LWLockAcquire(victim->lock, LW_EXCLUSIVE);
		victim->db = MyDatabaseId;
		victim->rel = rel;
		victim->pool_id = pool_id;
		victim->touched = pg_atomic_fetch_add_u64(&shared->tick, 1);
		for (Slot &slot : victim->slots)
			slot = Slot{0, InvalidTransactionId, 0};
		LWLockRelease(victim->lock);
	}
	LWLockRelease(shared->lock);
	return find_locked(rel, pool_id, LW_EXCLUSIVE);
}

// Pre-commit: write each taken shard's new total into its slot.
void
publish(Oid rel, TransactionId xid) noexcept
{
	uint64 now_epoch = pg_atomic_read_u64(epoch());
	for (int i = 0; i < npending; i++) {
		const Pending &p = pending[i];
		Entry *e = claim_locked(rel, p.pool_id);
		if (!e)
			continue;
		e->slots[p.shard] = Slot{now_epoch, xid, p.used};
		e->touched = pg_atomic_fetch_add_u64(&shared->tick, 1);
		LWLockRelease(e->lock);
	}
	published_xid = xid;
	published_rel = rel;
}

// The commit failed after pre-commit: the slots this transaction wrote (and
// nobody wrote since) are stale.
void
unpublish() noexcept
{
	for (int i = 0; i < npending; i++) {
		const Pending &p = pending[i];
		if (Entry *e = find_locked(published_rel, p.pool_id, LW_EXCLUSIVE)) {
			Slot &s = e->slots[p.shard];
			if (s.xid == published_xid)
				s.epoch = 0;
			LWLockRelease(e->lock);
		}
	}
}

void
reset() noexcept
{
	npending = 0;
	overflow = false;
	published_xid = InvalidTransactionId;
	published_rel = InvalidOid;
}

// At pre-commit and pre-prepare: publish this transaction's takes, or make
// every slot of the database stale when it wrote pool_shard otherwise (or
// will commit later, from another session).
void
before_commit(bool prepare) noexcept
{
	TransactionId xid = GetTopTransactionIdIfAny();
	if (!TransactionIdIsValid(xid) || !OidIsValid(MyDatabaseId))
		return;	 // wrote nothing
	if (!pgstat_track_counts) {
		bump();	 // no per-table counts to tell: any write counts
		return;
	}
	Oid rel = shard_rel();
	if (!OidIsValid(rel))
		return;
	LOCKMODE lock = write_lock(rel);
	// A rewrite (ALTER TABLE ... TYPE ... USING) changes rows that pgstat
	// does not count as written: whatever it did, every slot goes stale.
	if (lock == AccessExclusiveLock) {
		bump();
		return;
	}
	if (npending == 0 && (lock == NoLock || writes(rel) == 0))
		return;
	if (prepare || !only_takes(rel))
		bump();
	else
		publish(rel, xid);
}

void
xact_callback(XactEvent event, void *) noexcept
{
	switch (event) {
	case XACT_EVENT_PRE_COMMIT:
		before_commit(false);
		break;
	case XACT_EVENT_PRE_PREPARE:
		before_commit(true);
		break;
	case XACT_EVENT_ABORT:
		if (TransactionIdIsValid(published_xid))
			unpublish();
		reset();
		break;
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PREPARE:
		reset();
		break;
	default:
		break;
	}
}

// A subtransaction's takes leave with it when it aborts, and become its
// parent's when it commits.
void
subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) noexcept
{
	int level = GetCurrentTransactionNestLevel();
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		while (npending > 0 && pending[npending - 1].level >= level)
			npending--;
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		for (int i = npending - 1; i >= 0 && pending[i].level >= level; i--)
			pending[i].level = level - 1;
	}
}

// A shard row this transaction wrote, and the total it holds now.
void
record(int64_t pool_id, int32_t shard, int32_t used, int64 writes) noexcept
{
	if (!shared || shard < 0 || shard >= max_shards)
		return;
	int level = GetCurrentTransactionNestLevel();
	if (npending > 0) {
		Pending &last = pending[npending - 1];
		if (last.pool_id == pool_id && last.shard == shard && last.level == level) {
			last.used = used;
			last.count += writes;
			return;
		}
	}
	if (npending == max_pending) {
		overflow = true;
		return;
	}
	pending[npending++] = Pending{pool_id, shard, used, level, writes};
}

// The claim lock, then one per entry.
void
request_lock()
{
	RequestNamedLWLockTranche("booking tally", 1 + nentries);
}

void
attach(void *memory, bool found)
{
	shared = static_cast<Shared *>(memory);
	if (!found) {
		std::memset(static_cast<void *>(shared), 0, sizeof(Shared));
		LWLockPadded *locks = GetNamedLWLockTranche("booking tally");
		shared->lock = &locks[0].lock;
		pg_atomic_init_u64(&shared->tick, 1);
		for (pg_atomic_uint64 &e : shared->epoch)
			pg_atomic_init_u64(&e, 1);
		for (int i = 0; i < nentries; i++)
			shared->entries[i].lock = &locks[1 + i].lock;
	}
}

}  // namespace

void
took(int64_t pool_id, int32_t shard, int32_t used) noexcept
{
	record(pool_id, shard, used, 1);
}

std::optional<Reading>
used_elsewhere(int64_t pool_id, int32_t shards, int32_t except)
{
	if (!shared || !OidIsValid(MyDatabaseId) || IsolationUsesXactSnapshot() || !pgstat_track_counts ||
		shards > max_shards)
		return std::nullopt;
	Oid rel = shard_rel_guarded();
	if (!OidIsValid(rel) || !only_takes(rel))
		return std::nullopt;
	// This transaction's own takes: its latest total per shard.
	int32 own[max_shards];
	bool mine[max_shards] = {};
	for (int i = 0; i < npending; i++)
		if (pending[i].pool_id == pool_id) {
			own[pending[i].shard] = pending[i].used;
			mine[pending[i].shard] = true;
		}
	uint64 now_epoch = pg_atomic_read_u64(epoch());
	const int32 *own_used = own;
	const bool *own_shard = mine;
	int64 sum = 0;
	// In a PostgreSQL frame: LWLockAcquire() raises when a backend holds
	// too many, which cannot happen here but is an error all the same.
	bool known = pg::guard([rel, pool_id, shards, except, own_used, own_shard, now_epoch, &sum] {
		Entry *e = find_locked(rel, pool_id, LW_SHARED);
		if (!e)
			return false;
		bool all = true;
		for (int s = 0; s < shards && all; s++) {
			if (s == except)
				continue;
			if (own_shard[s])
				sum += own_used[s];
			else if (e->slots[s].epoch == now_epoch)
				sum += e->slots[s].used;
			else
				all = false;
		}
		LWLockRelease(e->lock);
		return all;
	});
	if (!known)
		return std::nullopt;
	return Reading{sum, now_epoch};
}

bool
unchanged(const Reading &reading) noexcept
{
	// After the caller's read of the pool row.
	pg_memory_barrier();
	return pg_atomic_read_u64(epoch()) == reading.epoch;
}

bool
fillable(int64_t pool_id)
{
	if (!shared || !OidIsValid(MyDatabaseId) || IsolationUsesXactSnapshot() || !pgstat_track_counts)
		return false;
	Oid rel = shard_rel_guarded();
	if (!OidIsValid(rel) || !only_takes(rel))
		return false;
	// Once per pool and epoch in a backend: when more sharded pools are hot
	// than there are entries, they push each other out, and locking the
	// rows again would only add to the sum each take then runs anyway.
	uint64 now_epoch = pg_atomic_read_u64(epoch());
	try {
		// A new pool_shard table (the extension made again) starts over.
		if (filled.size() >= 4096 || rel != filled_rel)
			filled.clear();
		filled_rel = rel;
		uint64 &last = filled[pool_id];
		if (last == now_epoch)
			return false;
		last = now_epoch;
	} catch (...) {
		filled.clear();
		return false;
	}
	return true;
}

uint64_t
fill_epoch() noexcept
{
	if (!shared || !OidIsValid(MyDatabaseId))
		return 0;
	uint64 e = pg_atomic_read_u64(epoch());
	pg_memory_barrier();  // before the snapshot
	return e;
}

void
fill(int64_t pool_id, uint64_t at_epoch, int32_t shard, int32_t used)
{
	if (!shared || at_epoch == 0 || shard < 0 || shard >= max_shards)
		return;
	Oid rel = shard_rel_guarded();
	if (!OidIsValid(rel))
		return;
	// In a PostgreSQL frame: LWLockAcquire() raises when a backend holds
	// too many.
	pg::guard([rel, pool_id, at_epoch, shard, used] {
		Entry *e = claim_locked(rel, pool_id);
		if (!e)
			return;
		Slot &slot = e->slots[shard];
		if (slot.epoch < at_epoch)
			slot = Slot{at_epoch, InvalidTransactionId, used};
		LWLockRelease(e->lock);
	});
}

void
init(bool preloaded)
{
	if (!preloaded)
		return;
	shmem::add({"booking tally", sizeof(Shared), request_lock, attach});
	RegisterXactCallback(xact_callback, nullptr);
	RegisterSubXactCallback(subxact_callback, nullptr);
	CacheRegisterRelcacheCallback(forget_rel, Datum(0));
}

}  // namespace booking::tally
