// The shard rows of a sharded root pool (src/shards.cpp), in the store's
// lock protocol (store.hpp): nothing here waits for a shard row in the lock
// manager.
#pragma once

#include "store.hpp"

#include <optional>

namespace booking::store {

// Complete a peek of a sharded root without shards_drained by reading its
// shards (a statement: needs SPI), so that it answers as before 1.2.
void
count_shards(Peek &p);

// Lock the chain's root's shards that no other transaction holds, take
// their unused budgets back and count every shard into the root: a busy
// one with its whole budget (as held, less what it confirmed). lock_chain()
// calls it.
void
lock_shards(Chain &chain);

// For a chain whose root's shards are not all this transaction's: poll
// (1 ms sleeps, not in the lock manager) for the transactions holding the
// busy ones that have free budget (and shard, when given) to end, at most
// deadlock_timeout once per call, locking and taking back what they let go
// (chain recounted). True when nothing is busy that matters now; false
// when a holder is still there (an open transaction of several calls: its
// budget stays counted as taken). Call it where an answer turns on a busy
// shard's budget.
bool
await_shards(Chain &chain, std::optional<int32_t> shard = std::nullopt);

// Hand a sharded root pool's free capacity back to its shards (locked by
// lock_chain), when nobody waits in it.
void
refill_shards(const Chain &chain);

// Move a booking taken from a shard onto its pool's row, before changing it
// (the pool's chain must be locked): 55P03 when another transaction still
// holds the shard after await_shards().
void
detach_from_shard(Chain &chain, const Booking &b);

// Move the tree's lapsed holds taken from shards onto the root's row, on
// the shards no other transaction holds, before expire_lapsed() expires
// them; a hold on a busy shard stays held until a later call.
void
detach_lapsed(int64_t root_id, TimestampTz now);

}  // namespace booking::store
