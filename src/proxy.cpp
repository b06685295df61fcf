// The customer calls of booking_proxy (decrement_ticket, register, the seat,
// slot, booking and order calls): each settles its holder as a node would
// (booking.holder_claim, pg/claims.hpp) and hands the call, otherwise as it
// came, to the PL/Proxy function of the same name with "_on" appended, in
// the same schema, with the same argument types, which runs it on the node
// that owns the id.
//
// booking_proxy 1.1 and 1.2 did this with a SQL function per call
// (SELECT * FROM booking.X_on(.., booking.claimed_holder(holder, true), ..)).
// PostgreSQL before 18 plans a SQL function's body again in every query that
// calls it, a prepared one too: that was about a fifth of the proxy's CPU
// per purchase (W2 through PL/Proxy, bench/README.md). Here the target is
// found once per query and called directly; being C, it resolves no name
// through search_path. The X_on functions are not executable by PUBLIC: a
// direct fmgr call checks no privilege, as the executor would, and the
// caller's privilege was checked on X itself.
#include "bodies.hpp"
#include "pg/boundary.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace booking {

namespace {

// What a query's call of X keeps between its rows (fn_extra): X_on, ready
// to call, and where the holder is among the arguments.
struct Forward {
	FmgrInfo target;
	int holder;
};

// X_on for the function being called, in fn_mcxt; raises when the function
// is not a booking_proxy customer call (no holder argument of type text, a
// set or STRICT), when there is no X_on with the same argument types, or
// when X_on returns something else.
Forward *
find_forward(FunctionCallInfo fcinfo)
{
	return pg::guard([fcinfo] {
		FmgrInfo *flinfo = fcinfo->flinfo;
		HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(flinfo->fn_oid));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for function %u", flinfo->fn_oid);
		auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
		Oid *types = nullptr;
		char **names = nullptr;
		char *modes = nullptr;
		int nargs = get_func_arg_info(tuple, &types, &names, &modes);
		int holder = -1;
		for (int i = 0; names != nullptr && i < nargs; i++)
			if (strcmp(names[i], "holder") == 0 && types[i] == TEXTOID)
				holder = i;
		char *schema = get_namespace_name(proc->pronamespace);
		char *target = psprintf("%s_on", NameStr(proc->proname));
		Oid result_type = proc->prorettype;
		bool returns_set = proc->proretset, strict = proc->proisstrict;
		ReleaseSysCache(tuple);
		if (holder < 0 || modes != nullptr || nargs != fcinfo->nargs || returns_set || strict)
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							errmsg("booking_proxy_forward serves booking_proxy's customer calls only"),
							errdetail("A function returning one row, not STRICT, with a text argument named holder "
									  "and no OUT arguments.")));
		Oid target_oid =
			LookupFuncName(list_make2(makeString(schema), makeString(target)), nargs, types, false);
		// The same result as the caller's, one row, called with NULLs too:
		// a later script that changed one and not the other is refused
		// here rather than handing back a row of another type.
		if (get_func_rettype(target_oid) != result_type || get_func_retset(target_oid) ||
			func_strict(target_oid))
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							errmsg("%s.%s does not return what the function calling it returns", schema, target),
							errdetail("booking_proxy_forward needs it to return one row of the same type and to "
									  "be not STRICT.")));
		auto *forward = static_cast<Forward *>(MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(Forward)));
		fmgr_info_cxt(target_oid, &forward->target, flinfo->fn_mcxt);
		forward->holder = holder;
		return forward;
	});
}

}  // namespace

Datum
proxy_forward(FunctionCallInfo fcinfo)
{
	auto *forward = static_cast<Forward *>(fcinfo->flinfo->fn_extra);
	if (forward == nullptr) {
		forward = find_forward(fcinfo);
		fcinfo->flinfo->fn_extra = forward;
	}
	// PT403 / 42501 for a browser's request that names another holder or
	// carries no claim, as on a node (pg/claims.hpp).
	pg::Param holder = pg::text_param(pg::holder_arg(fcinfo, forward->holder, true));
	int nargs = fcinfo->nargs;
	auto *call = static_cast<FunctionCallInfo>(
		pg::guard([nargs] { return palloc0(SizeForFunctionCallInfo(nargs)); }));
	InitFunctionCallInfoData(*call, &forward->target, nargs, fcinfo->fncollation, nullptr, nullptr);
	for (int i = 0; i < nargs; i++)
		call->args[i] = fcinfo->args[i];
	call->args[forward->holder].value = holder.value;
	call->args[forward->holder].isnull = holder.null;
	Datum result = pg::guard([call] { return FunctionCallInvoke(call); });
	fcinfo->isnull = call->isnull;
	return result;
}

}  // namespace booking
