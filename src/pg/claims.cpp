#include "pg/claims.hpp"

#include "core/error.hpp"
#include "pg/boundary.hpp"
#include "pg/fmgr.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

namespace booking::pg {

namespace {

// The claim that names the holder; empty: off.
char *holder_claim = nullptr;

// What a claim's value is, copied out of the JSON.
struct ClaimValue {
	char *text;   // palloc'd; nullptr when the claim is absent, JSON null or empty
	bool usable;  // false for an object or array
};

// The claim named key of the JSON object claims.
ClaimValue
find_claim(const char *claims, const char *key)
{
	return guard([claims, key] {
		ClaimValue out{nullptr, true};
		Jsonb *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
		if (!JB_ROOT_IS_OBJECT(jb))
			return out;
		JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, int(strlen(key)), nullptr);
		if (v == nullptr)
			return out;
		switch (v->type) {
		case jbvString:
			if (v->val.string.len > 0)
				out.text = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			out.text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			break;
		case jbvBool:
			out.text = pstrdup(v->val.boolean ? "true" : "false");
			break;
		case jbvNull:
			break;
		default:
			out.usable = false;
		}
		return out;
	});
}

}  // namespace

void
define_holder_claim()
{
	// PGC_SUSET: set by a superuser in postgresql.conf or with ALTER
	// DATABASE / ALTER ROLE ... SET; never by the customer it binds, who
	// would otherwise SET it off in his own transaction.
	DefineCustomStringVariable(
		"booking.holder_claim", gettext_noop("Claim of request.jwt.claims that is the holder of customer calls."),
		gettext_noop("Empty: off. When set and the transaction carries request.jwt.claims (PostgREST), customer "
					 "functions take holder from that claim."),
		&holder_claim, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

std::optional<std::string>
request_holder(std::optional<std::string> given, bool needed)
{
	if (holder_claim == nullptr || *holder_claim == '\0')
		return given;
	const char *claims = guard([] { return GetConfigOption("request.jwt.claims", true, false); });
	std::string name = holder_claim;
	if (claims == nullptr || *claims == '\0') {
		// PostgREST before 9 sets request.jwt.claim.<name> per claim, role
		// always, and no request.jwt.claims: a browser's request, not a
		// trusted backend, whose holder must not be the argument.
		const char *legacy = guard([] { return GetConfigOption("request.jwt.claim.role", true, false); });
		if (legacy == nullptr || *legacy == '\0')
			return given;
		if (needed || given)
			throw Error(SqlState::InsufficientPrivilege, "this request carries no request.jwt.claims",
						"It sets request.jwt.claim.role, as PostgREST before version 9 does; booking.holder_claim "
						"reads request.jwt.claims (PostgREST 9 or later).",
						"Upgrade PostgREST.");
		return std::nullopt;
	}
	ClaimValue claim = find_claim(claims, name.c_str());
	if (!claim.usable)
		throw Error(SqlState::InsufficientPrivilege,
					"claim \"" + name + "\" of this request is not a string or a number",
					"booking.holder_claim names the claim of request.jwt.claims that identifies the holder.");
	if (claim.text == nullptr) {
		if (needed || given)
			throw Error(SqlState::InsufficientPrivilege, "this request carries no \"" + name + "\" claim",
						"A signed-in user's request carries the claim that booking.holder_claim names.",
						"Sign in: this call acts for the holder the request's claim names.");
		return std::nullopt;
	}
	std::string holder = claim.text;
	if (given && *given != holder)
		throw Error(SqlState::Forbidden, "holder does not match the holder of this request (claim \"" + name + "\")",
					"", "Leave holder out (NULL): it is taken from the request's claim.");
	return holder;
}

std::optional<std::string>
holder_arg(FunctionCallInfo fcinfo, int n, bool needed)
{
	return request_holder(arg_text(fcinfo, n), needed);
}

}  // namespace booking::pg
