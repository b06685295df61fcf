// One row of a table read through its unique bigint key, without SPI.
//
// A statement run through SPI starts an executor for each call: for a read
// of one row by primary key that start-up costs several times the read
// itself (callgrind: about 35k instructions of a 40k read). The hottest
// unlocked read of the extension (a pool's counters, on every buy and every
// sold-out answer) uses this instead: the table's index is scanned with a
// new snapshot of the current command, exactly what a statement of a
// VOLATILE function would see, and the columns are copied out.
//
// Tables and columns are looked up by name in schema booking once per
// backend and again after any relcache invalidation (DROP/CREATE EXTENSION,
// ALTER TABLE), so column positions may differ between a fresh install and
// an updated one. Locks are those of a SELECT (AccessShareLock, kept to the
// end of the transaction).
#pragma once

#include "pg/spi.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

namespace booking::pg {

// While a ReadScope lives, every KeyRead::read() uses the one snapshot the
// scope took when it began, as the reads of one statement would: rows read
// together (seats and the bookings that hold them) are one committed state,
// and one snapshot is taken instead of one per row. Run no SPI statement
// inside a scope.
class ReadScope {
public:
	ReadScope();
	~ReadScope();
	ReadScope(const ReadScope &) = delete;
	ReadScope &operator=(const ReadScope &) = delete;

private:
	Snapshot snapshot_ = nullptr;
};

class KeyRead : public Columns {
public:
	static constexpr int max_columns = 16;

	// table and its unique index on one bigint column, both of schema
	// booking, and the columns to read (accessors number them from 1). A
	// column named with a leading '?' is optional: an older version of the
	// schema may lack it, and it then reads as NULL (see has()).
	KeyRead(const char *table, const char *index, std::initializer_list<const char *> columns);

	// Whether the table has column (resolving the names if needed).
	bool
	has(int column);

	// Read the row whose key is key; false when there is none.
	bool
	read(int64_t key);

	// Columns of the row last read: int8(), int4(), ... (see Columns).

private:
	void
	resolve();
	Datum
	value(int column, bool *isnull) const override;
	Origin
	origin(int column) const override;

	const char *table_;
	const char *index_;
	const char *columns_[max_columns];
	int ncolumns_ = 0;

	// Resolved names, valid while generation_ is current.
	uint64_t generation_ = 0;
	Oid relid_ = InvalidOid;
	Oid indexid_ = InvalidOid;
	AttrNumber attnums_[max_columns];

	// The row last read (by-reference values copied into the caller's context).
	Datum values_[max_columns];
	bool nulls_[max_columns];
	bool found_ = false;
};

}  // namespace booking::pg
