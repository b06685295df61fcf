// The expiry worker: marks lapsed holds expired and hands their spots to the
// waitlists, in batches, in every database named by booking.databases.
#pragma once

namespace booking::worker {

// Define the GUCs (booking.expiry_interval, booking.expiry_batch,
// booking.databases); register the launcher when preloaded.
void
init(bool preloaded);

}  // namespace booking::worker
