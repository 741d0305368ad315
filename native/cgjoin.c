/*
 * `cgroup-join FILE`: right after the clone, before it reports `pid`, the monitor writes the child's
 * pid to FILE (a `cgroup.procs` of the container's cgroups, as TypeScript chose them). The child
 * waits for `go` meanwhile, so it is in its cgroups before it runs anything of the plan. Done here
 * rather than by Node: each write takes the kernel's cgroup migration lock (~0.1-1 ms, 13 of them on
 * a hybrid host), off Node's main thread and in parallel across containers. The monitor is host
 * root in the host's cgroup namespace (the child's own cgroup namespace, if any, comes later).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "cgjoin.h"

long cgroup_join(pid_t pid, char *msg, size_t sz)
{
	char text[16];
	int n = snprintf(text, sizeof text, "%d", (int)pid);
	for (size_t i = 0; i < nplan; i++) {
		if (strcmp(plan[i].f[0], "cgroup-join"))
			continue;
		int fd = open(plan[i].f[1], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write_full(fd, text, (size_t)n) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			snprintf(msg, sz, "write %d to %s", (int)pid, plan[i].f[1]);
			return errno = e, (long)i;
		}
		if (close(fd) < 0) {
			snprintf(msg, sz, "write %d to %s", (int)pid, plan[i].f[1]);
			return (long)i;
		}
	}
	return -1;
}
