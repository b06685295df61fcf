// C++ bodies of the SQL-callable functions; src/entry.cpp exports them.
#pragma once

#include "pg/postgres.hpp"

namespace booking {

// pools.cpp
Datum create_pool(FunctionCallInfo fcinfo);
Datum set_capacity(FunctionCallInfo fcinfo);
Datum decrement_ticket(FunctionCallInfo fcinfo);
Datum availability(FunctionCallInfo fcinfo);

// waitlist.cpp
Datum register_spots(FunctionCallInfo fcinfo);
Datum promote_waitlist(FunctionCallInfo fcinfo);

// seats.cpp
Datum create_show(FunctionCallInfo fcinfo);
Datum add_seats(FunctionCallInfo fcinfo);
Datum reserve_seats(FunctionCallInfo fcinfo);
Datum reserve_best_available(FunctionCallInfo fcinfo);

// slots.cpp
Datum create_resource(FunctionCallInfo fcinfo);
Datum reserve_slot(FunctionCallInfo fcinfo);

// bookings.cpp
Datum confirm(FunctionCallInfo fcinfo);
Datum confirm_payment(FunctionCallInfo fcinfo);
Datum release(FunctionCallInfo fcinfo);
Datum cancel(FunctionCallInfo fcinfo);
Datum extend_hold(FunctionCallInfo fcinfo);
Datum expire_holds(FunctionCallInfo fcinfo);
Datum claimed_holder(FunctionCallInfo fcinfo);

// stats.cpp
Datum stats_read(FunctionCallInfo fcinfo);
Datum stats_reset(FunctionCallInfo fcinfo);

}  // namespace booking
