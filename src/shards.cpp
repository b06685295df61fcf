// The shard rows of a sharded root pool (pool_shard): taking the unused
// budgets back when the chain is locked (reclaim), handing the free
// capacity out again (refill), moving a booking's counts from its shard to
// the pool row (detach), waiting for a busy shard's holder outside the lock
// manager, and schemas before 1.2, which have no pool.shards_drained. A
// buyer's take on a shard is the fast buy's (src/fastbuy.cpp).
#include "shards.hpp"

#include "core/error.hpp"
#include "pg/write.hpp"

#include <algorithm>

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace booking::store {

using pg::Statement;

namespace {

// What a sharded root's shards sold and when their first hold lapses: for a
// schema before 1.2, which has no pool.shards_drained (the library serves a
// database until ALTER EXTENSION booking UPDATE).
Statement shard_totals_sql(
	"SELECT coalesce(pg_catalog.sum(confirmed OPERATOR(pg_catalog.+) held), 0)::bigint, pg_catalog.min(next_expiry)"
	"  FROM booking.pool_shard WHERE pool_id OPERATOR(pg_catalog.=) $1",
	{INT8OID});

// A sharded root's shards, each as last committed with its xmax (the
// transaction that holds it, unless a MultiXact) and its version, to lock
// those no other transaction holds (pg::lock_row_skip: SKIP LOCKED without
// its wait).
Statement read_shards_sql(
	"SELECT shard, confirmed, held, budget, next_expiry, xmax::pg_catalog.text::bigint, ctid"
	"  FROM booking.pool_shard WHERE pool_id OPERATOR(pg_catalog.=) $1 ORDER BY shard",
	{INT8OID});

// Take the unused budgets of the shards this transaction holds ($5) back;
// the pool row then holds their free spots, and sharded is their sold
// spots plus the busy shards' whole budgets. The shards are drained ($4)
// unless a busy one had a free spot. Before 1.2 the same without the mark.
#define RECLAIM_SHARDS                                                                                   \
	"WITH shards AS ("                                                                                   \
	"  UPDATE booking.pool_shard SET budget = confirmed OPERATOR(pg_catalog.+) held, next_expiry = NULL" \
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) ANY ($5)"              \
	"     AND (budget OPERATOR(pg_catalog.<>) (confirmed OPERATOR(pg_catalog.+) held)"                   \
	"          OR next_expiry IS NOT NULL)"                                                              \
	"  RETURNING 1"                                                                                      \
	")"
Statement reclaim_sql(
	RECLAIM_SHARDS
	"UPDATE booking.pool SET sharded = $2, next_expiry = least(next_expiry, $3), shards_drained = $4"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1"
	"   AND (sharded OPERATOR(pg_catalog.<>) $2 OR $3 OPERATOR(pg_catalog.<) next_expiry"
	"        OR (next_expiry IS NULL AND $3 IS NOT NULL) OR shards_drained OPERATOR(pg_catalog.<>) $4)",
	{INT8OID, INT4OID, TIMESTAMPTZOID, BOOLOID, INT4ARRAYOID});
Statement reclaim_11_sql(
	RECLAIM_SHARDS
	"UPDATE booking.pool SET sharded = $2, next_expiry = least(next_expiry, $3)"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND $4 IS NOT NULL"
	"   AND (sharded OPERATOR(pg_catalog.<>) $2 OR $3 OPERATOR(pg_catalog.<) next_expiry"
	"        OR (next_expiry IS NULL AND $3 IS NOT NULL))",
	{INT8OID, INT4OID, TIMESTAMPTZOID, BOOLOID, INT4ARRAYOID});

// Spread a root's free capacity over the shards this transaction holds
// ($3, not empty), if there are at least as many free spots as the pool
// has shards ($2). Fewer stay in the pool row: a shard with one spot serves
// few buyers, while drained shards let the row answer sold out for
// everyone who asks for more than is left, without a lock. Before 1.2, any
// free spot goes out, as it did then.
#define REFILL_SHARDS(least)                                                                                        \
	"WITH free AS ("                                                                                                \
	"  SELECT capacity OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held OPERATOR(pg_catalog.-) sharded" \
	"           AS spots, pg_catalog.cardinality($3) AS n"                                                          \
	"    FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) $1"                                                 \
	"), shards AS ("                                                                                                \
	"  UPDATE booking.pool_shard s"                                                                                 \
	"     SET budget = budget OPERATOR(pg_catalog.+) (free.spots OPERATOR(pg_catalog./) free.n)"                    \
	"                  OPERATOR(pg_catalog.+) CASE WHEN pg_catalog.array_position($3, s.shard)"                     \
	"                                                   OPERATOR(pg_catalog.<=)"                                    \
	"                                                   (free.spots OPERATOR(pg_catalog.%) free.n)"                 \
	"                                              THEN 1 ELSE 0 END"                                               \
	"    FROM free WHERE s.pool_id OPERATOR(pg_catalog.=) $1 AND s.shard OPERATOR(pg_catalog.=) ANY ($3)"          \
	"     AND free.spots OPERATOR(pg_catalog.>=) " least                                                            \
	"  RETURNING 1"                                                                                                 \
	")"
Statement refill_sql(
	REFILL_SHARDS("$2")
	"UPDATE booking.pool p SET sharded = sharded OPERATOR(pg_catalog.+) free.spots, shards_drained = false"
	"  FROM free WHERE p.pool_id OPERATOR(pg_catalog.=) $1 AND free.spots OPERATOR(pg_catalog.>=) $2",
	{INT8OID, INT4OID, INT4ARRAYOID});
Statement refill_11_sql(
	REFILL_SHARDS("1")
	"UPDATE booking.pool p SET sharded = sharded OPERATOR(pg_catalog.+) free.spots"
	"  FROM free WHERE p.pool_id OPERATOR(pg_catalog.=) $1 AND free.spots OPERATOR(pg_catalog.>) 0",
	{INT8OID, INT4OID, INT4ARRAYOID});

// Move a shard booking's counts, and as much budget, onto its pool row: the
// shard's free budget and the pool's free capacity stay what they were. (The
// old values come from a CTE: RETURNING would give the new, NULL shard.)
// The shard's row must be this transaction's (lock_chain, await_shards).
Statement detach_sql(
	"WITH old AS ("
	"  SELECT pool_id, shard, spots, status FROM booking.booking"
	"   WHERE booking_id OPERATOR(pg_catalog.=) $1 AND shard IS NOT NULL"
	"), moved AS ("
	"  UPDATE booking.booking SET shard = NULL"
	"   WHERE booking_id OPERATOR(pg_catalog.=) $1 AND shard IS NOT NULL RETURNING 1"
	"), shard AS ("
	"  UPDATE booking.pool_shard s"
	"     SET confirmed = s.confirmed OPERATOR(pg_catalog.-)"
	"                     CASE WHEN o.status OPERATOR(pg_catalog.=) 'confirmed' THEN o.spots ELSE 0 END,"
	"         held = s.held OPERATOR(pg_catalog.-)"
	"                CASE WHEN o.status OPERATOR(pg_catalog.=) 'held' THEN o.spots ELSE 0 END,"
	"         budget = s.budget OPERATOR(pg_catalog.-) o.spots"
	"    FROM old o WHERE s.pool_id OPERATOR(pg_catalog.=) o.pool_id AND s.shard OPERATOR(pg_catalog.=) o.shard"
	"  RETURNING 1"
	")"
	"UPDATE booking.pool p"
	"   SET confirmed = p.confirmed OPERATOR(pg_catalog.+)"
	"                   CASE WHEN o.status OPERATOR(pg_catalog.=) 'confirmed' THEN o.spots ELSE 0 END,"
	"       held = p.held OPERATOR(pg_catalog.+)"
	"              CASE WHEN o.status OPERATOR(pg_catalog.=) 'held' THEN o.spots ELSE 0 END,"
	"       sharded = p.sharded OPERATOR(pg_catalog.-) o.spots"
	"  FROM old o WHERE p.pool_id OPERATOR(pg_catalog.=) o.pool_id",
	{INT8OID});

// The shards of a root that have a lapsed hold, to lock.
Statement lapsed_shards_sql(
	"SELECT s.shard, s.ctid FROM booking.pool_shard s"
	" WHERE s.pool_id OPERATOR(pg_catalog.=) $1"
	"   AND s.shard OPERATOR(pg_catalog.=) ANY (ARRAY("
	"         SELECT b.shard FROM booking.booking b"
	"          WHERE b.pool_id OPERATOR(pg_catalog.=) $1 AND b.shard IS NOT NULL"
	"            AND b.status OPERATOR(pg_catalog.=) 'held' AND b.held_until OPERATOR(pg_catalog.<=) $2))"
	" ORDER BY s.shard",
	{INT8OID, TIMESTAMPTZOID});

// The same for the lapsed holds of a tree, before they are expired, on the
// shards ($3) this transaction locked (only those no other transaction
// holds). Only a root has shards. A hold on a busy shard stays held, and
// counted, until a later call.
Statement detach_lapsed_sql(
	"WITH old AS ("
	"  SELECT booking_id, shard, spots FROM booking.booking"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) ANY ($3)"
	"     AND status OPERATOR(pg_catalog.=) 'held' AND held_until OPERATOR(pg_catalog.<=) $2"
	"), moved AS ("
	"  UPDATE booking.booking SET shard = NULL"
	"   WHERE booking_id OPERATOR(pg_catalog.=) ANY (SELECT booking_id FROM old) RETURNING 1"
	"), per_shard AS ("
	"  SELECT shard, pg_catalog.sum(spots)::integer AS spots FROM old GROUP BY shard"
	"), shard AS ("
	"  UPDATE booking.pool_shard s"
	"     SET held = s.held OPERATOR(pg_catalog.-) x.spots, budget = s.budget OPERATOR(pg_catalog.-) x.spots"
	"    FROM per_shard x WHERE s.pool_id OPERATOR(pg_catalog.=) $1 AND s.shard OPERATOR(pg_catalog.=) x.shard"
	"  RETURNING 1"
	")"
	"UPDATE booking.pool p"
	"   SET held = p.held OPERATOR(pg_catalog.+) x.spots, sharded = p.sharded OPERATOR(pg_catalog.-) x.spots"
	"  FROM (SELECT pg_catalog.sum(spots)::integer AS spots FROM old) AS x"
	" WHERE p.pool_id OPERATOR(pg_catalog.=) $1 AND x.spots IS NOT NULL",
	{INT8OID, TIMESTAMPTZOID, INT4ARRAYOID});

}  // namespace

void
count_shards(Peek &p)
{
	if (p.shards <= 1 || p.available)
		return;
	shard_totals_sql.run({pg::int8_param(p.pool.pool_id)}, SPI_OK_SELECT);
	pg::Row r = Statement::row(0);
	p.available = core::available(p.pool) - *r.int8(1);
	auto shard_expiry = r.timestamptz(2);
	if (shard_expiry && (!p.next_expiry || *shard_expiry < *p.next_expiry))
		p.next_expiry = shard_expiry;
}

void
lock_shards(Chain &chain)
{
	int64_t root = chain.root_id();
	struct Shard {
		int32_t shard, confirmed, held, budget;
		std::optional<TimestampTz> next_expiry;
		int64_t xmax;
		ItemPointerData tid;
		bool locked;
	};
	auto read = [root] {
		std::vector<Shard> rows;
		read_shards_sql.run({pg::int8_param(root)}, SPI_OK_SELECT);
		for (uint64_t i = 0; i < Statement::rows(); i++) {
			pg::Row r = Statement::row(i);
			rows.push_back({*r.int4(1), *r.int4(2), *r.int4(3), *r.int4(4), r.timestamptz(5), r.int8(6).value_or(0),
							r.tid(7), false});
		}
		return rows;
	};
	std::vector<Shard> shards = read();
	if (shards.empty()) {
		chain.root_shards = 1;	// a sharded child pool keeps no shard rows
		return;
	}
	// Ascending, never waiting; read again when a locked row had a newer
	// version than the one read (its values are that version's).
	std::vector<ItemPointerData> tids;
	for (const Shard &s : shards)
		tids.push_back(s.tid);
	std::vector<pg::RowLock> locks(shards.size());
	pg::lock_rows_skip("pool_shard", tids.data(), locks.data(), tids.size(), false);
	bool moved = false;
	for (std::size_t i = 0; i < shards.size(); i++) {
		shards[i].locked = locks[i] == pg::RowLock::Locked || locks[i] == pg::RowLock::Moved;
		moved |= locks[i] == pg::RowLock::Moved;
	}
	if (moved) {
		std::vector<Shard> again = read();
		for (Shard &s : shards)
			for (const Shard &a : again)
				if (s.locked && a.shard == s.shard) {
					s.confirmed = a.confirmed;
					s.held = a.held;
					s.budget = a.budget;
					s.next_expiry = a.next_expiry;
				}
	}
	int64_t confirmed = 0, held = 0, sold_locked = 0, busy_budget = 0;
	std::optional<TimestampTz> expiry;
	chain.locked_shards.clear();
	chain.busy_holders.clear();
	chain.busy_free = chain.reclaimed = 0;
	for (const Shard &s : shards) {
		int32_t c = s.confirmed, h = s.held, budget = s.budget;
		if (s.next_expiry && (!expiry || *s.next_expiry < *expiry))
			expiry = s.next_expiry;
		confirmed += c;
		if (s.locked) {
			chain.locked_shards.push_back(s.shard);
			held += h;
			sold_locked += int64_t(c) + h;
			chain.reclaimed += std::max<int64_t>(int64_t(budget) - c - h, 0);
		} else {
			held += int64_t(budget) - c;
			busy_budget += budget;
			chain.busy_free += std::max<int64_t>(int64_t(budget) - c - h, 0);
			chain.busy_holders.push_back(TransactionId(s.xmax));
		}
	}
	(has_shards_drained() ? reclaim_sql : reclaim_11_sql)
		.run({pg::int8_param(root), pg::int4_param(int32_t(sold_locked + busy_budget)), pg::timestamptz_param(expiry),
			  pg::bool_param(chain.busy_free == 0), pg::int4_array_param(chain.locked_shards)},
			 SPI_OK_UPDATE);
	core::PoolCounts &pool = chain.pools.front();
	pool.confirmed = int32_t(chain.row_confirmed + confirmed);
	pool.held = int32_t(chain.row_held + held);
	if (expiry && (!chain.next_expiry || *expiry < *chain.next_expiry))
		chain.next_expiry = expiry;
}

bool
await_shards(Chain &chain, std::optional<int32_t> shard)
{
	auto done = [&chain, shard] {
		if (shard)
			return std::find(chain.locked_shards.begin(), chain.locked_shards.end(), *shard) !=
				   chain.locked_shards.end();
		return chain.busy_free == 0;
	};
	if (chain.root_shards <= 1 || done())
		return true;
	if (chain.awaited)
		return false;
	// A single-call buyer holds its shard for microseconds; a transaction
	// still there after deadlock_timeout makes several calls, and its
	// budget stays counted as taken.
	TimestampTz deadline = pg::guard([] { return GetCurrentTimestamp() + TimestampTz(DeadlockTimeout) * 1000; });
	for (;;) {
		// Until the holders seen are gone (a MultiXact xmax is no
		// transaction id: look again every 50 ms anyway).
		// A holder asleep in the lock manager is most likely waiting for the
		// pool row this call holds (its next call): it ends only after this
		// call, so its budget counts as taken now, not after deadlock_timeout.
		const std::vector<TransactionId> &holders = chain.busy_holders;
		bool stuck = false;
		for (int ms = 0; ms < 50; ms++) {
			bool gone = pg::guard([&holders, deadline, &stuck] {
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				if (GetCurrentTimestamp() >= deadline)
					return true;
				bool running = false;
				stuck = true;
				for (TransactionId xid : holders)
					if (TransactionIdIsValid(xid) && TransactionIdIsInProgress(xid)) {
						running = true;
						stuck = stuck && pg::xact_waits_for_lock(xid);
					}
				if (!running)
					stuck = false;
				return !running || stuck;
			});
			if (gone)
				break;
		}
		lock_shards(chain);
		if (done())
			return true;
		if (stuck || pg::guard([] { return GetCurrentTimestamp(); }) >= deadline) {
			chain.awaited = true;
			return false;
		}
	}
}

void
refill_shards(const Chain &chain)
{
	if (chain.root_shards <= 1 || chain.pools.front().waitlisted > 0 || chain.locked_shards.empty())
		return;
	// The root's free spots as last counted (before the caller's take, so
	// never fewer than the row has now): fewer than the statement hands out
	// (as many as the pool has shards; before 1.2, one) and it is not run,
	// as it would read every shard row for nothing. At the end of a flash
	// sale every take of the pool-wide path comes here.
	if (core::available(chain.pools.front()) < (has_shards_drained() ? chain.root_shards : 1))
		return;
	(has_shards_drained() ? refill_sql : refill_11_sql)
		.run({pg::int8_param(chain.root_id()), pg::int4_param(chain.root_shards),
			  pg::int4_array_param(chain.locked_shards)},
			 SPI_OK_UPDATE);
}

void
detach_from_shard(Chain &chain, const Booking &b)
{
	if (!b.shard)
		return;
	// Its shard row must be this transaction's: there is no other way to
	// move its counts, and waiting for it in the lock manager could close a
	// cycle with a holder that goes on to want the pool row held here.
	if (!await_shards(chain, *b.shard))
		throw Error(SqlState::LockNotAvailable,
					"booking " + std::to_string(b.booking_id) + " was taken from shard " + std::to_string(*b.shard) +
						" of pool " + std::to_string(*b.pool_id) + ", which another open transaction holds",
					"Try again when that transaction has ended.");
	detach_sql.run({pg::int8_param(b.booking_id)}, SPI_OK_UPDATE);
	// Its counts moved from the shard to the root's row (only a root has
	// shards): a later recount of the shards must find them there.
	if (chain.root_shards > 1 && b.pool_id == chain.root_id()) {
		if (b.status == core::Status::Confirmed)
			chain.row_confirmed += b.spots;
		else if (b.status == core::Status::Held)
			chain.row_held += b.spots;
	}
}

void
detach_lapsed(int64_t root_id, TimestampTz now)
{
	if (lapsed_shards_sql.run({pg::int8_param(root_id), pg::timestamptz_param(now)}, SPI_OK_SELECT) == 0)
		return;
	std::vector<int32_t> shards;
	std::vector<ItemPointerData> tids;
	for (uint64_t i = 0; i < Statement::rows(); i++) {
		shards.push_back(*Statement::row(i).int4(1));
		tids.push_back(Statement::row(i).tid(2));
	}
	std::vector<pg::RowLock> locks(tids.size());
	pg::lock_rows_skip("pool_shard", tids.data(), locks.data(), tids.size(), false);
	std::vector<int32_t> free;
	for (std::size_t i = 0; i < shards.size(); i++)
		if (locks[i] == pg::RowLock::Locked || locks[i] == pg::RowLock::Moved)
			free.push_back(shards[i]);
	if (!free.empty())
		detach_lapsed_sql.run({pg::int8_param(root_id), pg::timestamptz_param(now), pg::int4_array_param(free)},
							  SPI_OK_UPDATE);
}

}  // namespace booking::store
