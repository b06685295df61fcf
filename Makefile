# PGXS build of booking.so (C++17) and its SQL scripts, and of booking_proxy
# (SQL only: the API as PL/Proxy functions in front of booking nodes).
EXTENSION  = booking booking_proxy
MODULE_big = booking
DATA       = $(wildcard sql/booking--*.sql sql/booking_proxy--*.sql)

SRCS = $(wildcard src/*.cpp src/pg/*.cpp src/core/*.cpp)
OBJS = $(SRCS:.cpp=.o)

PG_CONFIG ?= pg_config

# -MMD -MP: PGXS tracks no header dependencies for C++ sources, and an object
# built against an older header (a struct that gained a field) is memory
# corruption waiting to happen. The .d files fix that.
PG_CPPFLAGS = -I$(srcdir)/include -I$(srcdir)/src -MMD -MP
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

-include $(SRCS:.cpp=.d)
EXTRA_CLEAN = $(SRCS:.cpp=.d)
