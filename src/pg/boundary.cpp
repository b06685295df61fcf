#include "pg/boundary.hpp"

#include "core/error.hpp"
#include "pg/write.hpp"

#include <cstring>
#include <new>

namespace booking::pg {

MemoryContext error_context = nullptr;

void
throw_pg_error(ErrorData *data)
{
	throw PgError(data);
}

ErrorData *
take_error(MemoryContext during) noexcept
{
	// CopyErrorData must not run in ErrorContext, which FlushErrorState resets.
	MemoryContextSwitchTo(error_context ? error_context : during);
	ErrorData *data = CopyErrorData();
	FlushErrorState();
	MemoryContextSwitchTo(during);
	return data;
}

namespace {

// What run() learnt from a C++ exception, copied into plain storage inside
// the catch handler: nothing there may call PostgreSQL, since an ereport
// would longjmp out of a live handler. Messages longer than the buffers are
// cut (an argument can be a megabyte of text).
struct Report {
	int sqlerrcode;
	char message[512];
	char detail[512];
	char hint[512];
};

void
copy_text(char (&to)[512], const char *from) noexcept
{
	std::strncpy(to, from, sizeof(to) - 1);
	to[sizeof(to) - 1] = '\0';
}

int
encode_sqlstate(const char *code) noexcept
{
	return MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
}

}  // namespace

Datum
run(FunctionCallInfo fcinfo, Body body)
{
	struct Call {
		Body body;
		FunctionCallInfo fcinfo;
	} call{body, fcinfo};
	return run_detached([](void *arg) {
		auto *c = static_cast<Call *>(arg);
		return c->body(c->fcinfo);
	}, &call);
}

Datum
run_detached(Datum (*body)(void *), void *arg)
{
	static Report report;
	ErrorData *pg_error = nullptr;
	bool failed = false;
	MemoryContext outer_error_context = error_context;
	Datum result = 0;

	error_context = CurrentMemoryContext;
	// A take marked as ending with its statement (pg/write.hpp) is so no
	// longer once another call runs: that one may wait for locks.
	forget_statement_writer();
	try {
		result = body(arg);
	} catch (const PgError &e) {
		pg_error = e.data();
		failed = true;
	} catch (const Error &e) {
		report.sqlerrcode = encode_sqlstate(sqlstate_code(e.state()));
		copy_text(report.message, e.what());
		copy_text(report.detail, e.detail().c_str());
		copy_text(report.hint, e.hint().c_str());
		failed = true;
	} catch (const std::bad_alloc &) {
		report.sqlerrcode = ERRCODE_OUT_OF_MEMORY;
		copy_text(report.message, "out of memory");
		report.detail[0] = report.hint[0] = '\0';
		failed = true;
	} catch (const std::exception &e) {
		report.sqlerrcode = ERRCODE_INTERNAL_ERROR;
		copy_text(report.message, e.what());
		report.detail[0] = report.hint[0] = '\0';
		failed = true;
	} catch (...) {
		report.sqlerrcode = ERRCODE_INTERNAL_ERROR;
		copy_text(report.message, "unknown C++ exception");
		report.detail[0] = report.hint[0] = '\0';
		failed = true;
	}
	error_context = outer_error_context;

	// Every C++ object of the call is gone: now PostgreSQL may longjmp.
	if (pg_error)
		ReThrowError(pg_error);
	if (failed)
		ereport(ERROR, (errcode(report.sqlerrcode), errmsg("%s", report.message),
						report.detail[0] ? errdetail("%s", report.detail) : 0,
						report.hint[0] ? errhint("%s", report.hint) : 0));
	return result;
}

}  // namespace booking::pg
