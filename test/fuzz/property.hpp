// Shared by the libFuzzer targets of test/fuzz: PROPERTY(cond, fmt, ...)
// prints which documented property of src/core a generated input broke,
// with the values involved, and aborts, so libFuzzer keeps the input as a
// crash artefact. Plain C++ otherwise; each target is one translation unit
// linked with the sources of src/core.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace booking_fuzz {

[[noreturn]] inline void
fail(const char *file, int line, const char *condition, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

inline void
fail(const char *file, int line, const char *condition, const char *format, ...)
{
	std::fprintf(stderr, "\n==booking-fuzz== property violated at %s:%d: %s\n==booking-fuzz== ", file, line,
				 condition);
	va_list args;
	va_start(args, format);
	std::vfprintf(stderr, format, args);
	va_end(args);
	std::fprintf(stderr, "\n");
	std::fflush(stderr);
	std::abort();
}

}  // namespace booking_fuzz

#define PROPERTY(cond, ...)                                                   \
	do {                                                                      \
		if (!(cond))                                                          \
			::booking_fuzz::fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)
