#include "pg/spi.hpp"

#include "core/error.hpp"

extern "C" {
#include "utils/guc.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "utils/plancache.h"
}

#include <string>

namespace booking::pg {

namespace {

// The kept plan whose result SPI_tuptable holds, to name its columns.
SPIPlanPtr last_plan = nullptr;

// "booking.pool.capacity" for a column of a relation, or "" when the
// relation or column is gone.
std::string
qualified_column(Oid relid, AttrNumber attnum)
{
	char *names[3] = {};
	guard([relid, attnum, &names] {
		if ((names[1] = get_rel_name(relid)) != nullptr)
			names[0] = get_namespace_name(get_rel_namespace(relid));
		names[2] = get_attname(relid, attnum, true);
	});
	if (!names[0] || !names[1] || !names[2])
		return "";
	return std::string(names[0]) + "." + names[1] + "." + names[2];
}

// The column of the plan's result row, as it is named in its table where
// the statement reads it straight from one ("booking.pool.capacity"), else
// by its name in the result ("capacity").
std::string
describe_result_column(SPIPlanPtr plan, int number)
{
	Oid relid = InvalidOid;
	AttrNumber attnum = InvalidAttrNumber;
	const char *resname = nullptr;
	guard([plan, number, &relid, &attnum, &resname] {
		ListCell *lc;
		foreach (lc, SPI_plan_get_plan_sources(plan)) {
			auto *source = static_cast<CachedPlanSource *>(lfirst(lc));
			ListCell *qc;
			foreach (qc, source->query_list) {
				Query *query = lfirst_node(Query, qc);
				if (!query->canSetTag)
					continue;
				List *result = query->commandType == CMD_SELECT ? query->targetList : query->returningList;
				ListCell *tc;
				foreach (tc, result) {
					TargetEntry *te = lfirst_node(TargetEntry, tc);
					if (te->resjunk || te->resno != number)
						continue;
					resname = te->resname;
					if (OidIsValid(te->resorigtbl)) {  // a column of a table, through views too
						relid = te->resorigtbl;
						attnum = te->resorigcol;
					} else if (IsA(te->expr, Var)) {  // RETURNING column
						Var *var = castNode(Var, te->expr);
						RangeTblEntry *rte = rt_fetch(var->varno, query->rtable);
						if (var->varlevelsup == 0 && rte->rtekind == RTE_RELATION && var->varattno > 0) {
							relid = rte->relid;
							attnum = var->varattno;
						}
					}
				}
			}
		}
	});
	std::string qualified = OidIsValid(relid) ? qualified_column(relid, attnum) : "";
	if (!qualified.empty())
		return qualified;
	if (resname && strcmp(resname, "?column?") != 0)
		return resname;
	return std::to_string(number) + " of a result";
}

}  // namespace

void
throw_missing(const Origin &origin)
{
	std::string column = origin.table  ? std::string("booking.") + origin.table + "." + origin.column
						 : origin.plan ? describe_result_column(origin.plan, origin.number)
									   : std::to_string(origin.number) + " of a result";
	throw Error(SqlState::DataCorrupted, "booking: column " + column + " is NULL where a value is required",
				"The extension's tables hold a row it cannot have written: a NOT NULL constraint of schema "
				"booking was dropped, or the row was written by hand.",
				"Correct the row, and restore the NOT NULL constraint if one was dropped; "
				"SELECT * FROM booking.check() lists other broken rows.");
}

Spi::Spi()
{
	int guc_level = 0;
	guard([&guc_level] {
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "booking: SPI_connect failed");
		// What a SET search_path clause does (fmgr_security_definer). An
		// error after NewGUCNestLevel leaves the level to the (sub)transaction's
		// abort, which pops every level above it.
		guc_level = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	});
	guc_level_ = guc_level;
	xact_level_ = GetCurrentTransactionNestLevel();
}

Spi::~Spi()
{
	// Popped at the transaction nesting it was pushed at (a subtransaction
	// opened inside has ended by now); otherwise the end of the
	// (sub)transaction pops it.
	if (xact_level_ == GetCurrentTransactionNestLevel()) {
		int level = guc_level_;
		auto pop = [level] { AtEOXact_GUC(true, level); };
		if (ErrorData *error = catch_pg_error(pop))
			FreeErrorData(error);
	}
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

Origin
Row::origin(int column) const
{
	return Origin{nullptr, nullptr, plan_, column};
}

Value<int64_t>
Columns::int8(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {std::nullopt, origin(column)};
	return DatumGetInt64(d);
}

Value<int32_t>
Columns::int4(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {std::nullopt, origin(column)};
	return DatumGetInt32(d);
}

Value<bool>
Columns::boolean(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {std::nullopt, origin(column)};
	return DatumGetBool(d);
}

Value<TimestampTz>
Columns::timestamptz(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {std::nullopt, origin(column)};
	return DatumGetTimestampTz(d);
}

Value<std::string>
Columns::text(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		return {std::nullopt, origin(column)};
	struct varlena *t = guard([d] { return pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d)); });
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

ItemPointerData
Columns::tid(int column) const
{
	bool isnull;
	Datum d = value(column, &isnull);
	if (isnull)
		throw Error(SqlState::Internal, "booking: result column " + std::to_string(column) + " is no row's ctid");
	return *reinterpret_cast<const ItemPointerData *>(DatumGetPointer(d));
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
	// Set after the run: statements that ran inside it (a trigger's) are done.
	last_plan = p;
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
	return Row(SPI_tuptable->vals[index], SPI_tuptable->tupdesc, last_plan);
}

}  // namespace booking::pg
