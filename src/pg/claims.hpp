// The holder of a browser's request (booking.holder_claim). PostgREST runs
// each request as one transaction that sets request.jwt.claims to the
// verified JWT's claims; when booking.holder_claim names one of them (such
// as sub), every customer function takes its holder from that claim instead
// of trusting the argument, which a browser chooses. Without request claims
// (a trusted backend, pgbench, an organiser's session) nothing changes.
#pragma once

#include "pg/postgres.hpp"

#include <optional>
#include <string>

namespace booking::pg {

// Define booking.holder_claim (before MarkGUCPrefixReserved).
void
define_holder_claim();

// The holder a customer call acts for, given its holder argument: the
// argument itself unless booking.holder_claim is set and the transaction
// carries request claims; then the claim's value (a NULL argument means the
// claim), PT403 for a different holder, and 42501 when the claim is missing
// and the call needs a holder (needed) or one was given; 42501 likewise for
// a request of PostgREST before 9 (request.jwt.claim.role, no JSON claims).
std::optional<std::string>
request_holder(std::optional<std::string> given, bool needed);

// arg_text() of a holder argument, then request_holder().
std::optional<std::string>
holder_arg(FunctionCallInfo fcinfo, int n, bool needed);

}  // namespace booking::pg
