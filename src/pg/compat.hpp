// The PostgreSQL server calls whose form differs between the supported
// versions (15, 17 and 18; 16 is compiled against where its headers are at
// hand), each behind one name that means the same on every version. This is
// the only place that looks at PG_VERSION_NUM: the rest of src/ calls these.
//
// Nothing here changes behaviour between versions except where PostgreSQL's
// own does, said at the function (backend_number()).
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/tupdesc.h"
#include "nodes/nodeFuncs.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/pgstat_internal.h"
#include "utils/wait_event.h"
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#else
#include "storage/backendid.h"
#endif
#include "storage/buf.h"
#include "storage/bufmgr.h"
#if PG_VERSION_NUM >= 180000
#include "storage/aio_subsys.h"
#endif
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "booking supports PostgreSQL 15 to 18"
#endif

namespace booking::pg {

// A small number for this backend (unlike a pid), different from every
// other live backend's. What PostgreSQL hands out differs: 15 gives the
// lowest one free, counting from 1 in one range with the background workers
// (MyBackendId), so live backends' numbers are dense; 17 gives client
// backends 0 to max_connections - 1 from a first-in first-out free list
// (MyProcNumber), so a new backend takes the number freed longest ago, and
// after connections come and go, live numbers are spread over that range.
inline int
backend_number() noexcept
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyBackendId;
#endif
}

// The wait event a buyer shows while asleep for a holder that ends with
// its statement (pg/write.cpp, await_statement): from 17 on a name of its
// own in pg_stat_activity, BookingStatementHolder (registered once per
// backend, WaitEventExtensionNew), on 15 the class's one name, Extension.
inline uint32
statement_holder_wait_event()
{
#if PG_VERSION_NUM >= 170000
	static uint32 event = 0;
	if (event == 0)
		event = WaitEventExtensionNew("BookingStatementHolder");
	return event;
#else
	return PG_WAIT_EXTENSION;
#endif
}

// The local id of this backend's current top-level transaction: a
// different one for every transaction, never reused while the backend lives.
inline LocalTransactionId
local_transaction_id() noexcept
{
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

// Whether this transaction holds exactly mode (not a stronger one only) on
// the lock. 15 calls it LockHeldByMe(tag, mode); 17 added "orstronger".
inline bool
lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode) noexcept
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
}

// heap_update(); *needs_index_entries tells whether the new version needs
// entries in the table's indexes (it is no heap-only tuple). Only meaningful
// when the result is TM_Ok. It always waits for a concurrent writer: a
// caller that must not wait locks the row with LockWaitSkip first
// (PostgreSQL asserts that heap_update is never asked not to wait).
// 16 reports it as TU_UpdateIndexes: TU_Summarizing
// (a heap-only tuple whose summarizing indexes, BRIN, need entries) cannot
// happen to the tables written directly, which have btree indexes only.
inline TM_Result
heap_update_row(Relation rel, ItemPointer tid, HeapTuple new_tuple, CommandId cid, TM_FailureData *tmfd,
				LockTupleMode *lockmode, bool *needs_index_entries)
{
#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes = TU_All;
	TM_Result result = heap_update(rel, tid, new_tuple, cid, InvalidSnapshot, true, tmfd, lockmode, &update_indexes);
	*needs_index_entries = update_indexes == TU_All;
#else
	TM_Result result = heap_update(rel, tid, new_tuple, cid, InvalidSnapshot, true, tmfd, lockmode);
	*needs_index_entries = !HeapTupleIsHeapOnly(new_tuple);
#endif
	return result;
}

// index_beginscan() without instrumentation (18 added the argument).
inline IndexScanDesc
begin_index_scan(Relation heap, Relation index, Snapshot snapshot, int nkeys, int norderbys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, nullptr, nkeys, norderbys);
#else
	return index_beginscan(heap, index, snapshot, nkeys, norderbys);
#endif
}

using ExpressionWalker = bool (*)(Node *node, void *context);

// expression_tree_walker(): 15 declares the callback without a prototype,
// 16 made the name a macro that casts a properly typed one.
inline bool
walk_expression(Node *node, ExpressionWalker walker, void *context)
{
#if PG_VERSION_NUM >= 160000
	return expression_tree_walker(node, walker, context);
#else
	return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(walker)), context);
#endif
}

// Whether the table has generated columns of any kind: stored, or (18)
// virtual ones computed when read.
inline bool
has_generated_columns(const TupleConstr *constr) noexcept
{
	if (constr == nullptr)
		return false;
#if PG_VERSION_NUM >= 180000
	return constr->has_generated_stored || constr->has_generated_virtual;
#else
	return constr->has_generated_stored;
#endif
}

// This backend's pending statistics of a table: the counts it has not yet
// reported, with the open transaction's (and subtransactions') writes in
// ->trans. Null when it has not touched the table since its last report.
// find_tabstat_entry() returned exactly this on 15; from 17 it returns a
// copy whose trans is always null, so it is not used.
inline PgStat_TableStatus *
pending_table_status(Oid relid) noexcept
{
	PgStat_EntryRef *ref = pgstat_fetch_pending_entry(PGSTAT_KIND_RELATION, MyDatabaseId, relid);
	if (ref == nullptr)
		ref = pgstat_fetch_pending_entry(PGSTAT_KIND_RELATION, InvalidOid, relid);  // a shared catalog
	return ref ? static_cast<PgStat_TableStatus *>(ref->pending) : nullptr;
}

// After an error outside a transaction: what buffer and I/O state
// AbortCurrentTransaction would otherwise end, ended as the autovacuum
// launcher does. From 16 on a buffer I/O in progress belongs to a resource
// owner, whose release ends it (AbortBufferIO is per buffer there, and
// static in 17); 18 adds asynchronous I/O to clean up.
inline void
end_io_after_error()
{
#if PG_VERSION_NUM >= 180000
	pgaio_error_cleanup();
#endif
#if PG_VERSION_NUM < 160000
	AbortBufferIO();
#endif
	UnlockBuffers();
}

}  // namespace booking::pg
