#include "pg/caller.hpp"

#include "pg/boundary.hpp"

extern "C" {
#include "catalog/pg_proc.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/syscache.h"
}

namespace booking::pg {

namespace {

// Whether the role that called the innermost AsOwner function is an
// organiser: 1 or 0, -1 outside any.
signed char organiser = -1;

bool
may_cancel(Oid role)
{
	return guard([role] {
		Oid argtypes[1] = {INT8OID};
		// Qualified: found in schema booking whatever the search path.
		Oid cancel = LookupFuncName(list_make2(makeString(pstrdup("booking")), makeString(pstrdup("cancel"))), 1,
									argtypes, false);
		return DatumGetBool(DirectFunctionCall3(has_function_privilege_id_id, ObjectIdGetDatum(role),
												ObjectIdGetDatum(cancel), CStringGetTextDatum("EXECUTE")));
	});
}

}  // namespace

AsOwner::AsOwner(FunctionCallInfo fcinfo)
{
	Oid function = fcinfo->flinfo->fn_oid;
	Oid owner = guard([function] {
		HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for function %u", function);
		Oid proowner = ((Form_pg_proc) GETSTRUCT(tuple))->proowner;
		ReleaseSysCache(tuple);
		return proowner;
	});
	GetUserIdAndSecContext(&saved_user_, &saved_context_);
	// Before anything changes: if this throws, nothing is to be restored.
	bool caller_organiser = may_cancel(saved_user_);
	outer_organiser_ = organiser;
	organiser = caller_organiser ? 1 : 0;
	if (saved_user_ != owner) {
		SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
		switched_ = true;
	}
}

AsOwner::~AsOwner()
{
	if (switched_)
		SetUserIdAndSecContext(saved_user_, saved_context_);
	organiser = outer_organiser_;
}

bool
caller_is_organiser()
{
	return organiser >= 0 ? organiser == 1 : may_cancel(GetUserId());
}

}  // namespace booking::pg
