#include "sold_out.hpp"

#include "pg/compat.hpp"
#include "shmem.hpp"

extern "C" {
#include "access/twophase.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "utils/inval.h"
}

#include <unordered_map>

namespace booking::sold_out {

namespace {

// Databases share slots by OID: two in one slot only forget more often.
constexpr int slots = 256;
constexpr std::size_t max_remembered = 4096;

struct Shared {
	pg_atomic_uint64 generation[slots];
};

Shared *shared = nullptr;
bool dirty = false;	 // this transaction wrote pool rows: bump at commit

struct Remembered {
	uint64_t generation;
	int32_t available;
	std::optional<TimestampTz> hold_end;
};

std::unordered_map<int64_t, Remembered> remembered;

pg_atomic_uint64 *
slot() noexcept
{
	return &shared->generation[MyDatabaseId % slots];
}

// booking.pool and booking.pool_shard of this database (InvalidOid where
// missing), looked up once per relcache reset (forget_all): every commit
// that wrote anything asks, and three syscache probes per commit showed in
// perf of W2.
bool pool_rels_known = false;
Oid pool_rels[2];

// Whether this transaction changed booking.pool or booking.pool_shard.
// Called at pre-commit, inside the transaction: catalog lookups are allowed.
bool
wrote_pools() noexcept
{
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return false;  // wrote nothing at all
	if (!pool_rels_known) {
		Oid nsp = get_namespace_oid("booking", true);
		pool_rels[0] = OidIsValid(nsp) ? get_relname_relid("pool", nsp) : InvalidOid;
		pool_rels[1] = OidIsValid(nsp) ? get_relname_relid("pool_shard", nsp) : InvalidOid;
		pool_rels_known = true;
	}
	if (!OidIsValid(pool_rels[0]) && !OidIsValid(pool_rels[1]))
		return false;
	if (!pgstat_track_counts)
		return true;  // no per-table counts to tell: any write counts
	for (Oid relid : pool_rels) {
		if (!OidIsValid(relid))
			continue;
		PgStat_TableStatus *status = pg::pending_table_status(relid);
		if (status && status->trans)
			return true;
	}
	return false;
}

void
xact_callback(XactEvent event, void *) noexcept
{
	switch (event) {
	case XACT_EVENT_PRE_COMMIT:
		dirty = shared && wrote_pools();
		break;
	case XACT_EVENT_COMMIT:
		// Visible to every new snapshot by now: tell the other backends.
		if (dirty)
			pg_atomic_fetch_add_u64(slot(), 1);
		dirty = false;
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PREPARE:
		dirty = false;
		break;
	default:
		break;
	}
}

// A table dropped or truncated, the extension dropped and created again:
// relations changed under the remembered answers, forget them all (cheap,
// and a pool that no longer exists must answer PT404 again).
void
forget_all(Datum, Oid) noexcept
{
	remembered.clear();
	pool_rels_known = false;
}

void
attach(void *memory, bool found)
{
	shared = static_cast<Shared *>(memory);
	if (!found)
		for (pg_atomic_uint64 &g : shared->generation)
			pg_atomic_init_u64(&g, 0);
}

}  // namespace

uint64_t
generation() noexcept
{
	// During recovery (a hot standby) the rows change by WAL replay, which
	// runs no commit callback: nothing would ever bump the generation. Cheap
	// once recovery is over (a backend-local flag).
	if (!shared || !OidIsValid(MyDatabaseId) || max_prepared_xacts > 0 || IsolationUsesXactSnapshot() ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()) || RecoveryInProgress())
		return 0;
	uint64_t g = pg_atomic_read_u64(slot());
	// Read before any snapshot taken after this returns.
	pg_memory_barrier();
	return g + 1;  // never 0
}


void
remember(int64_t pool_id, uint64_t generation, int32_t available, std::optional<TimestampTz> hold_end) noexcept
{
	if (generation == 0)
		return;
	try {
		if (remembered.size() >= max_remembered)
			remembered.clear();
		remembered[pool_id] = {generation, available, hold_end};
	} catch (...) {
		remembered.clear();	 // out of memory: remember nothing
	}
}

std::optional<int32_t>
known_short(int64_t pool_id, int32_t quantity, TimestampTz now) noexcept
{
	if (remembered.empty())
		return std::nullopt;
	auto it = remembered.find(pool_id);
	if (it == remembered.end())
		return std::nullopt;
	const Remembered &r = it->second;
	uint64_t now_generation = generation();
	if (now_generation == 0)
		return std::nullopt;  // not now (this transaction wrote, ...): keep it
	if (r.generation != now_generation || (r.hold_end && *r.hold_end <= now)) {
		remembered.erase(it);
		return std::nullopt;
	}
	if (quantity <= r.available)
		return std::nullopt;
	return r.available;
}

void
init(bool preloaded)
{
	if (!preloaded)
		return;
	shmem::add({"booking sold out", sizeof(Shared), nullptr, attach});
	RegisterXactCallback(xact_callback, nullptr);
	CacheRegisterRelcacheCallback(forget_all, Datum(0));
}

}  // namespace booking::sold_out
