// Reading SQL arguments and building composite results for C++ bodies.
#pragma once

#include "pg/spi.hpp"

#include <algorithm>
#include <optional>
#include <vector>
#include <string>

namespace booking::pg {

std::optional<int64_t>
arg_int8(FunctionCallInfo fcinfo, int n);
std::optional<int32_t>
arg_int4(FunctionCallInfo fcinfo, int n);
std::optional<bool>
arg_bool(FunctionCallInfo fcinfo, int n);
std::optional<std::string>
arg_text(FunctionCallInfo fcinfo, int n);

// A bigint[] argument: its elements (NULL ones left out), dimensions and
// whether any element was NULL; nullopt when the argument is NULL.
struct IdArray {
	std::vector<int64_t> ids;
	int ndims = 0;
	bool has_null = false;
};
std::optional<IdArray>
arg_int8_array(FunctionCallInfo fcinfo, int n);

// from + the interval argument n, or nullopt when the argument is NULL.
std::optional<TimestampTz>
arg_interval_end(FunctionCallInfo fcinfo, int n, TimestampTz from);

// The function's composite result type built from values, in the caller's
// memory context (call it after the SPI scope has ended).
Datum
composite(FunctionCallInfo fcinfo, std::initializer_list<Param> values);

// Return n rows as the function's materialized set (RETURNS SETOF a
// composite); row(i) gives the column values of row i.
template <typename RowFn>
Datum
materialize(FunctionCallInfo fcinfo, std::size_t n, RowFn row)
{
	guard([fcinfo] { InitMaterializedSRF(fcinfo, 0); });
	auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	for (std::size_t i = 0; i < n; i++) {
		std::vector<Param> values = row(i);
		Datum datums[8];
		bool nulls[8];
		std::size_t ncolumns = std::min<std::size_t>(values.size(), 8);
		for (std::size_t c = 0; c < ncolumns; c++) {
			datums[c] = values[c].value;
			nulls[c] = values[c].null;
		}
		guard([rsinfo, &datums, &nulls] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, datums, nulls); });
	}
	return Datum(0);
}

// A bigint[] Datum.
Datum
int8_array(const std::vector<int64_t> &values);

// Transaction start time: the now() that hold expiry is checked against.
inline TimestampTz
transaction_now()
{
	return GetCurrentTransactionStartTimestamp();
}

}  // namespace booking::pg
