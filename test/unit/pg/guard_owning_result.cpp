// Must not compile (CMake test guard_rejects_owning_result): a guarded
// lambda that returns an object with a destructor would build it inside the
// PostgreSQL frame, where an ereport's longjmp skips the destructor.
#include "pg/boundary.hpp"

#include <string>

std::string
owning_result()
{
	return booking::pg::guard([] { return std::string("built inside PG_TRY"); });
}
