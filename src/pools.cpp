// Capacity pools: create_pool, set_capacity, decrement_ticket, availability.
#include "bodies.hpp"

#include "core/error.hpp"
#include "core/validate.hpp"
#include "fastbuy.hpp"
#include "pools.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "shards.hpp"
#include "stats.hpp"
#include "store.hpp"

namespace booking {

namespace {

using pg::Statement;

Statement pool_path_sql("SELECT root_id, path FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) $1", {INT8OID});

Statement insert_pool_sql(
	"INSERT INTO booking.pool (pool_id, name, parent_id, root_id, path, capacity, shards, max_per_holder,"
	"                          auto_promote)"
	" SELECT id, $1, $2, coalesce($3, id), coalesce($4, '{}'::bigint[]) OPERATOR(pg_catalog.||) id, $5, $6, $7, $8"
	"   FROM (SELECT pg_catalog.nextval('booking.pool_id_seq') AS id) AS n"
	" RETURNING pool_id",
	{TEXTOID, INT8OID, INT8OID, INT8ARRAYOID, INT4OID, INT4OID, INT4OID, BOOLOID});

// A sharded root pool's shards, its capacity spread over them.
#define INSERT_SHARDS                                                                                          \
	"WITH shards AS ("                                                                                         \
	"  INSERT INTO booking.pool_shard (pool_id, shard, budget)"                                                \
	"  SELECT $1, g, ($2 OPERATOR(pg_catalog./) $3)"                                                           \
	"                OPERATOR(pg_catalog.+) CASE WHEN g OPERATOR(pg_catalog.<) ($2 OPERATOR(pg_catalog.%) $3)" \
	"                                       THEN 1 ELSE 0 END"                                                 \
	"    FROM pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) AS g"                                 \
	"  RETURNING 1"                                                                                            \
	")"
Statement insert_shards_sql(INSERT_SHARDS
							"UPDATE booking.pool SET sharded = $2, shards_drained = ($2 OPERATOR(pg_catalog.=) 0)"
							" WHERE pool_id OPERATOR(pg_catalog.=) $1",
							{INT8OID, INT4OID, INT4OID});
// Before 1.2: no shards_drained.
Statement insert_shards_11_sql(INSERT_SHARDS
							   "UPDATE booking.pool SET sharded = $2 WHERE pool_id OPERATOR(pg_catalog.=) $1",
							   {INT8OID, INT4OID, INT4OID});

Statement set_capacity_sql("UPDATE booking.pool SET capacity = $2 WHERE pool_id OPERATOR(pg_catalog.=) $1",
						   {INT8OID, INT4OID});

Statement availability_sql(
	"SELECT p.capacity, p.confirmed OPERATOR(pg_catalog.+) coalesce(s.confirmed, 0),"
	"       p.held OPERATOR(pg_catalog.+) coalesce(s.held, 0), p.waitlisted,"
	"       least(r.next_expiry, (SELECT pg_catalog.min(next_expiry) FROM booking.pool_shard"
	"                              WHERE pool_id OPERATOR(pg_catalog.=) r.pool_id))"
	"  FROM booking.pool p JOIN booking.pool r ON r.pool_id OPERATOR(pg_catalog.=) p.root_id"
	"  LEFT JOIN LATERAL (SELECT pg_catalog.sum(confirmed)::integer AS confirmed,"
	"                            pg_catalog.sum(held)::integer AS held"
	"                       FROM booking.pool_shard WHERE pool_id OPERATOR(pg_catalog.=) p.pool_id) AS s ON true"
	" WHERE p.pool_id OPERATOR(pg_catalog.=) $1",
	{INT8OID});

Statement lapsed_in_subtree_sql(
	"SELECT coalesce(pg_catalog.sum(b.spots), 0)::bigint"
	"  FROM booking.booking b JOIN booking.pool c ON c.pool_id OPERATOR(pg_catalog.=) b.pool_id"
	" WHERE b.status OPERATOR(pg_catalog.=) 'held' AND b.held_until OPERATOR(pg_catalog.<=) $2"
	"   AND c.root_id OPERATOR(pg_catalog.=) (SELECT root_id FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) $1)"
	"   AND c.path OPERATOR(pg_catalog.@>) ARRAY[$1]",
	{INT8OID, TIMESTAMPTZOID});

using fastbuy::TicketOutcome;

TicketOutcome
take_locked(store::Chain &chain, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
			std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now);

// Take spots from a pool, all or nothing: the fast buy when the pool row
// alone can answer, else the general path on the locked chain. spi is
// connected only when a statement runs: a sold-out answer needs none.
TicketOutcome
take_tickets(pg::LazySpi &spi, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
			 std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now)
{
	store::Peek peek;
	if (auto outcome = fastbuy::buy(spi, pool_id, quantity, holder, held_until, key.has_value(), now, peek))
		return *outcome;

	spi.connect();
	store::Chain chain = store::lock_chain(pool_id, peek.path);
	store::settle(chain, now);
	TicketOutcome outcome = take_locked(chain, pool_id, quantity, holder, held_until, key, now);
	// A sharded pool's shards got their budgets taken back: give them the
	// free capacity again, so the next buyers take the fast path.
	store::refill_shards(chain);
	return outcome;
}

// Take spots from a locked, settled chain.
TicketOutcome
take_locked(store::Chain &chain, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
			std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now)
{
	if (key) {
		if (auto first = store::find_by_key(pool_id, *key)) {
			return {first->booking_id, store::visible_status(*first, now), int32_t(core::available(chain.target())),
					first->status == core::Status::Held ? first->held_until : std::nullopt, true};
		}
	}

	core::TakeRequest request = store::take_request(chain, quantity, holder, now);

	core::TakeVerdict verdict = core::judge_take(chain.pools, request);
	// Sold out only for the free budget of a shard another transaction is
	// taking from: wait for it (bounded), then the answer is exact or, past
	// deadline_timeout, counts that budget as taken.
	while (verdict == core::TakeVerdict::SoldOut && chain.busy_free > 0 && store::await_shards(chain))
		verdict = core::judge_take(chain.pools, request);
	switch (verdict) {
	case core::TakeVerdict::LimitExceeded:
		return {std::nullopt, core::Status::LimitExceeded, int32_t(core::available(chain.target())), std::nullopt};
	case core::TakeVerdict::SoldOut:
		return {std::nullopt, core::Status::SoldOut, int32_t(core::available(chain.target())), std::nullopt};
	case core::TakeVerdict::Take:
		break;
	}

	core::Status status = fastbuy::taken_status(held_until);
	int64_t id = store::insert_ticket(pool_id, quantity, status, holder, held_until, key, now);
	store::add_counts(chain, held_until ? 0 : quantity, held_until ? quantity : 0, 0, held_until);
	int32_t remaining = int32_t(core::available(chain.target()) - quantity);
	return {id, status, remaining, held_until};
}

}  // namespace

fastbuy::TicketOutcome
pools::take(pg::LazySpi &spi, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
			std::optional<TimestampTz> held_until, TimestampTz now)
{
	return take_tickets(spi, pool_id, quantity, holder, held_until, std::nullopt, now);
}

Datum
create_pool(FunctionCallInfo fcinfo)
{
	auto capacity = pg::arg_int4(fcinfo, 0);
	auto name = pg::arg_text(fcinfo, 1);
	auto parent_id = pg::arg_int8(fcinfo, 2);
	auto shards = pg::arg_int4(fcinfo, 3);
	auto max_per_holder = pg::arg_int4(fcinfo, 4);
	auto auto_promote = pg::arg_bool(fcinfo, 5);

	core::require(capacity.has_value(), "capacity");
	core::require(shards.has_value(), "shards");
	core::require(auto_promote.has_value(), "auto_promote");
	core::check_capacity(*capacity);
	core::check_shards(*shards);
	if (max_per_holder)
		core::check_positive(*max_per_holder, "max_per_holder");
	if (name)
		core::check_length(name->size(), core::max_name_bytes, "name");

	int64_t pool_id;
	{
		pg::Spi spi;
		std::optional<int64_t> root_id;
		pg::Param path{INT8ARRAYOID, Datum(0), true};
		if (parent_id) {
			pool_path_sql.run({pg::int8_param(*parent_id)}, SPI_OK_SELECT);
			if (Statement::rows() == 0)
				throw Error(SqlState::NotFound, "parent pool " + std::to_string(*parent_id) + " does not exist");
			pg::Row r = Statement::row(0);
			root_id = r.int8(1);
			bool isnull;
			Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			path = {INT8ARRAYOID, d, isnull};
		}
		insert_pool_sql.run({pg::text_param(name), pg::int8_param(parent_id), pg::int8_param(root_id), path,
							 pg::int4_param(capacity), pg::int4_param(shards), pg::int4_param(max_per_holder),
							 pg::bool_param(*auto_promote)},
							SPI_OK_INSERT_RETURNING);
		pool_id = *Statement::row(0).int8(1);
		// Only a root keeps shard rows: a child's takes update its ancestors'
		// rows anyway, so its shards would spread nothing.
		if (*shards > 1 && !parent_id)
			(store::has_shards_drained() ? insert_shards_sql : insert_shards_11_sql)
				.run({pg::int8_param(pool_id), pg::int4_param(*capacity), pg::int4_param(*shards)},
								  SPI_OK_UPDATE);
	}
	return Int64GetDatum(pool_id);
}

Datum
set_capacity(FunctionCallInfo fcinfo)
{
	auto pool_id = pg::arg_int8(fcinfo, 0);
	auto capacity = pg::arg_int4(fcinfo, 1);
	core::require(pool_id.has_value(), "pool_id");
	core::require(capacity.has_value(), "capacity");
	core::check_capacity(*capacity);

	TimestampTz now = pg::transaction_now();
	pg::Spi spi;
	store::Chain chain = store::lock_chain(*pool_id);
	store::settle(chain, now);
	const core::PoolCounts &pool = chain.target();
	int64_t taken = int64_t(pool.confirmed) + pool.held;
	// A busy shard's budget counts as held until its holder ends.
	while (*capacity < taken && chain.busy_free > 0 && store::await_shards(chain))
		taken = int64_t(pool.confirmed) + pool.held;
	if (*capacity < taken)
		throw Error(SqlState::StateConflict,
					"capacity " + std::to_string(*capacity) + " of pool " + std::to_string(*pool_id) +
						" is below the " + std::to_string(taken) + " spots already taken",
					"Release or cancel bookings first, or choose a capacity of at least " + std::to_string(taken) +
						".");
	// A waiting group larger than the new capacity stays waiting, passed over
	// until a capacity is raised; the groups behind it may fit now. Raising
	// it promotes whoever fits, lowering it whoever was behind such a group.
	set_capacity_sql.run({pg::int8_param(*pool_id), pg::int4_param(*capacity)}, SPI_OK_UPDATE);
	if (*capacity != pool.capacity)
		store::promote(chain.root_id(), core::automatic_promotion(), now);
	return Datum(0);
}

Datum
decrement_ticket(FunctionCallInfo fcinfo)
{
	auto pool_id = pg::arg_int8(fcinfo, 0);
	auto quantity = pg::arg_int4(fcinfo, 1);
	auto holder = pg::holder_arg(fcinfo, 2, true);
	auto key = pg::arg_text(fcinfo, 4);
	core::require(pool_id.has_value(), "pool_id");
	core::require(quantity.has_value(), "quantity");
	core::check_positive(*quantity, "quantity");
	core::check_key(holder, "holder");
	core::check_key(key, "idempotency_key");

	TimestampTz now = pg::transaction_now();
	std::optional<TimestampTz> held_until = pg::arg_interval_end(fcinfo, 3, now);
	if (held_until)
		core::check_hold_end(*held_until, now, "hold_for");

	TicketOutcome outcome;
	{
		pg::LazySpi spi;
		outcome = take_tickets(spi, *pool_id, *quantity, holder, held_until, key, now);
	}
	if (!outcome.repeat)
		stats::count_outcome(outcome.status);
	return pg::composite(fcinfo, {pg::int8_param(outcome.booking_id), pg::text_param(core::status_text(outcome.status)),
								  pg::int4_param(outcome.remaining), pg::timestamptz_param(outcome.held_until)});
}

Datum
availability(FunctionCallInfo fcinfo)
{
	auto pool_id = pg::arg_int8(fcinfo, 0);
	core::require(pool_id.has_value(), "pool_id");
	TimestampTz now = pg::transaction_now();

	int32_t capacity, confirmed, held, waitlisted;
	{
		pg::Spi spi;
		availability_sql.run({pg::int8_param(*pool_id)}, SPI_OK_SELECT, true);
		if (Statement::rows() == 0)
			throw Error(SqlState::NotFound, "pool " + std::to_string(*pool_id) + " does not exist");
		pg::Row r = Statement::row(0);
		capacity = *r.int4(1);
		confirmed = *r.int4(2);
		held = *r.int4(3);
		waitlisted = *r.int4(4);
		auto next_expiry = r.timestamptz(5);
		// Holds that lapsed but were not swept yet still sit in the counter.
		if (next_expiry && *next_expiry <= now) {
			lapsed_in_subtree_sql.run({pg::int8_param(*pool_id), pg::timestamptz_param(now)}, SPI_OK_SELECT, true);
			held -= int32_t(*Statement::row(0).int8(1));
		}
	}
	int32_t available = int32_t(int64_t(capacity) - confirmed - held);
	return pg::composite(fcinfo, {pg::int4_param(capacity), pg::int4_param(confirmed), pg::int4_param(held),
								  pg::int4_param(available), pg::int4_param(waitlisted)});
}

}  // namespace booking
