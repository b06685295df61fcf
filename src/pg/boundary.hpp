// The C/C++ boundary. Two rules, both enforced here and nowhere else:
//
// 1. No C++ exception crosses a PostgreSQL frame. Every SQL-callable symbol
//    (src/entry.cpp) is a one-line C function that hands a C++ body to run(),
//    which catches everything and reports it with ereport(), keeping the
//    SQLSTATE of a booking::Error and the whole ErrorData of a PostgreSQL
//    error.
// 2. No ereport(ERROR) longjmp crosses a live C++ object. C++ bodies call
//    PostgreSQL functions that may raise only through guard(), which catches
//    the longjmp with PG_TRY in a frame that owns no C++ object, copies the
//    error and throws it as PgError, so destructors run on the way out. The
//    lambda given to guard() must itself own nothing with a destructor.
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <type_traits>

namespace booking::pg {

// A PostgreSQL error caught by guard(), on its way to run() to be re-raised.
class PgError : public std::exception {
public:
	explicit PgError(ErrorData *data) noexcept : data_(data) {}
	const char *
	what() const noexcept override
	{
		return data_ && data_->message ? data_->message : "PostgreSQL error";
	}
	ErrorData *
	data() const noexcept
	{
		return data_;
	}

private:
	ErrorData *data_;  // allocated in the memory context of the SQL call (see run())
};

// Memory context in which guard() keeps caught errors: the caller's context
// of the SQL call in progress, which outlives SPI and every C++ frame.
extern MemoryContext error_context;

// Throw the error held in data (already copied out of ErrorContext).
[[noreturn]] void
throw_pg_error(ErrorData *data);

// Copy the error being handled and leave PostgreSQL's error state clean.
ErrorData *
take_error(MemoryContext during) noexcept;

// Run f in a PG_TRY frame of its own and return the error it raised, if any.
// Kept out of line so that no variable of the caller lives in the frame
// that longjmp returns to.
template <typename F>
__attribute__((noinline)) ErrorData *
catch_pg_error(F &f) noexcept
{
	MemoryContext during = CurrentMemoryContext;
	ErrorData *volatile caught = nullptr;
	PG_TRY();
	{
		f();
	}
	PG_CATCH();
	{
		caught = take_error(during);
	}
	PG_END_TRY();
	return caught;
}

// Run f, which calls PostgreSQL functions that may ereport(ERROR); an error
// comes back as a PgError exception.
template <typename F>
auto
guard(F &&f) -> decltype(f())
{
	using Result = decltype(f());
	if constexpr (std::is_void_v<Result>) {
		if (ErrorData *error = catch_pg_error(f))
			throw_pg_error(error);
	} else {
		Result result{};
		auto call = [&result, &f] { result = f(); };
		if (ErrorData *error = catch_pg_error(call))
			throw_pg_error(error);
		return result;
	}
}

// CHECK_FOR_INTERRUPTS for C++ loops: a cancel or terminate arrives as PgError.
inline void
check_for_interrupts()
{
	if (unlikely(INTERRUPTS_PENDING_CONDITION()))
		guard([] { ProcessInterrupts(); });
}

// Body of a SQL-callable function.
using Body = Datum (*)(FunctionCallInfo);

// Call body and report whatever it throws as a PostgreSQL error.
Datum
run(FunctionCallInfo fcinfo, Body body);

// The same for C++ called from a C frame that is not a SQL function (the
// background worker): body(arg), errors reported with ereport.
Datum
run_detached(Datum (*body)(void *), void *arg);

}  // namespace booking::pg
