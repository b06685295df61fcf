// guard() (src/pg/boundary.hpp) without a server: PostgreSQL's error stack
// is its two globals and sigsetjmp/siglongjmp, defined here, so an ereport
// is a siglongjmp to *PG_exception_stack as errfinish() makes it.
//
// What it proves: a C++ exception thrown inside a guarded lambda comes out
// of guard() as itself (before, catch_pg_error() was noexcept and the throw
// called std::terminate(), which aborted the backend and restarted the
// cluster), PostgreSQL's error stack is as it was, and a PostgreSQL error
// still comes out as PgError.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "pg/boundary.hpp"

extern "C" {
sigjmp_buf *PG_exception_stack = nullptr;
ErrorContextCallback *error_context_stack = nullptr;
MemoryContext CurrentMemoryContext = nullptr;

void
pg_re_throw(void)
{
	abort();  // no error is re-thrown past guard() here
}
}

namespace booking::pg {

MemoryContext error_context = nullptr;

namespace {
ErrorData the_error;
int errors_taken = 0;
}  // namespace

ErrorData *
take_error(MemoryContext during) noexcept
{
	errors_taken++;
	CurrentMemoryContext = during;
	return &the_error;
}

void
throw_pg_error(ErrorData *data)
{
	throw PgError(data);
}

namespace {

// ereport(ERROR) as errfinish() ends it.
[[noreturn]] void
raise_pg_error()
{
	siglongjmp(*PG_exception_stack, 1);
}

// Memory contexts are only compared, never used.
MemoryContext
fake_context(int n)
{
	return reinterpret_cast<MemoryContext>(std::uintptr_t(n) * 16);
}

class Boundary : public ::testing::Test {
protected:
	void
	SetUp() override
	{
		PG_exception_stack = nullptr;
		error_context_stack = nullptr;
		CurrentMemoryContext = fake_context(1);
		errors_taken = 0;
	}
	void
	TearDown() override
	{
		// Whatever happened inside, PostgreSQL's error stack is as it was.
		EXPECT_EQ(PG_exception_stack, nullptr);
		EXPECT_EQ(error_context_stack, nullptr);
		EXPECT_EQ(CurrentMemoryContext, fake_context(1));
	}
};

TEST_F(Boundary, ValueComesBack)
{
	EXPECT_EQ(guard([] { return 42; }), 42);
	EXPECT_EQ(errors_taken, 0);
}

TEST_F(Boundary, PostgresErrorComesOutAsPgError)
{
	EXPECT_THROW(guard([] { raise_pg_error(); }), PgError);
	EXPECT_THROW(guard([]() -> int { raise_pg_error(); }), PgError);
	EXPECT_EQ(errors_taken, 2);
}

TEST_F(Boundary, CppExceptionComesOutAsItself)
{
	// Before, this called std::terminate(): catch_pg_error() is noexcept.
	try {
		guard([] { throw std::runtime_error("thrown inside guard"); });
		ADD_FAILURE() << "guard() did not throw";
	} catch (const std::runtime_error &e) {
		EXPECT_EQ(std::string(e.what()), "thrown inside guard");
	}
	EXPECT_THROW(guard([]() -> int { throw std::logic_error("with a result"); }), std::logic_error);
	EXPECT_EQ(errors_taken, 0);
}

TEST_F(Boundary, CppExceptionAfterContextSwitchRestoresContext)
{
	EXPECT_THROW(guard([] {
					 CurrentMemoryContext = fake_context(2);
					 throw std::runtime_error("switched");
				 }),
				 std::runtime_error);
	// TearDown: CurrentMemoryContext is the caller's again.
}

TEST_F(Boundary, CppExceptionThroughNestedPgTry)
{
	// A PG_TRY inside the lambda that a C++ exception leaves without its
	// PG_END_TRY: the enclosing guard() restores the error stack.
	EXPECT_THROW(guard([] {
					 PG_TRY();
					 {
						 throw std::runtime_error("through a nested PG_TRY");
					 }
					 PG_END_TRY();
				 }),
				 std::runtime_error);
	// And the next error is caught by the next guard, not by a dead frame.
	EXPECT_THROW(guard([] { raise_pg_error(); }), PgError);
}

TEST_F(Boundary, NestedGuards)
{
	int inner_errors = 0;
	guard([&inner_errors] {
		try {
			guard([] { raise_pg_error(); });
		} catch (const PgError &) {
			inner_errors++;
		}
		try {
			guard([] { throw std::runtime_error("inner"); });
		} catch (const std::runtime_error &) {
			inner_errors++;
		}
	});
	EXPECT_EQ(inner_errors, 2);
}

TEST_F(Boundary, DestructorFormDropsCppException)
{
	auto throwing = [] { throw std::runtime_error("dropped"); };
	EXPECT_EQ(catch_pg_error(throwing), nullptr);
	auto failing = [] { raise_pg_error(); };
	EXPECT_EQ(catch_pg_error(failing), &the_error);
}

}  // namespace
}  // namespace booking::pg
