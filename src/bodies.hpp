// C++ bodies of the SQL-callable functions. Adding one takes its body (in
// the file of its capability), its name in BOOKING_FUNCTIONS below, and its
// CREATE FUNCTION ... AS 'MODULE_PATHNAME', 'booking_<name>' in the install
// script and an update script: src/entry.cpp exports every name listed.
#pragma once

#include "pg/postgres.hpp"

// Every SQL-callable body, as X(name); its C symbol is booking_<name>.
#define BOOKING_FUNCTIONS(X)  \
	/* pools.cpp */           \
	X(create_pool)            \
	X(set_capacity)           \
	X(decrement_ticket)       \
	X(availability)           \
	/* waitlist.cpp */        \
	X(register_spots)         \
	X(promote_waitlist)       \
	/* seats.cpp */           \
	X(create_show)            \
	X(add_seats)              \
	X(reserve_seats)          \
	X(reserve_best_available) \
	/* slots.cpp */           \
	X(create_resource)        \
	X(reserve_slot)           \
	/* bookings.cpp */        \
	X(confirm)                \
	X(confirm_payment)        \
	X(release)                \
	X(cancel)                 \
	X(extend_hold)            \
	X(expire_holds)           \
	X(claimed_holder)         \
	/* orders.cpp */          \
	X(reserve_order)          \
	X(confirm_order)          \
	X(release_order)          \
	X(extend_order)           \
	X(cancel_order)           \
	/* proxy.cpp */           \
	X(proxy_forward)          \
	/* stats.cpp */           \
	X(stats_read)             \
	X(stats_reset)

namespace booking {

#define BOOKING_DECLARE_BODY(name) Datum name(FunctionCallInfo fcinfo);
BOOKING_FUNCTIONS(BOOKING_DECLARE_BODY)
#undef BOOKING_DECLARE_BODY

}  // namespace booking
