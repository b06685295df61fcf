// Included last by every source file of src/core: the core is pure C++ and
// is unit-tested without a server, so no PostgreSQL header may reach it.
#pragma once

#ifdef PG_VERSION_NUM
#error "src/core is pure C++: do not include PostgreSQL headers here"
#endif
