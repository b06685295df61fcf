// Orders (1.6): a checkout of several items (spots of pools, seats, slots)
// held, paid and lost together, in one call.
//
// An order is a row of booking.orders and one booking per item carrying
// its id. Every item is taken by the code of its single-item call, inside
// one subtransaction: when any item fails, the subtransaction is rolled
// back and nothing of the order is left, not even a lock. The states of an
// order's bookings move together: confirm_order, extend_order,
// release_order and cancel_order change all of them or none, and the
// single-booking calls refuse an order's bookings (PT409).
//
// Lock order. Items are taken, and an order's bookings changed, in one
// global order whatever the order of the items: pools by their tree's root
// id, then pool id (a chain locks its root first, so two pools of one tree
// serialise on the root); then seats, every explicit seat of the order
// locked at once in ascending id order before the first seat item (seats of
// two items interleave: {1,5} and {3}); then best-available blocks (SKIP
// LOCKED: they wait for nobody); then resources by id. A single call locks
// one pool tree, or seats in ascending order, or one resource, so it
// waits for an order only in that same global order, and two orders lock
// overlapping items in the same sequence. An order call first locks its
// order row, which nothing else locks, so order calls on one order queue
// there.
#include "bodies.hpp"

#include "bookings.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "orders.hpp"
#include "pg/caller.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "pools.hpp"
#include "seats.hpp"
#include "slots.hpp"
#include "stats.hpp"
#include "store.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace booking {

namespace {

using pg::Statement;

enum class Kind { Pool, Seats, Best, Slot };

// One item of reserve_order's items, as booking.order_items() checked it.
struct Item {
	int32_t index = 0;
	Kind kind = Kind::Pool;
	int64_t target = 0;	 // pool, show or resource
	int32_t quantity = 0;
	std::vector<int64_t> seat_ids;	// ascending
	std::optional<std::string> section;
	TimestampTz starts_at = 0, ends_at = 0;
	int64_t root = 0;  // of a pool item: its tree's root
};

// The place of an item in the global lock order (see the header).
std::tuple<int, int64_t, int64_t, int64_t, int32_t>
lock_rank(const Item &i)
{
	switch (i.kind) {
	case Kind::Pool:
		return {0, i.root, i.target, 0, i.index};
	case Kind::Seats:
		return {1, i.seat_ids.front(), i.target, 0, i.index};
	case Kind::Best:
		return {2, i.target, 0, 0, i.index};
	case Kind::Slot:
		return {3, i.target, i.starts_at, i.ends_at, i.index};
	}
	return {4, 0, 0, 0, i.index};
}

Statement items_sql("SELECT item, kind, target_id, quantity, seat_ids, section, starts_at, ends_at"
					" FROM booking.order_items($1)",
					{JSONBOID});

Statement roots_sql("SELECT pool_id, root_id FROM booking.pool WHERE pool_id OPERATOR(pg_catalog.=) ANY ($1)",
					{INT8ARRAYOID});

Statement insert_order_sql(
	"INSERT INTO booking.orders (order_id, holder, payment_ref, idempotency_key, booking_ids, created_at, updated_at)"
	" VALUES (pg_catalog.nextval('booking.order_id_seq'), $1, $2, $3, '{}', $4, $4)"
	" ON CONFLICT ((COALESCE(holder, ''::pg_catalog.text)), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
	" RETURNING order_id",
	{TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID});

Statement order_by_key_sql("SELECT order_id FROM booking.orders"
						   " WHERE COALESCE(holder, ''::pg_catalog.text) OPERATOR(pg_catalog.=) COALESCE($1, ''::pg_catalog.text)"
						   "   AND idempotency_key OPERATOR(pg_catalog.=) $2",
						   {TEXTOID, TEXTOID});

Statement order_by_payment_ref_sql("SELECT order_id FROM booking.orders WHERE payment_ref OPERATOR(pg_catalog.=) $1",
								   {TEXTOID});

// The order's bookings carry its id; the order lists them in item order.
Statement finish_order_sql(
	"WITH items AS (UPDATE booking.booking SET order_id = $1 WHERE booking_id OPERATOR(pg_catalog.=) ANY ($2))"
	" UPDATE booking.orders SET booking_ids = $2 WHERE order_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, INT8ARRAYOID});

Statement set_order_payment_ref_sql(
	"UPDATE booking.orders SET payment_ref = $2, updated_at = $3 WHERE order_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, TEXTOID, TIMESTAMPTZOID});

Statement lock_order_sql("SELECT holder, payment_ref, booking_ids FROM booking.orders"
						 " WHERE order_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
						 {INT8OID});

Statement read_order_sql("SELECT holder, payment_ref, booking_ids FROM booking.orders"
						 " WHERE order_id OPERATOR(pg_catalog.=) $1",
						 {INT8OID});

Statement order_bookings_sql(
	"SELECT " BOOKING_COLUMNS ","
	" (SELECT p.root_id FROM booking.pool p WHERE p.pool_id OPERATOR(pg_catalog.=) booking.booking.pool_id)"
	" FROM booking.booking"
	" WHERE booking_id OPERATOR(pg_catalog.=) ANY ($2) AND order_id OPERATOR(pg_catalog.=) $1",
	{INT8OID, INT8ARRAYOID});

const char *
kind_name(Kind k)
{
	switch (k) {
	case Kind::Pool:
		return "pool";
	case Kind::Seats:
		return "seats";
	case Kind::Best:
		return "best_available";
	case Kind::Slot:
		return "slot";
	}
	return "?";
}

// One field of an item as the fast reader sees it.
struct Field {
	enum Type { Absent, Int, String, Array, Other } type = Absent;
	int64_t number = 0;
	JsonbValue *value = nullptr;
};

// A JSON number's digits as an int64 when they are what order_items()
// accepts (an optional minus and 1 to 18 digits); false otherwise.
bool
integer_text(const char *t, int64_t *out)
{
	const char *p = t + (*t == '-');
	int digits = 0;
	int64_t v = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p != '\0' || digits < 1 || digits > 18)
		return false;
	*out = *t == '-' ? -v : v;
	return true;
}

Field
classify(JsonbValue *v)
{
	Field f;
	f.value = v;
	if (!v)
		return f;
	if (v->type == jbvNumeric) {
		const char *text = nullptr;
		pg::guard([&] { text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))); });
		f.type = integer_text(text, &f.number) ? Field::Int : Field::Other;
	} else if (v->type == jbvString)
		f.type = Field::String;
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		f.type = Field::Array;
	else
		f.type = Field::Other;
	return f;
}

Field
field_of(JsonbContainer *object, const char *key)
{
	JsonbValue k;
	k.type = jbvString;
	k.val.string.val = const_cast<char *>(key);
	k.val.string.len = int(strlen(key));
	JsonbValue *v = nullptr;
	pg::guard([&] { v = findJsonbValueFromContainer(object, JB_FOBJECT, &k); });
	return classify(v);
}

// The items of the usual carts (spots of pools, seats, best-available
// blocks, all fields well formed) read straight from the jsonb; nullopt for
// anything else (a slot, a null, an unknown field, a bad value), which
// order_items() then reads, and refuses with the message naming the item.
std::optional<std::vector<Item>>
fast_items(Datum datum)
{
	Jsonb *jb = nullptr;
	pg::guard([&] { jb = DatumGetJsonbP(datum); });
	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_ARRAY(jb))
		return std::nullopt;
	uint32 n = JB_ROOT_COUNT(jb);
	if (n == 0 || n > 100)
		return std::nullopt;
	std::vector<Item> out;
	out.reserve(n);
	for (uint32 i = 0; i < n; i++) {
		JsonbValue *e = nullptr;
		pg::guard([&] { e = getIthJsonbValueFromContainer(&jb->root, i); });
		if (!e || e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data))
			return std::nullopt;
		JsonbContainer *object = e->val.binary.data;
		Item item;
		item.index = int32_t(i);
		uint32 known;
		if (Field pool = field_of(object, "pool_id"); pool.type != Field::Absent) {
			Field quantity = field_of(object, "quantity");
			if (pool.type != Field::Int || (quantity.type != Field::Absent && quantity.type != Field::Int))
				return std::nullopt;
			item.kind = Kind::Pool;
			item.target = pool.number;
			item.quantity = quantity.type == Field::Int ? int32_t(quantity.number) : 1;
			if (quantity.type == Field::Int && (quantity.number < 1 || quantity.number > PG_INT32_MAX))
				return std::nullopt;
			known = 1 + (quantity.type != Field::Absent);
		} else {
			Field show = field_of(object, "show_id");
			if (show.type != Field::Int || field_of(object, "resource_id").type != Field::Absent)
				return std::nullopt;
			item.target = show.number;
			Field seats = field_of(object, "seat_ids");
			Field best = field_of(object, "best_available");
			if (seats.type == Field::Array) {
				JsonbContainer *array = seats.value->val.binary.data;
				uint32 count = JsonContainerSize(array);
				if (count == 0)
					return std::nullopt;
				for (uint32 k = 0; k < count; k++) {
					JsonbValue *v = nullptr;
					pg::guard([&] { v = getIthJsonbValueFromContainer(array, k); });
					Field seat = classify(v);
					if (seat.type != Field::Int)
						return std::nullopt;
					item.seat_ids.push_back(seat.number);
				}
				std::sort(item.seat_ids.begin(), item.seat_ids.end());
				item.kind = Kind::Seats;
				item.quantity = int32_t(count);
				known = 2;
			} else if (seats.type == Field::Absent && best.type == Field::Int) {
				if (best.number < 1 || best.number > PG_INT32_MAX)
					return std::nullopt;
				Field section = field_of(object, "section");
				if (section.type == Field::String) {
					const auto &str = section.value->val.string;
					if (str.len > int(core::max_key_bytes))
						return std::nullopt;
					item.section = std::string(str.val, std::size_t(str.len));
				} else if (section.type != Field::Absent)
					return std::nullopt;
				item.kind = Kind::Best;
				item.quantity = int32_t(best.number);
				known = 2 + (section.type != Field::Absent);
			} else
				return std::nullopt;
		}
		if (JsonContainerSize(object) != known)
			return std::nullopt;  // an unknown field
		out.push_back(std::move(item));
	}
	return out;
}

// The items, checked (booking.order_items) and their duplicates refused.
std::vector<Item>
read_items(Datum items)
{
	std::vector<Item> out;
	std::optional<std::vector<Item>> fast = fast_items(items);
	if (fast)
		out = std::move(*fast);
	else
		items_sql.run({pg::Param{JSONBOID, items, false}}, SPI_OK_SELECT);
	for (uint64_t r = 0; !fast && r < Statement::rows(); r++) {
		pg::Row row = Statement::row(r);
		Item i;
		i.index = *row.int4(1);
		std::string kind = *row.text(2);
		i.kind = kind == "pool" ? Kind::Pool : kind == "seats" ? Kind::Seats : kind == "best" ? Kind::Best : Kind::Slot;
		i.target = *row.int8(3);
		if (i.kind != Kind::Slot)
			i.quantity = *row.int4(4);
		if (i.kind == Kind::Seats) {
			i.seat_ids = row.int8_array(5);
			std::sort(i.seat_ids.begin(), i.seat_ids.end());
		}
		i.section = row.text(6);
		if (i.kind == Kind::Slot) {
			i.starts_at = *row.timestamptz(7);
			i.ends_at = *row.timestamptz(8);
		}
		out.push_back(std::move(i));
	}

	// One item per pool (ask for the sum in one item); a seat in one item.
	std::map<int64_t, int32_t> pools, seats;
	for (const Item &i : out) {
		if (i.kind == Kind::Pool) {
			auto [at, fresh] = pools.emplace(i.target, i.index);
			if (!fresh)
				throw Error(SqlState::InvalidParameterValue,
							"item " + std::to_string(i.index) + ": pool " + std::to_string(i.target) +
								" is already item " + std::to_string(at->second),
							"", "Ask for all the spots of a pool in one item.");
		}
		// The limit of reserve_seats (core::check_id_list).
		if (i.seat_ids.size() > core::max_seats_per_booking)
			throw Error(SqlState::InvalidParameterValue,
						"item " + std::to_string(i.index) + ": \"seat_ids\" has " + std::to_string(i.seat_ids.size()) +
							" elements, the limit is " + std::to_string(core::max_seats_per_booking));
		for (std::size_t k = 0; k < i.seat_ids.size(); k++) {
			int64_t seat = i.seat_ids[k];
			if (i.seat_ids[k] < 1)
				throw Error(SqlState::InvalidParameterValue,
							"item " + std::to_string(i.index) + ": seat id " + std::to_string(seat) + " is not positive");
			auto [at, fresh] = seats.emplace(seat, i.index);
			if (!fresh)
				throw Error(SqlState::InvalidParameterValue,
							"item " + std::to_string(i.index) + ": seat " + std::to_string(seat) +
								(at->second == i.index ? " is named twice" : " is already in item " + std::to_string(at->second)));
		}
	}
	return out;
}

// Each pool item's root; PT404 naming the item for an unknown pool.
void
read_roots(std::vector<Item> &items)
{
	std::vector<int64_t> ids;
	for (const Item &i : items)
		if (i.kind == Kind::Pool)
			ids.push_back(i.target);
	if (ids.size() < 2)
		return;	 // one pool: nothing to order it by
	roots_sql.run({pg::int8_array_param(ids)}, SPI_OK_SELECT);
	std::map<int64_t, int64_t> roots;
	for (uint64_t r = 0; r < Statement::rows(); r++)
		roots[*Statement::row(r).int8(1)] = *Statement::row(r).int8(2);
	for (Item &i : items) {
		if (i.kind != Kind::Pool)
			continue;
		auto found = roots.find(i.target);
		if (found == roots.end())
			throw Error(SqlState::NotFound,
						"pool " + std::to_string(i.target) + " does not exist (item " + std::to_string(i.index) + ")");
		i.root = found->second;
	}
}

// What an order call reads of an order.
struct Order {
	int64_t order_id = 0;
	std::optional<std::string> holder;
	std::optional<std::string> payment_ref;
	std::vector<int64_t> booking_ids;  // in item order
	std::vector<store::Booking> bookings;  // in lock order
};

int
booking_rank(const store::Booking &b)
{
	return b.kind == "ticket" ? 0 : b.kind == "seats" ? 1 : 2;
}

// Read an order (locking its row when lock); nullopt when unknown.
std::optional<Order>
read_order(int64_t order_id, bool lock)
{
	Statement &sql = lock ? lock_order_sql : read_order_sql;
	if (sql.run({pg::int8_param(order_id)}, SPI_OK_SELECT) == 0)
		return std::nullopt;
	Order o;
	o.order_id = order_id;
	{
		pg::Row r = Statement::row(0);
		o.holder = r.text(1);
		o.payment_ref = r.text(2);
		o.booking_ids = r.int8_array(3);
	}
	order_bookings_sql.run({pg::int8_param(order_id), pg::int8_array_param(o.booking_ids)}, SPI_OK_SELECT);
	std::vector<std::pair<int64_t, store::Booking>> rows;
	for (uint64_t i = 0; i < Statement::rows(); i++) {
		pg::Row r = Statement::row(i);
		rows.emplace_back(r.int8(15).value_or(0), store::read_booking(r));
	}
	std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
		auto key = [](const std::pair<int64_t, store::Booking> &p) {
			const store::Booking &k = p.second;
			int64_t second = k.kind == "ticket"	 ? p.first
							 : k.kind == "seats" ? (k.seat_ids.empty() ? 0 : k.seat_ids.front())
												 : k.resource_id.value_or(0);
			return std::make_tuple(booking_rank(k), second, k.booking_id);
		};
		return key(a) < key(b);
	});
	for (auto &r : rows)
		o.bookings.push_back(std::move(r.second));
	return o;
}

Order
find_order(int64_t order_id, bool lock)
{
	auto o = read_order(order_id, lock);
	if (!o)
		throw Error(SqlState::NotFound, "order " + std::to_string(order_id) + " does not exist");
	return std::move(*o);
}

// PT403 unless holder is the order's; an order made without a holder is
// changed by an organiser only (as a booking without one).
void
require_order_holder(const Order &o, const std::optional<std::string> &holder)
{
	if (o.holder ? holder && *holder == *o.holder : pg::caller_is_organiser())
		return;
	throw Error(SqlState::Forbidden, "holder does not match the holder of order " + std::to_string(o.order_id),
				"Pass the holder the order was made with; an order made without one is changed by an organiser.");
}

// Lock every seat of the order's seat bookings at once, ascending, before
// the first of them is changed (see the header).
void
lock_order_seats(const Order &o)
{
	std::vector<int64_t> ids;
	for (const store::Booking &b : o.bookings)
		if (b.kind == "seats")
			ids.insert(ids.end(), b.seat_ids.begin(), b.seat_ids.end());
	seats::lock_seats(std::move(ids));
}

// Run change on each of the order's bookings in lock order, the order's
// seats locked before the first seat booking.
template <typename Change>
void
each_booking(const Order &o, Change change)
{
	bool seats_locked = false;
	for (const store::Booking &b : o.bookings) {
		pg::check_for_interrupts();
		if (b.kind != "ticket" && !seats_locked) {
			lock_order_seats(o);
			seats_locked = true;
		}
		if (!change(b))
			break;
	}
}

// The order's status as a reader sees it: its bookings' (they move together).
core::Status
order_status(const Order &o, TimestampTz now)
{
	bool any_held = false, all_confirmed = !o.bookings.empty(), all_released = !o.bookings.empty();
	for (const store::Booking &b : o.bookings) {
		core::Status s = store::visible_status(b, now);
		any_held |= s == core::Status::Held;
		all_confirmed &= s == core::Status::Confirmed;
		all_released &= s == core::Status::Released;
	}
	return any_held		   ? core::Status::Held
		   : all_confirmed ? core::Status::Confirmed
		   : all_released  ? core::Status::Released
						   : core::Status::Expired;
}

std::optional<TimestampTz>
order_hold_end(const Order &o, TimestampTz now)
{
	if (order_status(o, now) != core::Status::Held)
		return std::nullopt;
	for (const store::Booking &b : o.bookings)
		if (b.status == core::Status::Held)
			return b.held_until;
	return std::nullopt;
}

// The order's lapsed holds marked expired (their spots, seats and ranges
// given back), after a late confirm or extend found an item taken.
void
expire_order(const Order &o, TimestampTz now)
{
	each_booking(o, [now](const store::Booking &b) {
		if (store::lapsed(b, now))
			bookings::release(b);
		return true;
	});
}

struct OrderOutcome {
	std::optional<int64_t> order_id;
	core::Status status;
	std::optional<TimestampTz> held_until;
	std::vector<int64_t> booking_ids;  // in item order
	std::string unavailable = "[]";	   // JSON
	bool repeat = false;
};

OrderOutcome
repeat_outcome(const Order &o, TimestampTz now)
{
	return {o.order_id, order_status(o, now), order_hold_end(o, now), o.booking_ids, "[]", true};
}

// One failing item, as unavailable lists it.
std::string
unavailable_entry(const Item &i, core::Status status, const std::vector<int64_t> &seat_ids)
{
	std::string e = "{\"item\": " + std::to_string(i.index) + ", \"status\": \"" + core::status_text(status) + "\"";
	if (i.kind == Kind::Seats || i.kind == Kind::Best) {
		e += ", \"seat_ids\": [";
		for (std::size_t k = 0; k < seat_ids.size(); k++)
			e += (k ? ", " : "") + std::to_string(seat_ids[k]);
		e += "]";
	}
	return e + "}";
}

// Take one item: its booking, or its failing status and (seats) the seats
// someone else has.
void
take_one(const Item &i, const std::optional<std::string> &holder, std::optional<TimestampTz> held_until,
		 TimestampTz now, std::optional<int64_t> &id, core::Status &status, std::vector<int64_t> &taken)
{
	switch (i.kind) {
	case Kind::Pool: {
		pg::LazySpi spi;
		fastbuy::TicketOutcome t = pools::take(spi, i.target, i.quantity, holder, held_until, now);
		status = t.status;
		id = t.booking_id;
		break;
	}
	case Kind::Seats: {
		seats::Reservation r = seats::reserve(i.target, i.seat_ids, *holder, held_until, now);
		status = r.status;
		id = r.booking_id;
		taken = r.unavailable;
		break;
	}
	case Kind::Best: {
		seats::Reservation r = seats::reserve_best(i.target, i.quantity, *holder, i.section, held_until, now);
		status = r.status;
		id = r.booking_id;
		break;
	}
	case Kind::Slot: {
		slots::SlotOutcome r = slots::reserve(i.target, i.starts_at, i.ends_at, *holder, held_until, now);
		status = r.status;
		id = r.booking_id;
		break;
	}
	}
}

// Take every item, in lock order: the bookings in item order, or the
// failing items (the caller rolls the takes back).
OrderOutcome
take_items(std::vector<Item> items, const std::optional<std::string> &holder, std::optional<TimestampTz> held_until,
		   TimestampTz now)
{
	std::vector<Item *> order;
	for (Item &i : items)
		order.push_back(&i);
	std::sort(order.begin(), order.end(), [](const Item *a, const Item *b) { return lock_rank(*a) < lock_rank(*b); });

	std::vector<std::optional<int64_t>> ids(items.size());
	std::vector<std::tuple<int32_t, core::Status, std::string>> failed;
	bool seats_locked = false;
	for (Item *i : order) {
		pg::check_for_interrupts();
		core::Status status = core::Status::Conflict;  // take_one sets it; g++ 14 cannot tell
		std::vector<int64_t> taken;
		if (i->kind != Kind::Pool && !seats_locked) {
			// One seat item locks its seats in ascending order itself.
			if (std::count_if(items.begin(), items.end(), [](const Item &s) { return !s.seat_ids.empty(); }) > 1) {
				std::vector<int64_t> all;
				for (const Item &s : items)
					all.insert(all.end(), s.seat_ids.begin(), s.seat_ids.end());
				seats::lock_seats(std::move(all));
			}
			seats_locked = true;
		}
		try {
			take_one(*i, holder, held_until, now, ids[i->index], status, taken);
		} catch (const Error &e) {
			// A mistake of one item (an unknown show, a seat of another show)
			// names the item.
			throw Error(e.state(), std::string(e.what()) + " (item " + std::to_string(i->index) + ")", e.detail(),
						e.hint());
		}
		if (!ids[i->index])
			failed.emplace_back(i->index, status, unavailable_entry(*i, status, taken));
	}

	OrderOutcome out;
	if (!failed.empty()) {
		// The first failing item in item order names the status.
		std::sort(failed.begin(), failed.end(),
				  [](const auto &a, const auto &b) { return std::get<0>(a) < std::get<0>(b); });
		out.status = std::get<1>(failed.front());
		out.unavailable = "[";
		for (std::size_t k = 0; k < failed.size(); k++)
			out.unavailable += (k ? ", " : "") + std::get<2>(failed[k]);
		out.unavailable += "]";
		return out;
	}
	for (auto &id : ids)
		out.booking_ids.push_back(*id);
	out.status = held_until ? core::Status::Held : core::Status::Confirmed;
	out.held_until = held_until;
	return out;
}

Datum
jsonb_datum(const std::string &text)
{
	Datum d = 0;
	pg::guard([&] { d = DirectFunctionCall1(jsonb_in, CStringGetDatum(text.c_str())); });
	return d;
}

Datum
order_result(FunctionCallInfo fcinfo, const OrderOutcome &o)
{
	Datum unavailable = jsonb_datum(o.unavailable);
	return pg::composite(fcinfo, {pg::int8_param(o.order_id), pg::text_param(core::status_text(o.status)),
								  pg::timestamptz_param(o.held_until),
								  o.order_id ? pg::int8_array_param(o.booking_ids) : pg::Param{INT8ARRAYOID, 0, true},
								  pg::Param{JSONBOID, unavailable, false}});
}

// 22023 when another order or a live booking carries payment_ref.
void
require_order_payment_ref_free(const std::string &payment_ref, int64_t except_order = 0)
{
	if (order_by_payment_ref_sql.run({pg::text_param(payment_ref)}, SPI_OK_SELECT) > 0) {
		int64_t other = *Statement::row(0).int8(1);
		if (other != except_order)
			throw Error(SqlState::InvalidParameterValue,
						"payment_ref " + payment_ref + " is the reference of order " + std::to_string(other));
	}
	store::require_payment_ref_free(payment_ref);
}

// confirm_order's work on a locked, checked order.
core::Status
confirm_locked(Order &o, const std::optional<std::string> &payment_ref, TimestampTz now)
{
	if (payment_ref && payment_ref != o.payment_ref) {
		require_order_payment_ref_free(*payment_ref, o.order_id);
		try {
			set_order_payment_ref_sql.run(
				{pg::int8_param(o.order_id), pg::text_param(payment_ref), pg::timestamptz_param(now)}, SPI_OK_UPDATE);
		} catch (const pg::PgError &) {
			store::rethrow_payment_ref_taken(payment_ref);
		}
	}
	bool all_confirmed = true;
	for (const store::Booking &b : o.bookings) {
		if (b.status == core::Status::Released)
			store::state_conflict(b, "confirm");
		all_confirmed &= b.status == core::Status::Confirmed;
	}
	if (all_confirmed)
		return core::Status::Confirmed;
	bool expired = false;
	{
		pg::SubTransaction sub;
		each_booking(o, [&](const store::Booking &b) {
			expired = bookings::confirm(b, now) == core::Status::Expired;
			return !expired;
		});
		if (!expired)
			sub.commit();
	}
	if (!expired)
		return core::Status::Confirmed;
	// A late payment and an item someone else took meanwhile: the whole
	// order is expired, so the application refunds once.
	expire_order(o, now);
	return core::Status::Expired;
}

// The order id and holder arguments of an order call (0 and 1).
std::pair<int64_t, std::optional<std::string>>
order_args(FunctionCallInfo fcinfo)
{
	auto order_id = pg::arg_int8(fcinfo, 0);
	auto holder = pg::holder_arg(fcinfo, 1, true);
	core::require(order_id.has_value(), "order_id");
	core::check_key(holder, "holder");
	return {*order_id, holder};
}

}  // namespace

namespace orders {

std::optional<std::pair<int64_t, core::Status>>
confirm_by_payment_ref(const std::string &payment_ref, TimestampTz now)
{
	if (!store::has_orders())
		return std::nullopt;
	if (order_by_payment_ref_sql.run({pg::text_param(payment_ref)}, SPI_OK_SELECT) == 0)
		return std::nullopt;
	int64_t order_id = *Statement::row(0).int8(1);
	Order o = find_order(order_id, true);
	return std::make_pair(order_id, confirm_locked(o, std::nullopt, now));
}

}  // namespace orders

Datum
reserve_order(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto holder = pg::holder_arg(fcinfo, 1, true);
	auto payment_ref = pg::arg_text(fcinfo, 3);
	auto key = pg::arg_text(fcinfo, 4);
	core::check_key(holder, "holder");
	core::check_key(payment_ref, "payment_ref");
	core::check_key(key, "idempotency_key");
	TimestampTz now = pg::transaction_now();
	std::optional<TimestampTz> held_until = pg::arg_interval_end(fcinfo, 2, now);
	if (held_until)
		core::check_hold_end(*held_until, now, "hold_for");
	core::require(!PG_ARGISNULL(0), "items");
	Datum items_arg = PG_GETARG_DATUM(0);

	OrderOutcome out;
	{
		pg::Spi spi;
		std::vector<Item> items = read_items(items_arg);
		for (const Item &i : items)
			if (i.kind != Kind::Pool && !holder)
				throw Error(SqlState::NullValueNotAllowed,
							"argument \"holder\" must not be NULL: item " + std::to_string(i.index) + " (" +
								kind_name(i.kind) + ") is held for a holder");
		read_roots(items);

		// A retried checkout: the order the key made.
		if (key && order_by_key_sql.run({pg::text_param(holder), pg::text_param(key)}, SPI_OK_SELECT) > 0) {
			int64_t order_id = *Statement::row(0).int8(1);
			out = repeat_outcome(find_order(order_id, false), now);
		} else {
			if (payment_ref)
				require_order_payment_ref_free(*payment_ref);
			pg::SubTransaction sub;
			std::optional<int64_t> order_id;
			uint64_t inserted = 0;
			try {
				inserted = insert_order_sql.run({pg::text_param(holder), pg::text_param(payment_ref),
												 pg::text_param(key), pg::timestamptz_param(now)},
												SPI_OK_INSERT_RETURNING);
			} catch (const pg::PgError &) {
				// Another order given the reference meanwhile (its commit was
				// waited for): 22023, as for a single booking.
				store::rethrow_payment_ref_taken(payment_ref);
			}
			if (inserted > 0)
				order_id = *Statement::row(0).int8(1);
			if (!order_id) {
				// The same key's order committed while this one waited for it.
				order_by_key_sql.run({pg::text_param(holder), pg::text_param(key)}, SPI_OK_SELECT);
				int64_t first = *Statement::row(0).int8(1);
				out = repeat_outcome(find_order(first, false), now);
			} else {
				out = take_items(std::move(items), holder, held_until, now);
				if (!out.booking_ids.empty()) {
					out.order_id = order_id;
					finish_order_sql.run({pg::int8_param(order_id), pg::int8_array_param(out.booking_ids)},
										 SPI_OK_UPDATE);
					sub.commit();
				}
			}
		}
	}
	// Statistics count an order's items as their single calls would, and a
	// failed order once, by its status.
	if (!out.repeat)
		for (std::size_t k = 0; k < std::max<std::size_t>(out.booking_ids.size(), 1); k++)
			stats::count_outcome(out.status);
	return order_result(fcinfo, out);
}

Datum
confirm_order(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto [order_id, holder] = order_args(fcinfo);
	auto payment_ref = pg::arg_text(fcinfo, 2);
	core::check_key(payment_ref, "payment_ref");
	TimestampTz now = pg::transaction_now();
	core::Status status;
	{
		pg::Spi spi;
		Order o = find_order(order_id, true);
		require_order_holder(o, holder);
		status = confirm_locked(o, payment_ref, now);
	}
	return pg::composite(fcinfo, {pg::int8_param(order_id), pg::text_param(core::status_text(status))});
}

namespace {

Datum
release_order_as(FunctionCallInfo fcinfo, int64_t order_id, const std::optional<std::string> &holder,
				 bool check_holder)
{
	core::Status status = core::Status::Released;
	int32_t released = 0;
	std::vector<int64_t> promoted;
	{
		pg::Spi spi;
		Order o = find_order(order_id, true);
		if (check_holder)
			require_order_holder(o, holder);
		bool any_released = false;
		std::optional<core::Status> first;
		each_booking(o, [&](const store::Booking &b) {
			bookings::ReleaseOutcome r = bookings::release(b);
			released += r.released;
			promoted.insert(promoted.end(), r.promoted.begin(), r.promoted.end());
			any_released |= r.released > 0;
			if (!first)
				first = r.status;
			return true;
		});
		// Released when this call gave anything back; else what the items
		// already were (released, expired).
		status = any_released || !first ? core::Status::Released : *first;
	}
	return pg::composite(fcinfo, {pg::int8_param(order_id), pg::text_param(core::status_text(status)),
								  pg::int4_param(released), pg::int8_array_param(promoted)});
}

}  // namespace

Datum
release_order(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto [order_id, holder] = order_args(fcinfo);
	return release_order_as(fcinfo, order_id, holder, true);
}

Datum
cancel_order(FunctionCallInfo fcinfo)
{
	auto order_id = pg::arg_int8(fcinfo, 0);
	core::require(order_id.has_value(), "order_id");
	return release_order_as(fcinfo, *order_id, std::nullopt, false);
}

Datum
extend_order(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto [order_id, holder] = order_args(fcinfo);
	core::require(!PG_ARGISNULL(2), "hold_for");
	TimestampTz now = pg::transaction_now();
	TimestampTz held_until = *pg::arg_interval_end(fcinfo, 2, now);
	core::check_hold_end(held_until, now, "hold_for");

	core::Status status;
	std::optional<TimestampTz> result_until;
	{
		pg::Spi spi;
		Order o = find_order(order_id, true);
		require_order_holder(o, holder);
		for (const store::Booking &b : o.bookings)
			if (b.status != core::Status::Held && b.status != core::Status::Expired)
				store::state_conflict(b, "extend the hold of");
		bool expired = false;
		{
			pg::SubTransaction sub;
			each_booking(o, [&](const store::Booking &b) {
				auto [s, until] = bookings::extend_any(b, b.holder, held_until, now);
				expired = s == core::Status::Expired;
				return !expired;
			});
			if (!expired)
				sub.commit();
		}
		if (expired) {
			expire_order(o, now);
			status = core::Status::Expired;
			for (const store::Booking &b : o.bookings)
				if (b.held_until)
					result_until = b.held_until;
		} else {
			status = core::Status::Held;
			result_until = held_until;
		}
	}
	return pg::composite(fcinfo, {pg::int8_param(order_id), pg::text_param(core::status_text(status)),
								  pg::timestamptz_param(result_until)});
}

}  // namespace booking
