#include "store.hpp"

#include "core/error.hpp"
#include "pg/caller.hpp"
#include "pg/compat.hpp"
#include "pg/read.hpp"
#include "pg/write.hpp"
#include "stats.hpp"
#include "tally.hpp"

#include <algorithm>
#include <unordered_map>

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

// A pool's row, read without SPI (the hottest read: every buy and every
// sold-out answer starts with it).
pg::KeyRead pool_row("pool", "pool_pkey",
					 {"path", "capacity", "confirmed", "held", "waitlisted", "auto_promote", "max_per_holder",
					  "next_expiry", "parent_id", "shards", "sharded", "?shards_drained"});

// What a sharded root's shards sold and when their first hold lapses: for a
// schema before 1.2, which has no pool.shards_drained (the library serves a
// database until ALTER EXTENSION booking UPDATE).
Statement shard_totals_sql(
	"SELECT coalesce(pg_catalog.sum(confirmed OPERATOR(pg_catalog.+) held), 0)::bigint, pg_catalog.min(next_expiry)"
	"  FROM booking.pool_shard WHERE pool_id OPERATOR(pg_catalog.=) $1",
	{INT8OID});

// One shard's take: lock, check, count and record in one statement. A
// shard another transaction holds is skipped, not waited for (the EXISTS
// locks the row, SKIP LOCKED, only when it has room: the row it locks is
// the one the UPDATE writes).
Statement take_shard_sql(
	"WITH taken AS ("
	"  UPDATE booking.pool_shard"
	"     SET confirmed = confirmed OPERATOR(pg_catalog.+) $3, held = held OPERATOR(pg_catalog.+) $4,"
	"         next_expiry = least(next_expiry, $5)"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) $2"
	"     AND (budget OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held)"
	"         OPERATOR(pg_catalog.>=) ($3 OPERATOR(pg_catalog.+) $4)"
	"     AND EXISTS (SELECT 1 FROM booking.pool_shard l"
	"                  WHERE l.pool_id OPERATOR(pg_catalog.=) $1 AND l.shard OPERATOR(pg_catalog.=) $2"
	"                    AND (l.budget OPERATOR(pg_catalog.-) l.confirmed OPERATOR(pg_catalog.-) l.held)"
	"                        OPERATOR(pg_catalog.>=) ($3 OPERATOR(pg_catalog.+) $4)"
	"                    FOR NO KEY UPDATE SKIP LOCKED)"
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
// versions' xmin and xmax and the statement snapshot's xmin (an xid8).
Statement shard_fill_sql(
	"SELECT shard, confirmed OPERATOR(pg_catalog.+) held, xmin::pg_catalog.text::bigint,"
	"       xmax::pg_catalog.text::bigint,"
	"       pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::pg_catalog.text::bigint"
	"  FROM booking.pool_shard"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.<>) $2",
	{INT8OID, INT4OID});

// Other shards with room, nearest after this one first; read without a
// lock (a take skips the ones another transaction holds).
Statement free_shards_sql(
	"SELECT shard FROM booking.pool_shard"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.<>) $2"
	"   AND (budget OPERATOR(pg_catalog.-) confirmed OPERATOR(pg_catalog.-) held) OPERATOR(pg_catalog.>=) $3"
	" ORDER BY ((shard OPERATOR(pg_catalog.-) $2) OPERATOR(pg_catalog.+) $4) OPERATOR(pg_catalog.%) $4"
	" LIMIT 8",
	{INT8OID, INT4OID, INT4OID, INT4OID});

// A sharded root's shards: lock those no other transaction holds (SKIP
// LOCKED, ascending) and read every one, each busy one as last committed
// with its xmax (the transaction that holds it, unless a MultiXact).
Statement lock_shards_sql(
	"WITH locked AS ("
	"  SELECT shard, confirmed, held, budget, next_expiry FROM booking.pool_shard"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 ORDER BY shard FOR NO KEY UPDATE SKIP LOCKED"
	")"
	"SELECT s.shard, l.shard IS NOT NULL, coalesce(l.confirmed, s.confirmed), coalesce(l.held, s.held),"
	"       coalesce(l.budget, s.budget), CASE WHEN l.shard IS NULL THEN s.next_expiry ELSE l.next_expiry END,"
	"       s.xmax::pg_catalog.text::bigint"
	"  FROM booking.pool_shard s LEFT JOIN locked l ON l.shard OPERATOR(pg_catalog.=) s.shard"
	" WHERE s.pool_id OPERATOR(pg_catalog.=) $1 ORDER BY s.shard",
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

// The same for the lapsed holds of a tree, before they are expired, on the
// shards no other transaction holds (SKIP LOCKED: only those with such a
// hold are locked, and all of them written). Only a root has shards. A
// hold on a busy shard stays held, and counted, until a later call.
Statement detach_lapsed_sql(
	"WITH lapsed AS ("
	"  SELECT booking_id, shard, spots FROM booking.booking"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard IS NOT NULL"
	"     AND status OPERATOR(pg_catalog.=) 'held' AND held_until OPERATOR(pg_catalog.<=) $2"
	"), free AS ("
	"  SELECT shard FROM booking.pool_shard"
	"   WHERE pool_id OPERATOR(pg_catalog.=) $1 AND shard OPERATOR(pg_catalog.=) ANY (SELECT shard FROM lapsed)"
	"   FOR NO KEY UPDATE SKIP LOCKED"
	"), old AS ("
	"  SELECT l.booking_id, l.shard, l.spots FROM lapsed l"
	"   WHERE l.shard OPERATOR(pg_catalog.=) ANY (SELECT shard FROM free)"
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
	{INT8OID, TIMESTAMPTZOID});

// A flash sale's buy: lock, check, count and record in one statement, so
// the hot row is written once and the lock is held for as little as the
// commit allows.
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

// take_root_sql's WHERE and SET on the pool row (pool_writes' columns).
bool
decide_root_take(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, void *arg) noexcept
{
	auto *a = static_cast<RootTakeArgs *>(arg);
	enum { parent_id, max_per_holder, waitlisted, shards, next_expiry, capacity, confirmed, held, sharded };
	if (!n[parent_id] || !n[max_per_holder] || n[waitlisted] || n[shards] || n[capacity] || n[sharded])
		return false;
	if (DatumGetInt32(v[waitlisted]) != 0 || DatumGetInt32(v[shards]) != 1)
		return false;
	if (!n[next_expiry] && DatumGetTimestampTz(v[next_expiry]) <= a->now)
		return false;
	int64_t now_confirmed, now_held;
	if (!set_take(v, n, out, out_null, replace, {confirmed, held, next_expiry}, a->confirmed, a->held, a->hold_end,
				  now_confirmed, now_held))
		return false;
	int64_t remaining = int64_t(DatumGetInt32(v[capacity])) - now_confirmed - now_held;
	if (remaining - DatumGetInt32(v[sharded]) < 0)
		return false;
	a->remaining = int32_t(remaining);
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

// take_shard_sql's WHERE and SET on the shard row (shard_writes' columns).
bool
decide_shard_take(const Datum *v, const bool *n, Datum *out, bool *out_null, bool *replace, void *arg) noexcept
{
	auto *a = static_cast<ShardTakeArgs *>(arg);
	int64_t now_confirmed, now_held;
	if (n[shard_budget] || !set_take(v, n, out, out_null, replace, {shard_confirmed, shard_held, shard_next_expiry},
									 a->confirmed, a->held, a->hold_end, now_confirmed, now_held))
		return false;
	if (int64_t(DatumGetInt32(v[shard_budget])) - now_confirmed - now_held < 0)
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

#define POOL_COLUMNS                                                                            \
	"SELECT pool_id, coalesce(parent_id, 0), capacity, confirmed, held, waitlisted, auto_promote," \
	"       max_per_holder, next_expiry, shards FROM booking.pool"

// Most pools have no parent: lock the one row with a plain index scan.
Statement lock_one_sql(POOL_COLUMNS " WHERE pool_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE", {INT8OID});

Statement lock_root_skip_sql(
	"SELECT 1 FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE SKIP LOCKED", {INT8OID});

Statement lock_many_sql(POOL_COLUMNS " WHERE pool_id OPERATOR(pg_catalog.=) ANY ($1)"
									" ORDER BY pool_id FOR NO KEY UPDATE",
						{INT8ARRAYOID});

Statement expire_lapsed_sql(
	"WITH lapsed AS ("
	"  UPDATE booking.booking b SET status = 'expired', updated_at = $2"
	"   WHERE b.booking_id OPERATOR(pg_catalog.=) ANY ("
	"           SELECT x.booking_id FROM booking.booking x"
	"             JOIN booking.pool p ON p.pool_id OPERATOR(pg_catalog.=) x.pool_id"
	"            WHERE p.root_id OPERATOR(pg_catalog.=) $1 AND x.status OPERATOR(pg_catalog.=) 'held'"
	"              AND x.held_until OPERATOR(pg_catalog.<=) $2 AND x.shard IS NULL"
	"            ORDER BY x.held_until LIMIT $3)"
	"  RETURNING b.pool_id, b.spots"
	"), per_pool AS ("
	"  SELECT a.id, pg_catalog.sum(l.spots)::integer AS spots"
	"    FROM lapsed l JOIN booking.pool p ON p.pool_id OPERATOR(pg_catalog.=) l.pool_id"
	"   CROSS JOIN LATERAL pg_catalog.unnest(p.path) AS a(id)"
	"   GROUP BY a.id"
	"), counted AS ("
	"  UPDATE booking.pool p SET held = p.held OPERATOR(pg_catalog.-) per_pool.spots"
	"    FROM per_pool WHERE p.pool_id OPERATOR(pg_catalog.=) per_pool.id"
	"  RETURNING 1"
	")"
	"SELECT pg_catalog.count(*) FROM lapsed",
	{INT8OID, TIMESTAMPTZOID, INT8OID});

Statement next_expiry_sql(
	"UPDATE booking.pool SET next_expiry = ("
	"  SELECT pg_catalog.min(b.held_until)"
	"    FROM booking.booking b JOIN booking.pool p ON p.pool_id OPERATOR(pg_catalog.=) b.pool_id"
	"   WHERE p.root_id OPERATOR(pg_catalog.=) $1 AND b.status OPERATOR(pg_catalog.=) 'held')"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1",
	{INT8OID});

// A tree's counters for planning promotions. Shard budgets count as held:
// exact once lock_chain took the unused ones back, on the safe side when not.
Statement tree_sql(
	"SELECT pool_id, coalesce(parent_id, 0), capacity, confirmed, held OPERATOR(pg_catalog.+) sharded, waitlisted,"
	"       auto_promote"
	"  FROM booking.pool WHERE root_id OPERATOR(pg_catalog.=) $1 ORDER BY pool_id",
	{INT8OID});

Statement waiters_sql(
	"SELECT b.booking_id, b.pool_id, b.spots"
	"  FROM booking.booking b JOIN booking.pool p ON p.pool_id OPERATOR(pg_catalog.=) b.pool_id"
	" WHERE p.root_id OPERATOR(pg_catalog.=) $1 AND b.status OPERATOR(pg_catalog.=) 'waitlisted'"
	" ORDER BY b.booking_id",
	{INT8OID});

Statement confirm_many_sql(
	"UPDATE booking.booking SET status = 'confirmed', held_until = NULL, updated_at = $2"
	" WHERE booking_id OPERATOR(pg_catalog.=) ANY ($1)",
	{INT8ARRAYOID, TIMESTAMPTZOID});

Statement write_counts_sql(
	"UPDATE booking.pool p SET confirmed = u.confirmed, waitlisted = u.waitlisted"
	"  FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::integer[]),"
	"                  pg_catalog.unnest($3::integer[])) AS u(pool_id, confirmed, waitlisted)"
	" WHERE p.pool_id OPERATOR(pg_catalog.=) u.pool_id",
	{INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID});

#define ADD_COUNTS                                                                                   \
	"UPDATE booking.pool"                                                                            \
	"   SET confirmed = confirmed OPERATOR(pg_catalog.+) $2, held = held OPERATOR(pg_catalog.+) $3," \
	"       waitlisted = waitlisted OPERATOR(pg_catalog.+) $4,"                                      \
	"       next_expiry = CASE WHEN parent_id IS NULL THEN least(next_expiry, $5) ELSE next_expiry END"

Statement add_counts_one_sql(ADD_COUNTS " WHERE pool_id OPERATOR(pg_catalog.=) $1",
							 {INT8OID, INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID});

Statement add_counts_many_sql(ADD_COUNTS " WHERE pool_id OPERATOR(pg_catalog.=) ANY ($1)",
							  {INT8ARRAYOID, INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID});

Statement lapsed_holds_sql("SELECT " BOOKING_COLUMNS " FROM booking.booking"
							" WHERE status OPERATOR(pg_catalog.=) 'held' AND held_until OPERATOR(pg_catalog.<=) $2"
							"   AND kind OPERATOR(pg_catalog.=) $1"
							" ORDER BY held_until LIMIT $3",
							{TEXTOID, TIMESTAMPTZOID, INT8OID});

Statement own_waiters_sql(
	"SELECT EXISTS (SELECT 1 FROM booking.booking"
	"                WHERE pool_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'waitlisted'"
	"                  AND spots OPERATOR(pg_catalog.<=) $2)",
	{INT8OID, INT8OID});

Statement waitlist_position_sql(
	"SELECT pg_catalog.count(*)::integer FROM booking.booking"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'waitlisted'"
	"   AND booking_id OPERATOR(pg_catalog.<=) $2",
	{INT8OID, INT8OID});

Statement find_booking_sql(
	"SELECT " BOOKING_COLUMNS
	"  FROM booking.booking WHERE booking_id OPERATOR(pg_catalog.=) $1",
	{INT8OID});

Statement lock_booking_sql(
	"SELECT " BOOKING_COLUMNS
	"  FROM booking.booking WHERE booking_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
	{INT8OID});

Statement find_by_key_sql(
	"SELECT " BOOKING_COLUMNS
	"  FROM booking.booking"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND idempotency_key OPERATOR(pg_catalog.=) $2"
	"   AND kind OPERATOR(pg_catalog.=) 'ticket'",
	{INT8OID, TEXTOID});

Statement holder_active_sql(
	"SELECT coalesce(pg_catalog.sum(spots), 0)::bigint FROM booking.booking"
	" WHERE pool_id OPERATOR(pg_catalog.=) $1 AND holder OPERATOR(pg_catalog.=) $2 AND holder IS NOT NULL"
	"   AND status OPERATOR(pg_catalog.=) ANY (ARRAY['held', 'confirmed', 'waitlisted'])"
	"   AND (status OPERATOR(pg_catalog.<>) 'held' OR held_until OPERATOR(pg_catalog.>) $3)",
	{INT8OID, TEXTOID, TIMESTAMPTZOID});

Statement insert_ticket_sql(
	"INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status, holder, held_until,"
	"                             idempotency_key, created_at, updated_at)"
	" VALUES (pg_catalog.nextval('booking.booking_id_seq'), 'ticket', $1, $2, $3, $4, $5, $6, $7, $7)"
	" RETURNING booking_id",
	{INT8OID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID});

Statement payment_ref_owner_sql(
	"SELECT booking_id FROM booking.booking"
	" WHERE payment_ref OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) ANY (ARRAY['held', 'confirmed'])"
	"   AND booking_id OPERATOR(pg_catalog.<>) $2",
	{TEXTOID, INT8OID});

Statement set_status_sql(
	"UPDATE booking.booking SET status = $2, held_until = $3, payment_ref = coalesce($4, payment_ref),"
	"       updated_at = $5"
	" WHERE booking_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID});

}  // namespace

Booking
read_booking(const pg::Row &r)
{
	Booking b;
	b.booking_id = *r.int8(1);
	b.kind = *r.text(2);
	b.pool_id = r.int8(3);
	b.spots = *r.int4(4);
	std::string status = *r.text(5);
	auto state = core::parse_booking_state(status);
	if (!state)
		throw Error(SqlState::DataCorrupted,
					"booking: booking " + std::to_string(b.booking_id) + " has unknown status " + status,
					"The extension's tables hold a row it cannot have written.",
					"Correct the row; SELECT * FROM booking.check() lists other broken rows.");
	b.status = *state;
	b.holder = r.text(6);
	b.held_until = r.timestamptz(7);
	b.payment_ref = r.text(8);
	b.show_id = r.int8(9);
	b.seat_ids = r.int8_array(10);
	b.resource_id = r.int8(11);
	b.starts_at = r.timestamptz(12);
	b.ends_at = r.timestamptz(13);
	b.shard = r.int4(14);
	return b;
}

namespace {

std::optional<Booking>
first_booking()
{
	if (Statement::rows() == 0)
		return std::nullopt;
	return read_booking(Statement::row(0));
}

}  // namespace

std::vector<int64_t>
Chain::ids() const
{
	std::vector<int64_t> ids;
	ids.reserve(pools.size());
	for (const auto &p : pools)
		ids.push_back(p.pool_id);
	return ids;
}

Peek
peek(int64_t pool_id)
{
	if (!pool_row.read(pool_id))
		throw Error(SqlState::NotFound, "pool " + std::to_string(pool_id) + " does not exist");
	const pg::KeyRead &r = pool_row;
	Peek p;
	p.path = r.int8_array(1);
	p.pool.pool_id = pool_id;
	p.pool.capacity = *r.int4(2);
	p.pool.confirmed = *r.int4(3);
	p.pool.held = *r.int4(4);
	p.pool.waitlisted = *r.int4(5);
	p.pool.auto_promote = *r.boolean(6);
	p.max_per_holder = r.int4(7);
	p.next_expiry = r.timestamptz(8);
	p.pool.parent_id = r.int8(9).value_or(0);
	// Only a root keeps shard rows.
	p.shards = p.pool.parent_id == 0 ? *r.int4(10) : 1;
	int64_t row_free = core::available(p.pool) - *r.int4(11);
	p.drained = p.shards > 1 && r.boolean(12).value_or(false);
	if (p.shards <= 1 || p.drained)
		p.available = row_free;
	return p;
}

bool
needs_no_settling(const Peek &p, TimestampTz now)
{
	return p.path.size() == 1 && !p.max_per_holder && (!p.next_expiry || *p.next_expiry > now) &&
		   p.pool.waitlisted == 0;
}

// The pool row's capacity less its own confirmed and held spots, read now.
int64_t
pool_free(int64_t pool_id)
{
	if (!pool_row.read(pool_id))
		throw Error(SqlState::NotFound, "pool " + std::to_string(pool_id) + " does not exist");
	return int64_t(*pool_row.int4(2)) - *pool_row.int4(3) - *pool_row.int4(4);
}

bool
has_shards_drained()
{
	return pool_row.has(12);
}

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

namespace {

// What try_take_shard() with row_unread checks of the pool row: still a
// sharded root of as many shards, not drained, needing no settling.
bool
fits_shard_take(const Peek &row, int32_t shards, TimestampTz now)
{
	return row.shards == shards && !row.drained && needs_no_settling(row, now);
}

// Publish the other shards' tallies from their rows (tally::fill): read
// without a lock, so only rows whose version is the newest as of the
// snapshot and not this transaction's own. A version is the newest when it
// has no xmax, or one that ended before the snapshot (below its xmin): an
// updater that had committed then would have made a newer version the
// visible one, so that xmax only locked (or aborted).
void
fill_tallies(int64_t pool_id, int32_t except)
{
	uint64_t epoch = tally::fill_epoch();  // before the statement's snapshot
	uint64_t rows = shard_fill_sql.run({pg::int8_param(pool_id), pg::int4_param(except)}, SPI_OK_SELECT);
	for (uint64_t i = 0; i < rows; i++) {
		pg::Row r = Statement::row(i);
		auto xmin = TransactionId(*r.int8(3));
		auto xmax = TransactionId(*r.int8(4));
		auto horizon = TransactionId(uint64_t(*r.int8(5)) & 0xFFFFFFFFu);
		bool newest = xmax == InvalidTransactionId ||
					  (TransactionIdIsNormal(xmax) && TransactionIdPrecedes(xmax, horizon));
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

}  // namespace

std::optional<ShardTake>
try_take_shard(int64_t pool_id, int32_t shards, int32_t spots,
			   const std::optional<std::string> &holder, std::optional<TimestampTz> hold_end, TimestampTz now,
			   bool row_unread)
{
	// No subtransaction: a shard another transaction holds is skipped, never
	// waited for, so a failed attempt holds no lock it did not write with,
	// and a take that must not stand is written back.
	int32_t mine = first_shard(pool_id, shards);
	TicketNulls nulls(holder, hold_end, true);
	bool direct = shard_writes.usable() && booking_writes.usable() && booking_writes.can_insert(nulls.flags);
	// The statement's take is not written back (a DELETE would run users'
	// triggers): read the row first there.
	if (row_unread && !direct) {
		if (!fits_shard_take(peek(pool_id), shards, now))
			return std::nullopt;
		row_unread = false;
	}
	bool misfit = false;	// row_unread, and the row says the pool needs more
	auto take = [&](int32_t shard) -> std::optional<ShardTake> {
		int64_t booking_id;
		int32_t used;
		ShardTakeArgs args{hold_end ? 0 : spots, hold_end ? spots : 0, hold_end, 0, Datum(0), true};
		ItemPointerData booking_tid;
		if (direct) {
			if (shard_writes.update_by_key({Int64GetDatum(pool_id), Int32GetDatum(shard)}, decide_shard_take, &args,
										   pg::DirectTable::Wait::Skip) != pg::DirectTable::Update::Done)
				return std::nullopt;
			booking_id = record_ticket(pool_id, spots, holder, hold_end, shard, now, nulls, &booking_tid);
			used = args.used;
		} else {
			uint64_t n = take_shard_sql.run(
				{pg::int8_param(pool_id), pg::int4_param(shard), pg::int4_param(hold_end ? 0 : spots),
				 pg::int4_param(hold_end ? spots : 0), pg::timestamptz_param(hold_end), pg::timestamptz_param(now),
				 pg::text_param(core::status_text(hold_end ? core::Status::Held : core::Status::Confirmed)),
				 pg::text_param(holder)},
				SPI_OK_SELECT);
			if (n == 0)
				return std::nullopt;
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
			Peek row = peek(pool_id);
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
				misfit = true;
				return std::nullopt;
			}
			row_free = core::available(row.pool);
		} else if (known)
			row_free = pool_free(pool_id);
		if (known) {
			if (tally::unchanged(*known))
				free_elsewhere = row_free - known->used;
			else
				known.reset();
		}
		if (!known) {
			if (tally::fillable(pool_id))
				fill_tallies(pool_id, shard);
			free_elsewhere_sql.run({pg::int8_param(pool_id), pg::int4_param(shard)}, SPI_OK_SELECT);
			free_elsewhere = *Statement::row(0).int8(1);
		}
		// The pool's available spots just after the take.
		int32_t remaining = int32_t(std::clamp<int64_t>(free_elsewhere - used, INT32_MIN, INT32_MAX));
		return ShardTake{booking_id, shard, remaining};
	};
	std::optional<ShardTake> taken = take(mine);
	if (taken || misfit) {
		if (taken)
			remember_shard(pool_id, taken->shard);
		return taken;
	}
	// Busy or dry: another shard with room, skipping busy ones too.
	free_shards_sql.run({pg::int8_param(pool_id), pg::int4_param(mine), pg::int4_param(spots), pg::int4_param(shards)},
						SPI_OK_SELECT);
	std::vector<int32_t> others;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		others.push_back(*Statement::row(i).int4(1));
	for (int32_t shard : others) {
		pg::check_for_interrupts();
		if ((taken = take(shard)) || misfit)
			break;
	}
	if (taken)
		remember_shard(pool_id, taken->shard);
	return taken;
}

void
refill_shards(const Chain &chain)
{
	if (chain.root_shards <= 1 || chain.pools.front().waitlisted > 0 || chain.locked_shards.empty())
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

bool
try_lock_root(int64_t root_id)
{
	return lock_root_skip_sql.run({pg::int8_param(root_id)}, SPI_OK_SELECT) == 1;
}

namespace {

// Lock the chain's root's shards that no other transaction holds, take
// their unused budgets back and count every shard into the root: a busy
// one with its whole budget (as held, less what it confirmed).
void
lock_shards(Chain &chain)
{
	int64_t root = chain.root_id();
	uint64_t n = lock_shards_sql.run({pg::int8_param(root)}, SPI_OK_SELECT);
	if (n == 0) {
		chain.root_shards = 1;	// a sharded child pool keeps no shard rows
		return;
	}
	int64_t confirmed = 0, held = 0, sold_locked = 0, busy_budget = 0;
	std::optional<TimestampTz> expiry;
	chain.locked_shards.clear();
	chain.busy_holders.clear();
	chain.busy_free = chain.reclaimed = 0;
	for (uint64_t i = 0; i < n; i++) {
		pg::Row r = Statement::row(i);
		int32_t shard = *r.int4(1), c = *r.int4(3), h = *r.int4(4), budget = *r.int4(5);
		auto e = r.timestamptz(6);
		if (e && (!expiry || *e < *expiry))
			expiry = e;
		confirmed += c;
		if (*r.boolean(2)) {
			chain.locked_shards.push_back(shard);
			held += h;
			sold_locked += int64_t(c) + h;
			chain.reclaimed += std::max<int64_t>(int64_t(budget) - c - h, 0);
		} else {
			held += int64_t(budget) - c;
			busy_budget += budget;
			chain.busy_free += std::max<int64_t>(int64_t(budget) - c - h, 0);
			chain.busy_holders.push_back(TransactionId(r.int8(7).value_or(0)));
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

}  // namespace

Chain
lock_chain(int64_t pool_id)
{
	return lock_chain(pool_id, peek(pool_id).path);
}

Chain
lock_chain(int64_t pool_id, const std::vector<int64_t> &path)
{
	uint64_t n = path.size() == 1 ? lock_one_sql.run({pg::int8_param(pool_id)}, SPI_OK_SELECT)
								  : lock_many_sql.run({pg::int8_array_param(path)}, SPI_OK_SELECT);
	if (n != path.size() || n == 0)
		throw Error(SqlState::Internal, "booking: chain of pool " + std::to_string(pool_id) + " is incomplete");
	Chain chain;
	chain.pools.reserve(n);
	for (uint64_t i = 0; i < n; i++) {
		pg::Row r = Statement::row(i);
		core::PoolCounts p;
		p.pool_id = *r.int8(1);
		p.parent_id = *r.int8(2);
		p.capacity = *r.int4(3);
		p.confirmed = *r.int4(4);
		p.held = *r.int4(5);
		p.waitlisted = *r.int4(6);
		p.auto_promote = *r.boolean(7);
		if (p.pool_id == pool_id)
			chain.max_per_holder = r.int4(8);
		if (i == 0) {
			chain.next_expiry = r.timestamptz(9);
			chain.root_shards = p.parent_id == 0 ? *r.int4(10) : 1;
		}
		chain.pools.push_back(p);
	}
	if (chain.pools.back().pool_id != pool_id)
		throw Error(SqlState::Internal, "booking: pool " + std::to_string(pool_id) + " is not the last of its chain");
	if (chain.root_shards > 1) {
		chain.row_confirmed = chain.pools.front().confirmed;
		chain.row_held = chain.pools.front().held;
		lock_shards(chain);
		// While a group waits, every answer turns on the free spots.
		if (chain.pools.front().waitlisted > 0)
			await_shards(chain);
	}
	return chain;
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
		const std::vector<TransactionId> &holders = chain.busy_holders;
		for (int ms = 0; ms < 50; ms++) {
			bool gone = pg::guard([&holders, deadline] {
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				if (GetCurrentTimestamp() >= deadline)
					return true;
				for (TransactionId xid : holders)
					if (TransactionIdIsValid(xid) && TransactionIdIsInProgress(xid))
						return false;
				return true;
			});
			if (gone)
				break;
		}
		lock_shards(chain);
		if (done())
			return true;
		if (pg::guard([] { return GetCurrentTimestamp(); }) >= deadline) {
			chain.awaited = true;
			return false;
		}
	}
}

int64_t
settle(Chain &chain, TimestampTz now)
{
	bool lapsed = chain.next_expiry && *chain.next_expiry <= now;
	// Budget a shard held past a registration's wait came back while a
	// group waits: it is the list's.
	bool freed = chain.reclaimed > 0 && chain.pools.front().waitlisted > 0;
	if (!lapsed && !freed)
		return 0;
	int64_t target = chain.target().pool_id;
	int64_t expired = lapsed ? expire_lapsed(chain.root_id(), now, INT64_MAX) : 0;
	promote(chain.root_id(), core::automatic_promotion(), now);
	bool awaited = chain.awaited;
	chain = lock_chain(target);
	chain.awaited |= awaited;
	return expired;
}

int64_t
expire_lapsed(int64_t root_id, TimestampTz now, int64_t limit)
{
	detach_lapsed_sql.run({pg::int8_param(root_id), pg::timestamptz_param(now)}, SPI_OK_UPDATE);
	expire_lapsed_sql.run({pg::int8_param(root_id), pg::timestamptz_param(now), pg::int8_param(limit)}, SPI_OK_SELECT);
	int64_t expired = *Statement::row(0).int8(1);
	next_expiry_sql.run({pg::int8_param(root_id)}, SPI_OK_UPDATE);
	stats::count(stats::Expired, expired);
	return expired;
}

std::vector<core::Waiter>
promote(int64_t root_id, const core::PromotionPolicy &policy, TimestampTz now)
{
	tree_sql.run({pg::int8_param(root_id)}, SPI_OK_SELECT);
	std::vector<core::PoolCounts> tree;
	for (uint64_t i = 0; i < Statement::rows(); i++) {
		pg::Row r = Statement::row(i);
		core::PoolCounts p;
		p.pool_id = *r.int8(1);
		p.parent_id = *r.int8(2);
		p.capacity = *r.int4(3);
		p.confirmed = *r.int4(4);
		p.held = *r.int4(5);
		p.waitlisted = *r.int4(6);
		p.auto_promote = *r.boolean(7);
		tree.push_back(p);
	}
	// Nobody waits, or the root (which every chain includes) has no room.
	if (tree.empty() || tree.front().waitlisted == 0 || core::available(tree.front()) <= 0)
		return {};

	waiters_sql.run({pg::int8_param(root_id)}, SPI_OK_SELECT);
	uint64_t n = Statement::rows();
	std::vector<core::Waiter> waiters;
	waiters.reserve(n);
	for (uint64_t i = 0; i < n; i++) {
		if (i % 1024 == 0)
			pg::check_for_interrupts();
		pg::Row r = Statement::row(i);
		waiters.push_back({*r.int8(1), *r.int8(2), *r.int4(3)});
	}

	std::vector<core::PoolCounts> before = tree;
	std::vector<core::Waiter> promoted = core::plan_promotions(tree, waiters, policy);
	if (promoted.empty())
		return promoted;

	std::vector<int64_t> ids;
	for (const auto &w : promoted)
		ids.push_back(w.booking_id);
	confirm_many_sql.run({pg::int8_array_param(ids), pg::timestamptz_param(now)}, SPI_OK_UPDATE);
	stats::count(stats::Promoted, int64_t(promoted.size()));

	std::vector<int64_t> pool_ids;
	std::vector<int32_t> confirmed, waitlisted;
	for (std::size_t i = 0; i < tree.size(); i++) {
		if (tree[i].confirmed == before[i].confirmed && tree[i].waitlisted == before[i].waitlisted)
			continue;
		pool_ids.push_back(tree[i].pool_id);
		confirmed.push_back(tree[i].confirmed);
		waitlisted.push_back(tree[i].waitlisted);
	}
	write_counts_sql.run(
		{pg::int8_array_param(pool_ids), pg::int4_array_param(confirmed), pg::int4_array_param(waitlisted)},
		SPI_OK_UPDATE);
	return promoted;
}

void
add_counts(const Chain &chain, int32_t confirmed, int32_t held, int32_t waitlisted, std::optional<TimestampTz> hold_end)
{
	pg::Param ids = chain.pools.size() == 1 ? pg::int8_param(chain.pools[0].pool_id) : pg::int8_array_param(chain.ids());
	(chain.pools.size() == 1 ? add_counts_one_sql : add_counts_many_sql)
		.run({ids, pg::int4_param(confirmed), pg::int4_param(held), pg::int4_param(waitlisted),
			  pg::timestamptz_param(hold_end)},
			 SPI_OK_UPDATE);
}

std::optional<Booking>
find_booking(int64_t booking_id, bool lock)
{
	(lock ? lock_booking_sql : find_booking_sql).run({pg::int8_param(booking_id)}, SPI_OK_SELECT);
	return first_booking();
}

Booking
find_booking_again(int64_t booking_id, bool lock)
{
	std::optional<Booking> b = find_booking(booking_id, lock);
	if (!b)
		throw Error(SqlState::NotFound, "booking " + std::to_string(booking_id) + " does not exist");
	return *std::move(b);
}

std::optional<Booking>
find_by_key(int64_t pool_id, const std::string &key)
{
	find_by_key_sql.run({pg::int8_param(pool_id), pg::text_param(key)}, SPI_OK_SELECT);
	return first_booking();
}

bool
has_own_waiters(const std::vector<core::PoolCounts> &chain)
{
	// The counter includes sub-pools: zero means nobody waits anywhere below.
	if (chain.empty() || chain.back().waitlisted == 0)
		return false;
	own_waiters_sql.run({pg::int8_param(chain.back().pool_id), pg::int8_param(core::largest_group(chain))},
						SPI_OK_SELECT);
	return *Statement::row(0).boolean(1);
}

int32_t
waitlist_position(int64_t pool_id, int64_t booking_id)
{
	waitlist_position_sql.run({pg::int8_param(pool_id), pg::int8_param(booking_id)}, SPI_OK_SELECT);
	return *Statement::row(0).int4(1);
}

core::TakeRequest
take_request(const Chain &chain, int32_t spots, const std::optional<std::string> &holder, TimestampTz now)
{
	const core::PoolCounts &pool = chain.pools.back();
	core::TakeRequest request;
	request.spots = spots;
	request.max_per_holder = chain.max_per_holder;
	if (chain.max_per_holder) {
		if (!holder)
			throw Error(SqlState::NullValueNotAllowed, "argument \"holder\" must not be NULL",
						"Pool " + std::to_string(pool.pool_id) + " limits spots per holder to " +
							std::to_string(*chain.max_per_holder) + ".");
		request.holder_active = holder_active(pool.pool_id, *holder, now);
	}
	request.own_waiters = has_own_waiters(chain.pools);
	return request;
}

int64_t
holder_active(int64_t pool_id, const std::string &holder, TimestampTz now)
{
	holder_active_sql.run({pg::int8_param(pool_id), pg::text_param(holder), pg::timestamptz_param(now)},
						  SPI_OK_SELECT);
	return *Statement::row(0).int8(1);
}

int64_t
insert_ticket(int64_t pool_id, int32_t spots, core::Status status, const std::optional<std::string> &holder,
			  std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now)
{
	insert_ticket_sql.run({pg::int8_param(pool_id), pg::int4_param(spots), pg::text_param(core::status_text(status)),
						   pg::text_param(holder), pg::timestamptz_param(held_until), pg::text_param(key),
						   pg::timestamptz_param(now)},
						  SPI_OK_INSERT_RETURNING);
	return *Statement::row(0).int8(1);
}

constexpr const char *payment_ref_hint = "A payment reference belongs to one live hold or purchase.";

void
require_payment_ref_free(const std::string &payment_ref, int64_t except_booking_id)
{
	payment_ref_owner_sql.run({pg::text_param(payment_ref), pg::int8_param(except_booking_id)}, SPI_OK_SELECT);
	if (Statement::rows() > 0)
		throw Error(SqlState::InvalidParameterValue,
					"payment_ref " + payment_ref + " is already used by booking " +
						std::to_string(*Statement::row(0).int8(1)),
					payment_ref_hint);
}

void
rethrow_payment_ref_taken(const std::optional<std::string> &payment_ref)
{
	try {
		throw;
	} catch (const pg::PgError &e) {
		if (e.data()->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && payment_ref)
			throw Error(SqlState::InvalidParameterValue, "payment_ref " + *payment_ref + " is already in use",
						payment_ref_hint);
		throw;
	}
}

void
set_status(int64_t booking_id, core::Status status, std::optional<TimestampTz> held_until,
		   const std::optional<std::string> &payment_ref, TimestampTz now)
{
	if (payment_ref && (status == core::Status::Confirmed || status == core::Status::Held))
		require_payment_ref_free(*payment_ref, booking_id);
	try {
		set_status_sql.run({pg::int8_param(booking_id), pg::text_param(core::status_text(status)),
							pg::timestamptz_param(held_until), pg::text_param(payment_ref), pg::timestamptz_param(now)},
						   SPI_OK_UPDATE);
	} catch (const pg::PgError &) {
		rethrow_payment_ref_taken(payment_ref);
	}
	// Every confirm, release and expiry of one booking passes here.
	if (status == core::Status::Confirmed)
		stats::count(stats::Confirmed);
	else if (status == core::Status::Released)
		stats::count(stats::Released);
	else if (status == core::Status::Expired)
		stats::count(stats::Expired);
}

bool
lapsed(const Booking &b, TimestampTz now)
{
	return b.status == core::Status::Held && b.held_until && *b.held_until <= now;
}

void
require_holder(const Booking &b, const std::optional<std::string> &holder)
{
	// A booking made without a holder has nothing to check, and ids are
	// sequential: only an organiser may change it. The same answer either
	// way, so it does not tell which bookings have a holder.
	if (b.holder ? holder && *holder == *b.holder : pg::caller_is_organiser())
		return;
	throw Error(SqlState::Forbidden, "holder does not match the holder of booking " + std::to_string(b.booking_id),
				"Pass the holder the booking was made with; a booking made without one is changed by an organiser.");
}

void
state_conflict(const Booking &b, const char *action)
{
	throw Error(SqlState::StateConflict, "cannot " + std::string(action) + " booking " + std::to_string(b.booking_id) +
											 ": it is " + core::status_text(b.status));
}

std::vector<Booking>
lapsed_holds(const char *kind, TimestampTz now, int64_t limit)
{
	lapsed_holds_sql.run({pg::text_param(kind), pg::timestamptz_param(now), pg::int8_param(limit)}, SPI_OK_SELECT);
	std::vector<Booking> holds;
	holds.reserve(Statement::rows());
	for (uint64_t i = 0; i < Statement::rows(); i++)
		holds.push_back(read_booking(Statement::row(i)));
	return holds;
}

core::Status
visible_status(const Booking &b, TimestampTz now)
{
	return lapsed(b, now) ? core::Status::Expired : b.status;
}

}  // namespace booking::store
