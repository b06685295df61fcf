// What a backend remembers of pools it found sold out, so the next sold-out
// answer for them reads no row.
//
// A flash sale ends with every buyer asking a sold-out pool again and
// again. Each such answer read the pool's row by key (a snapshot, two
// relation opens and a B-tree descent, most of the call). Nothing about a
// sold-out pool changes until some transaction writes its rows: a release,
// a cancel, an expired hold, a new capacity. So every commit that wrote
// booking.pool or booking.pool_shard (through the extension or by hand)
// bumps its database's generation in shared memory; a remembered answer
// holds while that generation is the one read before the row was.
//
// Sound because the bump comes after the commit is visible
// (XACT_EVENT_COMMIT runs after ProcArrayEndTransaction) and a reader reads
// the generation before it takes the snapshot it reads the row with: a
// commit the snapshot missed bumps the generation after it was read.
//
// Only a hint: shared memory holds a counter per database slot (rebuilt as
// zero after a restart, when every backend's memory is gone too); it is off
// unless booking is in shared_preload_libraries, under REPEATABLE READ or
// SERIALIZABLE, in a transaction that wrote anything, on servers that
// allow prepared transactions (COMMIT PREPARED runs no commit callback of
// the preparing backend), and during recovery: a hot standby's rows change
// by WAL replay, which runs no commit callback either (xact_redo_commit).
// Nothing is remembered there, so a backend that lives through a promotion
// starts remembering afresh, under generations only the promoted server's
// own commits bump.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>
#include <optional>

namespace booking::sold_out {

// The generation to remember an answer under, read before the row is; 0
// when nothing may be remembered now.
uint64_t
generation() noexcept;

// Remember that root pool pool_id had available spots (read after
// generation) and no hold ending before hold_end.
void
remember(int64_t pool_id, uint64_t generation, int32_t available, std::optional<TimestampTz> hold_end) noexcept;

// The pool's remembered available spots when they are still known and
// fewer than quantity at now; nothing otherwise.
std::optional<int32_t>
known_short(int64_t pool_id, int32_t quantity, TimestampTz now) noexcept;

// Set up shared memory hooks (when preloaded) and transaction callbacks.
void
init(bool preloaded);

}  // namespace booking::sold_out
