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

// The role that called the innermost AsOwner function, or InvalidOid.
Oid caller = InvalidOid;

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
	outer_caller_ = caller;
	caller = saved_user_;
	if (saved_user_ != owner) {
		SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
		switched_ = true;
	}
}

AsOwner::~AsOwner()
{
	if (switched_)
		SetUserIdAndSecContext(saved_user_, saved_context_);
	caller = outer_caller_;
}

bool
caller_is_organiser()
{
	Oid who = OidIsValid(caller) ? caller : GetUserId();
	return guard([who] {
		Oid argtypes[1] = {INT8OID};
		// Qualified: found in schema booking whatever the search path.
		Oid cancel = LookupFuncName(list_make2(makeString(pstrdup("booking")), makeString(pstrdup("cancel"))), 1,
									argtypes, false);
		return DatumGetBool(DirectFunctionCall3(has_function_privilege_id_id, ObjectIdGetDatum(who),
												ObjectIdGetDatum(cancel), CStringGetTextDatum("EXECUTE")));
	});
}

}  // namespace booking::pg
