#include "pg/fmgr.hpp"

#include "core/error.hpp"

namespace booking::pg {

std::optional<int64_t>
arg_int8(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? std::nullopt : std::optional<int64_t>(PG_GETARG_INT64(n));
}

std::optional<int32_t>
arg_int4(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? std::nullopt : std::optional<int32_t>(PG_GETARG_INT32(n));
}

std::optional<bool>
arg_bool(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? std::nullopt : std::optional<bool>(PG_GETARG_BOOL(n));
}

std::optional<std::string>
arg_text(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		return std::nullopt;
	::text *t = guard([fcinfo, n] { return PG_GETARG_TEXT_PP(n); });
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::optional<IdArray>
arg_int8_array(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		return std::nullopt;
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int count = 0, ndims = 0;
	guard([fcinfo, n, &elems, &nulls, &count, &ndims] {
		ArrayType *array = PG_GETARG_ARRAYTYPE_P(n);
		ndims = ARR_NDIM(array);
		deconstruct_array(array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &count);
	});
	IdArray out;
	out.ndims = ndims;
	out.ids.reserve(std::size_t(count));
	for (int i = 0; i < count; i++) {
		if (nulls[i])
			out.has_null = true;
		else
			out.ids.push_back(DatumGetInt64(elems[i]));
	}
	return out;
}

std::optional<TimestampTz>
arg_interval_end(FunctionCallInfo fcinfo, int n, TimestampTz from)
{
	if (PG_ARGISNULL(n))
		return std::nullopt;
	Datum interval = PG_GETARG_DATUM(n);
	try {
		return guard([from, interval] {
			return DatumGetTimestampTz(
				DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(from), interval));
		});
	} catch (const PgError &e) {
		// An interval that overflows the calendar is a bad argument, not a
		// datetime error of the server's own.
		if (e.data()->sqlerrcode == ERRCODE_DATETIME_VALUE_OUT_OF_RANGE)
			throw Error(SqlState::InvalidParameterValue, "hold_for is out of range");
		throw;
	}
}

Datum
composite(FunctionCallInfo fcinfo, std::initializer_list<Param> values)
{
	Datum datums[16];
	bool nulls[16];
	if (values.size() > 16)
		throw Error(SqlState::Internal, "booking: result has too many columns");
	int i = 0;
	for (const Param &p : values) {
		datums[i] = p.value;
		nulls[i] = p.null;
		i++;
	}
	int ncolumns = i;
	return guard([fcinfo, &datums, &nulls, ncolumns] {
		// The result's descriptor, looked up and blessed once per call site:
		// it lives as long as the FmgrInfo (fn_mcxt), like a set-returning
		// function's.
		TupleDesc desc = (TupleDesc) fcinfo->flinfo->fn_extra;
		if (desc == nullptr) {
			TupleDesc found;
			if (get_call_result_type(fcinfo, nullptr, &found) != TYPEFUNC_COMPOSITE)
				elog(ERROR, "booking: function must return a composite type");
			if (found->natts != ncolumns)
				elog(ERROR, "booking: result type has %d columns, expected %d", found->natts, ncolumns);
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
			desc = BlessTupleDesc(CreateTupleDescCopy(found));
			MemoryContextSwitchTo(old);
			fcinfo->flinfo->fn_extra = desc;
		}
		return HeapTupleGetDatum(heap_form_tuple(desc, datums, nulls));
	});
}

Datum
int8_array(const std::vector<int64_t> &values)
{
	return int8_array_param(values).value;
}

}  // namespace booking::pg
