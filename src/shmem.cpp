#include "shmem.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace booking::shmem {

namespace {

constexpr int max_parts = 8;
Part parts[max_parts];
int nparts = 0;

shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void
request() noexcept
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < nparts; i++) {
		RequestAddinShmemSpace(MAXALIGN(parts[i].size));
		if (parts[i].request)
			parts[i].request();
	}
}

void
startup()
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < nparts; i++) {
		bool found;
		void *memory = ShmemInitStruct(parts[i].name, MAXALIGN(parts[i].size), &found);
		parts[i].attach(memory, found);
	}
	LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void
add(const Part &part)
{
	if (nparts == 0) {
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = startup;
	}
	if (nparts < max_parts)
		parts[nparts++] = part;
	else
		elog(ERROR, "booking: more than %d parts of shared memory", max_parts);
}

}  // namespace booking::shmem
