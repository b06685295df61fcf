// The fast buy: decrement_ticket's take without locking the pool's chain,
// for the flash sale. Hints of this backend's last buys choose what to try
// first (the one-statement take from a plain root pool, or the shard it
// last took on); the takes write their rows directly (pg/write.hpp) where
// that stands in exactly for their statements, which run otherwise.
// Whatever one row cannot decide goes on to the general path
// (src/pools.cpp: lock the chain, settle, judge_take).
#include "fastbuy.hpp"

#include "core/error.hpp"
#include "pg/compat.hpp"
#include "pg/write.hpp"
#include "shards.hpp"
#include "sold_out.hpp"
#include "tally.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

extern "C" {
#include "access/xact.h"
#include "utils/snapmgr.h"
}

namespace booking::fastbuy {

using pg::Statement;
using store::Peek;

namespace {

// One shard's take, when direct writes cannot stand in for the statement:
// the shard's row if it has room (core::room_for in the shard's free
// budget, as decide_shard_take's), to lock without waiting
// (pg::lock_row_skip: a shard another transaction holds is skipped), then
// take_shard_sql counts and records the take on the row now locked, its
// room checked again on the version locked.
Statement shard_room_sql(
	"SELECT ctid FROM booking.pool_shard"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) $2"
	"   AND (budget OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held) OPERATOR(pg_catalog.>=) $3",
	{INT8OID, INT4OID, INT4OID});

Statement take_shard_sql(
	"WITH taken AS ("
	"  UPDATE booking.pool_shard"
	"     SET confirmed = confirmed OPERATOR(pg_catalog.+) $3, held = held OPERATOR(pg_catalog.+) $4,"
	"         next_expiry = least(next_expiry, $5)"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) $2"
	"     AND (budget OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held)"
	"         OPERATOR(pg_catalog.>=) ($3 OPERATOR(pg_catalog.+) $4)"
	"  RETURNING confirmed OPERATOR(pg_catalog.+) held AS used"
	"), recorded AS ("
	"  INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status, holder, held_until, shard,"
	"                               created_at, updated_at)"
	"  SELECT pg_catalog.nextval('booking.booking_id_seq'), 'ticket', $1, $3 OPERATOR(pg_catalog.+) $4, $7, $8, $5,"
	"         $2, $6, $6"
	"    FROM taken"
	"  RETURNING booking_id"
	")"
	"SELECT recorded.booking_id, taken.used FROM recorded, taken",
	{INT8OID, INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTOID});

// A sharded pool's free spots but for one shard, from its row and its
// other shards' rows in one snapshot: read after a take when the shards'
// tallies are not all known (see tally.hpp). One snapshot, because a
// release moves its spots from a shard row to the pool row.
Statement free_elsewhere_sql(
	"SELECT p.capacity OPERATOR(pg_catalog.-) p.confirmed OPERATOR(pg_catalog.-) p.held"
	"       OPERATOR(pg_catalog.-) coalesce((SELECT pg_catalog.sum(s.confirmed OPERATOR(pg_catalog.+) s.held)"
	"                                          FROM booking.pool_shard s"
	"                                         WHERE s.pool_id OPERATOR(pg_catalog.=) $1"
	"                                           AND s.shard OPERATOR(pg_catalog.<>) $2), 0)::bigint"
	"  FROM booking.pool p WHERE p.pool_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, INT4OID});

// The other shards' totals for their tallies (tally::fill), with the
// versions' xmin and xmax.
Statement shard_fill_sql(
	"SELECT shard, confirmed OPERATOR(pg_catalog.+) held, xmin::pg_catalog.text::bigint,"
	"       xmax::pg_catalog.text::bigint"
	"  FROM booking.pool_shard"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.<>) $2",
	{INT8OID, INT4OID});

// Other shards with room (core::room_for, as the take checks it again),
// nearest after this one first; read without a lock (a take skips the ones
// another transaction holds).
Statement free_shards_sql(
	"SELECT shard FROM booking.pool_shard"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.<>) $2"
	"   AND (budget OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held) OPERATOR(pg_catalog.>=) $3"
	" ORDER BY ((shard OPERATOR(pg_catalog.-) $2) OPERATOR(pg_catalog.+) $4) OPERATOR(pg_catalog.%) $4"
	" LIMIT 8",
	{INT8OID, INT4OID, INT4OID, INT4OID});

// A flash sale's buy: lock, check, count and record in one statement, so
// the hot row is written once and the lock is held for as little as the
// commit allows. Its WHERE is core::judge_row's Take on the row (root, no
// cap, nobody waiting, no lapsed hold, room beside the shards' budgets) and
// no shards, as decide_root_take's; test/sql/take_rule.sql compares the two
// at each edge.
Statement take_root_sql(
	"WITH taken AS ("
	"  UPDATE booking.pool"
	"     SET confirmed = confirmed OPERATOR(pg_catalog.+) $2, held = held OPERATOR(pg_catalog.+) $3,"
	"         next_expiry = least(next_expiry, $4)"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND parent_id IS NULL AND max_per_holder IS NULL"
	"     AND waitlisted OPERATOR(pg_catalog.=) 0 AND shards OPERATOR(pg_catalog.=) 1"
	"     AND (next_expiry IS NULL OR next_expiry OPERATOR(pg_catalog.>) $5)"
	"     AND (capacity OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held OPERATOR(pg_catalog.-) sharded)"
	"         OPERATOR(pg_catalog.>=) ($2 OPERATOR(pg_catalog.+) $3)"
	"  RETURNING capacity OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held AS remaining"
	"), recorded AS ("
	"  INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status, holder, held_until,"
	"                               created_at, updated_at)"
	"  SELECT pg_catalog.nextval('booking.booking_id_seq'), 'ticket', $1, $2 OPERATOR(pg_catalog.+) $3, $6, $7, $4,"
	"         $5, $5"
	"    FROM taken"
	"  RETURNING booking_id"
	")"
	"SELECT recorded.booking_id, taken.remaining FROM recorded, taken",
	{INT8OID, INT4OID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTOID});

// The same take without the executor, when its writes can stand in for the
// statement exactly (pg/write.hpp): the pool row's columns it reads and
// writes, and the booking's it sets.
pg::DirectTable pool_writes("pool", "pool_pkey",
							{{"parent_id", INT8OID},
							 {"max_per_holder", INT4OID},
							 {"waitlisted", INT4OID},
							 {"shards", INT4OID},
							 {"next_expiry", TIMESTAMPTZOID},
							 {"capacity", INT4OID},
							 {"confirmed", INT4OID},
							 {"held", INT4OID},
							 {"sharded", INT4OID}});
pg::DirectTable shard_writes("pool_shard", "pool_shard_pkey",
							 {{"budget", INT4OID}, {"confirmed", INT4OID}, {"held", INT4OID}, {"next_expiry", TIMESTAMPTZOID}});
pg::DirectTable booking_writes("booking", "booking_pkey",
							   {{"booking_id", INT8OID},
								{"kind", TEXTOID},
								{"pool_id", INT8OID},
								{"spots", INT4OID},
								{"status", TEXTOID},
								{"holder", TEXTOID},
								{"held_until", TIMESTAMPTZOID},
								{"shard", INT4OID},
								{"created_at", TIMESTAMPTZOID},
								{"updated_at", TIMESTAMPTZOID}},
							   "booking_id_seq");

// booking_writes' NULL flags for a ticket booking.
struct TicketNulls {
	bool flags[10];
	TicketNulls(const std::optional<std::string> &holder, std::optional<TimestampTz> hold_end, bool has_shard)
		: flags{false, false, false, false, false, !holder, !hold_end, !has_shard, false, false}
	{
	}
};

// Record a ticket booking taken directly (its pool or shard row already
// written): the INSERT of take_root_sql and take_shard_sql.
int64_t
record_ticket(int64_t pool_id, int32_t spots, const std::optional<std::string> &holder,
			  std::optional<TimestampTz> hold_end, std::optional<int32_t> shard, TimestampTz now,
			  const TicketNulls &nulls, ItemPointerData *tid = nullptr)
{
	int64_t booking_id = booking_writes.next_key();
	Datum values[] = {Int64GetDatum(booking_id),
					  pg::text_param("ticket").value,
					  Int64GetDatum(pool_id),
					  Int32GetDatum(spots),
					  pg::text_param(core::status_text(hold_end ? core::Status::Held : core::Status::Confirmed)).value,
					  pg::text_param(holder).value,
					  hold_end ? TimestampTzGetDatum(*hold_end) : Datum(0),
					  shard ? Int32GetDatum(*shard) : Datum(0),
					  TimestampTzGetDatum(now),
					  TimestampTzGetDatum(now)};
	ItemPointerData at = booking_writes.insert(values, nulls.flags);
	if (tid)
		*tid = at;
	return booking_id;
}

// A take's SET on a pool or shard row (column positions of its
// DirectTable): confirmed and held grow by the take, and a hold's end lowers
// next_expiry (least(), which ignores NULLs). Gives the counters after the
// take; false when one would overflow int4 (the general path's statement
// then reports it).
struct TakeColumns {
	int confirmed, held, next_expiry;
};
bool
set_take(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, TakeColumns at,
		 int32_t add_confirmed, int32_t add_held, std::optional<TimestampTz> hold_end, int64_t &now_confirmed,
		 int64_t &now_held) noexcept
{
	if (n[at.confirmed] || n[at.held])
		return false;
	now_confirmed = int64_t(DatumGetInt32(v[at.confirmed])) + add_confirmed;
	now_held = int64_t(DatumGetInt32(v[at.held])) + add_held;
	if (now_confirmed > PG_INT32_MAX || now_held > PG_INT32_MAX || now_confirmed + now_held > PG_INT32_MAX)
		return false;
	out[at.confirmed] = Int32GetDatum(int32_t(now_confirmed));
	out[at.held] = Int32GetDatum(int32_t(now_held));
	replace[at.confirmed] = replace[at.held] = true;
	if (hold_end && (n[at.next_expiry] || *hold_end < DatumGetTimestampTz(v[at.next_expiry]))) {
		out[at.next_expiry] = TimestampTzGetDatum(*hold_end);
		out_null[at.next_expiry] = false;
		replace[at.next_expiry] = true;
	}
	return true;
}

struct RootTakeArgs {
	int32_t confirmed;
	int32_t held;
	std::optional<TimestampTz> hold_end;
	TimestampTz now;
	int32_t remaining;	// out: the pool's available spots after the take
};

// take_root_sql's WHERE (core::judge_row on the row, and no shards) and
// SET on the pool row (pool_writes' columns).
bool
decide_root_take(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, void *arg) noexcept
{
	auto *a = static_cast<RootTakeArgs *>(arg);
	enum { parent_id, max_per_holder, waitlisted, shards, next_expiry, capacity, confirmed, held, sharded };
	if (n[waitlisted] || n[shards] || n[capacity] || n[confirmed] || n[held] || n[sharded])
		return false;
	// A sharded pool's buyers take on its shards.
	if (DatumGetInt32(v[shards]) != 1)
		return false;
	core::PoolRow row;
	row.root = n[parent_id];
	row.capped = !n[max_per_holder];
	row.waitlisted = DatumGetInt32(v[waitlisted]);
	row.lapsed = !n[next_expiry] && DatumGetTimestampTz(v[next_expiry]) <= a->now;
	row.free = int64_t(DatumGetInt32(v[capacity])) - DatumGetInt32(v[confirmed]) - DatumGetInt32(v[held]) -
			   DatumGetInt32(v[sharded]);
	if (core::judge_row(row, int64_t(a->confirmed) + a->held) != core::RowVerdict::Take)
		return false;
	int64_t now_confirmed, now_held;
	if (!set_take(v, n, out, out_null, replace, {confirmed, held, next_expiry}, a->confirmed, a->held, a->hold_end,
				  now_confirmed, now_held))
		return false;
	a->remaining = int32_t(int64_t(DatumGetInt32(v[capacity])) - now_confirmed - now_held);
	return true;
}

struct ShardTakeArgs {
	int32_t confirmed;
	int32_t held;
	std::optional<TimestampTz> hold_end;
	int32_t used;  // out: the shard's confirmed + held after the take
	Datum old_expiry;  // out: next_expiry before it (to write the take back)
	bool old_expiry_null;
};

enum { shard_budget, shard_confirmed, shard_held, shard_next_expiry };  // shard_writes' columns

// take_shard_sql's WHERE (core::room_for in the shard's free budget: it
// needs no other check, see buy()) and SET on the shard row (shard_writes'
// columns).
bool
decide_shard_take(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, void *arg) noexcept
{
	auto *a = static_cast<ShardTakeArgs *>(arg);
	if (n[shard_budget] || n[shard_confirmed] || n[shard_held])
		return false;
	int64_t free =
		int64_t(DatumGetInt32(v[shard_budget])) - DatumGetInt32(v[shard_confirmed]) - DatumGetInt32(v[shard_held]);
	if (!core::room_for(free, int64_t(a->confirmed) + a->held))
		return false;
	int64_t now_confirmed, now_held;
	if (!set_take(v, n, out, out_null, replace, {shard_confirmed, shard_held, shard_next_expiry}, a->confirmed, a->held,
				  a->hold_end, now_confirmed, now_held))
		return false;
	a->used = int32_t(now_confirmed + now_held);
	a->old_expiry = v[shard_next_expiry];
	a->old_expiry_null = n[shard_next_expiry];
	return true;
}

// The same take written back: the counts less the take, next_expiry as
// it was (this transaction wrote the row last, so nothing came between).
bool
decide_shard_undo(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, void *arg) noexcept
{
	auto *a = static_cast<ShardTakeArgs *>(arg);
	int64_t now_confirmed, now_held;
	if (!set_take(v, n, out, out_null, replace, {shard_confirmed, shard_held, shard_next_expiry}, -a->confirmed,
				  -a->held, std::nullopt, now_confirmed, now_held))
		return false;
	out[shard_next_expiry] = a->old_expiry;
	out_null[shard_next_expiry] = a->old_expiry_null;
	replace[shard_next_expiry] = true;
	a->used = int32_t(now_confirmed + now_held);
	return true;
}

// What try_take_shard() with row_unread checks of the pool row: still a
// sharded root of as many shards, not drained, needing no settling.
bool
fits_shard_take(const Peek &row, int32_t shards, TimestampTz now)
{
	return row.shards == shards && !row.drained && store::needs_no_settling(row, now);
}

// A snapshot taken now, registered until the object goes.
class TakenSnapshot {
public:
	TakenSnapshot() : snapshot_(pg::guard([] { return RegisterSnapshot(GetLatestSnapshot()); })) {}
	~TakenSnapshot()
	{
		Snapshot snapshot = snapshot_;
		auto unregister = [snapshot] { UnregisterSnapshot(snapshot); };
		if (ErrorData *error = pg::catch_pg_error(unregister))
			FreeErrorData(error);
	}
	TakenSnapshot(const TakenSnapshot &) = delete;
	TakenSnapshot &operator=(const TakenSnapshot &) = delete;

	// xid had ended (committed, aborted or only locked) when it was taken.
	bool
	ended(TransactionId xid) const
	{
		return pg::guard([this, xid] { return !XidInMVCCSnapshot(xid, snapshot_); });
	}

private:
	Snapshot snapshot_;
};

// Publish the other shards' tallies from their rows (tally::fill): read
// without a lock, so only rows whose version is the newest as of the
// statement's snapshot and not this transaction's own. A version is the
// newest when it has no xmax, or one that had ended when a snapshot taken
// before the statement's was: an updater that had committed then would
// have made a newer version the visible one, so that xmax only locked (or
// aborted). (Compared with the snapshot itself, not its xmin: among a
// flash sale's hundreds of buyers the oldest running transaction is often
// older than a pool-wide call's lock, and an xmin test then left those
// shards unfilled, so every take summed the rows again.)
void
fill_tallies(int64_t pool_id, int32_t except)
{
	uint64_t epoch = tally::fill_epoch();  // before the snapshots
	TakenSnapshot before;
	uint64_t rows = shard_fill_sql.run({pg::int8_param(pool_id), pg::int4_param(except)}, SPI_OK_SELECT);
	for (uint64_t i = 0; i < rows; i++) {
		pg::Row r = Statement::row(i);
		auto xmin = TransactionId(*r.int8(3));
		auto xmax = TransactionId(*r.int8(4));
		bool newest = xmax == InvalidTransactionId || (TransactionIdIsNormal(xmax) && before.ended(xmax));
		if (!newest || pg::guard([xmin] { return TransactionIdIsCurrentTransactionId(xmin); }))
			continue;
		tally::fill(pool_id, epoch, *r.int4(1), *r.int4(2));
	}
}

// The shard this backend last took from, per pool: where it goes first
// next time. A buyer that found its shard busy and took on another one
// stays there, so buyers whose backend numbers share a shard spread out
// instead of displacing each other on every take (nobody waits for a
// shard).
std::unordered_map<int64_t, int32_t> last_shard;

int32_t
first_shard(int64_t pool_id, int32_t shards) noexcept
{
	auto it = last_shard.find(pool_id);
	if (it != last_shard.end() && it->second < shards)
		return it->second;
	// Backend numbers are small (unlike pids) and differ between live
	// backends: on 15, where they are dense, concurrent buyers get
	// different shards whenever there are at least as many shards as
	// buyers (backend_number()).
	return int32_t(pg::backend_number() % shards);
}

void
remember_shard(int64_t pool_id, int32_t shard) noexcept
{
	try {
		if (last_shard.size() >= 65536)
			last_shard.clear();
		last_shard[pool_id] = shard;
	} catch (...) {
		last_shard.clear();
	}
}

// The flash sale's take from a sharded root pool: one shard's budget, chosen
// by backend so concurrent buyers update different rows; another shard
// (SKIP LOCKED) when it is dry. nullopt when no shard has room: the caller
// then takes the general path, which takes the budgets back.
//
// row_unread: the caller has not peeked at the pool row (a hint sent it
// straight here). The take then reads the row after its write, and is
// undone (nullopt) unless the pool is still a sharded root that needs no
// settling: the same row check the caller would have made first.
struct ShardTake {
	int64_t booking_id;
	int32_t shard;
	int32_t remaining;	// the pool's available spots after the take
};

std::optional<ShardTake>
try_take_shard(pg::LazySpi &spi, int64_t pool_id, int32_t shards, int32_t spots,
			   const std::optional<std::string> &holder, std::optional<TimestampTz> hold_end, TimestampTz now,
			   bool row_unread = false)
{
	// No subtransaction: a failed attempt holds no lock it did not write
	// with (but in the statement path's rare case below), and a take that
	// must not stand is written back. A transaction that has no
	// transaction id yet (every single-call buyer of a flash sale) holds no
	// lock, and finds its own shard busy mostly because another buyer is
	// committing there: it waits for that buyer's end, for at most
	// deadlock_timeout (Queue: asleep until a single-call buy's end wakes
	// it, else polling), instead of piling onto other shards and then
	// the pool row. A transaction that has written skips a busy shard at
	// once: it may hold what the holder goes on to wait for.
	int32_t mine = first_shard(pool_id, shards);
	bool may_wait = !TransactionIdIsValid(GetTopTransactionIdIfAny());
	TicketNulls nulls(holder, hold_end, true);
	bool direct = shard_writes.usable() && booking_writes.usable() && booking_writes.can_insert(nulls.flags);
	// The statement's take is not written back (a DELETE would run users'
	// triggers): read the row first there.
	if (row_unread && !direct) {
		if (!fits_shard_take(store::peek(pool_id), shards, now))
			return std::nullopt;
		row_unread = false;
	}
	bool misfit = false;	// row_unread, and the row says the pool needs more
	auto take = [&](int32_t shard, pg::DirectTable::Wait wait) -> std::optional<ShardTake> {
		int64_t booking_id;
		int32_t used;
		ShardTakeArgs args{hold_end ? 0 : spots, hold_end ? spots : 0, hold_end, 0, Datum(0), true};
		ItemPointerData booking_tid;
		if (direct) {
			if (shard_writes.update_by_key({Int64GetDatum(pool_id), Int32GetDatum(shard)}, decide_shard_take, &args,
										   wait) != pg::DirectTable::Update::Done)
				return std::nullopt;
			// Marked at once: a buyer that meets this take holds nothing yet,
			// and sleeps until the mark is taken back when it is marked (a
			// single-call buy holds the shard only until its statement ends).
			pg::note_statement_writer();
			booking_id = record_ticket(pool_id, spots, holder, hold_end, shard, now, nulls, &booking_tid);
			used = args.used;
		} else {
			spi.connect();
			if (shard_room_sql.run({pg::int8_param(pool_id), pg::int4_param(shard), pg::int4_param(spots)},
								   SPI_OK_SELECT) == 0)
				return std::nullopt;
			pg::RowLock l = pg::lock_row_skip("pool_shard", Statement::row(0).tid(1));
			if (l == pg::RowLock::Busy || l == pg::RowLock::Gone)
				return std::nullopt;
			// Locked: the UPDATE does not wait. (A newer version without
			// room stays locked, unwritten, as SKIP LOCKED's recheck leaves
			// a row: not worth a statement to avoid.)
			uint64_t n = take_shard_sql.run(
				{pg::int8_param(pool_id), pg::int4_param(shard), pg::int4_param(hold_end ? 0 : spots),
				 pg::int4_param(hold_end ? spots : 0), pg::timestamptz_param(hold_end), pg::timestamptz_param(now),
				 pg::text_param(core::status_text(hold_end ? core::Status::Held : core::Status::Confirmed)),
				 pg::text_param(holder)},
				SPI_OK_SELECT);
			if (n == 0)
				return std::nullopt;
			pg::note_statement_writer();
			pg::Row r = Statement::row(0);
			booking_id = *r.int8(1);
			used = *r.int4(2);
		}
		tally::took(pool_id, shard, used);
		// The pool row is read again after the tallies, and they are used
		// only if no release (which moves spots from a shard row to the pool
		// row) reached its commit in between; else the sum below reads both
		// in one snapshot.
		int64_t free_elsewhere = 0;
		std::optional<tally::Reading> known = tally::used_elsewhere(pool_id, shards, shard);
		int64_t row_free = 0;
		if (row_unread) {
			Peek row = store::peek(pool_id);
			if (!fits_shard_take(row, shards, now)) {
				// Written back: the shard row (still this transaction's),
				// the booking row and the tally. Nothing of it is published.
				if (shard_writes.update_by_key({Int64GetDatum(pool_id), Int32GetDatum(shard)}, decide_shard_undo,
											   &args) != pg::DirectTable::Update::Done)
					throw Error(SqlState::Internal, "booking: could not write back a take on shard " +
														std::to_string(shard) + " of pool " +
														std::to_string(pool_id));
				booking_writes.remove_inserted(booking_tid);
				tally::took(pool_id, shard, args.used);
				// On its way to the pool row, which it may wait for.
				pg::forget_statement_writer();
				misfit = true;
				return std::nullopt;
			}
			row_free = core::available(row.pool);
		} else if (known)
			row_free = store::pool_free(pool_id);
		if (known) {
			if (tally::unchanged(*known))
				free_elsewhere = row_free - known->used;
			else
				known.reset();
		}
		if (!known) {
			spi.connect();
			if (tally::fillable(pool_id))
				fill_tallies(pool_id, shard);
			free_elsewhere_sql.run({pg::int8_param(pool_id), pg::int4_param(shard)}, SPI_OK_SELECT);
			free_elsewhere = *Statement::row(0).int8(1);
		}
		// The pool's available spots just after the take.
		int32_t remaining = int32_t(std::clamp<int64_t>(free_elsewhere - used, INT32_MIN, INT32_MAX));
		return ShardTake{booking_id, shard, remaining};
	};
	std::optional<ShardTake> taken = take(mine, may_wait ? pg::DirectTable::Wait::Queue : pg::DirectTable::Wait::Skip);
	if (taken || misfit) {
		if (taken)
			remember_shard(pool_id, taken->shard);
		return taken;
	}
	// Busy or dry: another shard with room, skipping busy ones too.
	spi.connect();
	free_shards_sql.run({pg::int8_param(pool_id), pg::int4_param(mine), pg::int4_param(spots), pg::int4_param(shards)},
						SPI_OK_SELECT);
	std::vector<int32_t> others;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		others.push_back(*Statement::row(i).int4(1));
	for (int32_t shard : others) {
		pg::check_for_interrupts();
		if ((taken = take(shard, pg::DirectTable::Wait::Skip)) || misfit)
			break;
	}
	if (taken)
		remember_shard(pool_id, taken->shard);
	return taken;
}

struct RootTake {
	int64_t booking_id;
	int32_t remaining;	// the pool's available spots after the take
};

// The one-statement take for a root pool with nothing to settle: take the
// spots and record the booking (held when hold_end) if they fit, nobody
// waits, no cap applies and no hold may have lapsed; nullopt when any of
// that does not hold (the caller then takes the general path). Written
// directly (pg/write.hpp) when that stands in exactly for the statement;
// spi is connected only for the statement.
std::optional<RootTake>
try_take_root(pg::LazySpi &spi, int64_t pool_id, int32_t spots, const std::optional<std::string> &holder,
			  std::optional<TimestampTz> hold_end, TimestampTz now)
{
	const char *status = core::status_text(hold_end ? core::Status::Held : core::Status::Confirmed);
	TicketNulls nulls(holder, hold_end, false);
	if (pool_writes.usable() && booking_writes.usable() && booking_writes.can_insert(nulls.flags)) {
		RootTakeArgs args{hold_end ? 0 : spots, hold_end ? spots : 0, hold_end, now, 0};
		if (pool_writes.update_by_key({Int64GetDatum(pool_id)}, decide_root_take, &args) !=
			pg::DirectTable::Update::Done)
			return std::nullopt;
		return RootTake{record_ticket(pool_id, spots, holder, hold_end, std::nullopt, now, nulls), args.remaining};
	}

	spi.connect();
	uint64_t n = take_root_sql.run({pg::int8_param(pool_id), pg::int4_param(hold_end ? 0 : spots),
									pg::int4_param(hold_end ? spots : 0), pg::timestamptz_param(hold_end),
									pg::timestamptz_param(now), pg::text_param(status),
									pg::text_param(holder)},
								   SPI_OK_SELECT);
	if (n == 0)
		return std::nullopt;
	pg::Row r = Statement::row(0);
	return RootTake{*r.int8(1), *r.int4(2)};
}

// Pools whose one-statement take failed last time in this backend. Only a
// hint: it never changes an answer, so it needs no invalidation.
std::unordered_set<int64_t> root_take_failed;

bool
take_root_hint(int64_t pool_id)
{
	return root_take_failed.count(pool_id) == 0;
}

// Called after a take committed its subtransaction: running out of memory
// forgets hints rather than turning the buy into an error.
void
set_take_root_hint(int64_t pool_id, bool works) noexcept
{
	try {
		if (works)
			root_take_failed.erase(pool_id);
		else {
			if (root_take_failed.size() >= 65536)
				root_take_failed.clear();
			root_take_failed.insert(pool_id);
		}
	} catch (...) {
		root_take_failed.clear();
	}
}

// Sharded pools whose last buy in this backend took on a shard, and their
// shard counts: the next buy of one goes to its shard first and checks the
// pool row after (try_take_shard's row_unread), which saves the flash
// sale's buyer one read. A hint too: a wrong one costs a rolled-back take.
std::unordered_map<int64_t, int32_t> took_on_shard;

std::optional<int32_t>
shard_hint(int64_t pool_id)
{
	auto it = took_on_shard.find(pool_id);
	if (it == took_on_shard.end())
		return std::nullopt;
	return it->second;
}

void
set_shard_hint(int64_t pool_id, std::optional<int32_t> shards) noexcept
{
	try {
		if (!shards)
			took_on_shard.erase(pool_id);
		else {
			if (took_on_shard.size() >= 65536)
				took_on_shard.clear();
			took_on_shard[pool_id] = *shards;
		}
	} catch (...) {
		took_on_shard.clear();
	}
}

}  // namespace

std::optional<TicketOutcome>
buy(pg::LazySpi &spi, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
	std::optional<TimestampTz> held_until, bool keyed, TimestampTz now, Peek &peek)
{
	// A pool this backend found sold out, unchanged since: answer from memory.
	if (!keyed)
		if (auto remaining = sold_out::known_short(pool_id, quantity, now))
			return TicketOutcome{std::nullopt, core::Status::SoldOut, *remaining, std::nullopt};

	// A buy from a plain root pool: one statement that checks everything the
	// fast path needs (no parent, cap, shards, waiters or lapsed holds) and
	// takes, if the spots fit. Tried first unless it failed last time for this
	// pool (sold out, sharded, ...): then the unlocked read comes first, so a
	// sold-out answer runs no statement. A wrong hint costs one statement.
	// A read-only transaction can only be answered sold_out, and that from
	// the read: nothing that writes goes first.
	bool write_first = !keyed && !XactReadOnly;
	bool root_first = write_first && take_root_hint(pool_id);
	if (root_first) {
		if (auto taken = try_take_root(spi, pool_id, quantity, holder, held_until, now))
			return TicketOutcome{taken->booking_id, taken_status(held_until), taken->remaining, held_until};
		set_take_root_hint(pool_id, false);
	}
	// A sharded pool this backend last took from on a shard: that shard
	// first, the row checked after the take. Not on a schema before 1.2,
	// where a lapsed hold of a shard is only seen by count_shards() below.
	// Failed, it is not tried again: what made it fail sends the buy on to
	// the general path anyway.
	bool shard_tried = false;
	if (auto shards = write_first ? shard_hint(pool_id) : std::nullopt; shards && store::has_shards_drained()) {
		if (auto taken = try_take_shard(spi, pool_id, *shards, quantity, holder, held_until, now, true))
			return TicketOutcome{taken->booking_id, taken_status(held_until), taken->remaining, held_until};
		set_shard_hint(pool_id, std::nullopt);
		shard_tried = true;
	}

	// A root pool with no key, no cap and no hold that may have lapsed needs
	// no settling: answer sold out without a lock, or take on a shard.
	uint64_t generation = sold_out::generation();	// before the row's snapshot
	peek = store::peek(pool_id);
	// A sharded pool whose budgets are out is answered from the sum of its
	// shards where no take on a shard may run: before 1.2, and in a
	// read-only transaction (on a hot standby, every transaction).
	if (peek.shards > 1 && (!store::has_shards_drained() || XactReadOnly)) {
		spi.connect();
		store::count_shards(peek);
	}
	bool simple = !keyed && store::needs_no_settling(peek, now);
	if (simple) {
		if (peek.available && !core::room_for(*peek.available, quantity)) {
			int32_t remaining = int32_t(std::max<int64_t>(*peek.available, 0));
			sold_out::remember(pool_id, generation, remaining, peek.next_expiry);
			return TicketOutcome{std::nullopt, core::Status::SoldOut, remaining, std::nullopt};
		}
		// Connected only when a statement runs (the takes connect): a direct
		// write needs neither SPI nor the pinned search_path.
		core::Status status = taken_status(held_until);
		// A shard's free budget was handed out while nobody waited, and is
		// taken back before anyone waits or a hold is settled: taking from it
		// needs no other check (a lapsed hold of a shard, not seen in the
		// row, is settled by whoever takes the budgets back).
		if (peek.shards > 1) {
			// Drained shards have nothing to give.
			if (!peek.drained && !shard_tried)
				if (auto taken = try_take_shard(spi, pool_id, peek.shards, quantity, holder, held_until, now)) {
					if (store::has_shards_drained())
						set_shard_hint(pool_id, peek.shards);
					return TicketOutcome{taken->booking_id, status, taken->remaining, held_until};
				}
		} else if (!root_first && !keyed) {
			if (auto taken = try_take_root(spi, pool_id, quantity, holder, held_until, now)) {
				set_take_root_hint(pool_id, true);
				return TicketOutcome{taken->booking_id, status, taken->remaining, held_until};
			}
		}
	}
	return std::nullopt;
}

}  // namespace booking::fastbuy
