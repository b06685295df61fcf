// Rows of pools and ticket bookings, and the locking protocol over them.
//
// Locking contract. Every change to a pool tree (a root pool and its
// descendants) first locks the target pool's chain, its ancestors and itself,
// in ascending id order with FOR NO KEY UPDATE. A child's id is always greater
// than its parent's (a CHECK constraint), so the root is locked first, and
// holding the root serialises every change in its tree: while it is held the
// caller may update any pool or booking row of the tree without risk of
// deadlock. Booking rows are locked after their pool chain, never before.
//
// Shard rows are the exception: a buyer takes one without the pool row and
// keeps it to its commit, and its transaction may go on to lock the pool row
// (a second call). So no call waits for a shard row in the lock manager,
// and every wait for one lasts at most deadlock_timeout: while its
// transaction has written nothing, a buyer waits for its own shard's holder
// (asleep until woken when the holder is a single-call buy that waits for
// no lock, else polling), and later skips a busy shard; the pool-wide
// path locks the shards with SKIP
// LOCKED and counts a busy shard's whole budget as taken (never more is
// sold than there is), and where an answer turns on such a budget it polls
// for the holder's end (await_shards), outside the lock manager's wait
// graph, for at most deadlock_timeout; the expiry worker leaves busy shards
// for its next round. The shard rows' side is shards.hpp; the buyer's take
// on a shard or a plain root is the fast buy's (fastbuy.hpp).
#pragma once

#include "core/capacity.hpp"
#include "core/status.hpp"
#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

namespace booking::store {

// A locked pool chain, root first and the target pool last.
struct Chain {
	std::vector<core::PoolCounts> pools;
	int32_t root_shards = 1;  // the root's shard rows, when it is sharded
	// Of a sharded root: the shards this transaction holds (their unused
	// budgets taken back) and, as last committed, the free budget of those
	// another transaction holds (counted as held: it may be taking them).
	std::vector<int32_t> locked_shards;
	int64_t busy_free = 0;
	std::vector<TransactionId> busy_holders;  // their xmax
	int64_t reclaimed = 0;	// free budget the lock took back from shards
	int32_t row_confirmed = 0, row_held = 0;  // the root row's own counts
	bool awaited = false;  // await_shards() ran out of time once for this call
	std::optional<int32_t> max_per_holder;	// the target's cap
	std::optional<TimestampTz> next_expiry;	// root's: no hold of the tree lapses earlier

	int64_t
	root_id() const
	{
		return pools.front().pool_id;
	}
	core::PoolCounts &
	target()
	{
		return pools.back();
	}
	std::vector<int64_t>
	ids() const;
};

// A pool as last committed, read from its row alone, without a lock.
struct Peek {
	core::PoolCounts pool;		// the row's own counters (a sharded root's shards not included)
	std::vector<int64_t> path;	// ancestors and itself, root first
	std::optional<int32_t> max_per_holder;
	std::optional<TimestampTz> next_expiry;	 // on a root: no hold of the row's lapses before this
	int32_t shards = 1;						 // shard rows (a sharded root), else 1
	// The pool's free spots, when the row alone tells them: always without
	// shards, and for a sharded root whose shards are drained (no free spot
	// in any shard; its next_expiry then covers theirs too). Otherwise
	// unknown: at least the row's free spots, and the shards may have more.
	std::optional<int64_t> available;
	// A sharded root whose shards have no free spot (pool.shards_drained):
	// a shard take would find nothing.
	bool drained = false;
};

// Lock a root pool unless another transaction holds it (SKIP LOCKED).
bool
try_lock_root(int64_t root_id);

// Read a pool without locking it; PT404 when it does not exist.
Peek
peek(int64_t pool_id);

// Whether a buy without an idempotency key needs nothing but this row (and
// a sharded root's shards): a root with no per-holder cap, nobody waiting
// and no hold of the row lapsed by now. Such a pool answers sold out from
// the row, or takes without settling anything first.
bool
needs_no_settling(const Peek &p, TimestampTz now);

// Whether the schema has pool.shards_drained (1.2 on): before, a sharded
// root's free spots and lapsed holds are only known from its shard rows.
bool
has_shards_drained();

// Whether the schema has orders (1.6 on): booking.booking.order_id.
bool
has_orders();

// The pool row's capacity less its own confirmed and held spots, read now
// without a lock; PT404 when the pool does not exist.
int64_t
pool_free(int64_t pool_id);

// Lock pool_id and its ancestors; PT404 when the pool does not exist. A
// sharded root's shards are locked too and their unused budgets taken back,
// so the chain's counters are exact and every spot is the pool row's to give.
Chain
lock_chain(int64_t pool_id);

// The same, for a path already read with peek().
Chain
lock_chain(int64_t pool_id, const std::vector<int64_t> &path);

// Expire the tree's lapsed holds when one may have lapsed, let waiters take
// the spots that come back, and re-read chain. Returns holds expired.
int64_t
settle(Chain &chain, TimestampTz now);

// Mark at most limit lapsed holds of the tree expired, return their spots and
// recompute the root's next expiry. The tree's root must be locked.
int64_t
expire_lapsed(int64_t root_id, TimestampTz now, int64_t limit);

// Confirm waitlisted groups of the tree as policy allows, writing rows and
// counters. The tree's root must be locked.
std::vector<core::Waiter>
promote(int64_t root_id, const core::PromotionPolicy &policy, TimestampTz now);

// Add deltas to every pool of chain; a new hold's end lowers the root's next
// expiry.
void
add_counts(const Chain &chain, int32_t confirmed, int32_t held, int32_t waitlisted,
		   std::optional<TimestampTz> hold_end = std::nullopt);

// A booking row. Columns a kind needs are NULL for the other kinds: * on
// one that is NULL raises XX001 naming it (pg::Value).
struct Booking {
	int64_t booking_id = 0;
	std::string kind;
	pg::Value<int64_t> pool_id;
	int32_t spots = 0;
	core::Status status = core::Status::Held;
	pg::Value<std::string> holder;
	pg::Value<TimestampTz> held_until;
	pg::Value<std::string> payment_ref;
	pg::Value<int64_t> show_id;
	std::vector<int64_t> seat_ids;	// kind seats, ascending
	pg::Value<int64_t> resource_id;
	pg::Value<TimestampTz> starts_at;  // kind slot: the range [starts_at, ends_at)
	pg::Value<TimestampTz> ends_at;
	pg::Value<int32_t> shard;  // kind ticket: taken from this shard's budget
};

// The columns read_booking() reads, in its order.
#define BOOKING_COLUMNS                                                                                 \
	"booking_id, kind, pool_id, spots, status, holder, held_until, payment_ref, show_id, seat_ids," \
	" resource_id, starts_at, ends_at, shard"

// A booking from a result row of BOOKING_COLUMNS; XX001 for a status no
// function writes.
Booking
read_booking(const pg::Row &r);

// Read a booking, locking its row when lock (its pool chain or seats must be
// locked first).
std::optional<Booking>
find_booking(int64_t booking_id, bool lock);

// The same for a booking read before: PT404 when it is gone meanwhile.
Booking
find_booking_again(int64_t booking_id, bool lock);

// The ticket booking of pool_id made with idempotency key.
std::optional<Booking>
find_by_key(int64_t pool_id, const std::string &key);

// Whether a group that could fit (core::largest_group) waits in the own
// list of chain's last pool (its sub-pools' lists aside).
bool
has_own_waiters(const std::vector<core::PoolCounts> &chain);

// 1-based place of a waitlisted booking in its pool's own list.
int32_t
waitlist_position(int64_t pool_id, int64_t booking_id);

// What a take or registration of spots from the chain's target asks, with
// the holder's active spots when the pool caps them (22004 without a holder)
// and whether anyone waits in the pool's own list.
core::TakeRequest
take_request(const Chain &chain, int32_t spots, const std::optional<std::string> &holder, TimestampTz now);

// Spots the holder has active (held and unexpired, confirmed, waitlisted).
int64_t
holder_active(int64_t pool_id, const std::string &holder, TimestampTz now);

// Record a ticket booking; returns its id.
int64_t
insert_ticket(int64_t pool_id, int32_t spots, core::Status status, const std::optional<std::string> &holder,
			  std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now);

// 22023 when another live (held or confirmed) booking, or a live order,
// carries payment_ref: a payment reference ties one hold, purchase or order
// to an outside checkout.
void
require_payment_ref_free(const std::string &payment_ref, int64_t except_booking_id = 0);

// From a catch block around a write that sets payment_ref: a unique
// violation means another transaction gave the reference to another live
// booking meanwhile, so rethrow it as 22023; rethrow anything else as it is.
[[noreturn]] void
rethrow_payment_ref_taken(const std::optional<std::string> &payment_ref);

// Move a booking to status with the given hold end (NULL for none).
void
set_status(int64_t booking_id, core::Status status, std::optional<TimestampTz> held_until,
		   const std::optional<std::string> &payment_ref, TimestampTz now);

// Whether a booking is held and its hold has lapsed.
bool
lapsed(const Booking &b, TimestampTz now);

// Raise PT403 unless holder is the holder a booking was made with; a booking
// made without one only for an organiser (pg::caller_is_organiser()).
void
require_holder(const Booking &b, const std::optional<std::string> &holder);

// Raise PT409: the booking's state forbids action.
[[noreturn]] void
state_conflict(const Booking &b, const char *action);

// At most limit lapsed holds of one kind (seats, slot), earliest first.
std::vector<Booking>
lapsed_holds(const char *kind, TimestampTz now, int64_t limit);

// The status a reader sees: a held booking whose hold lapsed is expired.
core::Status
visible_status(const Booking &b, TimestampTz now);

}  // namespace booking::store
