// The store: the lock protocol over pool chains, booking rows, settling
// (lapsed holds expired) and waitlist promotion. The shard rows are in
// src/shards.cpp, the fast buy in src/fastbuy.cpp.
#include "store.hpp"

#include "core/error.hpp"
#include "pg/caller.hpp"
#include "pg/read.hpp"
#include "pg/write.hpp"
#include "shards.hpp"
#include "stats.hpp"

namespace booking::store {

using pg::Statement;

namespace {

// A pool's row, read without SPI (the hottest read: every buy and every
// sold-out answer starts with it).
pg::KeyRead pool_row("pool", "pool_pkey",
					 {"path", "capacity", "confirmed", "held", "waitlisted", "auto_promote", "max_per_holder",
					  "next_expiry", "parent_id", "shards", "sharded", "?shards_drained"});

#define POOL_COLUMNS                                                                            \
	"SELECT pool_id, coalesce(parent_id, 0), capacity, confirmed, held, waitlisted, auto_promote," \
	"       max_per_holder, next_expiry, shards FROM booking.pool"

// Most pools have no parent: lock the one row with a plain index scan.
Statement lock_one_sql(POOL_COLUMNS " WHERE pool_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE", {INT8OID});

// A root's row, to lock without waiting (pg::lock_result_skip: SKIP LOCKED
// without its wait).
Statement root_row_sql("SELECT ctid FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) $1", {INT8OID});

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

// A live order (1.6: an item held or confirmed) carrying $1.
Statement order_payment_ref_owner_sql(
	"SELECT o.order_id FROM booking.orders o"
	" WHERE o.payment_ref OPERATOR(pg_catalog.=) $1"
	"   AND EXISTS (SELECT 1 FROM booking.booking b WHERE b.booking_id OPERATOR(pg_catalog.=) ANY (o.booking_ids)"
	"                  AND b.status OPERATOR(pg_catalog.=) ANY (ARRAY['held', 'confirmed']))",
	{TEXTOID});

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
	core::PoolRow row;
	row.root = p.path.size() == 1;
	row.capped = p.max_per_holder.has_value();
	row.waitlisted = p.pool.waitlisted;
	row.lapsed = p.next_expiry && *p.next_expiry <= now;
	return core::settles_nothing(row);
}

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

bool
has_orders()
{
	static pg::KeyRead order_column("booking", "booking_pkey", {"?order_id"});
	return order_column.has(1);
}

bool
try_lock_root(int64_t root_id)
{
	bool moved;
	return root_row_sql.run({pg::int8_param(root_id)}, SPI_OK_SELECT) == 1 &&
		   pg::lock_result_skip("pool", 1, &moved) == 1;
}

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
	detach_lapsed(root_id, now);
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
	// An order's reference too: confirm_payment of it confirms the order.
	if (has_orders() &&
		order_payment_ref_owner_sql.run({pg::text_param(payment_ref)}, SPI_OK_SELECT) > 0)
		throw Error(SqlState::InvalidParameterValue,
					"payment_ref " + payment_ref + " is already used by order " +
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
