#include "pg/write.hpp"

#include "core/error.hpp"
#include "pg/compat.hpp"

#include <algorithm>
#include <string>

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "optimizer/optimizer.h"
#include "port/atomics.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace booking::pg {

namespace {

// Every DirectTable (global objects of the library), for the invalidation
// callback.
constexpr int max_tables = 8;
DirectTable *tables[max_tables];
int ntables = 0;
bool callback_registered = false;

// Index entries for a heap tuple just written (inserted, or updated without
// HOT), as ExecInsertIndexTuples makes them: every index ready for inserts
// (as of the set-up, current while the table's lock is held) whose
// predicate holds, with unique checks. An index is opened only to insert:
// the table's lock is what keeps indexes from being dropped or built
// meanwhile (CREATE and DROP INDEX, even CONCURRENTLY, wait for it).
void
insert_index_entries(Relation rel, HeapTuple tuple, const Oid *index_ids, IndexInfo *const *infos,
					 ExprState *const *predicates, int nindexes, const bool *replaced = nullptr)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tuple, slot, false);
	ExprContext *econtext = CreateStandaloneExprContext();
	econtext->ecxt_scantuple = slot;
	for (int i = 0; i < nindexes; i++) {
		if (!infos[i]->ii_ReadyForInserts)
			continue;
		if (predicates[i]) {
			bool holds = ExecQual(predicates[i], econtext);
			ResetExprContext(econtext);
			if (!holds)
				continue;
		}
		// After an update, whether the entry repeats the old version's (a
		// hint for btree's bottom-up deletion, as ExecUpdate gives it).
		bool unchanged = replaced != nullptr;
		for (int k = 0; unchanged && k < infos[i]->ii_NumIndexAttrs; k++) {
			AttrNumber a = infos[i]->ii_IndexAttrNumbers[k];
			unchanged = a <= 0 || !replaced[a - 1];
		}
		Relation index = index_open(index_ids[i], RowExclusiveLock);
		Datum values[INDEX_MAX_KEYS];
		bool isnull[INDEX_MAX_KEYS];
		FormIndexDatum(infos[i], slot, nullptr, values, isnull);
		index_insert(index, values, isnull, &tuple->t_self, rel,
					 index->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, unchanged, infos[i]);
		index_close(index, NoLock);	 // the lock stays to the end of the transaction
	}
	FreeExprContext(econtext, true);
	ExecDropSingleTupleTableSlot(slot);
}

// Copy the named columns out of a slot.
void
slot_columns(TupleTableSlot *slot, const AttrNumber *attnums, int ncolumns, Datum *values, bool *nulls)
{
	for (int i = 0; i < ncolumns; i++)
		values[i] = slot_getattr(slot, attnums[i], &nulls[i]);
}

}  // namespace

// A relcache invalidation of a table, of one of its indexes, or of all
// (InvalidOid): its set-up is rebuilt on next use.
void
direct_table_invalidate(Datum, Oid relid)
{
	for (int t = 0; t < ntables; t++) {
		DirectTable *table = tables[t];
		bool hit = relid == InvalidOid || relid == table->relid_ || relid == table->sequence_id_;
		for (int i = 0; !hit && i < table->nindexes_; i++)
			hit = relid == table->index_ids_[i];
		if (hit)
			table->stale_ = true;
	}
}

DirectTable::DirectTable(const char *table, const char *key_index, std::initializer_list<Column> columns,
						 const char *sequence)
	: table_(table), key_index_(key_index), sequence_(sequence)
{
	for (const Column &c : columns)
		if (ncolumns_ < max_columns)
			columns_[ncolumns_++] = c;
	if (ntables < max_tables)
		tables[ntables++] = this;
}

// Whether an expression calls a function that is not built in: compiled
// predicates are kept across transactions, which only built-in functions
// are known to allow (no state in fn_extra beyond a query).
bool
calls_user_function(Node *node, void *context)
{
	if (node == nullptr)
		return false;
	auto user = [](Oid function, void *) { return function >= FirstNormalObjectId; };
	if (check_functions_in_node(node, user, nullptr))
		return true;
	return walk_expression(node, calls_user_function, context);
}

// Read the table's shape (rel is open and locked) and decide whether direct
// writes may stand in for the executor. Runs in a PostgreSQL frame (usable()).
bool
DirectTable::build(Relation rel)
{
	stale_ = false;	 // an invalidation during the build sets it again
	built_ = usable_ = insertable_ = false;
	nindexes_ = nforeign_keys_ = 0;
	if (cxt_ == nullptr)
		cxt_ = AllocSetContextCreate(CacheMemoryContext, "booking direct writes", ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cxt_);
	MemoryContext old = MemoryContextSwitchTo(cxt_);
	usable_ = build_shape(rel);
	MemoryContextSwitchTo(old);
	built_ = true;
	return usable_;
}

bool
DirectTable::build_shape(Relation rel)
{
	TupleDesc desc = RelationGetDescr(rel);
	if (sequence_) {
		sequence_id_ = get_relname_relid(sequence_, RelationGetNamespace(rel));
		if (!OidIsValid(sequence_id_) || get_rel_relkind(sequence_id_) != RELKIND_SEQUENCE)
			return false;  // the SQL statement reports it
	}
	// A plain heap table, alone: not a partition, no inheritance children
	// (an UPDATE would reach them), no row security, rules or CHECK, no
	// generated column.
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		rel->rd_rel->relispartition || rel->rd_rel->relhassubclass || rel->rd_rel->relrowsecurity ||
		rel->rd_rules != nullptr)
		return false;
	if (desc->constr && (desc->constr->num_check > 0 || has_generated_columns(desc->constr)))
		return false;

	// The named columns, of exactly the types the caller reads and writes
	// (no domain, no length limit).
	if (ncolumns_ == 0 || ncolumns_ > max_columns)
		return false;
	for (int i = 0; i < ncolumns_; i++) {
		attnums_[i] = get_attnum(relid_, columns_[i].name);
		if (attnums_[i] == InvalidAttrNumber)
			return false;  // the SQL statement reports the missing column
		Form_pg_attribute att = TupleDescAttr(desc, attnums_[i] - 1);
		if (att->atttypid != columns_[i].type || att->atttypmod != -1)
			return false;
		notnull_[i] = att->attnotnull;
	}

	// Triggers: only those of foreign keys. One that references this table
	// fires on an update of the referenced columns: none may be named (the
	// writes change only named columns). The table's own foreign keys are
	// checked in update_row() and rule out inserts.
	if (rel->trigdesc)
		for (int i = 0; i < rel->trigdesc->numtriggers; i++) {
			const Trigger &trigger = rel->trigdesc->triggers[i];
			int type = RI_FKey_trigger_type(trigger.tgfoid);
			if (type == RI_TRIGGER_NONE)
				return false;
			if (type != RI_TRIGGER_PK)
				continue;
			HeapTuple constraint = SearchSysCache1(CONSTROID, ObjectIdGetDatum(trigger.tgconstraint));
			if (!HeapTupleIsValid(constraint))
				return false;
			int nkeys = 0;
			AttrNumber conkey[INDEX_MAX_KEYS], confkey[INDEX_MAX_KEYS];
			DeconstructFkConstraintRow(constraint, &nkeys, conkey, confkey, nullptr, nullptr, nullptr, nullptr,
									   nullptr);
			ReleaseSysCache(constraint);
			for (int k = 0; k < nkeys; k++)
				for (int c = 0; c < ncolumns_; c++)
					if (attnums_[c] == confkey[k])
						return false;
		}
	List *foreign_keys = RelationGetFKeyList(rel);
	ListCell *lc;
	foreach (lc, foreign_keys) {
		auto *fk = static_cast<ForeignKeyCacheInfo *>(lfirst(lc));
		if (nforeign_keys_ == max_foreign_keys || fk->nkeys > max_key_columns)
			return false;
		foreign_key_columns_[nforeign_keys_] = fk->nkeys;
		for (int k = 0; k < fk->nkeys; k++)
			foreign_key_attnums_[nforeign_keys_][k] = fk->conkey[k];
		nforeign_keys_++;
	}

	// For an insert, a column it does not set must become NULL, as it would
	// from SQL: no default, identity, generation or NOT NULL. And no foreign
	// key of the table's own to check.
	insertable_ = nforeign_keys_ == 0;
	for (int a = 0; a < desc->natts && insertable_; a++) {
		Form_pg_attribute att = TupleDescAttr(desc, a);
		if (att->attisdropped)
			continue;
		bool named = false;
		for (int i = 0; i < ncolumns_ && !named; i++)
			named = attnums_[i] == att->attnum;
		if (!named && (att->attnotnull || att->atthasdef || att->attidentity || att->attgenerated))
			insertable_ = false;
	}

	List *index_ids = RelationGetIndexList(rel);
	if (list_length(index_ids) > max_indexes)
		return false;
	bool has_key = key_index_ == nullptr;
	foreach (lc, index_ids) {
		Oid index_id = lfirst_oid(lc);
		Relation index = index_open(index_id, RowExclusiveLock);
		IndexInfo *info = BuildIndexInfo(index);
		// A btree on plain columns, checked at once if unique: what
		// index_insert() alone maintains exactly.
		bool ok = index->rd_rel->relam == BTREE_AM_OID && info->ii_Expressions == NIL &&
				  info->ii_ExclusionOps == nullptr && (!index->rd_index->indisunique || index->rd_index->indimmediate);
		ExprState *predicate = nullptr;
		if (ok && info->ii_Predicate != NIL) {
			// Compiled once and kept: only immutable, built-in functions, so
			// no evaluation depends on anything a later transaction changes.
			ok = !contain_mutable_functions((Node *) info->ii_Predicate) &&
				 !calls_user_function((Node *) info->ii_Predicate, nullptr);
			if (ok)
				predicate = ExecInitQual((List *) expression_planner((Expr *) info->ii_Predicate), nullptr);
		}
		if (ok && key_index_ && strcmp(RelationGetRelationName(index), key_index_) == 0) {
			// Valid, whole (no predicate), on bigint and integer columns:
			// update_by_key() compares them with their own equality.
			has_key = index->rd_index->indisunique && index->rd_index->indisvalid && info->ii_Predicate == NIL &&
					  info->ii_NumIndexKeyAttrs <= max_key_columns;
			key_columns_ = info->ii_NumIndexKeyAttrs;
			for (int k = 0; has_key && k < key_columns_; k++) {
				key_attnums_[k] = info->ii_IndexAttrNumbers[k];
				Oid type = key_attnums_[k] > 0 ? TupleDescAttr(desc, key_attnums_[k] - 1)->atttypid : InvalidOid;
				key_equal_[k] = type == INT8OID ? F_INT8EQ : F_INT4EQ;
				has_key = type == INT8OID || type == INT4OID;
			}
			key_index_id_ = index_id;
		}
		index_close(index, NoLock);
		if (!ok)
			return false;
		index_ids_[nindexes_] = index_id;
		index_info_[nindexes_] = info;
		predicate_[nindexes_] = predicate;
		nindexes_++;
	}
	return has_key;
}

bool
DirectTable::usable()
{
	return guard([this] {
		if (XactIsoLevel != XACT_READ_COMMITTED || XactReadOnly || IsInParallelMode())
			return false;
		if (!callback_registered) {
			CacheRegisterRelcacheCallback(direct_table_invalidate, Datum(0));
			callback_registered = true;
		}
		for (;;) {
			if (stale_ || !OidIsValid(relid_)) {
				Oid nsp = get_namespace_oid("booking", false);
				relid_ = get_relname_relid(table_, nsp);
				if (!OidIsValid(relid_))
					return false;  // the SQL statement reports it
				stale_ = true;
			}
			// Taking the lock reads pending invalidations: a change that
			// arrives with it marks the set-up stale again. The lock stays to
			// the end of the transaction: while it is held, nothing can
			// change the table's shape (a concurrent CREATE INDEX waits).
			Relation rel = table_open(relid_, RowExclusiveLock);
			if (stale_ || !built_)
				build(rel);
			table_close(rel, NoLock);
			if (!stale_)
				break;
		}
		// The privileges the SQL statement would need, as the function's owner.
		bool ok = usable_ && pg_class_aclmask(relid_, GetUserId(), ACL_SELECT | ACL_INSERT | ACL_UPDATE,
											  ACLMASK_ALL) == (ACL_SELECT | ACL_INSERT | ACL_UPDATE);
		opened_in_ = ok ? local_transaction_id() : InvalidLocalTransactionId;
		return ok;
	});
}

bool
DirectTable::opened() const
{
	return usable_ && opened_in_ != InvalidLocalTransactionId && opened_in_ == local_transaction_id();
}

bool
DirectTable::can_insert(const bool *nulls) const
{
	if (!insertable_)
		return false;
	for (int i = 0; i < ncolumns_; i++)
		if (nulls[i] && notnull_[i])
			return false;
	return true;
}

DirectTable::Update
DirectTable::update_by_key(std::initializer_list<Datum> key, Decide decide, void *arg, Wait wait)
{
	if (!opened() || int(key.size()) != key_columns_)
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " is not open to direct writes");
	const Datum *values = key.begin();
	return guard([this, values, decide, arg, wait] {
		// As SPI does before each statement of a VOLATILE function.
		CommandCounterIncrement();
		queue_deadline_ = 0;
		bool again = true;
		Update result = Update::Missing;
		while (again) {
			CHECK_FOR_INTERRUPTS();
			again = false;
			result = update_in_snapshot(values, decide, arg, wait, &again);
		}
		return result;
	});
}

// update_row() under a new snapshot (under READ COMMITTED every call takes
// one), active while it runs.
DirectTable::Update
DirectTable::update_in_snapshot(const Datum *key, Decide decide, void *arg, Wait wait, bool *again)
{
	PushActiveSnapshot(GetTransactionSnapshot());
	volatile Update result = Update::Missing;
	PG_TRY();
	{
		result = update_row(key, decide, arg, wait, again);
	}
	PG_FINALLY();
	{
		PopActiveSnapshot();
	}
	PG_END_TRY();
	return Update(result);
}

// One scan, decision and write of update_by_key(), under its snapshot;
// *again when a concurrent update committed and the row is to be read anew.
DirectTable::Update
DirectTable::update_row(const Datum *key, Decide decide, void *arg, Wait wait, bool *again)
{
	Relation rel = table_open(relid_, RowExclusiveLock);
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	Relation key_index = index_open(key_index_id_, RowExclusiveLock);
	Update result = Update::Missing;
	Snapshot snapshot = GetActiveSnapshot();
	TupleTableSlot *slot = table_slot_create(rel, nullptr);
	IndexScanDesc scan = begin_index_scan(rel, key_index, snapshot, key_columns_, 0);
	ScanKeyData skeys[max_key_columns];
	for (int k = 0; k < key_columns_; k++)
		ScanKeyInit(&skeys[k], AttrNumber(k + 1), BTEqualStrategyNumber, key_equal_[k], key[k]);
	index_rescan(scan, skeys, key_columns_, nullptr, 0);
	bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(key_index, NoLock);
	if (found)
		result = write_found(rel, slot, key, decide, arg, wait, again);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return result;
}

// Lock the version at tid for an update (no key change), or say why not:
// TM_WouldBlock while another transaction writes or locks it, TM_Updated or
// TM_Deleted when one changed it and committed. Only TM_Ok leaves a lock.
// flags 0: neither TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS, which makes
// heap_lock_tuple follow the update chain and wait there (see
// lock_row_skip()), nor FIND_LAST_VERSION: callers chase or read again.
static TM_Result
lock_without_waiting(Relation rel, ItemPointer tid, CommandId cid, TM_FailureData *tmfd,
					 TupleTableSlot *slot = nullptr)
{
	TupleTableSlot *locked = slot ? slot : table_slot_create(rel, nullptr);
	TM_Result result = table_tuple_lock(rel, tid, GetActiveSnapshot(), locked, cid, LockTupleNoKeyExclusive,
										LockWaitSkip, 0, tmfd);
	if (!slot)
		ExecDropSingleTupleTableSlot(locked);
	return result;
}

void
lock_rows_skip(const char *table, const ItemPointerData *tids, RowLock *out, std::size_t n, bool stop)
{
	guard([table, tids, out, n, stop] {
		Oid relid = get_relname_relid(table, get_namespace_oid("booking", false));
		if (!OidIsValid(relid))
			elog(ERROR, "booking: table booking.%s does not exist", table);
		if (!ActiveSnapshotSet())
			elog(ERROR, "booking: locking a row of booking.%s needs an active snapshot", table);
		PreventCommandIfReadOnly("SELECT FOR NO KEY UPDATE");
		PreventCommandIfParallelMode("SELECT FOR NO KEY UPDATE");
		AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, table);
		Relation rel = table_open(relid, RowShareLock);
		TupleTableSlot *slot = table_slot_create(rel, nullptr);
		CommandId cid = GetCurrentCommandId(true);
		for (std::size_t i = 0; i < n; i++)
			out[i] = RowLock::Busy;
		for (std::size_t i = 0; i < n; i++) {
			ItemPointerData tid = tids[i];
			RowLock result = RowLock::Locked;
			for (;;) {
				CHECK_FOR_INTERRUPTS();
				TM_FailureData tmfd;
				TM_Result r = lock_without_waiting(rel, &tid, cid, &tmfd, slot);
				if (r == TM_Ok)
					break;
				if (r == TM_WouldBlock) {
					result = RowLock::Busy;
					break;
				}
				// Changed by a commit the transaction's snapshot does not
				// see: as FOR UPDATE under REPEATABLE READ.
				if ((r == TM_Updated || r == TM_Deleted) && IsolationUsesXactSnapshot())
					ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
									errmsg("could not serialize access due to concurrent update")));
				if (r == TM_Updated && !ItemPointerEquals(&tmfd.ctid, &tid) &&
					!ItemPointerIndicatesMovedPartitions(&tmfd.ctid)) {
					tid = tmfd.ctid;  // a committed update: its newer version
					result = RowLock::Moved;
					continue;
				}
				// Deleted, or (TM_SelfModified) changed by this very command:
				// not locked, as ExecLockRows skips it.
				if (r == TM_Deleted || r == TM_Updated || r == TM_SelfModified) {
					result = RowLock::Gone;
					break;
				}
				elog(ERROR, "booking: unexpected result %d locking a row of booking.%s", int(r), table);
			}
			out[i] = result;
			if (stop && (result == RowLock::Busy || result == RowLock::Gone))
				break;
		}
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
	});
}

RowLock
lock_row_skip(const char *table, ItemPointerData tid)
{
	RowLock out;
	lock_rows_skip(table, &tid, &out, 1, true);
	return out;
}

uint64_t
lock_result_skip(const char *table, int column, bool *moved)
{
	*moved = false;
	std::vector<ItemPointerData> tids;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		tids.push_back(Statement::row(i).tid(column));
	std::vector<RowLock> out(tids.size());
	lock_rows_skip(table, tids.data(), out.data(), tids.size(), true);
	for (std::size_t i = 0; i < out.size(); i++) {
		if (out[i] == RowLock::Busy || out[i] == RowLock::Gone)
			return i;
		*moved |= out[i] == RowLock::Moved;
	}
	return out.size();
}

bool
xact_waits_for_lock(TransactionId xid)
{
	int pid = BackendXidGetPid(xid);
	if (pid == 0)
		return false;
	PGPROC *proc = BackendPidGetProc(pid);
	// Read without the lock partition's lock: a hint, stale by the time
	// it is used either way.
	if (proc == nullptr)
		return false;
	// One load: the owner and the lock manager write it meanwhile.
	const LOCK *lock = *static_cast<LOCK *volatile *>(&proc->waitLock);
	if (lock == nullptr)
		return false;
	// A wait for a relation's extension lock (a buyer's booking row needs
	// a new page) is short and never closes a cycle: PostgreSQL takes no
	// other heavyweight lock while holding one, and its deadlock detector
	// skips these waits. Counted, it sent a flash sale's buyers off their
	// busy shards to the pool row: the sharded sale made 0.6 of 72fa703's
	// rate. (A page lock is not exempt: GIN holds one through a whole
	// pending-list flush.)
	return LockTagType(lock->tag.locktag_type) != LOCKTAG_RELATION_EXTEND;
}

namespace {

// A slot of the statement writers' table: the transaction id recorded
// there, and the condition variable its buyers sleep on, broadcast when
// the id is taken back.
struct StatementWriter {
	pg_atomic_uint32 xid;
	ConditionVariable taken_back;
};

constexpr uint32 statement_writer_slots = 4096;
StatementWriter *statement_writers = nullptr;

// The id this backend last recorded, until it takes it back.
TransactionId noted_xid = InvalidTransactionId;

StatementWriter &
writer_slot(TransactionId xid) noexcept
{
	return statement_writers[xid % statement_writer_slots];
}

// The transaction xid (a holder met in the row's xmax) ends with its
// statement, as far as the table knows.
bool
ends_with_statement(TransactionId xid) noexcept
{
	return statement_writers != nullptr && pg_atomic_read_u32(&writer_slot(xid).xid) == xid;
}

}  // namespace

Size
statement_writers_size() noexcept
{
	return sizeof(StatementWriter) * statement_writer_slots;
}

void
statement_writers_attach(void *memory, bool found) noexcept
{
	statement_writers = static_cast<StatementWriter *>(memory);
	if (!found)
		for (uint32 i = 0; i < statement_writer_slots; i++) {
			pg_atomic_init_u32(&statement_writers[i].xid, InvalidTransactionId);
			ConditionVariableInit(&statement_writers[i].taken_back);
		}
}

void
note_statement_writer() noexcept
{
	TransactionId xid = GetCurrentTransactionIdIfAny();
	if (statement_writers == nullptr || !TransactionIdIsNormal(xid) || IsTransactionBlock() ||
		GetCurrentTransactionNestLevel() != 1)
		return;
	forget_statement_writer();
	pg_atomic_write_u32(&writer_slot(xid).xid, xid);
	noted_xid = xid;
}

void
forget_statement_writer() noexcept
{
	if (!TransactionIdIsValid(noted_xid))
		return;
	StatementWriter &slot = writer_slot(noted_xid);
	uint32 expected = noted_xid;
	noted_xid = InvalidTransactionId;
	// Wakes the buyers asleep on the slot (await_statement): at the
	// transaction's end it has left the process array already (xact.c
	// calls the callbacks after ProcArrayEndTransaction; a prepared one
	// stays in progress, and is polled for), and otherwise they see the
	// mark gone. A spinlock and no waiter is the usual cost.
	if (pg_atomic_compare_exchange_u32(&slot.xid, &expected, InvalidTransactionId))
		ConditionVariableBroadcast(&slot.taken_back);
}

void
statement_writers_init()
{
	RegisterXactCallback(
		[](XactEvent event, void *) {
			if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
				forget_statement_writer();
		},
		nullptr);
}

// The caller's whole wait for holders: *deadline, set to deadlock_timeout
// from now by the first wait. On a hot row a new holder comes after each
// commit, so it is not each holder's. A transaction still holding the row
// after deadlock_timeout is making several calls or waiting for its client,
// and its row is left to it.
static TimestampTz
wait_deadline(int64_t *deadline)
{
	if (*deadline == 0)
		*deadline = GetCurrentTimestamp() + TimestampTz(DeadlockTimeout) * 1000;
	return *deadline;
}

// Poll, outside the lock manager, for a transaction to end: true when it
// did before the caller's deadline (wait_deadline). A single-call buyer holds a
// row for about a commit's time, so the sleeps start at 250 us. Not in the
// lock manager, so that the wait neither closes a cycle nor needs one to be
// ruled out.
static bool
await_end(TransactionId xid, int64_t *deadline)
{
	TimestampTz end = wait_deadline(deadline);
	for (long sleep_us = 250;; sleep_us = std::min(sleep_us * 2, 2000L)) {
		if (GetCurrentTimestamp() >= end)
			return false;
		// Seen in pg_stat_activity as the extension's wait.
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		pg_usleep(sleep_us);
		pgstat_report_wait_end();
		CHECK_FOR_INTERRUPTS();
		if (!TransactionIdIsInProgress(xid))
			return true;
		// Asleep in the lock manager, it may well be waiting for a row this
		// transaction or one queued behind it holds: do not wait for it.
		if (xact_waits_for_lock(xid))
			return false;
	}
}

// Wait for a holder that ends with its statement (note_statement_writer):
// asleep on its slot's condition variable, woken when the mark is taken
// back, which its transaction's end does, instead of polling for it. A
// flash sale's buyers sharing a shard each met another's take about once a
// purchase, and polling for it cost the server a fifth more CPU per
// purchase than a wait woken at the holder's commit (bench/README.md).
// Bounded as the poll is (the caller's deadline), and not in the lock
// manager: a holder whose transaction outlives its statement after all
// (the next statements of a batch sent before one Sync, a DO block that
// goes on, user code that waits for this very buyer outside the lock
// manager, as a dblink call to the same server would) keeps it at most
// until then, and no cycle can form that nothing breaks. Once the mark is
// gone while the holder runs on (it made another call of the library,
// which may wait for locks), or the holder waits for a lock, it is left to
// await_end, which polls for the first and gives up on the second.
// Rechecked every 10 ms meanwhile. Seen in pg_stat_activity as
// BookingStatementHolder from 17 on (compat.hpp).
static bool
await_statement(TransactionId xid, int64_t *deadline)
{
	TimestampTz end = wait_deadline(deadline);
	uint32 event = statement_holder_wait_event();  // may ereport: before the sleep is prepared
	ConditionVariable *cv = &writer_slot(xid).taken_back;
	ConditionVariablePrepareToSleep(cv);
	enum { Ended, Expired, Poll } outcome;
	for (;;) {
		// After the sleep was prepared: a broadcast from now on wakes it.
		if (!TransactionIdIsInProgress(xid)) {
			outcome = Ended;
			break;
		}
		if (!ends_with_statement(xid) || xact_waits_for_lock(xid)) {
			outcome = Poll;
			break;
		}
		TimestampTz now = GetCurrentTimestamp();
		if (now >= end) {
			outcome = Expired;
			break;
		}
		long ms = long(std::min<TimestampTz>((end - now + 999) / 1000, 10));
		// Checks for interrupts; an error leaves the sleep to the
		// (sub)transaction's abort, which cancels it.
		(void) ConditionVariableTimedSleep(cv, ms, event);
	}
	ConditionVariableCancelSleep();
	if (outcome == Poll)
		return await_end(xid, deadline);
	return outcome == Ended;
}

// The one transaction that writes or locks the version in slot (pinned),
// or none: a MultiXactId's members (several lockers, or a locker and its
// own aborted updater) have no single end to wait for. TM_WouldBlock's
// tmfd.xmax cannot tell: for a multi it is the MultiXactId itself or its
// updater, which may long have ended while the lockers stay.
static TransactionId
single_holder(TupleTableSlot *slot)
{
	auto *bslot = reinterpret_cast<BufferHeapTupleTableSlot *>(slot);
	LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
	HeapTupleHeader header = bslot->base.tuple->t_data;
	TransactionId xmax =
		(header->t_infomask & HEAP_XMAX_IS_MULTI) ? InvalidTransactionId : HeapTupleHeaderGetRawXmax(header);
	LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);
	return xmax;
}

// The decision and write of update_row() for the row found in slot.
DirectTable::Update
DirectTable::write_found(Relation rel, TupleTableSlot *slot, const Datum *key, Decide decide, void *arg, Wait wait,
						 bool *again)
{
	CommandId cid = GetCurrentCommandId(true);
	TupleDesc desc = RelationGetDescr(rel);
	Datum *new_row = static_cast<Datum *>(palloc0(sizeof(Datum) * desc->natts));
	bool *new_row_nulls = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
	bool *replace_row = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
	for (;;) {
		Datum values[max_columns], new_values[max_columns];
		bool nulls[max_columns], new_nulls[max_columns], replace[max_columns];
		slot_columns(slot, attnums_, ncolumns_, values, nulls);
		for (int i = 0; i < ncolumns_; i++) {
			new_values[i] = Datum(0);
			new_nulls[i] = replace[i] = false;
		}
		if (!decide(values, nulls, new_values, new_nulls, replace, arg))
			return Update::Refused;
		bool refuse = false;
		for (int i = 0; i < ncolumns_; i++) {
			int a = attnums_[i] - 1;
			replace_row[a] = replace[i];
			new_row[a] = new_values[i];
			new_row_nulls[a] = new_nulls[i];
			refuse |= replace[i] && new_nulls[i] && notnull_[i];  // the statement reports the violation
		}
		bool should_free;
		HeapTuple old_tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		// A foreign key of the row's own is checked by an UPDATE when its
		// columns change or the row is this transaction's (the check of its
		// insert may be deferred): leave that to the statement.
		for (int f = 0; f < nforeign_keys_ && !refuse; f++) {
			bool set = false, changed = false;
			for (int k = 0; k < foreign_key_columns_[f]; k++) {
				AttrNumber a = foreign_key_attnums_[f][k];
				set |= !heap_attisnull(old_tuple, a, desc);
				changed |= replace_row[a - 1];
			}
			refuse = set &&
					 (changed || TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(old_tuple->t_data)));
		}
		if (refuse)
			return Update::Refused;
		HeapTuple new_tuple = heap_modify_tuple(old_tuple, desc, new_row, new_row_nulls, replace_row);
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		LockTupleMode lockmode = LockTupleNoKeyExclusive;
		bool needs_index_entries = false;
		// Skipping or queueing: lock the version read first, without
		// waiting, then update it. heap_update itself must not be asked not
		// to wait (PostgreSQL asserts it never is, and leaves that case
		// untested). The lock is ours only if the update follows: a row
		// another transaction holds or has changed since the snapshot is
		// left alone. Our own earlier lock lets it through.
		TM_Result updated = TM_Ok;
		if (wait != Wait::Block)
			updated = lock_without_waiting(rel, &tid, cid, &tmfd);
		if (updated == TM_Ok)
			updated = heap_update_row(rel, &tid, new_tuple, cid, &tmfd, &lockmode, &needs_index_entries);
		switch (updated) {
		case TM_Ok:
			if (needs_index_entries)
				insert_index_entries(rel, new_tuple, index_ids_, index_info_, predicate_, nindexes_, replace_row);
			return Update::Done;
		case TM_WouldBlock:
			// Queueing: wait for the transaction that has the row to end,
			// holding no lock on the row meanwhile, then read it again. (A
			// row only locked by several has no single writer to wait for:
			// it counts as busy.)
			if (wait == Wait::Queue) {
				TransactionId holder = single_holder(slot);
				if (TransactionIdIsNormal(holder) && !TransactionIdIsCurrentTransactionId(holder) &&
					(ends_with_statement(holder) ? await_statement(holder, &queue_deadline_)
												 : await_end(holder, &queue_deadline_))) {
					*again = true;
					return Update::Missing;
				}
			}
			return Update::Busy;  // nothing locked
		case TM_Deleted:
			return Update::Missing;
		case TM_Updated:
			break;
		default:
			elog(ERROR, "booking: unexpected result %d updating a row of booking.%s", int(updated), table_);
		}
		if (wait != Wait::Block) {
			// Committed meanwhile: read its newest version with a new
			// snapshot rather than lock it, so a refusal leaves no lock.
			*again = true;
			return Update::Missing;
		}
		// Blocking, as an UPDATE's EvalPlanQual does: lock the newest
		// version (queued behind its other waiters) and decide again. A new
		// snapshot would put this caller at the back of the queue after
		// every commit, and the hottest row's waiters would chase it.
		TM_Result locked = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot, cid, lockmode, LockWaitBlock,
											TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (locked == TM_Deleted)
			return Update::Missing;
		if (locked != TM_Ok)
			elog(ERROR, "booking: unexpected result %d locking a row of booking.%s", int(locked), table_);
		// The newest version must still have the key, as EvalPlanQual
		// re-checks the whole WHERE clause.
		for (int k = 0; k < key_columns_; k++) {
			bool isnull;
			Datum value = slot_getattr(slot, key_attnums_[k], &isnull);
			bool same = !isnull && (key_equal_[k] == F_INT8EQ ? DatumGetInt64(value) == DatumGetInt64(key[k])
															  : DatumGetInt32(value) == DatumGetInt32(key[k]));
			if (!same)
				return Update::Refused;
		}
		CHECK_FOR_INTERRUPTS();
	}
}

ItemPointerData
DirectTable::insert(const Datum *values, const bool *nulls)
{
	if (!opened() || !can_insert(nulls))
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " is not open to direct writes");
	return guard([this, values, nulls] {
		Relation rel = table_open(relid_, RowExclusiveLock);
		TupleDesc desc = RelationGetDescr(rel);
		Datum *row = static_cast<Datum *>(palloc0(sizeof(Datum) * desc->natts));
		bool *row_nulls = static_cast<bool *>(palloc(sizeof(bool) * desc->natts));
		for (int a = 0; a < desc->natts; a++)
			row_nulls[a] = true;
		for (int i = 0; i < ncolumns_; i++) {
			row[attnums_[i] - 1] = values[i];
			row_nulls[attnums_[i] - 1] = nulls[i];
		}
		HeapTuple tuple = heap_form_tuple(desc, row, row_nulls);
		PushActiveSnapshot(GetTransactionSnapshot());
		PG_TRY();
		{
			heap_insert(rel, tuple, GetCurrentCommandId(true), 0, nullptr);
			insert_index_entries(rel, tuple, index_ids_, index_info_, predicate_, nindexes_);
		}
		PG_FINALLY();
		{
			PopActiveSnapshot();
		}
		PG_END_TRY();
		table_close(rel, NoLock);
		// Later statements of the call see the row.
		CommandCounterIncrement();
		return tuple->t_self;
	});
}

void
DirectTable::remove_inserted(ItemPointerData tid)
{
	if (!opened())
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " is not open to direct writes");
	guard([this, tid] {
		Relation rel = table_open(relid_, RowExclusiveLock);
		ItemPointerData at = tid;
		simple_heap_delete(rel, &at);
		table_close(rel, NoLock);
		CommandCounterIncrement();
	});
}

int64_t
DirectTable::next_key()
{
	if (!opened() || !OidIsValid(sequence_id_))
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " has no sequence to draw from");
	Oid sequence = sequence_id_;
	return guard([sequence] { return int64_t(nextval_internal(sequence, true)); });
}

}  // namespace booking::pg
