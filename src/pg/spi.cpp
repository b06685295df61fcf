#include "pg/spi.hpp"

#include "booking/error.hpp"

namespace booking::pg {

Spi::Spi()
{
	guard([] {
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "booking: SPI_connect failed");
	});
}

Spi::~Spi()
{
	// SPI_finish reports misuse with a return code, never with ereport.
	SPI_finish();
}

SubTransaction::SubTransaction() : context_(CurrentMemoryContext), owner_(CurrentResourceOwner)
{
	guard([] { BeginInternalSubTransaction(nullptr); });
	MemoryContextSwitchTo(context_);
	open_ = true;
}

void
SubTransaction::commit()
{
	guard([] { ReleaseCurrentSubTransaction(); });
	restore();
}

SubTransaction::~SubTransaction()
{
	if (!open_)
		return;
	// As PL/pgSQL does after catching an error; an error here (none is
	// expected) must not longjmp through this destructor.
	auto rollback = [] { RollbackAndReleaseCurrentSubTransaction(); };
	if (ErrorData *error = catch_pg_error(rollback))
		FreeErrorData(error);
	restore();
}

void
SubTransaction::restore() noexcept
{
	open_ = false;
	MemoryContextSwitchTo(context_);
	CurrentResourceOwner = owner_;
}

Param
int8_param(std::optional<int64_t> value)
{
	return {INT8OID, value ? Int64GetDatum(*value) : Datum(0), !value};
}

Param
int4_param(std::optional<int32_t> value)
{
	return {INT4OID, value ? Int32GetDatum(*value) : Datum(0), !value};
}

Param
bool_param(bool value)
{
	return {BOOLOID, BoolGetDatum(value), false};
}

Param
text_param(const std::optional<std::string> &value)
{
	if (!value)
		return {TEXTOID, Datum(0), true};
	const char *data = value->data();
	int len = int(value->size());
	return {TEXTOID, guard([data, len] { return PointerGetDatum(cstring_to_text_with_len(data, len)); }), false};
}

Param
text_param(const char *value)
{
	return {TEXTOID, guard([value] { return CStringGetTextDatum(value); }), false};
}

Param
timestamptz_param(std::optional<TimestampTz> value)
{
	return {TIMESTAMPTZOID, value ? TimestampTzGetDatum(*value) : Datum(0), !value};
}

Param
int8_array_param(const std::vector<int64_t> &values)
{
	const int64_t *data = values.data();
	int n = int(values.size());
	Datum array = guard([data, n] {
		Datum *elems = (Datum *) palloc(sizeof(Datum) * (n > 0 ? n : 1));
		for (int i = 0; i < n; i++)
			elems[i] = Int64GetDatum(data[i]);
		return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	});
	return {INT8ARRAYOID, array, false};
}

Param
int4_array_param(const std::vector<int32_t> &values)
{
	const int32_t *data = values.data();
	int n = int(values.size());
	Datum array = guard([data, n] {
		Datum *elems = (Datum *) palloc(sizeof(Datum) * (n > 0 ? n : 1));
		for (int i = 0; i < n; i++)
			elems[i] = Int32GetDatum(data[i]);
		return PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	});
	return {INT4ARRAYOID, array, false};
}

Datum
Row::value(int column, bool *isnull) const
{
	Datum d = SPI_getbinval(tuple_, desc_, column, isnull);
	if (SPI_result == SPI_ERROR_NOATTRIBUTE)
		throw Error(SqlState::Internal, "booking: result has no column " + std::to_string(column));
	return d;
}

std::optional<int64_t>
Columns::int8(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	return isnull ? std::nullopt : std::optional<int64_t>(DatumGetInt64(d));
}

std::optional<int32_t>
Columns::int4(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	return isnull ? std::nullopt : std::optional<int32_t>(DatumGetInt32(d));
}

std::optional<bool>
Columns::boolean(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	return isnull ? std::nullopt : std::optional<bool>(DatumGetBool(d));
}

std::optional<TimestampTz>
Columns::timestamptz(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	return isnull ? std::nullopt : std::optional<TimestampTz>(DatumGetTimestampTz(d));
}

std::optional<std::string>
Columns::text(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return std::nullopt;
	struct varlena *t = guard([d] { return pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d)); });
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::vector<int64_t>
Columns::int8_array(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {};
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int n = 0;
	guard([d, &elems, &nulls, &n] {
		deconstruct_array(DatumGetArrayTypeP(d), INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems,
						  &nulls, &n);
	});
	std::vector<int64_t> values;
	values.reserve(n);
	for (int i = 0; i < n; i++) {
		if (nulls[i])
			throw Error(SqlState::Internal, "booking: unexpected NULL array element");
		values.push_back(DatumGetInt64(elems[i]));
	}
	return values;
}

SPIPlanPtr
Statement::plan()
{
	if (plan_)
		return plan_;
	const char *sql = sql_;
	int nargs = int(types_.size());
	Oid *types = types_.data();
	plan_ = guard([sql, nargs, types] {
		// Generic plans: these statements are simple, and re-planning them for
		// each call's parameter values cost more than it ever saved.
		SPIPlanPtr p = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
		if (p == nullptr)
			elog(ERROR, "booking: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "booking: SPI_keepplan failed");
		return p;
	});
	return plan_;
}

uint64_t
Statement::run(std::initializer_list<Param> params, int expect, bool read_only, long limit)
{
	if (params.size() != types_.size())
		throw Error(SqlState::Internal, std::string("booking: wrong parameter count for: ") + sql_);
	Datum values[16];
	char nulls[16];
	if (params.size() > 16)
		throw Error(SqlState::Internal, "booking: too many parameters");
	int i = 0;
	for (const Param &p : params) {
		values[i] = p.value;
		nulls[i] = p.null ? 'n' : ' ';
		i++;
	}
	SPIPlanPtr p = plan();
	int code = guard([p, &values, &nulls, read_only, limit] { return SPI_execute_plan(p, values, nulls, read_only, limit); });
	if (code != expect)
		throw Error(SqlState::Internal, std::string("booking: SPI returned ") + SPI_result_code_string(code) +
											" for: " + sql_);
	return SPI_processed;
}

uint64_t
Statement::rows()
{
	return SPI_processed;
}

Row
Statement::row(uint64_t index)
{
	if (SPI_tuptable == nullptr || index >= SPI_processed)
		throw Error(SqlState::Internal, "booking: result row out of range");
	return Row(SPI_tuptable->vals[index], SPI_tuptable->tupdesc);
}

}  // namespace booking::pg
