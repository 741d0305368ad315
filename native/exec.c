/*
 * exec: the `exec` op (a lookup like execvp's, without its /bin/sh fallback), the minimal init of
 * `init`, and the binary's other ways of running a command in place: `exec`, `console-exec`
 * (another runtime's container).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "execdriver-init.h"

const int fwd_signals[N_FWD_SIGNALS] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

int init_mode;              /* `init`: fork once more, stay pid 1 as a minimal init */

/* The minimal init: forward the listed signals to the command, reap everything, exit like it. */
static __attribute__((noreturn)) void run_init(pid_t cmd, const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL), st;
		pid_t p;
		if (sig > 0 && sig != SIGCHLD)
			kill(cmd, sig);
		while (sig == SIGCHLD && (p = RETRY(waitpid(-1, &st, WNOHANG))) > 0)
			if (p == cmd)
				_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
	}
}

/* `init`: fork; the parent becomes the init and never returns, the child returns 0. */
static int fork_init(void)
{
	sigset_t set, none;
	sigemptyset(&set);
	sigemptyset(&none);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < NELEM(fwd_signals); i++)
		sigaddset(&set, fwd_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return fail("", "block signals for the init");
	pid_t pid = fork();
	if (pid < 0)
		return fail("", "fork the command");
	if (pid == 0) {
		/* with a console: the command leads its own process group, the terminal's foreground, so
		 * that the keys' signals (^C) reach it once, not also through the init */
		sigaddset(&set, SIGTTOU);               /* tcsetpgrp from the background would stop us */
		if (tty.console_made && (setpgid(0, 0) < 0 || sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
					 tcsetpgrp(0, getpid()) < 0))
			return fail("", "make the command the terminal's foreground");
		return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? fail("", "unblock signals") : 0;
	}
	close(errfd);                           /* its EOF must mean: the command exec'd */
	run_init(pid, &set);
}

/* exec SEARCHPATH ARG0 ARG...: looked up like execvp does, without its /bin/sh fallback. */
int op_exec(char **a)
{
	const char *search = a[1], *cmd = a[2];
	char cand[PATH_MAX], denied[PATH_MAX] = "", *none[] = { NULL };
	char **argv = a + 2, **env = envv ? envv : none;
	if (init_mode && fork_init() < 0)
		return -1;
	umask(cmd_umask);
	if (!*cmd)
		return errno = ENOENT, fail(cmd, "exec: empty command");
	if (strchr(cmd, '/')) {
		execve(cmd, argv, env);
		return fail(cmd, "exec %s", cmd);
	}
	for (const char *p = search; *search; p++) {     /* an empty SEARCHPATH has no candidates */
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);
		if (snprintf(cand, sizeof cand, "%.*s/%s", len ? len : 1, len ? p : ".", cmd) < (int)sizeof cand) {
			execve(cand, argv, env);
			if (errno == EACCES && !*denied)
				strcpy(denied, cand);
			else if (errno != EACCES && errno != ENOENT && errno != ENOTDIR && errno != ESTALE &&
				 errno != ENODEV && errno != ETIMEDOUT)
				return fail(cand, "exec %s", cand);
		}
		if (!*(p = end))
			break;
	}
	if (*denied)
		return errno = EACCES, fail(denied, "exec %s", denied);
	return errno = ENOENT, fail(cmd, "exec %s: not found in %s", cmd, search);
}

/*
 * execdriver-init console-exec CMD [ARG...]: for a command that another runtime (LXC) starts on a
 * terminal without making it the controlling one. fd 0 becomes the controlling terminal (after
 * setsid, unless already a session leader, as a container's pid 1 is), its process group the
 * foreground, then CMD is exec'd in place (it keeps the pid), looked up in $PATH like `exec`.
 */
/* `exec` / `console-exec`: no descriptor beyond 0-2 survives into CMD (another runtime's leaks). */
int clean_exec(int argc, char **argv, int ctty)
{
	extern char **environ;
	const char *search = getenv("PATH");
	char **a = xmalloc((size_t)(argc + 3) * sizeof *a);
	a[0] = "exec", a[1] = (char *)(search ? search : "");
	memcpy(a + 2, argv, (size_t)(argc + 1) * sizeof *a);     /* argv[argc] is NULL */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail("", "mark fds 3 and up close-on-exec");
	else if (ctty && setsid() < 0 && getsid(0) != getpid())
		fail("", "setsid");
	else if (ctty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail("", "make fd 0 the controlling terminal");
	else {
		envv = environ;
		umask(cmd_umask = umask(0));
		op_exec(a);                             /* returns only on failure */
		dprintf(2, "execdriver-init: %s: %s\n", err.msg, strerror(err.no));
		return err.no == ENOENT ? 127 : 126;
	}
	dprintf(2, "execdriver-init: %s: %s: %s\n", ctty ? "console-exec" : "exec", err.msg, strerror(err.no));
	return 125;
}

/* init: the child forks once more in `exec` (see op_exec) */
void check_init(size_t i UNUSED, char **a UNUSED, char *msg UNUSED, size_t sz UNUSED)
{
	init_mode = 1;
}
