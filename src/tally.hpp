// What each shard of a sharded pool has taken (confirmed + held), as last
// committed, in shared memory: so a buyer's `remaining` adds up numbers
// instead of reading every shard row.
//
// Every take used to end with the exact sum over the pool's shard rows in
// the statement's snapshot. Under a flash sale each of those rows carries a
// chain of versions from the other buyers, and that one sum was about a
// quarter of the backend's time (perf, W1 at 64 clients; 36% more tps
// without it).
//
// How a slot stays exact. A take writes its shard's new total into the
// shard's slot at pre-commit, stamped with the database's epoch. The take
// still holds the shard row's lock then, and the next writer of that row
// waits for the commit: slots of one shard are written in the order of
// the row's versions. Any other write to booking.pool_shard (a release
// detaching from its shard, budgets taken back, a hand UPDATE, TRUNCATE,
// a prepared transaction) is found at pre-commit from the transaction's
// pgstat counts, a rewrite (ALTER TABLE) from its ACCESS EXCLUSIVE lock,
// and bumps the epoch instead, which makes every slot of the
// database stale until a take on its shard writes it again (or a read of
// its newest version: see fill()). A take whose commit fails after pre-commit marks its
// slots stale again.
//
// A reader sums the slots of the other shards, with this transaction's own
// takes laid over them, and gives up (the caller runs the SQL sum) when any
// is stale, when this transaction wrote pool_shard other than by takes,
// under REPEATABLE READ or SERIALIZABLE (the snapshot's answer), without
// pgstat counts, and unless booking is in shared_preload_libraries (only
// then does every backend run the commit hooks). Shared memory holds only
// what takes rebuild: after a restart every slot is stale. A hot standby
// runs no take and publishes nothing (WAL replay runs no commit hook), so
// once promoted its slots are all stale too, as after a restart.
//
// What it cannot see: a superuser who turns track_counts off, edits shard
// rows by hand and turns it on again within one transaction that also
// takes leaves those shards' tallies stale until their next take. Only
// `remaining` can be off then; what a take may take is decided by the
// rows. Values are published at pre-commit, so a reader may count a take
// that is committing (or, rarely, whose commit then fails).
//
// test/isolation/specs/shard_tally.spec checks `remaining` against
// availability() through rollbacks, savepoints, releases and hand edits;
// test/t/012_shard_tally.pl checks it after churn and that a take reads
// its shard rows once.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>
#include <optional>

namespace booking::tally {

// This transaction's take left shard `shard` of root pool_id with `used`
// spots taken (the row version it wrote).
void
took(int64_t pool_id, int32_t shard, int32_t used) noexcept;

// Spots taken in the shards of pool_id other than `except`, as committed
// or as this transaction left them, and the epoch they were read under;
// nothing when not known for all.
struct Reading {
	int64_t used;
	uint64_t epoch;
};
std::optional<Reading>
used_elsewhere(int64_t pool_id, int32_t shards, int32_t except);

// No write other than takes has reached pre-commit since the reading: a
// pool row read after the reading and before this agrees with it.
bool
unchanged(const Reading &reading) noexcept;

// Filling the slots of shards no take wrote since the last epoch bump (a
// 256-shard pool bought from by 64 buyers has 192 of them): when this is
// true, a take that had to sum the rows reads the other shards' rows and
// reports with fill() each one whose version is the newest as of its
// snapshot (no xmax, or one that had ended when a snapshot taken before
// the read's was: a lock, or an abort) and is not this transaction's own. At most once per pool and epoch in a backend.
// (A MultiXact xmax, which only a user's foreign key to pool_shard could
// make, is taken for a transaction id: at worst a stale tally, which only
// `remaining` reads.)
bool
fillable(int64_t pool_id);

// The epoch to fill under: read before the snapshot the rows are read with.
uint64_t
fill_epoch() noexcept;

// Shard `shard` of pool_id had `used` spots taken in its newest version,
// read under a snapshot taken after fill_epoch() gave epoch. Published at
// once, into a slot stale under that epoch only: a take of that shard
// that committed after the snapshot published its total at pre-commit,
// under epoch or later (then the slot is not stale, and stays), or does so
// after this (and overwrites it); any other write bumps the epoch at its
// pre-commit, and a version it had not committed before the snapshot
// carries its xmax, so it was not filled. No row is locked.
void
fill(int64_t pool_id, uint64_t epoch, int32_t shard, int32_t used);

// Set up shared memory and transaction callbacks (only when preloaded).
void
init(bool preloaded);

}  // namespace booking::tally
