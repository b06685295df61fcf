#include "pg/write.hpp"

#include "booking/error.hpp"

#include <string>

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
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
					 ExprState *const *predicates, int nindexes)
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
		Relation index = index_open(index_ids[i], RowExclusiveLock);
		Datum values[INDEX_MAX_KEYS];
		bool isnull[INDEX_MAX_KEYS];
		FormIndexDatum(infos[i], slot, nullptr, values, isnull);
		index_insert(index, values, isnull, &tuple->t_self, rel,
					 index->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, infos[i]);
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
		bool hit = relid == InvalidOid || relid == table->relid_;
		for (int i = 0; !hit && i < table->nindexes_; i++)
			hit = relid == table->index_ids_[i];
		if (hit)
			table->stale_ = true;
	}
}

DirectTable::DirectTable(const char *table, const char *key_index, std::initializer_list<const char *> columns)
	: table_(table), key_index_(key_index)
{
	for (const char *c : columns)
		if (ncolumns_ < max_columns)
			columns_[ncolumns_++] = c;
	if (ntables < max_tables)
		tables[ntables++] = this;
}

// Read the table's shape (rel is open and locked) and decide whether direct
// writes may stand in for the executor. Runs in a PostgreSQL frame (usable()).
bool
DirectTable::build(Relation rel)
{
	stale_ = false;
	usable_ = insertable_ = false;
	nindexes_ = 0;
	if (cxt_ == nullptr)
		cxt_ = AllocSetContextCreate(CacheMemoryContext, "booking direct writes", ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cxt_);

	TupleDesc desc = RelationGetDescr(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relrowsecurity || rel->rd_rules != nullptr)
		return false;
	if (desc->constr && (desc->constr->num_check > 0 || desc->constr->has_generated_stored))
		return false;
	// Triggers: only those of a foreign key from the table to itself (pool's
	// parent_id), which an update that changes no key column never fires.
	if (rel->trigdesc)
		for (int i = 0; i < rel->trigdesc->numtriggers; i++) {
			const Trigger &trigger = rel->trigdesc->triggers[i];
			if (RI_FKey_trigger_type(trigger.tgfoid) == RI_TRIGGER_NONE || trigger.tgconstrrelid != relid_)
				return false;
		}

	if (ncolumns_ == 0 || ncolumns_ > max_columns)
		return false;
	for (int i = 0; i < ncolumns_; i++) {
		attnums_[i] = get_attnum(relid_, columns_[i]);
		if (attnums_[i] == InvalidAttrNumber)
			return false;  // the SQL statement reports the missing column
		notnull_[i] = TupleDescAttr(desc, attnums_[i] - 1)->attnotnull;
	}
	// For an insert, a column it does not set must become NULL, as it would
	// from SQL: no default, identity, generation or NOT NULL.
	insertable_ = true;
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

	MemoryContext old = MemoryContextSwitchTo(cxt_);
	List *index_ids = RelationGetIndexList(rel);
	bool ok = list_length(index_ids) <= max_indexes;
	bool has_key = key_index_ == nullptr;
	ListCell *lc;
	foreach (lc, index_ids) {
		if (!ok)
			break;
		Oid index_id = lfirst_oid(lc);
		Relation index = index_open(index_id, RowExclusiveLock);
		IndexInfo *info = BuildIndexInfo(index);
		// A btree on plain columns, checked at once if unique: what
		// index_insert() alone maintains exactly.
		ok = index->rd_rel->relam == BTREE_AM_OID && info->ii_Expressions == NIL &&
			 info->ii_ExclusionOps == nullptr && (!index->rd_index->indisunique || index->rd_index->indimmediate);
		ExprState *predicate = nullptr;
		if (ok && info->ii_Predicate != NIL) {
			// Compiled once and kept: only immutable functions, so no
			// evaluation depends on anything a later transaction may change.
			ok = !contain_mutable_functions((Node *) info->ii_Predicate);
			if (ok)
				predicate = ExecInitQual((List *) expression_planner((Expr *) info->ii_Predicate), nullptr);
		}
		if (ok) {
			if (key_index_ && strcmp(RelationGetRelationName(index), key_index_) == 0) {
				has_key = index->rd_index->indisunique && info->ii_NumIndexKeyAttrs == 1;
				key_index_id_ = index_id;
			}
			index_ids_[nindexes_] = index_id;
			index_info_[nindexes_] = info;
			predicate_[nindexes_] = predicate;
			nindexes_++;
		}
		index_close(index, NoLock);
	}
	MemoryContextSwitchTo(old);
	usable_ = ok && has_key;
	return usable_;
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
			if (stale_)
				build(rel);
			table_close(rel, NoLock);
			if (!stale_)
				break;
		}
		// The privileges the SQL statement would need, as the function's owner.
		return usable_ && pg_class_aclmask(relid_, GetUserId(), ACL_SELECT | ACL_INSERT | ACL_UPDATE, ACLMASK_ALL) ==
							  (ACL_SELECT | ACL_INSERT | ACL_UPDATE);
	});
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
DirectTable::update_by_key(int64_t key, Decide decide, void *arg)
{
	if (!usable_)
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " is not open to direct writes");
	return guard([this, key, decide, arg] {
		// As SPI does before each statement of a VOLATILE function.
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		volatile Update result = Update::Missing;
		PG_TRY();
		{
			result = update_row(key, decide, arg);
		}
		PG_FINALLY();
		{
			PopActiveSnapshot();
		}
		PG_END_TRY();
		return Update(result);
	});
}

// The scan, decision and writes of update_by_key(), under its snapshot.
DirectTable::Update
DirectTable::update_row(int64_t key, Decide decide, void *arg)
{
	Relation rel = table_open(relid_, RowExclusiveLock);
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	Relation key_index = index_open(key_index_id_, RowExclusiveLock);
	Update result = Update::Missing;
	Snapshot snapshot = GetActiveSnapshot();
	TupleTableSlot *slot = table_slot_create(rel, nullptr);
	IndexScanDesc scan = index_beginscan(rel, key_index, snapshot, 1, 0);
	ScanKeyData skey;
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	index_rescan(scan, &skey, 1, nullptr, 0);
	bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(key_index, NoLock);
	CommandId cid = GetCurrentCommandId(true);
	TupleDesc desc = RelationGetDescr(rel);
	Datum *new_row = static_cast<Datum *>(palloc0(sizeof(Datum) * desc->natts));
	bool *new_row_nulls = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
	bool *replace_row = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
	while (found) {
		Datum values[max_columns], new_values[max_columns];
		bool nulls[max_columns], new_nulls[max_columns], replace[max_columns];
		slot_columns(slot, attnums_, ncolumns_, values, nulls);
		for (int i = 0; i < ncolumns_; i++) {
			new_values[i] = Datum(0);
			new_nulls[i] = replace[i] = false;
		}
		if (!decide(values, nulls, new_values, new_nulls, replace, arg)) {
			result = Update::Refused;
			break;
		}
		for (int i = 0; i < ncolumns_; i++) {
			int a = attnums_[i] - 1;
			replace_row[a] = replace[i];
			new_row[a] = new_values[i];
			new_row_nulls[a] = new_nulls[i];
		}
		bool should_free;
		HeapTuple old_tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		HeapTuple new_tuple = heap_modify_tuple(old_tuple, desc, new_row, new_row_nulls, replace_row);
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		TM_Result updated = heap_update(rel, &tid, new_tuple, cid, InvalidSnapshot, true, &tmfd, &lockmode);
		if (updated == TM_Ok) {
			if (!HeapTupleIsHeapOnly(new_tuple))
				insert_index_entries(rel, new_tuple, index_ids_, index_info_, predicate_, nindexes_);
			result = Update::Done;
			break;
		}
		if (updated == TM_Deleted)
			break;	// Missing
		if (updated != TM_Updated)
			elog(ERROR, "booking: unexpected result %d updating a row of booking.%s", int(updated), table_);
		// A concurrent transaction updated the row and committed:
		// lock its newest version and decide again, as EvalPlanQual.
		TM_Result locked = table_tuple_lock(rel, &tid, snapshot, slot, cid, lockmode, LockWaitBlock,
											TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (locked == TM_Deleted)
			break;	// Missing
		if (locked != TM_Ok)
			elog(ERROR, "booking: unexpected result %d locking a row of booking.%s", int(locked), table_);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return result;
}

void
DirectTable::insert(const Datum *values, const bool *nulls)
{
	if (!usable_ || !can_insert(nulls))
		throw Error(SqlState::Internal, "booking: booking." + std::string(table_) + " is not open to direct writes");
	guard([this, values, nulls] {
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
	});
}

int64_t
next_value(const char *sequence)
{
	return guard([sequence] {
		Oid nsp = get_namespace_oid("booking", false);
		Oid relid = get_relname_relid(sequence, nsp);
		if (!OidIsValid(relid))
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("booking: sequence booking.%s is missing", sequence),
							errhint("Reinstall the extension: DROP EXTENSION booking; CREATE EXTENSION booking;")));
		return int64_t(nextval_internal(relid, true));
	});
}

}  // namespace booking::pg
