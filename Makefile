# PGXS build of booking.so (C++17) and its SQL scripts, and of booking_proxy
# (SQL only: the API as PL/Proxy functions in front of booking nodes).
EXTENSION  = booking booking_proxy
MODULE_big = booking
DATA       = $(wildcard sql/booking--*.sql sql/booking_proxy--*.sql)

SRCS = $(wildcard src/*.cpp src/pg/*.cpp src/core/*.cpp)
OBJS = $(SRCS:.cpp=.o)

PG_CONFIG ?= pg_config

# The tests, the PGXS way: `make installcheck` runs the regression tests
# (test/sql, test/expected), the isolation specs (test/isolation) and the TAP
# scripts (test/t) against the installed server (PGHOST/PGPORT for the first
# two; TAP makes its own clusters). `make installcheck-preloaded` repeats the
# specs on a temporary instance with booking in shared_preload_libraries.
# test/run runs the same files with its own set-up (packages, an
# unprivileged user, free ports, PostgreSQL 17 and 18 roots) and counts them.
REGRESS          = $(sort $(basename $(notdir $(wildcard test/sql/*.sql))))
REGRESS_OPTS     = --inputdir=test --outputdir=test/output
ISOLATION        = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS   = --inputdir=test/isolation --outputdir=test/output_iso
TAP_TESTS        = 1
PROVE_TESTS      = test/t/*.pl

# -MMD -MP: PGXS tracks no header dependencies for C++ sources, and an object
# built against an older header (a struct that gained a field) is memory
# corruption waiting to happen. The .d files fix that.
PG_CPPFLAGS = -I$(srcdir)/src -MMD -MP
PG_CXXFLAGS = -std=c++17 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
# test/run builds with BOOKING_WERROR=-Werror, so a warning on any supported
# PostgreSQL version fails the tests; a user's build does not stop on one
# that a newer compiler or server header brings.
PG_CXXFLAGS += $(BOOKING_WERROR)
SHLIB_LINK  = -lstdc++

# Debian builds PostgreSQL with LLVM, so PGXS would also compile every source
# to JIT bitcode with clang and install it. Nothing here benefits from
# inlining into JIT-compiled expressions, and the bitcode step fails on
# machines without the matching clang, so turn it off.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# After PGXS, which sets its own (the expected output names the database).
CONTRIB_TESTDB   = booking_regress
ISOLATION_TESTDB = booking_isolation

-include $(SRCS:.cpp=.d)
EXTRA_CLEAN = $(SRCS:.cpp=.d) test/output test/output_iso test/output_preloaded

.PHONY: installcheck-preloaded
installcheck-preloaded:
	$(pg_isolation_regress_installcheck) --temp-instance=test/output_preloaded/instance \
		--temp-config=test/preload.conf --outputdir=test/output_preloaded $(filter-out --outputdir=%,$(ISOLATION_OPTS)) $(ISOLATION)

