// Reserved seating: create_show, add_seats, reserve_seats,
// reserve_best_available, and the seat side of confirm, release, extend_hold
// and expire_holds.
//
// A seat row names the one booking that holds or bought it, so no seat can
// be in two bookings. A seat whose hold lapsed is free when read; taking it
// changes only that seat, never the lapsed booking's other seats, so two
// buyers of different seats of one lapsed booking never wait for each other.
#include "seats.hpp"

#include "bodies.hpp"
#include "core/error.hpp"
#include "core/seatmap.hpp"
#include "core/validate.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "pg/read.hpp"
#include "pg/write.hpp"
#include "stats.hpp"

#include <algorithm>

namespace booking {

namespace {

using pg::Statement;

Statement insert_show_sql(
	"INSERT INTO booking.show (show_id, name, notify) VALUES (pg_catalog.nextval('booking.show_id_seq'), $1, $2)"
	" RETURNING show_id",
	{TEXTOID, BOOLOID});

Statement existing_seat_sql(
	"SELECT pg_catalog.min(number) FROM booking.seat"
	" WHERE show_id OPERATOR(pg_catalog.=) $1 AND section OPERATOR(pg_catalog.=) $2"
	"   AND row_label OPERATOR(pg_catalog.=) $3"
	"   AND (number OPERATOR(pg_catalog.>=) $4 AND number OPERATOR(pg_catalog.<=) $5)",
	{INT8OID, TEXTOID, TEXTOID, INT4OID, INT4OID});

Statement insert_seats_sql(
	"INSERT INTO booking.seat (seat_id, show_id, section, row_label, number)"
	" SELECT pg_catalog.nextval('booking.seat_id_seq'), $1, $2, $3, n FROM pg_catalog.generate_series($4, $5) AS n"
	" RETURNING seat_id",
	{INT8OID, TEXTOID, TEXTOID, INT4OID, INT4OID});

// A seat's owner and its show, read without SPI: the rows of a request
// are read by key (no plan, so no plan that goes bad while the bookings
// table grows from empty before autovacuum first analyses it), and a
// conflict is answered from them without a lock or a statement.
pg::KeyRead seat_row("seat", "seat_pkey", {"show_id", "booking_id", "held_until"});
pg::KeyRead owner_row("booking", "booking_pkey", {"holder", "status", "?order_id"});
pg::KeyRead show_row("show", "show_pkey", {"notify"});

// Seats locked in ascending id order (so overlapping requests never
// deadlock), with their show and owner as of the lock.
Statement lock_seats_sql(
	"SELECT seat_id, show_id, booking_id, held_until FROM booking.seat"
	" WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY seat_id FOR NO KEY UPDATE",
	{INT8ARRAYOID});

// The same rows to lock without waiting (pg::lock_result_skip: SKIP
// LOCKED without its wait).
Statement seat_rows_sql(
	"SELECT ctid FROM booking.seat WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY seat_id", {INT8ARRAYOID});

// For best-available: the seats of a block that are free (or whose hold
// lapsed), to lock the same way; seats another buyer is taking are skipped.
Statement open_seats_sql(
	"SELECT ctid FROM booking.seat"
	" WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1)"
	"   AND (booking_id IS NULL OR (held_until IS NOT NULL AND held_until OPERATOR(pg_catalog.<=) $2))"
	" ORDER BY seat_id",
	{INT8ARRAYOID, TIMESTAMPTZOID});

// Lock seats ids (ascending) if every one is free and no other transaction
// holds any; a block with a seat taken or busy is left alone. A seat
// changed by a commit since the look is checked again on its new version,
// as SKIP LOCKED's recheck would.
bool
try_lock_free_seats(const std::vector<int64_t> &ids, TimestampTz now)
{
	if (open_seats_sql.run({pg::int8_array_param(ids), pg::timestamptz_param(now)}, SPI_OK_SELECT) < ids.size())
		return false;
	bool moved = false;
	if (pg::lock_result_skip("seat", 1, &moved) < ids.size())
		return false;
	return !moved ||
		   open_seats_sql.run({pg::int8_array_param(ids), pg::timestamptz_param(now)}, SPI_OK_SELECT) == ids.size();
}

Statement seat_map_sql(
	"SELECT seat_id, section, row_label, number,"
	"       booking_id IS NULL OR (held_until IS NOT NULL AND held_until OPERATOR(pg_catalog.<=) $3)"
	"  FROM booking.seat"
	" WHERE show_id OPERATOR(pg_catalog.=) $1 AND ($2::pg_catalog.text IS NULL OR section OPERATOR(pg_catalog.=) $2)",
	{INT8OID, TEXTOID, TIMESTAMPTZOID});

// Record a hold and give it its seats, in one statement.
Statement insert_booking_sql(
	"WITH held AS ("
	"  INSERT INTO booking.booking (booking_id, kind, show_id, spots, status, holder, held_until, idempotency_key,"
	"                               seat_ids, created_at, updated_at)"
	"  VALUES (pg_catalog.nextval('booking.booking_id_seq'), 'seats', $1, pg_catalog.cardinality($2),"
	"          CASE WHEN $4 IS NULL THEN 'confirmed' ELSE 'held' END, $3, $4,"
	"          $5, $2, $6, $6)"
	"  RETURNING booking_id"
	"), assigned AS ("
	"  UPDATE booking.seat SET booking_id = (SELECT booking_id FROM held), held_until = $4"
	"   WHERE seat_id OPERATOR(pg_catalog.=) ANY ($2)"
	"  RETURNING 1"
	")"
	"SELECT booking_id, (SELECT pg_catalog.count(*) FROM assigned) FROM held",
	{INT8OID, INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID});

Statement find_by_key_sql(
	"SELECT " BOOKING_COLUMNS
	"  FROM booking.booking"
	" WHERE show_id OPERATOR(pg_catalog.=) $1 AND idempotency_key OPERATOR(pg_catalog.=) $2"
	"   AND kind OPERATOR(pg_catalog.=) 'seats'",
	{INT8OID, TEXTOID});

Statement assign_seats_sql(
	"UPDATE booking.seat SET booking_id = $2, held_until = $3 WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1)",
	{INT8ARRAYOID, INT8OID, TIMESTAMPTZOID});

Statement set_hold_end_sql("UPDATE booking.seat SET held_until = $2 WHERE booking_id OPERATOR(pg_catalog.=) $1",
						   {INT8OID, TIMESTAMPTZOID});

Statement free_seats_sql("UPDATE booking.seat SET booking_id = NULL, held_until = NULL"
						 " WHERE booking_id OPERATOR(pg_catalog.=) $1 RETURNING seat_id",
						 {INT8OID});

// Seats of booking $2 among $1 that are free for it now.
Statement owned_sql("SELECT pg_catalog.count(*) FROM booking.seat"
					" WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1) AND booking_id OPERATOR(pg_catalog.=) $2",
					{INT8ARRAYOID, INT8OID});

Statement free_for_sql(
	"SELECT pg_catalog.count(*) FROM booking.seat"
	" WHERE seat_id OPERATOR(pg_catalog.=) ANY ($1)"
	"   AND (booking_id IS NULL OR booking_id OPERATOR(pg_catalog.=) $2"
	"        OR (held_until IS NOT NULL AND held_until OPERATOR(pg_catalog.<=) $3))",
	{INT8ARRAYOID, INT8OID, TIMESTAMPTZOID});

// A holder's own hold gives up seats it asked for again in a new hold.
Statement shrink_sql(
	"UPDATE booking.booking"
	"   SET seat_ids = CASE WHEN pg_catalog.cardinality($2) OPERATOR(pg_catalog.=) 0 THEN seat_ids ELSE $2 END,"
	"       spots = CASE WHEN pg_catalog.cardinality($2) OPERATOR(pg_catalog.=) 0 THEN spots"
	"                    ELSE pg_catalog.cardinality($2) END,"
	"       status = CASE WHEN pg_catalog.cardinality($2) OPERATOR(pg_catalog.=) 0 THEN 'released' ELSE status END,"
	"       updated_at = $3"
	" WHERE booking_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, INT8ARRAYOID, TIMESTAMPTZOID});

Statement notify_sql("SELECT pg_catalog.pg_notify($1, $2)", {TEXTOID, TEXTOID});

// NOTIFY payloads must stay under 8000 bytes.
constexpr std::size_t max_payload = 7900;

// Tell listeners of show_id which seats changed (notify: whether the show
// asks for it, when the caller knows).
void
notify_changed(int64_t show_id, std::vector<int64_t> seat_ids, std::optional<bool> notify = std::nullopt)
{
	if (seat_ids.empty())
		return;
	if (!notify)
		notify = show_row.read(show_id) && show_row.boolean(1).value_or(false);
	if (!*notify)
		return;
	std::sort(seat_ids.begin(), seat_ids.end());
	std::string channel = "booking_show_" + std::to_string(show_id);
	std::string payload;
	for (std::size_t i = 0; i <= seat_ids.size(); i++) {
		std::string next = i < seat_ids.size() ? std::to_string(seat_ids[i]) : std::string();
		if (i == seat_ids.size() || payload.size() + next.size() + 1 > max_payload) {
			notify_sql.run({pg::text_param(channel), pg::text_param(payload)}, SPI_OK_SELECT);
			payload.clear();
		}
		if (!next.empty())
			payload += (payload.empty() ? "" : ",") + next;
	}
}

// Raise PT404 unless the show exists; else whether it notifies.
bool
require_show(int64_t show_id)
{
	if (!show_row.read(show_id))
		throw Error(SqlState::NotFound, "show " + std::to_string(show_id) + " does not exist");
	return show_row.boolean(1).value_or(false);
}

using seats::Reservation;

// The result of an earlier call with the same key, if there was one.
std::optional<Reservation>
repeat_of(int64_t show_id, const std::optional<std::string> &key, TimestampTz now)
{
	if (!key)
		return std::nullopt;
	find_by_key_sql.run({pg::int8_param(show_id), pg::text_param(key)}, SPI_OK_SELECT);
	if (Statement::rows() == 0)
		return std::nullopt;
	store::Booking b = store::read_booking(Statement::row(0));
	std::optional<TimestampTz> held_until = b.status == core::Status::Held ? b.held_until : std::nullopt;
	return Reservation{b.booking_id, store::visible_status(b, now), held_until, b.seat_ids, {}, true};
}

// Record a hold of seats (already locked and free) for holder.
Reservation
hold_seats(int64_t show_id, const std::vector<int64_t> &seat_ids, const std::string &holder, std::optional<TimestampTz> held_until,
		   const std::optional<std::string> &key, TimestampTz now, std::optional<bool> notify = std::nullopt)
{
	insert_booking_sql.run({pg::int8_param(show_id), pg::int8_array_param(seat_ids), pg::text_param(holder),
							pg::timestamptz_param(held_until), pg::text_param(key), pg::timestamptz_param(now)},
						   SPI_OK_SELECT);
	pg::Row r = Statement::row(0);
	int64_t id = *r.int8(1);
	if (*r.int8(2) != int64_t(seat_ids.size()))
		throw Error(SqlState::Internal, "booking: hold " + std::to_string(id) + " did not get all its seats");
	notify_changed(show_id, seat_ids, notify);
	return {id, held_until ? core::Status::Held : core::Status::Confirmed, held_until, seat_ids, {}};
}

// One requested seat as read: its show and who has it.
struct SeatState {
	int64_t seat_id;
	int64_t show_id;
	std::optional<int64_t> owner;
	std::optional<TimestampTz> held_until;
	bool owner_holds = false;  // owner is a live hold (status held)
	bool owner_in_order = false;  // owner is an item of an order (1.6), which changes as one
	std::optional<std::string> holder;
};

// Fill in who holds the seats held (not bought, not free, not lapsed) at
// now, inside the caller's ReadScope. A bought seat (held_until NULL) is
// someone's for good whoever it is, so its owner is not read.
void
read_owners(std::vector<SeatState> &seats, TimestampTz now)
{
	for (SeatState &s : seats) {
		if (!s.owner || !s.held_until || *s.held_until <= now)
			continue;
		if (owner_row.read(*s.owner)) {
			s.holder = owner_row.text(1);
			s.owner_holds = owner_row.text(2) == std::string(core::status_text(core::Status::Held));
			s.owner_in_order = owner_row.int8(3).has_value();
		}
	}
}

// The requested seats (sorted ids) and their owners as last committed,
// read by key in one snapshot. Seats that do not exist are left out.
std::vector<SeatState>
peek_request(const std::vector<int64_t> &seat_ids, TimestampTz now)
{
	std::vector<SeatState> seats;
	seats.reserve(seat_ids.size());
	pg::ReadScope scope;
	for (int64_t id : seat_ids) {
		pg::check_for_interrupts();
		if (seat_row.read(id))
			seats.push_back({id, *seat_row.int8(1), seat_row.int8(2), seat_row.timestamptz(3)});
	}
	read_owners(seats, now);
	return seats;
}

// The requested seats locked (in ascending id order), with their owners.
std::vector<SeatState>
lock_request(const std::vector<int64_t> &seat_ids, TimestampTz now)
{
	lock_seats_sql.run({pg::int8_array_param(seat_ids)}, SPI_OK_SELECT);
	std::vector<SeatState> seats;
	seats.reserve(Statement::rows());
	for (uint64_t i = 0; i < Statement::rows(); i++) {
		pg::Row r = Statement::row(i);
		seats.push_back({*r.int8(1), *r.int8(2), r.int8(3), r.timestamptz(4)});
	}
	// A new snapshot, taken after the locks: it sees the commits waited for.
	pg::ReadScope scope;
	read_owners(seats, now);
	return seats;
}

// Who has the requested seats.
struct RequestScan {
	std::vector<int64_t> unavailable;				// held or sold by someone else
	std::vector<std::pair<int64_t, int64_t>> mine;	// (booking, seat) of the holder's own live holds
};

RequestScan
scan_request(int64_t show_id, const std::vector<int64_t> &seat_ids, const std::vector<SeatState> &seats,
			 const std::string &holder, TimestampTz now)
{
	RequestScan scan;
	std::size_t next = 0;
	for (const SeatState &s : seats) {
		if (next < seat_ids.size() && seat_ids[next] < s.seat_id)
			throw Error(SqlState::NotFound, "seat " + std::to_string(seat_ids[next]) + " does not exist");
		next++;
		if (s.show_id != show_id) {
			require_show(show_id);	// an unknown show is PT404
			throw Error(SqlState::InvalidParameterValue,
						"seat " + std::to_string(s.seat_id) + " is not in show " + std::to_string(show_id));
		}
		if (!s.owner || (s.held_until && *s.held_until <= now))
			continue;  // free, or its hold lapsed
		// The holder's own hold moves to the new one, unless an order holds it.
		if (s.held_until && s.owner_holds && !s.owner_in_order && s.holder == holder)
			scan.mine.emplace_back(*s.owner, s.seat_id);
		else
			scan.unavailable.push_back(s.seat_id);
	}
	if (next < seat_ids.size())
		throw Error(SqlState::NotFound, "seat " + std::to_string(seat_ids[next]) + " does not exist");
	return scan;
}

// Take seat ids (sorted) for holder, all or none. A conflict seen in the
// last committed state is answered before spi connects.
Reservation
reserve(int64_t show_id, const std::vector<int64_t> &seat_ids, const std::string &holder, std::optional<TimestampTz> held_until,
		const std::optional<std::string> &key, TimestampTz now, pg::LazySpi &spi)
{
	bool notify = false;
	if (key) {
		notify = require_show(show_id);
		spi.connect();
		if (auto repeat = repeat_of(show_id, key, now))
			return *repeat;
	}

	// Seats someone else has in the last committed state: answer at once.
	std::vector<SeatState> seats = peek_request(seat_ids, now);
	if (seats.empty()) {
		// None of the seats exists: PT404 for the show before the seats.
		require_show(show_id);
		throw Error(SqlState::NotFound, "seat " + std::to_string(seat_ids.front()) + " does not exist");
	}
	RequestScan scan = scan_request(show_id, seat_ids, seats, holder, now);
	if (!scan.unavailable.empty())
		return {std::nullopt, core::Status::Conflict, std::nullopt, seat_ids, scan.unavailable};
	if (!key)
		notify = require_show(show_id);

	spi.connect();
	scan = scan_request(show_id, seat_ids, lock_request(seat_ids, now), holder, now);
	if (!scan.unavailable.empty())
		return {std::nullopt, core::Status::Conflict, std::nullopt, seat_ids, scan.unavailable};
	std::vector<std::pair<int64_t, int64_t>> &mine = scan.mine;

	// The holder asked again for seats it holds: they move to the new hold.
	std::sort(mine.begin(), mine.end());
	for (std::size_t i = 0; i < mine.size();) {
		int64_t owner = mine[i].first;
		std::vector<int64_t> moving;
		for (; i < mine.size() && mine[i].first == owner; i++)
			moving.push_back(mine[i].second);
		store::Booking old = store::find_booking_again(owner, true);
		std::vector<int64_t> kept;
		std::set_difference(old.seat_ids.begin(), old.seat_ids.end(), moving.begin(), moving.end(),
							std::back_inserter(kept));
		shrink_sql.run({pg::int8_param(owner), pg::int8_array_param(kept), pg::timestamptz_param(now)},
					   SPI_OK_UPDATE);
	}
	return hold_seats(show_id, seat_ids, holder, held_until, key, now, notify);
}

// Find and take quantity adjacent seats. Seats another buyer is locking are
// skipped, so concurrent buyers get different blocks without waiting.
Reservation
reserve_best(int64_t show_id, int32_t quantity, const std::string &holder, const std::optional<std::string> &section,
			 std::optional<TimestampTz> held_until, const std::optional<std::string> &key, TimestampTz now)
{
	require_show(show_id);
	if (auto repeat = repeat_of(show_id, key, now))
		return *repeat;

	// A few fresh looks at the map: a block skipped because another buyer was
	// taking it is gone from the next look once that buyer commits.
	for (int look = 0; look < 3; look++) {
		seat_map_sql.run({pg::int8_param(show_id), pg::text_param(section), pg::timestamptz_param(now)},
						 SPI_OK_SELECT);
		std::vector<core::Seat> seats;
		seats.reserve(Statement::rows());
		for (uint64_t i = 0; i < Statement::rows(); i++) {
			pg::Row r = Statement::row(i);
			seats.push_back({*r.int8(1), *r.text(2), *r.text(3), *r.int4(4), *r.boolean(5)});
		}
		std::vector<core::Block> blocks = core::rank_blocks(std::move(seats), quantity);
		if (blocks.empty())
			break;
		for (core::Block &block : blocks) {
			pg::check_for_interrupts();
			std::vector<int64_t> ids = block.seat_ids;
			std::sort(ids.begin(), ids.end());
			if (try_lock_free_seats(ids, now))
				return hold_seats(show_id, ids, holder, held_until, key, now);
		}
	}
	return {std::nullopt, core::Status::SoldOut, std::nullopt, {}, {}};
}

Datum
seats_result(FunctionCallInfo fcinfo, const Reservation &r)
{
	if (!r.repeat)
		stats::count_outcome(r.status);
	return pg::composite(fcinfo, {pg::int8_param(r.booking_id), pg::text_param(core::status_text(r.status)),
								  pg::timestamptz_param(r.held_until), pg::int8_array_param(r.seat_ids),
								  pg::int8_array_param(r.unavailable)});
}

// Read and check the arguments shared by both reserve functions.
struct ReserveArgs {
	int64_t show_id;
	std::string holder;
	TimestampTz held_until;
	std::optional<std::string> key;
	TimestampTz now;
};

ReserveArgs
reserve_args(FunctionCallInfo fcinfo, int holder_arg, int hold_for_arg, int key_arg)
{
	auto show_id = pg::arg_int8(fcinfo, 0);
	auto holder = pg::holder_arg(fcinfo, holder_arg, true);
	auto key = pg::arg_text(fcinfo, key_arg);
	core::require(show_id.has_value(), "show_id");
	core::require(holder.has_value(), "holder");
	core::require(!PG_ARGISNULL(hold_for_arg), "hold_for");
	core::check_length(holder->size(), core::max_key_bytes, "holder");
	if (key)
		core::check_length(key->size(), core::max_key_bytes, "idempotency_key");
	TimestampTz now = pg::transaction_now();
	TimestampTz held_until = *pg::arg_interval_end(fcinfo, hold_for_arg, now);
	core::check_hold_end(held_until, now, "hold_for");
	return {*show_id, *holder, held_until, key, now};
}

// The lock order of a booking's state change: its seats, then its row.
store::Booking
lock_booking(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder)
{
	lock_seats_sql.run({pg::int8_array_param(found.seat_ids)}, SPI_OK_SELECT);
	store::Booking b = store::find_booking_again(found.booking_id, true);
	if (check_holder)
		store::require_holder(b, holder);
	return b;
}

// Whether a hold still has all its seats. Not so although it has not
// lapsed at now: a buyer whose transaction began after the hold's end took
// some while this call waited for their locks (this call's now is older).
bool
holds_all(const store::Booking &b)
{
	owned_sql.run({pg::int8_array_param(b.seat_ids), pg::int8_param(b.booking_id)}, SPI_OK_SELECT);
	return *Statement::row(0).int8(1) == int64_t(b.seat_ids.size());
}

// Whether all of a booking's seats are free for it (its own, or free).
bool
free_for(const store::Booking &b, TimestampTz now)
{
	free_for_sql.run({pg::int8_array_param(b.seat_ids), pg::int8_param(b.booking_id), pg::timestamptz_param(now)},
					 SPI_OK_SELECT);
	return *Statement::row(0).int8(1) == int64_t(b.seat_ids.size());
}

// Mark a lapsed hold expired and free the seats it still names.
void
expire(const store::Booking &b, TimestampTz now)
{
	store::set_status(b.booking_id, core::Status::Expired, b.held_until, std::nullopt, now);
	free_seats_sql.run({pg::int8_param(b.booking_id)}, SPI_OK_UPDATE_RETURNING);
	std::vector<int64_t> freed;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		freed.push_back(*Statement::row(i).int8(1));
	notify_changed(*b.show_id, freed);
}

}  // namespace

namespace seats {

Reservation
reserve(int64_t show_id, const std::vector<int64_t> &seat_ids, const std::string &holder, std::optional<TimestampTz> held_until,
		TimestampTz now)
{
	pg::LazySpi spi;
	return booking::reserve(show_id, seat_ids, holder, held_until, std::nullopt, now, spi);
}

Reservation
reserve_best(int64_t show_id, int32_t quantity, const std::string &holder, const std::optional<std::string> &section,
			 std::optional<TimestampTz> held_until, TimestampTz now)
{
	return booking::reserve_best(show_id, quantity, holder, section, held_until, std::nullopt, now);
}

void
lock_seats(std::vector<int64_t> seat_ids)
{
	std::sort(seat_ids.begin(), seat_ids.end());
	seat_ids.erase(std::unique(seat_ids.begin(), seat_ids.end()), seat_ids.end());
	if (!seat_ids.empty())
		lock_seats_sql.run({pg::int8_array_param(seat_ids)}, SPI_OK_SELECT);
}


core::Status
confirm(const store::Booking &found, const std::optional<std::string> &holder,
		const std::optional<std::string> &payment_ref, TimestampTz now)
{
	store::Booking b = lock_booking(found, holder, true);
	if (b.status == core::Status::Confirmed)
		return core::Status::Confirmed;
	if (b.status != core::Status::Held && b.status != core::Status::Expired)
		store::state_conflict(b, "confirm");
	if (b.status == core::Status::Held && !store::lapsed(b, now) && holds_all(b)) {
		set_hold_end_sql.run({pg::int8_param(b.booking_id), pg::timestamptz_param(std::nullopt)}, SPI_OK_UPDATE);
	} else if (free_for(b, now)) {
		// A late payment: sold all the same, the seats are still free.
		assign_seats_sql.run({pg::int8_array_param(b.seat_ids), pg::int8_param(b.booking_id),
							  pg::timestamptz_param(std::nullopt)},
							 SPI_OK_UPDATE);
	} else {
		if (b.status == core::Status::Held)
			expire(b, now);
		return core::Status::Expired;
	}
	store::set_status(b.booking_id, core::Status::Confirmed, std::nullopt, payment_ref, now);
	notify_changed(*b.show_id, b.seat_ids);
	return core::Status::Confirmed;
}

Released
release(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder, TimestampTz now)
{
	store::Booking b = lock_booking(found, holder, check_holder);
	if (store::lapsed(b, now)) {
		expire(b, now);
		return {core::Status::Expired, 0};
	}
	if (b.status != core::Status::Held && b.status != core::Status::Confirmed)
		return {b.status, 0};
	free_seats_sql.run({pg::int8_param(b.booking_id)}, SPI_OK_UPDATE_RETURNING);
	std::vector<int64_t> freed;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		freed.push_back(*Statement::row(i).int8(1));
	store::set_status(b.booking_id, core::Status::Released, b.held_until, std::nullopt, now);
	notify_changed(*b.show_id, freed);
	return {core::Status::Released, int32_t(freed.size())};
}

Extended
extend(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
	   TimestampTz now)
{
	store::Booking b = lock_booking(found, holder, true);
	if (b.status != core::Status::Held && b.status != core::Status::Expired)
		store::state_conflict(b, "extend the hold of");
	if (b.status == core::Status::Held && !store::lapsed(b, now) && holds_all(b)) {
		set_hold_end_sql.run({pg::int8_param(b.booking_id), pg::timestamptz_param(held_until)}, SPI_OK_UPDATE);
	} else if (free_for(b, now)) {
		// A buyer still at checkout after the hold lapsed: hold again.
		assign_seats_sql.run(
			{pg::int8_array_param(b.seat_ids), pg::int8_param(b.booking_id), pg::timestamptz_param(held_until)},
			SPI_OK_UPDATE);
		notify_changed(*b.show_id, b.seat_ids);
	} else {
		if (b.status == core::Status::Held)
			expire(b, now);
		return {core::Status::Expired, b.held_until};
	}
	store::set_status(b.booking_id, core::Status::Held, held_until, std::nullopt, now);
	return {core::Status::Held, held_until};
}

int64_t
expire_lapsed(TimestampTz now, int64_t limit, bool skip_locked)
{
	std::vector<store::Booking> candidates = store::lapsed_holds("seats", now, limit);
	// Without skipping, every candidate's seats are locked at once in
	// ascending order, as every caller that locks several seats does (an
	// order's calls, reserve_seats): locked booking by booking in the order
	// they lapsed, expire_holds would hold a seat of one while it waits for a
	// seat of the next that such a caller holds, waiting for the first.
	if (!skip_locked) {
		std::vector<int64_t> all;
		for (const store::Booking &b : candidates)
			all.insert(all.end(), b.seat_ids.begin(), b.seat_ids.end());
		lock_seats(std::move(all));
	}
	int64_t expired = 0;
	for (const store::Booking &found : candidates) {
		pg::check_for_interrupts();
		bool moved;
		if (skip_locked && (seat_rows_sql.run({pg::int8_array_param(found.seat_ids)}, SPI_OK_SELECT) <
								found.seat_ids.size() ||
							pg::lock_result_skip("seat", 1, &moved) < found.seat_ids.size()))
			continue;  // a buyer is busy with these seats: next round
		store::Booking b = lock_booking(found, std::nullopt, false);
		if (!store::lapsed(b, now))
			continue;  // confirmed, extended or released meanwhile
		expire(b, now);
		expired++;
	}
	return expired;
}

}  // namespace seats

Datum
create_show(FunctionCallInfo fcinfo)
{
	auto name = pg::arg_text(fcinfo, 0);
	auto notify = pg::arg_bool(fcinfo, 1);
	core::require(notify.has_value(), "notify");
	if (name)
		core::check_length(name->size(), core::max_name_bytes, "name");
	int64_t show_id;
	{
		pg::Spi spi;
		insert_show_sql.run({pg::text_param(name), pg::bool_param(*notify)}, SPI_OK_INSERT_RETURNING);
		show_id = *Statement::row(0).int8(1);
	}
	return Int64GetDatum(show_id);
}

Datum
add_seats(FunctionCallInfo fcinfo)
{
	auto show_id = pg::arg_int8(fcinfo, 0);
	auto section = pg::arg_text(fcinfo, 1);
	auto row_label = pg::arg_text(fcinfo, 2);
	auto first = pg::arg_int4(fcinfo, 3);
	auto count = pg::arg_int4(fcinfo, 4);
	core::require(show_id.has_value(), "show_id");
	core::require(section.has_value(), "section");
	core::require(row_label.has_value(), "row_label");
	core::require(first.has_value(), "first_number");
	core::require(count.has_value(), "count");
	core::check_length(section->size(), core::max_key_bytes, "section");
	core::check_length(row_label->size(), core::max_key_bytes, "row_label");
	core::check_positive(*count, "count");
	if (*count > int32_t(core::max_seats_per_booking))
		throw Error(SqlState::InvalidParameterValue, "count " + std::to_string(*count) + " is above the limit of " +
														 std::to_string(core::max_seats_per_booking) + " seats a call");
	int64_t last = int64_t(*first) + *count - 1;
	if (last > INT32_MAX)
		throw Error(SqlState::InvalidParameterValue, "seat numbers " + std::to_string(*first) + " to " +
														 std::to_string(last) + " are out of range");

	std::vector<int64_t> ids;
	{
		pg::Spi spi;
		require_show(*show_id);
		existing_seat_sql.run({pg::int8_param(*show_id), pg::text_param(section), pg::text_param(row_label),
							   pg::int4_param(*first), pg::int4_param(int32_t(last))},
							  SPI_OK_SELECT);
		if (auto taken = Statement::row(0).int4(1))
			throw Error(SqlState::InvalidParameterValue, "seat " + *section + " " + *row_label + " " +
															 std::to_string(*taken) + " already exists in show " +
															 std::to_string(*show_id));
		insert_seats_sql.run({pg::int8_param(*show_id), pg::text_param(section), pg::text_param(row_label),
							  pg::int4_param(*first), pg::int4_param(int32_t(last))},
							 SPI_OK_INSERT_RETURNING);
		for (uint64_t i = 0; i < Statement::rows(); i++)
			ids.push_back(*Statement::row(i).int8(1));
	}
	// Ids are drawn in seat-number order.
	std::sort(ids.begin(), ids.end());
	return pg::int8_array(ids);
}

Datum
reserve_seats(FunctionCallInfo fcinfo)
{
	auto seat_ids = pg::arg_int8_array(fcinfo, 1);
	core::require(seat_ids.has_value(), "seat_ids");
	core::check_id_list(seat_ids->ids, seat_ids->ndims, seat_ids->has_null, "seat_ids");
	ReserveArgs a = reserve_args(fcinfo, 2, 3, 4);
	std::vector<int64_t> ids = seat_ids->ids;
	std::sort(ids.begin(), ids.end());

	Reservation r;
	{
		pg::LazySpi spi;
		r = reserve(a.show_id, ids, a.holder, a.held_until, a.key, a.now, spi);
	}
	return seats_result(fcinfo, r);
}

Datum
reserve_best_available(FunctionCallInfo fcinfo)
{
	auto quantity = pg::arg_int4(fcinfo, 1);
	auto section = pg::arg_text(fcinfo, 3);
	core::require(quantity.has_value(), "quantity");
	core::check_positive(*quantity, "quantity");
	if (section)
		core::check_length(section->size(), core::max_key_bytes, "section");
	ReserveArgs a = reserve_args(fcinfo, 2, 4, 5);

	Reservation r;
	{
		pg::Spi spi;
		r = reserve_best(a.show_id, *quantity, a.holder, section, a.held_until, a.key, a.now);
	}
	return seats_result(fcinfo, r);
}

}  // namespace booking
