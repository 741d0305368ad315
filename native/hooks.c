/*
 * OCI hooks run in the container's namespaces (createContainer, startContainer), for execdriver-oci:
 * - `hook-state PATH` opens the file Node writes the container's state JSON to (before `go`) while
 *   the host's paths are still reachable (before pivot);
 * - `hook PATH TIMEOUT NARGS ARG... ENV...` runs PATH (in the container) with the NARGS arguments
 *   and the rest as its environment, the state on its stdin; it fails unless the hook exits 0
 *   within TIMEOUT seconds (0: no limit; the hook is then killed).
 * No policy: the plan says which hooks, where in the sequence, with what.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "hooks.h"

static int state_fd = -1;

int op_hook_state(char **a)
{
	state_fd = open(a[1], O_RDONLY | O_CLOEXEC);
	return state_fd < 0 ? fail(a[1], "open the hook state %s", a[1]) : 0;
}

int op_hook(char **a)
{
	unsigned long long timeout, nargs;
	char **argv, **envp;
	size_t n = 0;
	if (arg(a[2], 10, 86400, &timeout, "hook timeout") < 0 || arg(a[3], 10, 4096, &nargs, "hook argument count") < 0)
		return -1;
	while (a[4 + n])
		n++;
	if (nargs > n)
		return errno = EINVAL, fail(a[1], "hook %s: %llu arguments, %zu given", a[1], nargs, n);
	argv = a + 4;                           /* the arguments, then (after a NULL put in) the env */
	char *saved = argv[nargs];
	argv[nargs] = NULL;
	envp = nargs < n ? a + 5 + nargs : argv + nargs;
	char *none[] = { a[1], NULL };
	pid_t pid = fork();
	if (pid < 0) {
		argv[nargs] = saved;
		return fail(a[1], "fork the hook %s", a[1]);
	}
	if (pid == 0) {
		if (state_fd >= 0 && (lseek(state_fd, 0, SEEK_SET) < 0 || dup2(state_fd, 0) < 0))
			_exit(126);
		if (state_fd < 0) {
			int null = open("/dev/null", O_RDONLY);
			if (null >= 0)
				dup2(null, 0);
		}
		execve(a[1], nargs ? argv : none, nargs < n ? envp : none + 1);
		_exit(127);
	}
	argv[nargs] = saved;
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)timeout;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, timeout ? WNOHANG : 0);
		if (r == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return 0;
			errno = 0;
			return fail(a[1], "hook %s: %s %d", a[1], WIFEXITED(st) ? "exit status" : "signal",
				    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
		if (r < 0 && errno != EINTR)
			return fail(a[1], "wait for the hook %s", a[1]);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout && (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			errno = ETIMEDOUT;
			return fail(a[1], "hook %s: timed out after %llu s", a[1], timeout);
		}
		usleep(10000);
	}
}
