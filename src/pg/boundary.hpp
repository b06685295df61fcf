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
//    lambda given to guard() must itself own nothing with a destructor, and
//    guard() refuses at compile time a result type that has one.
//
// A C++ exception thrown inside guard()'s lambda is caught in a frame of its
// own inside the PG_TRY block (call_catching()) and thrown again once that
// block has ended, so it never unwinds through the frame that called
// sigsetjmp, and it never reaches a noexcept frame, where it would call
// std::terminate() and abort() the backend, which restarts every session of
// the cluster. Requiring noexcept lambdas instead would not prevent that:
// a throw from anything a noexcept lambda calls terminates just the same.
// If it unwinds through a PG_TRY nested inside the lambda (read.cpp and
// write.cpp have one around code that throws nothing), that block's
// PG_FINALLY is skipped; the enclosing PG_END_TRY restores the error stack,
// and the abort that reports the exception releases what was left (an
// active snapshot).
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

// Run f, keeping in thrown whatever C++ exception it throws. Called inside
// catch_pg_error()'s PG_TRY block: the handler lives in this frame, so the
// exception stops here, above the frame that called sigsetjmp. Nothing in
// the handler calls PostgreSQL (an ereport would longjmp out of it).
template <typename F>
__attribute__((noinline)) void
call_catching(F &f, std::exception_ptr &thrown) noexcept
{
	try {
		f();
	} catch (...) {
		thrown = std::current_exception();
	}
}

// Run f in a PG_TRY frame of its own and return the error it raised, if any;
// a C++ exception it threw is left in thrown (see the top of this file).
// Kept out of line so that no variable of the caller lives in the frame
// that longjmp returns to; thrown lives in the caller's.
template <typename F>
__attribute__((noinline)) ErrorData *
catch_pg_error(F &f, std::exception_ptr &thrown) noexcept
{
	MemoryContext during = CurrentMemoryContext;
	ErrorData *volatile caught = nullptr;
	PG_TRY();
	{
		call_catching(f, thrown);
	}
	PG_CATCH();
	{
		caught = take_error(during);
	}
	PG_END_TRY();
	if (thrown)
		MemoryContextSwitchTo(during);
	return caught;
}

// The same for destructors, which must not throw: the caller frees the
// error it gets back, and a C++ exception of f is dropped.
template <typename F>
ErrorData *
catch_pg_error(F &f) noexcept
{
	std::exception_ptr dropped;
	return catch_pg_error(f, dropped);
}

// Run f, which calls PostgreSQL functions that may ereport(ERROR); an error
// comes back as a PgError exception, and a C++ exception f throws comes out
// as itself once the PostgreSQL frame is gone.
template <typename F>
auto
guard(F &&f) -> decltype(f())
{
	using Result = decltype(f());
	// The result is built inside the PostgreSQL frame: a longjmp would skip
	// its destructor. Return ids, Datums and pointers; copy into C++ after.
	static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
				  "guard(): the lambda's result must own nothing (no destructor)");
	std::exception_ptr thrown;
	if constexpr (std::is_void_v<Result>) {
		if (ErrorData *error = catch_pg_error(f, thrown))
			throw_pg_error(error);
		if (thrown)
			std::rethrow_exception(thrown);
	} else {
		Result result{};
		auto call = [&result, &f] { result = f(); };
		if (ErrorData *error = catch_pg_error(call, thrown))
			throw_pg_error(error);
		if (thrown)
			std::rethrow_exception(thrown);
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
