// Expiry of lapsed holds across every kind of booking, for expire_holds()
// and the expiry worker.
#pragma once

#include "pg/postgres.hpp"

namespace booking {

// Mark at most limit lapsed holds expired and give their spots, seats and
// ranges back (waitlists promoted); returns how many. With skip_locked, a
// pool tree, seat or resource another transaction holds is left for the
// next round instead of waited for. Opens its own SPI connection.
int64_t
expire_batch(TimestampTz now, int64_t limit, bool skip_locked);

}  // namespace booking
