#include "pg/read.hpp"

#include "core/error.hpp"
#include "pg/compat.hpp"

#include <string>

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace booking::pg {

namespace {

// Bumped by every relcache invalidation this backend receives: resolved
// names are then looked up again. Invalidations are rare (DDL, VACUUM of a
// relation), a lookup is three syscache probes.
uint64_t generation = 1;
bool callback_registered = false;

// ReadScopes alive: reads then use the scope's snapshot.
int scopes = 0;

void
invalidate(Datum, Oid)
{
	generation++;
}

// The scan itself, in a frame that owns no C++ object (called in guard()).
bool
fetch(Oid relid, Oid indexid, int64_t key, const AttrNumber *attnums, int ncolumns, Datum *values, bool *nulls)
{
	Relation heap = table_open(relid, AccessShareLock);
	Relation index = index_open(indexid, AccessShareLock);
	// As SPI does for each statement of a VOLATILE function: see what this
	// transaction wrote so far, and what others committed (READ COMMITTED).
	// Inside a ReadScope, its snapshot is the active one.
	bool own_snapshot = scopes == 0;
	if (own_snapshot) {
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	volatile bool found = false;
	PG_TRY();
	{
		IndexScanDesc scan = begin_index_scan(heap, index, GetActiveSnapshot(), 1, 0);
		ScanKeyData skey;
		ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
		index_rescan(scan, &skey, 1, nullptr, 0);
		TupleTableSlot *slot = table_slot_create(heap, nullptr);
		if (index_getnext_slot(scan, ForwardScanDirection, slot)) {
			TupleDesc desc = RelationGetDescr(heap);
			for (int i = 0; i < ncolumns; i++) {
				if (attnums[i] == InvalidAttrNumber) {	// an optional column this schema lacks
					values[i] = Datum(0);
					nulls[i] = true;
					continue;
				}
				values[i] = slot_getattr(slot, attnums[i], &nulls[i]);
				Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);
				// The slot's buffer is let go below: copy what points into it.
				if (!nulls[i] && !att->attbyval)
					values[i] = datumCopy(values[i], false, att->attlen);
			}
			found = true;
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
	}
	PG_FINALLY();
	{
		if (own_snapshot)
			PopActiveSnapshot();
	}
	PG_END_TRY();
	// The locks stay until the transaction ends, as a statement's do.
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return found;
}

}  // namespace

ReadScope::ReadScope()
{
	snapshot_ = guard([] {
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		return GetActiveSnapshot();
	});
	scopes++;
}

ReadScope::~ReadScope()
{
	scopes--;
	// An error on the way out may have left other snapshots above this one:
	// the end of the (sub)transaction pops those and this one.
	if (ActiveSnapshotSet() && GetActiveSnapshot() == snapshot_)
		PopActiveSnapshot();
}

KeyRead::KeyRead(const char *table, const char *index, std::initializer_list<const char *> columns)
	: table_(table), index_(index)
{
	for (const char *c : columns)
		if (ncolumns_ < max_columns)
			columns_[ncolumns_++] = c;
}

void
KeyRead::resolve()
{
	if (ncolumns_ == 0 || ncolumns_ > max_columns)
		throw Error(SqlState::Internal, "booking: a KeyRead of " + std::string(table_) + " needs 1 to 16 columns");
	const char *table = table_, *index = index_;
	const char *const *columns = columns_;
	int n = ncolumns_;
	Oid relid = InvalidOid, indexid = InvalidOid;
	AttrNumber *attnums = attnums_;
	guard([table, index, columns, n, &relid, &indexid, attnums] {
		if (!callback_registered) {
			CacheRegisterRelcacheCallback(invalidate, Datum(0));
			callback_registered = true;
		}
		Oid nsp = get_namespace_oid("booking", false);
		relid = get_relname_relid(table, nsp);
		indexid = get_relname_relid(index, nsp);
		if (!OidIsValid(relid) || !OidIsValid(indexid) || get_rel_relkind(indexid) != RELKIND_INDEX)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
							errmsg("booking: table booking.%s or its index booking.%s is missing", table, index),
							errhint("Reinstall the extension: DROP EXTENSION booking; CREATE EXTENSION booking;")));
		for (int i = 0; i < n; i++) {
			bool optional = columns[i][0] == '?';
			attnums[i] = get_attnum(relid, columns[i] + (optional ? 1 : 0));
			if (attnums[i] == InvalidAttrNumber && !optional)
				ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
								errmsg("booking: column %s of table booking.%s is missing", columns[i], table),
								errhint("Update the extension: ALTER EXTENSION booking UPDATE;")));
		}
	});
	relid_ = relid;
	indexid_ = indexid;
	generation_ = generation;
}

bool
KeyRead::has(int column)
{
	if (column < 1 || column > ncolumns_)
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " has no column " +
											std::to_string(column) + " to read");
	if (generation_ != generation || !OidIsValid(relid_))
		resolve();
	return attnums_[column - 1] != InvalidAttrNumber;
}

bool
KeyRead::read(int64_t key)
{
	found_ = false;
	if (generation_ != generation || !OidIsValid(relid_))
		resolve();
	Oid relid = relid_, indexid = indexid_;
	const AttrNumber *attnums = attnums_;
	int n = ncolumns_;
	Datum *values = values_;
	bool *nulls = nulls_;
	found_ = guard([relid, indexid, key, attnums, n, values, nulls] {
		return fetch(relid, indexid, key, attnums, n, values, nulls);
	});
	return found_;
}

Datum
KeyRead::value(int column, bool *isnull) const
{
	if (!found_ || column < 1 || column > ncolumns_)
		throw Error(SqlState::Internal, "booking: column " + std::to_string(column) + " of booking." + table_ +
											" was not read");
	*isnull = nulls_[column - 1];
	return values_[column - 1];
}

Origin
KeyRead::origin(int column) const
{
	if (column < 1 || column > ncolumns_)
		return Origin{};
	const char *name = columns_[column - 1];
	return Origin{table_, name[0] == '?' ? name + 1 : name, nullptr, column};
}

}  // namespace booking::pg
