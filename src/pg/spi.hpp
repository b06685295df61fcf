// SPI for C++ bodies: a scoped connection, statements prepared once per
// backend and kept (SPI_keepplan), typed parameters and row readers. Every
// call that can ereport goes through guard(); statements are fixed text with
// every value a parameter.
//
// Names: no statement text depends on search_path, and while an Spi is
// connected the search_path setting is pg_catalog, pg_temp, set in a GUC
// nest level of its own as a function's SET clause would (and undone at
// disconnect). Both are needed:
//  - The statements run as the extension's owner (the functions are
//    SECURITY DEFINER, or switch to the owner: pg/caller.hpp), and so does
//    whatever fires inside them: a user's trigger on a booking table. A
//    trigger without a SET clause of its own must not resolve its names in
//    a path the caller chose (a caller's schema with a look-alike of a
//    function it calls would run as the owner). With the setting pinned it
//    sees pg_catalog, pg_temp, as inside any function with a SET clause; a
//    trigger with its own SET search_path gets that one (a setting, unlike
//    the override search path 1.3 used, which PostgreSQL 15 let win over
//    every SET clause and 17 removed). As in any SECURITY DEFINER code, such
//    a path should end with pg_temp, or a caller's temporary table can
//    stand in for an unqualified one (README, security model).
//  - Qualified names make each statement mean one thing whatever the path
//    it was first analysed under (a kept plan outlives the call that made
//    it). So every name a statement resolves is written with its schema
//    (PostgreSQL 15 sources: namespace.c, parse_func.c, parse_oper.c,
//    parse_expr.c):
//  - relations as booking.x. A bare relation or type name is looked up in
//    the path with pg_temp first (RangeVarGetRelid, TypenameGetTypid);
//  - functions and aggregates as pg_catalog.f. FuncnameGetCandidates walks
//    the path (skipping pg_temp), and an exact-type match in any schema on
//    it beats pg_catalog's polymorphic or looser version, in an earlier one
//    also its identical one. coalesce, least, greatest, CASE WHEN, EXISTS,
//    IS [NOT] NULL and ARRAY[] are grammar, not names. A multi-argument
//    unnest in FROM is written as the ROWS FROM it stands for: the parser
//    expands only a bare unnest;
//  - types: the keyword types (integer, bigint, boolean, interval, ...,
//    with []) become pg_catalog.int4 and so on in the grammar; any other is
//    written pg_catalog.text and so on. Casts are found in pg_cast;
//  - every operator as OPERATOR(pg_catalog.op), prefix ones too: a bare
//    name is looked up in the path (OpernameGetOprid, oper_select_candidate).
//    So are the ones the grammar hides, and those forms are not used: IN and
//    NOT IN (= and <>; written = ANY / <> ALL), BETWEEN (>= and <=), a simple
//    CASE x WHEN and NULLIF and IS DISTINCT FROM (=), LIKE (~~), row
//    comparisons, JOIN USING and NATURAL JOIN (=). OPERATOR() binds as any
//    user-defined operator does (tighter than the comparison keywords, looser
//    than * / + -), so an operand that is itself an operator expression is
//    parenthesised. ORDER BY, GROUP BY, DISTINCT and least/greatest take
//    their operators from the type's default opclass (the type cache).
// What the statements reach by OID needs nothing: column defaults, index
// predicates and views are stored trees, and foreign-key checks
// (ri_triggers.c) qualify their own text. test/sql/search_path.sql plants a
// look-alike of every name the statements use before pg_catalog and fails
// if one is left bare.
//
// The plan cache (plancache.c, RevalidateCachedQuery) keeps the search path
// a statement was analysed under and re-analyses it when the path in force
// differs; with the setting pinned it never does.
//
// From 1.3 until this was done, Spi pushed an override search path of
// pg_catalog for its whole life instead. While an override is in force
// PostgreSQL 15 ignores the search_path setting, so every function's SET
// search_path clause did nothing, and a user's trigger with its own path
// failed when a booking function wrote the row; PostgreSQL 17 removed the
// call. The nest level costs a call that connects SPI a few microseconds;
// the flash-sale buy and sold-out answers connect none.
#pragma once

#include "pg/boundary.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace booking::pg {

// One SPI connection for the life of a C++ scope. Values read from results
// must be copied out (into C++ values) before it ends. The search_path
// setting is pg_catalog, pg_temp while it is connected (see above).
class Spi {
public:
	Spi();
	~Spi();
	Spi(const Spi &) = delete;
	Spi &operator=(const Spi &) = delete;

private:
	int guc_level_ = 0;	 // the GUC nest level of the pinned search_path
	int xact_level_ = 0;  // the transaction nesting it was made at
};

// An Spi connected on the first connect(), for bodies that may answer
// without running any statement.
class LazySpi {
public:
	void
	connect()
	{
		if (!spi_)
			spi_.emplace();
	}

private:
	std::optional<Spi> spi_;
};

// A subtransaction for the life of a C++ scope, rolled back unless
// commit() is called: its row locks (even those of rows a statement only
// re-checked and skipped) go with it. Must be opened inside an Spi scope.
class SubTransaction {
public:
	SubTransaction();
	~SubTransaction();
	void
	commit();
	SubTransaction(const SubTransaction &) = delete;
	SubTransaction &operator=(const SubTransaction &) = delete;

private:
	void
	restore() noexcept;
	MemoryContext context_;
	ResourceOwner owner_;
	bool open_ = false;
};

// One statement parameter, already a Datum.
struct Param {
	Oid type;
	Datum value;
	bool null;
};

Param
int8_param(std::optional<int64_t> value);
Param
int4_param(std::optional<int32_t> value);
Param
bool_param(bool value);
Param
text_param(const std::optional<std::string> &value);
Param
text_param(const char *value);
Param
timestamptz_param(std::optional<TimestampTz> value);
Param
int8_array_param(const std::vector<int64_t> &values);
Param
int4_array_param(const std::vector<int32_t> &values);

// Where a column value was read, to name it when it is missing. Only
// pointers that live as long as the backend: names given to a KeyRead, a
// kept plan.
struct Origin {
	const char *table = nullptr;   // a table of schema booking (KeyRead), or
	const char *column = nullptr;  // null: the plan's result says which
	SPIPlanPtr plan = nullptr;	   // the statement whose result row it was
	int number = 0;				   // its column in that row, from 1
};

// Raise XX001 (data_corrupted) naming the column of origin: the extension
// needed a value where the row has NULL.
[[noreturn]] void
throw_missing(const Origin &origin);

// A column value, NULL or not: a std::optional whose * and value() raise
// XX001 naming the table and column instead of reading nothing when it is
// NULL. Required columns are read with *; has_value(), value_or() and
// comparisons are std::optional's. A NOT NULL constraint dropped by hand,
// or a hand-written row, is then a clear error and never undefined
// behaviour (test/sql/missing_values.sql).
template <typename T>
class Value : public std::optional<T> {
public:
	Value() = default;
	Value(std::nullopt_t) noexcept {}
	Value(std::optional<T> value, const Origin &origin = {}) : std::optional<T>(std::move(value)), origin_(origin)
	{
	}
	template <typename U, typename = std::enable_if_t<std::is_convertible_v<U &&, T>>>
	Value(U &&value) : std::optional<T>(std::forward<U>(value))
	{
	}

	const T &
	value() const &
	{
		if (!this->has_value())
			throw_missing(origin_);
		return std::optional<T>::operator*();
	}
	T &
	value() &
	{
		if (!this->has_value())
			throw_missing(origin_);
		return std::optional<T>::operator*();
	}
	T &&
	value() &&
	{
		if (!this->has_value())
			throw_missing(origin_);
		return std::move(std::optional<T>::operator*());
	}
	const T &
	operator*() const &
	{
		return value();
	}
	T &
	operator*() &
	{
		return value();
	}
	T &&
	operator*() &&
	{
		return std::move(*this).value();
	}
	const T *
	operator->() const
	{
		return &value();
	}
	T *
	operator->()
	{
		return &value();
	}

private:
	Origin origin_;
};

// Typed reads of one row's columns, numbered from 1 as in SPI; NULL reads
// as an empty Value. What a row is (an SPI result, a KeyRead) is value()'s
// and origin()'s.
class Columns {
public:
	Value<int64_t> int8(int column) const;
	Value<int32_t> int4(int column) const;
	Value<bool> boolean(int column) const;
	Value<TimestampTz> timestamptz(int column) const;
	Value<std::string> text(int column) const;
	// A bigint[] column without NULL elements; empty when NULL.
	std::vector<int64_t> int8_array(int column) const;
	// A ctid column (never NULL).
	ItemPointerData tid(int column) const;

protected:
	~Columns() = default;
	virtual Datum value(int column, bool *isnull) const = 0;
	// Where column comes from (asked only when it is NULL).
	virtual Origin origin(int column) const = 0;
};

// A row of the last result.
class Row : public Columns {
public:
	Row(HeapTuple tuple, TupleDesc desc, SPIPlanPtr plan = nullptr) : tuple_(tuple), desc_(desc), plan_(plan) {}

private:
	Datum value(int column, bool *isnull) const override;
	Origin origin(int column) const override;
	HeapTuple tuple_;
	TupleDesc desc_;
	SPIPlanPtr plan_;  // the kept plan of the statement, to name a column
};

// A statement prepared on first use and kept for the backend's life. The
// plan cache re-plans it when the tables change.
class Statement {
public:
	Statement(const char *sql, std::initializer_list<Oid> types) : sql_(sql), types_(types) {}

	// Run with params; throw unless SPI answers expect. Returns rows processed.
	// read_only is for STABLE functions only: it reuses the caller's snapshot,
	// which does not see what this call has written.
	uint64_t
	run(std::initializer_list<Param> params, int expect, bool read_only = false, long limit = 0);

	// Number of rows of the last result, and one of them.
	static uint64_t
	rows();
	static Row
	row(uint64_t index);

private:
	SPIPlanPtr
	plan();
	const char *sql_;
	std::vector<Oid> types_;
	SPIPlanPtr plan_ = nullptr;
};

}  // namespace booking::pg
