// Every SQL-callable symbol of booking.so: a C function that hands its C++
// body to pg::run(), the one place where C++ meets PostgreSQL's error handling
// (see src/pg/boundary.hpp).
#include "bodies.hpp"
#include "pg/boundary.hpp"
#include "pg/claims.hpp"
#include "pg/write.hpp"

#include "shmem.hpp"
#include "sold_out.hpp"
#include "stats.hpp"
#include "tally.hpp"
#include "worker.hpp"

extern "C" {

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

// GUCs always; shared memory statistics and the expiry worker only when
// loaded by shared_preload_libraries (everything else works without).
void
_PG_init(void)
{
	bool preloaded = process_shared_preload_libraries_in_progress;
	booking::pg::define_holder_claim();
	booking::worker::init(preloaded);
	booking::stats::init(preloaded);
	booking::sold_out::init(preloaded);
	booking::tally::init(preloaded);
	if (preloaded) {
		booking::shmem::add({"booking statement writers", booking::pg::statement_writers_size(), nullptr,
							 booking::pg::statement_writers_attach});
		booking::pg::statement_writers_init();
	}
}

#define BOOKING_ENTRY(name)                                    \
	PG_FUNCTION_INFO_V1(booking_##name);                       \
	Datum booking_##name(PG_FUNCTION_ARGS)                     \
	{                                                          \
		return booking::pg::run(fcinfo, booking::name);        \
	}

BOOKING_FUNCTIONS(BOOKING_ENTRY)

}  // extern "C"
