// SPI for C++ bodies: a scoped connection, statements prepared once per
// backend and kept (SPI_keepplan), typed parameters and row readers. Every
// call that can ereport goes through guard(); statements are fixed text with
// schema-qualified names and every value a parameter.
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
// must be copied out (into C++ values) before it ends.
//
// While it lives, names resolve in pg_catalog alone (an override search
// path, not the caller's search_path GUC), so an operator or function a
// caller planted in its own schema never runs inside a statement of the
// extension, planned or re-planned. The functions pin it here rather than
// with a SET clause: a SET costs every call a GUC nest level, a pass over
// every GUC on the way out and a search-path recompute on the way in and
// out (about a fifth of a sold-out answer, which runs no statement).
class Spi {
public:
	Spi();
	~Spi();
	Spi(const Spi &) = delete;
	Spi &operator=(const Spi &) = delete;

private:
	int nest_level_ = 0;  // the transaction nest level the path was pushed at
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
// behaviour (sql/missing_values.sql).
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
