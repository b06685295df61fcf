// Who called. release, confirm and extend_hold are SECURITY INVOKER (since
// 1.4) so that their code can tell who called them before it switches to the
// function's owner for the rest of the call, as SECURITY DEFINER would: a
// booking made without a holder may be changed only by an organiser.
#pragma once

#include "pg/postgres.hpp"

namespace booking::pg {

// Run the rest of a SQL function as its owner, like SECURITY DEFINER does
// (SECURITY_LOCAL_USERID_CHANGE: no SET ROLE inside), after noting whether
// the role that called it is an organiser, for caller_is_organiser(): that
// is decided here, once, by the caller's role, and not later from a role
// remembered for the innermost call. Restores both on the way out,
// also when an error unwinds the call (PostgreSQL's abort would restore the
// user as well). A function that is SECURITY DEFINER already runs as its
// owner: then the owner is the caller and nothing switches.
class AsOwner {
public:
	explicit AsOwner(FunctionCallInfo fcinfo);
	~AsOwner();
	AsOwner(const AsOwner &) = delete;
	AsOwner &operator=(const AsOwner &) = delete;

private:
	Oid saved_user_ = InvalidOid;
	int saved_context_ = 0;
	signed char outer_organiser_ = -1;
	bool switched_ = false;
};

// Whether the role that called the innermost AsOwner function, as noted
// when it started (outside one: the current user), is an organiser: a role
// that may execute booking.cancel(bigint), through its own grant, a role it inherits from,
// PUBLIC, or as a superuser. Whoever may cancel any booking may also change
// one that has no holder to check.
bool
caller_is_organiser();

}  // namespace booking::pg
