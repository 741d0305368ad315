/*
 * Namespaces and clone: the container child from its clone to the first op (waiting for `go`,
 * the mount sources, the death signal, not dumpable), the loop that carries out its container
 * ops in order, and the namespace ops (unshare, setns, sethostname). Nothing here decides
 * anything: every step is the plan's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "userns.h"

unsigned long clone_flags;             /* the namespaces of the child (`clone`) */
long clone_index = -1;                  /* the `clone` op's index, -1 without one */
int errfd = -1;                         /* write end of the error pipe (close-on-exec) */

int op_unshare(char **a)
{
	unsigned long long f;
	if (arg(a[1], 10, INT_MAX, &f, "unshare flags") < 0)
		return -1;
	return unshare((int)f) < 0 ? fail("", "unshare %llu", f) : 0;
}

int op_setns(char **a)
{
	unsigned long long f;
	struct res r;
	if (arg(a[2], 10, INT_MAX, &f, "setns flags") < 0)
		return -1;
	if (resolve(a[1], O_RDONLY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = setns(r.fd, (int)f) < 0 ? fail(show(a[1]), "setns %s", show(a[1])) : 0;
	close(r.fd);
	return rc;
}

int op_sethostname(char **a)
{
	return sethostname(a[1], strlen(a[1])) < 0 ? fail(a[1], "sethostname %s", a[1]) : 0;
}

/* The container child: wait for `go`, take the mount sources, then carry out its ops in order. */
static __attribute__((noreturn)) void child(int go_r, int go_w, int err_r, int err_w, int sigfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	char c;

	/* Until "go": die with the monitor (PDEATHSIG, and EOF on the go pipe closes the race). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(1);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);                   /* SIGPIPE was ignored; EINVAL for 32, 33 */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(1);
	close(CTL), close(sigfd), close(go_w), close(err_r);
	if (logr.index >= 0 && (dup2(logr.w[0], 1) < 0 || dup2(logr.w[1], 2) < 0))
		_exit(1);
	if (tty.sock >= 0)
		close(tty.sock);                            /* the monitor's end */
	if (src.sock >= 0)
		close(src.sock);
	if (RETRY(read(go_r, &c, 1)) != 1)                 /* EOF: abort, or the monitor died */
		_exit(1);
	close(go_r);
	for (size_t i = 0; src.count && i < nplan; i++)     /* the monitor sent them before "go" */
		if (!strcmp(plan[i].f[0], "mount-source") && (src.fd[i] = userns_recv_fd(src.child_sock)) < 0)
			_exit(1);
	if (src.child_sock >= 0)
		close(src.child_sock);
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)        /* from now on only the plan decides */
		_exit(1);
	/* Until exec (and for good in the minimal init of `init`) this process runs our binary: not
	 * dumpable, so no process of the container can open its /proc/PID/exe (CVE-2019-5736) or
	 * mem. Set after `go`: the maps of a user namespace are written while /proc/PID is still ours. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	errfd = err_w;
	cmd_umask = umask(0);                               /* the ops create with exact modes */

	for (size_t i = 0; i < nplan; i++) {
		const struct op *op = find_op(plan[i].f[0]);
		if (op->kind == OP_MONITOR || op->run(plan[i].f) == 0)
			continue;
		char step[64], no[16];
		snprintf(step, sizeof step, "%s#%zu", op->name, i);
		snprintf(no, sizeof no, "%d", err.no);
		send_frame(errfd, FIELDS("error", step, no, err.path, err.msg));
		_exit(op->run != op_exec ? 1 : err.no == ENOENT ? 127 : 126);
	}
	_exit(1);                                           /* not reached: the plan ends with exec */
}

/* clone FLAGS: only CLONE_NEW* bits, not CLONE_NEWTIME */
void check_clone(size_t i, char **a, char *msg, size_t sz)
{
	unsigned long long v;
	if (num(a[1], 10, NS_FLAGS, &v) < 0 || (v & ~(unsigned long long)NS_FLAGS))
		snprintf(msg, sz, "invalid clone flags %.64s (only CLONE_NEW* without NEWTIME)", a[1]);
	else
		clone_flags = (unsigned long)v, clone_index = (long)i;
}

/*
 * (monitor) The container child, in the plan's new namespaces (a plain fork on the host without
 * `clone`). The child never returns from here: it carries out its ops and execs. Returns the
 * child's pid, or -1 with errno set.
 */
pid_t clone_child(int go[2], int errp[2], int sigfd)
{
	pid_t pid = (pid_t)syscall(SYS_clone, clone_flags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		child(go[0], go[1], errp[0], errp[1], sigfd);
	return pid;
}
