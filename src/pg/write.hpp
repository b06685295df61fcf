// Row writes to one table of schema booking without the executor.
//
// Why: the flash sale's buy from a plain pool is one UPDATE of the pool row
// and one INSERT of the booking. Run as one SPI statement, perf of W2 (10,000
// pools, 64 clients) put 43% of all CPU in that statement, of which the heap
// and index work itself was about a quarter: the rest was executor start-up
// (plan tree, opening and locking every index, compiling the partial index
// predicates again on every call) and shut-down. A DirectTable does the same
// heap and index work with what the executor would use (heap_update with
// READ COMMITTED's wait-and-recheck, heap_insert, index_insert into every
// ready index whose predicate holds, with unique checks), keeping the
// per-table set-up (columns, indexes, compiled predicates) across calls.
//
// It stands in for the executor only where the two cannot differ. usable()
// is false, and the caller runs its SQL statement instead, when the table
// has anything only the executor honours: a trigger (beyond pool's own
// foreign key, which a counter update never fires), a rule, row security,
// a CHECK constraint, a generated, identity or defaulted column the write
// does not set, an index that is not a plain btree on columns (expressions,
// exclusion, deferrable unique, a predicate with a mutable function); or
// when the transaction is not READ COMMITTED, is read-only or parallel, or
// the function's owner lacks the privilege. None of that exists in the
// tables as the extension creates them: it is a user's addition, and then
// the SQL path keeps every behaviour exact.
//
// The set-up is rebuilt after any relcache invalidation of the table or of
// one of its indexes (ALTER TABLE, CREATE/DROP/REINDEX INDEX, VACUUM).
// Errors (a unique violation, a cancel while waiting for a row lock) are
// PostgreSQL's own, raised through guard(); the caller's transaction rolls
// the writes back as it would a statement's.
#pragma once

#include "pg/spi.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace booking::pg {

// Whether the transaction xid (in progress, top level) is asleep in the
// lock manager right now, for a lock that can close a cycle (not a
// relation's extension lock). A poll for a holder's end
// gives up on one that is: it may be waiting for a row the poller (or one
// queued behind it) holds, and would only end once the poll had run out.
bool
xact_waits_for_lock(TransactionId xid);

// Takes made by the last call of a transaction that ends with its
// statement: a single-call buy in an implicit transaction (no BEGIN), at
// the top level (not in a subtransaction: an order's items, a PL/pgSQL
// EXCEPTION block). note_statement_writer(), after such a take, records
// the transaction id in a small shared table (a slot per id modulo its
// size, overwritten on a collision: a lost entry only makes Queue poll for
// that holder instead). forget_statement_writer() takes the entry back and
// wakes the buyers asleep on its slot: every SQL-callable body calls it
// first (pg::run), as a later call of the same transaction may wait for
// locks; so does a take written back on its way to the pool row, and the
// transaction's end. A buyer that meets such a holder sleeps until then
// instead of polling, for no longer than it would poll (Queue below): what
// runs after the call in the same statement or transaction (user code
// around it, the next statements of a batch sent before one Sync) is not
// the library's, and may keep the transaction open for as long as it
// likes. Without shared memory (booking not preloaded) nothing is recorded.
Size
statement_writers_size() noexcept;
void
statement_writers_attach(void *memory, bool found) noexcept;
// The transaction callback that takes an entry back at the end (only
// when preloaded).
void
statement_writers_init();
void
note_statement_writer() noexcept;
void
forget_statement_writer() noexcept;

// FOR NO KEY UPDATE SKIP LOCKED of one row, without the wait SKIP LOCKED
// can still make. When the version a statement's SKIP LOCKED (or NOWAIT)
// reaches was being updated by a transaction that ends just then, the
// lock goes on down the row's update chain (heap_lock_updated_tuple) and
// waits in the lock manager, whatever the wait policy, for the transaction
// updating a later version: the hot row's next writer, which may want a
// row the caller holds. On a sharded pool that closed a cycle about once in
// ten runs of test/t/019_orders_load.pl: a buyer wrote a shard and waited
// for the pool row, whose holder waited for the buyer inside the SKIP
// LOCKED of lock_shards. This locks the version at tid without following
// updates, and when a committed update made a newer one, that one
// (EvalPlanQual's chase), never waiting: Busy while another transaction
// writes or locks the version to lock, Gone when the row was deleted,
// Moved when the version locked is newer than tid (a new snapshot reads
// it). Checks what the statement would: the table's UPDATE privilege and
// a transaction that may write.
enum class RowLock { Locked, Moved, Busy, Gone };

RowLock
lock_row_skip(const char *table, ItemPointerData tid);

// The same for n rows, in order (out: each one's; Busy for those not
// tried): the table is looked up, checked and opened once. With stop, the
// first busy or gone row ends it.
void
lock_rows_skip(const char *table, const ItemPointerData *tids, RowLock *out, std::size_t n, bool stop);

// lock_row_skip() of the rows of the last result, in result order, whose
// ctid is column: how many were locked before the first busy or gone row
// (every one when that is rows()), and whether any had a newer version.
uint64_t
lock_result_skip(const char *table, int column, bool *moved);

class DirectTable {
public:
	static constexpr int max_columns = 16;
	static constexpr int max_indexes = 32;
	static constexpr int max_key_columns = 4;
	static constexpr int max_foreign_keys = 4;

	// Decides a row change from the row's current values (one per named
	// column, in order): fills the values (and NULL flags) of the columns to
	// replace, sets their replace flags and returns true to write; false
	// leaves the row as it is. Called inside a PostgreSQL frame: pure arithmetic, no throwing.
	using Decide = bool (*)(const Datum *values, const bool *nulls, Datum *new_values, bool *new_nulls,
							bool *replace, void *arg) noexcept;

	// A column the caller reads or writes, and its type: a table whose
	// column has another type (a domain, a length limit) is not usable().
	struct Column {
		const char *name;
		Oid type;
	};

	// table of schema booking, its unique index on bigint and integer
	// columns (for update_by_key; may be null for a table only inserted
	// into), the columns the caller reads and writes, and the sequence of
	// schema booking its keys come from (for next_key; may be null).
	DirectTable(const char *table, const char *key_index, std::initializer_list<Column> columns,
				const char *sequence = nullptr);
	DirectTable(const DirectTable &) = delete;
	DirectTable &operator=(const DirectTable &) = delete;

	// Open the table for writing in this transaction (RowExclusiveLock, kept
	// to the end, as a statement takes it; an index is locked when written)
	// and say whether a direct write stands in exactly for the executor (see
	// above). update_by_key() and insert() require it in the same
	// transaction.
	bool
	usable();

	// Whether insert() can write a row with these NULL flags (one per named
	// column): every other column of the table takes NULL from SQL too (no
	// default, identity or generation), and none is NULL against a NOT NULL
	// constraint. Ask before writing anything else.
	bool
	can_insert(const bool *nulls) const;

	enum class Update { Missing, Refused, Busy, Done };

	// What update_by_key() does about another transaction writing or
	// locking the row. Block: wait for it, as an UPDATE does, and on a
	// concurrent commit lock the newest version and decide again (its
	// EvalPlanQual): a row refused then stays locked, as an UPDATE's. Skip:
	// give up at once (Busy, as SKIP LOCKED skips it). Queue: wait for that
	// transaction to end without queueing for the row or locking it, then
	// read the row again; Busy once deadlock_timeout has passed since the
	// first wait began, or at once when the holder is asleep in the lock
	// manager. Never in the lock manager: asleep until the holder's end
	// wakes it when the holder ends with its statement
	// (note_statement_writer), else a poll. Only for a caller that holds no
	// row lock (one that has written nothing): no call of the library waits
	// for it. With Skip and Queue a refused or skipped row is never left
	// locked. A row this transaction locked itself is no one else's and is
	// written.
	enum class Wait { Block, Skip, Queue };

	// UPDATE ... WHERE (the key index's columns) = key, under READ
	// COMMITTED: the row visible to a new snapshot is offered to decide();
	// if it agrees, the row is written. Under Skip and Queue, when a
	// concurrent transaction updated the row and committed, a new snapshot
	// reads its newest version and decide() is asked again, as a new
	// statement would. Missing: no row (or deleted meanwhile). Refused: by
	// decide(), or the newest version Block locked has another key (an
	// UPDATE's recheck of its WHERE fails), or only the statement can
	// write the row exactly: a NULL into a NOT NULL column, or a foreign
	// key of the row's own that the UPDATE would check. usable() must be
	// true, and decide() must change neither a key nor a foreign key column:
	// the foreign key triggers usable() lets through then have nothing to
	// check.
	Update
	update_by_key(std::initializer_list<Datum> key, Decide decide, void *arg, Wait wait = Wait::Block);

	// INSERT of one row: values of the named columns, NULL in every other.
	// usable() and can_insert() must be true.
	// Returns the new row's tid.
	ItemPointerData
	insert(const Datum *values, const bool *nulls);

	// DELETE of a row this transaction inserted with insert() (a take
	// written back): no trigger or foreign key to honour (usable()).
	void
	remove_inserted(ItemPointerData tid);

	// nextval() of the table's sequence, with its privilege check (the
	// sequence is looked up with the table's set-up, not on every call).
	// usable() must be true.
	int64_t
	next_key();

private:
	friend void direct_table_invalidate(Datum, Oid relid);

	bool
	opened() const;
	bool
	build(Relation rel);
	bool
	build_shape(Relation rel);
	Update
	update_in_snapshot(const Datum *key, Decide decide, void *arg, Wait wait, bool *again);
	Update
	update_row(const Datum *key, Decide decide, void *arg, Wait wait, bool *again);
	Update
	write_found(Relation rel, struct TupleTableSlot *slot, const Datum *key, Decide decide, void *arg, Wait wait,
				bool *again);

	// Queue: when this update_by_key() call stops polling, whichever
	// holders it met (0 until it first polls).
	int64_t queue_deadline_ = 0;

	const char *table_;
	const char *key_index_;
	const char *sequence_;
	Column columns_[max_columns];
	int ncolumns_ = 0;

	// Set-up, valid while stale_ is false; kept in cxt_.
	bool stale_ = true;
	bool built_ = false;  // the last build finished (an error leaves it false)
	LocalTransactionId opened_in_ = 0;	// usable() said yes in this transaction
	bool usable_ = false;	  // the table's shape allows direct writes
	bool insertable_ = false;  // ... and inserts of the named columns alone
	MemoryContext cxt_ = nullptr;
	Oid relid_ = InvalidOid;
	Oid sequence_id_ = InvalidOid;
	Oid key_index_id_ = InvalidOid;
	int key_columns_ = 0;
	AttrNumber key_attnums_[max_key_columns];
	int nforeign_keys_ = 0;	 // the table's own foreign keys
	int foreign_key_columns_[max_foreign_keys];
	AttrNumber foreign_key_attnums_[max_foreign_keys][max_key_columns];
	Oid key_equal_[max_key_columns];  // equality function of each key column
	AttrNumber attnums_[max_columns];
	bool notnull_[max_columns];
	int nindexes_ = 0;
	Oid index_ids_[max_indexes];
	struct IndexInfo *index_info_[max_indexes];
	struct ExprState *predicate_[max_indexes];	// NULL: not partial
};

}  // namespace booking::pg
