// The expiry worker, in the pg_cron way: a launcher registered at start-up
// keeps one dynamic worker per database of booking.databases, restarting any
// that stop; each database worker runs one transaction per batch and sleeps
// booking.expiry_interval between rounds. Correctness never waits for it
// (expiry is checked at read time); it only keeps rows tidy and waitlists
// moving without a buyer's help. It takes locks with SKIP LOCKED, so it
// never waits for a buyer, and logs nothing per row.
//
// Lifecycle. A terminated launcher (pg_terminate_backend, SIGTERM) exits
// with code 1, so the postmaster starts it again after bgw_restart_time,
// unless the server is shutting down (no worker is started then); it stops
// its database workers on the way out, and the new one starts them again.
// The launcher is connected to no database (shared catalogs only, as the
// logical replication launcher): it starts a worker only for a database
// that exists, takes connections and is not being dropped, and says once
// why it does not. A database worker leaves its database to any command
// that needs it alone (DROP DATABASE, ALTER DATABASE RENAME or SET
// TABLESPACE, CREATE DATABASE ... TEMPLATE): those lock the database
// against new connections and then wait 5 seconds for the sessions in it
// to go, telling only autovacuum to. DROP DATABASE ... WITH (FORCE)
// terminates it instead, which only a superuser or a member of
// pg_signal_backend may: the worker runs as no role. An error in a round
// (a deadlock, lock_timeout, a cancel) rolls back the batch it came in
// (the round's earlier batches stay committed) and is logged at most once
// in 5 minutes per SQLSTATE; the next round runs as usual. A terminate
// still ends the worker.
#include "worker.hpp"

#include "expiry.hpp"
#include "pg/boundary.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "lib/stringinfo.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

PGDLLEXPORT void booking_launcher_main(Datum arg);
PGDLLEXPORT void booking_expiry_main(Datum arg);
}

#include <algorithm>
#include <cstring>

namespace booking::worker {

namespace {

int expiry_interval_ms = 1000;
int expiry_batch = 1000;
char *databases = nullptr;

// How often a database worker looks whether a command wants its database
// alone, between rounds: well within the 5 seconds such a command waits.
// During a round it looks after each full batch, so a batch is never cut
// short (and a long one can outlast those 5 seconds).
constexpr long probe_ms = 500;

// ---------------------------------------------------------------- both

// Whether a session holds or waits for a lock on database db that keeps new
// connections out (InitPostgres takes RowExclusiveLock on it): DROP
// DATABASE, ALTER DATABASE RENAME or SET TABLESPACE, CREATE DATABASE from it
// as a template. Outside any transaction (a session lock, let go at once).
bool
wanted_alone(Oid db)
{
	LOCKTAG tag;
	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, db, 0);
	if (LockAcquire(&tag, RowExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, true);
	return false;
}

// ---------------------------------------------------------------- launcher

constexpr int max_children = 64;
constexpr int64 second = USECS_PER_SEC;

// Why a database has no worker, said once until it changes.
enum class Absence { none, missing, closed, invalid };

struct Child {
	char dbname[NAMEDATALEN];
	BackgroundWorkerHandle *handle;
	TimestampTz started;
	TimestampTz next_start;
	Absence told;
};

Child children[max_children];
int nchildren = 0;

void
fill_worker(BackgroundWorker *w, const char *function, const char *name)
{
	std::memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	snprintf(w->bgw_library_name, BGW_MAXLEN, "booking");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(w->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(w->bgw_type, BGW_MAXLEN, "%s", name);
}

// Start the worker of one database; false when no slot is free.
bool
start_child(Child *c)
{
	BackgroundWorker w;
	fill_worker(&w, "booking_expiry_main", "booking expiry");
	snprintf(w.bgw_name, BGW_MAXLEN, "booking expiry %s", c->dbname);
	w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it
	w.bgw_notify_pid = MyProcPid;
	std::memcpy(w.bgw_extra, c->dbname, NAMEDATALEN < BGW_EXTRALEN ? NAMEDATALEN : BGW_EXTRALEN);
	c->started = GetCurrentTimestamp();
	return RegisterDynamicBackgroundWorker(&w, &c->handle);
}

bool
running(const Child *c)
{
	pid_t pid;
	return c->handle && GetBackgroundWorkerPid(c->handle, &pid) != BGWH_STOPPED;
}

void
forget_handle(Child *c)
{
	if (c->handle)
		pfree(c->handle);
	c->handle = nullptr;
}

// The launcher is going (terminated, or an error): its workers go too, so
// that the launcher the postmaster starts next does not start a second
// worker in a database. Registered before the connection, so it runs after
// the transaction is aborted and every LWLock let go.
void
stop_children(int, Datum)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i].handle)
			TerminateBackgroundWorker(children[i].handle);
}

enum class Database { usable, missing, closed, invalid, busy };

// What pg_database says of a database, read from the launcher, and whether
// a command wants it alone now. A heap scan, as the autovacuum launcher
// reads it: connected to no database, only the nailed relcache entries of
// the shared catalogs are sure to be there, not pg_database's indexes.
Database
look_up(const char *name)
{
	Database found = Database::missing;
	Oid oid = InvalidOid;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
	while (HeapTuple tuple = heap_getnext(scan, ForwardScanDirection)) {
		auto *db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
		if (strcmp(NameStr(db->datname), name) != 0)
			continue;
		oid = db->oid;
		found = db->datallowconn ? Database::usable : Database::closed;
#ifdef DATCONNLIMIT_INVALID_DB
		// Being dropped (then also locked), or left so by an interrupted
		// DROP DATABASE: nobody may connect.
		if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			found = Database::invalid;
#endif
		break;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	// A command that holds the database now decides what it becomes.
	if (found != Database::missing && wanted_alone(oid))
		found = Database::busy;
	return found;
}

// Start the worker of c's database when it may run there now.
void
start_if_possible(Child *c, TimestampTz now)
{
	switch (look_up(c->dbname)) {
	case Database::missing:
		if (c->told != Absence::missing)
			ereport(LOG, (errmsg("booking.databases names database \"%s\", which does not exist", c->dbname),
						  errdetail("The booking expiry worker starts there once it exists.")));
		c->told = Absence::missing;
		c->next_start = now + 10 * second;
		return;
	case Database::closed:
		if (c->told != Absence::closed)
			ereport(LOG, (errmsg("booking.databases names database \"%s\", which does not allow connections",
								 c->dbname),
						  errdetail("The booking expiry worker starts there once it does.")));
		c->told = Absence::closed;
		c->next_start = now + 10 * second;
		return;
	case Database::invalid:
		if (c->told != Absence::invalid)
			ereport(LOG, (errmsg("booking.databases names database \"%s\", which is invalid", c->dbname),
						  errdetail("A DROP DATABASE of it was interrupted; it can only be dropped.")));
		c->told = Absence::invalid;
		c->next_start = now + 10 * second;
		return;
	case Database::busy:
		c->next_start = now + second;  // being dropped, renamed, copied: look again
		return;
	case Database::usable:
		break;
	}
	c->told = Absence::none;
	c->next_start = now + second;
	start_child(c);
}

// Bring the children in line with booking.databases.
void
reconcile_children()
{
	char *list = pstrdup(databases ? databases : "");
	List *names = NIL;
	if (!SplitIdentifierString(list, ',', &names))
		names = NIL;  // refused by check_databases: cannot happen
	// Stop the workers of databases no longer named.
	for (int i = 0; i < nchildren;) {
		bool named = false;
		ListCell *lc;
		foreach (lc, names)
			named = named || strcmp(children[i].dbname, (char *) lfirst(lc)) == 0;
		if (named) {
			i++;
			continue;
		}
		if (children[i].handle) {
			TerminateBackgroundWorker(children[i].handle);
			forget_handle(&children[i]);
		}
		children[i] = children[--nchildren];
	}
	// Start the missing ones.
	TimestampTz now = GetCurrentTimestamp();
	ListCell *lc;
	foreach (lc, names) {
		const char *name = (const char *) lfirst(lc);
		Child *c = nullptr;
		for (int i = 0; i < nchildren && !c; i++)
			if (strcmp(children[i].dbname, name) == 0)
				c = &children[i];
		if (!c) {
			if (nchildren == max_children)
				continue;
			c = &children[nchildren++];
			std::memset(c, 0, sizeof(*c));
			strlcpy(c->dbname, name, NAMEDATALEN);
		}
		if (running(c) || now < c->next_start)
			continue;
		// A worker that died within 5 seconds of starting (it logged why) is
		// retried in 10 seconds, not at once.
		if (c->handle) {
			bool soon = now - c->started < 5 * second;
			forget_handle(c);
			if (soon) {
				c->next_start = now + 10 * second;
				continue;
			}
		}
		start_if_possible(c, now);
	}
	list_free(names);
	pfree(list);
}

// booking.databases must be a list the launcher can serve. Checked when it
// is set (ALTER SYSTEM, a reload, the start), so that a bad value is
// refused once, with the reason, and the last good one stays in force.
bool
check_databases(char **newval, void **, GucSource)
{
	char *list = pstrdup(*newval ? *newval : "");
	List *names = NIL;
	bool valid = SplitIdentifierString(list, ',', &names);
	int count = list_length(names);
	list_free(names);
	pfree(list);
	if (!valid) {
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	if (count > max_children) {
		GUC_check_errdetail("At most %d databases can be listed.", max_children);
		return false;
	}
	return true;
}

// ---------------------------------------------------------------- database worker

char database[NAMEDATALEN];
TimestampTz next_round = 0;

// Failed rounds are logged at most once in 5 minutes per SQLSTATE, whether
// rounds work in between or not. A SQLSTATE logged within 5 minutes keeps
// a slot; one that finds every slot so taken shares the last with any other
// such (which remembers the one it logged), so even then none is logged
// more often.
struct Logged {
	int code;		  // 0: free
	TimestampTz at;	  // when it was logged
	int64 unlogged;	  // failures with it since
};
constexpr int logged_slots = 16;
constexpr int64 quiet = 300 * second;
Logged logged[logged_slots + 1];
// A failure was logged and no round worked since; how many failed since
// without a line. The first round that works after such a run says so.
bool failing = false;
int64 failed_since = 0;

// The slot of a SQLSTATE: its own, a free one or one quiet for 5 minutes
// (the oldest), or the shared one.
Logged *
logged_slot(int code, TimestampTz now)
{
	Logged *oldest = &logged[0];
	for (int i = 0; i < logged_slots; i++) {
		if (logged[i].code == code)
			return &logged[i];
		if (logged[i].at < oldest->at)
			oldest = &logged[i];
	}
	Logged *shared = &logged[logged_slots];
	if (oldest->code != 0 && now - oldest->at < quiet)
		return shared;
	*oldest = {code, 0, 0};
	// Logged through the shared slot within 5 minutes: that counts.
	if (shared->code == code && now - shared->at < quiet)
		oldest->at = shared->at;
	return oldest;
}

struct Batch {
	int64 limit;
	int64 expired;
};

Datum
batch_body(void *arg)
{
	auto *b = static_cast<Batch *>(arg);
	b->expired = expire_batch(GetCurrentTransactionStartTimestamp(), b->limit, true);
	return Datum(0);
}

// One batch in its own transaction; returns the holds expired.
int64
run_batch()
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "booking: expiring lapsed holds");
	Batch batch{expiry_batch, 0};
	// Only where the extension exists.
	if (OidIsValid(get_extension_oid("booking", true)))
		pg::run_detached(batch_body, &batch);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, nullptr);
	return batch.expired;
}

// Exit, leaving the database to a command that wants it alone; the launcher
// starts a worker again once the database takes connections.
void
leave_if_wanted()
{
	if (!wanted_alone(MyDatabaseId))
		return;
	ereport(LOG, (errmsg("booking expiry worker leaves database \"%s\", which another session needs to itself",
						 database)));
	proc_exit(0);
}

// A round: batches until one is not full (more is waiting while they are).
void
round()
{
	while (run_batch() >= expiry_batch) {
		CHECK_FOR_INTERRUPTS();
		leave_if_wanted();
	}
	if (failing && failed_since > 0)
		ereport(LOG, (errmsg("booking expiry rounds in database \"%s\" work again", database),
					  errdetail("%lld more rounds failed since the last one logged.", (long long) failed_since)));
	failing = false;
	failed_since = 0;
}

// What an error outside a transaction may leave held, let go as the
// autovacuum launcher does after AbortCurrentTransaction (which lets all of
// it go when a transaction was open). The worker's own steps outside a
// transaction (a lock probe, a reload) take none of it: this is defence.
void
release_after_error()
{
	LWLockReleaseAll();
	ConditionVariableCancelSleep();
	pgstat_report_wait_end();
	pg::end_io_after_error();
}

// In the PG_CATCH of a failed round: roll back, as PostgresMain does after
// an error, and log it unless the same error was logged recently.
void
round_failed()
{
	HOLD_INTERRUPTS();
	disable_all_timeouts(false);
	QueryCancelPending = false;	 // a cancel ends this round, not the next
	MemoryContextSwitchTo(TopMemoryContext);
	ErrorData *error = CopyErrorData();
	FlushErrorState();
	bool in_batch = IsTransactionState();  // or a cancel while asleep, ...
	AbortCurrentTransaction();
	release_after_error();
	pgstat_report_activity(STATE_IDLE, nullptr);
	TimestampTz now = GetCurrentTimestamp();
	Logged *slot = logged_slot(error->sqlerrcode, now);
	if (slot->at != 0 && now - slot->at < quiet) {
		slot->unlogged++;
		if (failing)
			failed_since++;
	} else {
		// The error's own detail (a deadlock's names the processes and
		// locks), hint and context, then what became of the round.
		StringInfoData detail;
		initStringInfo(&detail);
		if (error->detail)
			appendStringInfo(&detail, "%s\n", error->detail);
		appendStringInfoString(&detail, in_batch ? "Its batch was rolled back, earlier batches of the round stay "
												   "committed; the next round runs as usual."
												 : "No batch was running; the next round runs as usual.");
		if (slot->unlogged > 0)
			appendStringInfo(&detail, " %lld more rounds failed with %s since it was last logged.",
							 (long long) slot->unlogged,
							 slot == &logged[logged_slots] ? "this or another error" : "this error");
		ereport(LOG, (errcode(error->sqlerrcode),
					  errmsg("booking expiry round in database \"%s\" failed: %s", database, error->message),
					  errdetail_internal("%s", detail.data), error->hint ? errhint("%s", error->hint) : 0,
					  error->context ? (errcontext("%s", error->context)) : 0));
		pfree(detail.data);
		*slot = {error->sqlerrcode, now, 0};
		failing = true;
		failed_since = 0;
	}
	FreeErrorData(error);
	RESUME_INTERRUPTS();
}

// One turn of the loop: the interrupts, a reload, a look for a command that
// wants the database, and a round when one is due. An error in it is the
// round's, caught here. Returns how long to sleep (ms). Owns no C++ object:
// an error longjmps into this frame.
__attribute__((noinline)) long
turn()
{
	PG_TRY();
	{
		// Also where a cancel that came while sleeping is raised.
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		leave_if_wanted();
		if (GetCurrentTimestamp() >= next_round) {
			round();
			next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), expiry_interval_ms);
		}
	}
	PG_CATCH();
	{
		round_failed();
		next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), expiry_interval_ms);
	}
	PG_END_TRY();
	long until = long((next_round - GetCurrentTimestamp()) / 1000);
	return std::clamp(until, 0L, probe_ms);
}

}  // namespace

void
init(bool preloaded)
{
	DefineCustomIntVariable("booking.expiry_interval", gettext_noop("Time between rounds of the expiry worker."),
							nullptr, &expiry_interval_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
							nullptr, nullptr);
	DefineCustomIntVariable("booking.expiry_batch",
							gettext_noop("Most holds the expiry worker marks in one transaction."), nullptr,
							&expiry_batch, 1000, 1, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("booking.databases",
							   gettext_noop("Databases the expiry worker serves, comma-separated."),
							   gettext_noop("Only databases where the booking extension exists are touched."),
							   &databases, "", PGC_SIGHUP, GUC_LIST_INPUT, check_databases, nullptr, nullptr);
	MarkGUCPrefixReserved("booking");
	if (!preloaded)
		return;
	BackgroundWorker w;
	fill_worker(&w, "booking_launcher_main", "booking launcher");
	w.bgw_restart_time = 1;
	RegisterBackgroundWorker(&w);
}

}  // namespace booking::worker

extern "C" {

void
booking_launcher_main(Datum)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	// Terminated, it exits with code 1 (FATAL) and the postmaster starts it
	// again, as the logical replication launcher; a cancel means nothing here.
	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, SIG_IGN);
	BackgroundWorkerUnblockSignals();
	before_shmem_exit(booking::worker::stop_children, Datum(0));
	// No database: pg_database is shared, and a DROP DATABASE never waits for us.
	BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
	pgstat_report_appname("booking launcher");
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		booking::worker::reconcile_children();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
booking_expiry_main(Datum)
{
	strlcpy(booking::worker::database, MyBgworkerEntry->bgw_extra, NAMEDATALEN);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(booking::worker::database, nullptr, 0);
	// The worker's own statements resolve nothing through a planted schema.
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "booking expiry", PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname("booking expiry");
	for (;;) {
		long wait = booking::worker::turn();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

}  // extern "C"
