// The expiry worker, in the pg_cron way: a launcher registered at start-up
// keeps one dynamic worker per database of booking.databases, restarting any
// that stop; each database worker runs one transaction per batch and sleeps
// booking.expiry_interval between rounds. Correctness never waits for it
// (expiry is checked at read time); it only keeps rows tidy and waitlists
// moving without a buyer's help. It takes locks with SKIP LOCKED, so it
// never waits for a buyer, and logs nothing per row.
//
// An error in a round (a deadlock, lock_timeout, a cancel) rolls the round
// back and is logged once; the next round runs as usual. A terminate still
// ends the worker.
#include "worker.hpp"

#include "expiry.hpp"
#include "pg/boundary.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/varlena.h"

PGDLLEXPORT void booking_launcher_main(Datum arg);
PGDLLEXPORT void booking_expiry_main(Datum arg);
}

#include <cstring>

namespace booking::worker {

namespace {

int expiry_interval_ms = 1000;
int expiry_batch = 1000;
char *databases = nullptr;

constexpr int max_children = 64;

struct Child {
	char dbname[NAMEDATALEN];
	BackgroundWorkerHandle *handle;
	TimestampTz started;
	TimestampTz next_start;
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

// Bring the children in line with booking.databases.
void
reconcile_children()
{
	char *list = pstrdup(databases ? databases : "");
	List *names = NIL;
	if (!SplitIdentifierString(list, ',', &names)) {
		ereport(WARNING, (errmsg("booking.databases is not a valid list of database names: \"%s\"", databases)));
		names = NIL;
	}
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
		if (children[i].handle)
			TerminateBackgroundWorker(children[i].handle);
		children[i] = children[--nchildren];
	}
	// Start the missing ones; a worker that died soon after starting (a
	// database that does not exist, say) is retried every 10 seconds.
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
		// A worker that died within 5 seconds of starting (its database does
		// not exist, say) is retried in 10 seconds, not at once.
		if (c->handle && now - c->started < 5 * USECS_PER_SEC) {
			c->handle = nullptr;
			c->next_start = now + 10 * USECS_PER_SEC;
			continue;
		}
		c->next_start = now + USECS_PER_SEC;
		start_child(c);
	}
	list_free(names);
	pfree(list);
}

// ---------------------------------------------------------------- database worker

char database[NAMEDATALEN];

// Failed rounds: one line for the first, none for the same error again
// within 5 minutes, one when rounds work again.
int failed_code = 0;
TimestampTz failed_logged = 0;
int64 failed_unlogged = 0;

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

// A round: batches until one is not full (more is waiting while they are).
void
round()
{
	while (run_batch() >= expiry_batch)
		CHECK_FOR_INTERRUPTS();
	if (failed_unlogged > 0)
		ereport(LOG, (errmsg("booking expiry rounds in database \"%s\" work again", database),
					  errdetail("%lld more rounds failed since the last one logged.", (long long) failed_unlogged)));
	failed_code = 0;
	failed_unlogged = 0;
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
	AbortCurrentTransaction();
	pgstat_report_activity(STATE_IDLE, nullptr);
	TimestampTz now = GetCurrentTimestamp();
	if (error->sqlerrcode != failed_code || now - failed_logged >= 300 * USECS_PER_SEC) {
		ereport(LOG, (errcode(error->sqlerrcode),
					  errmsg("booking expiry round in database \"%s\" failed: %s", database, error->message),
					  errdetail("The round was rolled back; the next one runs as usual.")));
		failed_code = error->sqlerrcode;
		failed_logged = now;
	} else
		failed_unlogged++;
	FreeErrorData(error);
	RESUME_INTERRUPTS();
}

// One turn of the loop: the interrupts, a reload and a round. An error in
// it is the round's, caught here. Owns no C++ object: an error longjmps
// into this frame.
__attribute__((noinline)) void
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
		round();
	}
	PG_CATCH();
	{
		round_failed();
	}
	PG_END_TRY();
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
							   &databases, "", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("booking");
	if (!preloaded)
		return;
	BackgroundWorker w;
	fill_worker(&w, "booking_launcher_main", "booking launcher");
	w.bgw_flags = BGWORKER_SHMEM_ACCESS;
	w.bgw_restart_time = 1;
	RegisterBackgroundWorker(&w);
}

}  // namespace booking::worker

extern "C" {

void
booking_launcher_main(Datum)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	for (;;) {
		if (ShutdownRequestPending)
			proc_exit(0);
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		booking::worker::reconcile_children();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
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
		booking::worker::turn();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, booking::worker::expiry_interval_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

}  // extern "C"
