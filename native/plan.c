/*
 * The plan: read from the control socket and checked as a whole before anything is done (the
 * protocol version first, then every op against the op table, ops.c), and `execdriver-init
 * run-plan FILE`, which carries out a file of container ops in this process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "join.h"
#include "framebuf.h"

struct frame *plan;
size_t nplan;

/* "NAME more than once" unless *INDEX is still -1 (then it becomes I): for the ops a plan has once. */
int check_once(long *index, size_t i, const char *name, char *msg, size_t sz)
{
	if (*index >= 0)
		return snprintf(msg, sz, "%s more than once", name), -1;
	*index = (long)i;
	return 0;
}

/* Check one op of the plan: known, its arguments, not after exec, then its own check; a problem goes into msg. */
static void check_op(size_t i, int execs, char *msg, size_t sz)
{
	char **a = plan[i].f;
	int nargs = (int)plan[i].n - 1;
	const struct op *op = find_op(a[0]);
	if (!op)
		snprintf(msg, sz, "unknown op %.64s", a[0]);
	else if (op->variadic ? nargs < op->nargs : nargs != op->nargs)
		snprintf(msg, sz, "%s takes %s%d arguments, not %d", op->name, op->variadic ? "at least " : "", op->nargs, nargs);
	else if (execs)
		snprintf(msg, sz, "%s after exec (exec is the last op)", op->name);
	else if (op->check)
		op->check(i, a, msg, sz);
}

/*
 * The plan's first frame must be ["protocol", N] with N our PROTOCOL_VERSION: a plan from another
 * version of execdriver is refused before anything is done. 0, or -1 with MSG naming both versions.
 */
static int check_protocol(const struct frame *f, char *msg, size_t sz)
{
	if (f->n == 2 && !strcmp(f->f[0], "protocol") && !strcmp(f->f[1], PROTOCOL_STR))
		return 0;
	if (strcmp(f->f[0], "protocol"))
		snprintf(msg, sz, "a plan without a protocol version (it starts with %.64s), this execdriver-init speaks "
			 "protocol %d: rebuild it", f->f[0], PROTOCOL_VERSION);
	else
		snprintf(msg, sz, "plan protocol %.32s, this execdriver-init speaks protocol %d: rebuild it",
			 f->n == 2 ? f->f[1] : "?", PROTOCOL_VERSION);
	return -1;
}

/* Read the plan up to ["end"] and check it; a bad plan is reported as plan#i. */
int read_plan(void)
{
	size_t cap = 0;
	int execs = 0;
	char msg[256] = "";
	struct frame hdr;
	struct framebuf fb = FRAMEBUF_INIT;             /* a few reads for the whole plan (framebuf.c) */
	int r = framebuf_read(&fb, CTL, &hdr);
	if (r <= 0) {
		ctl_error("plan", 0, r < 0 ? errno : EPIPE, "", "read the plan");
		return -1;
	}
	/* another version's plan is read to its end all the same: the error frame must reach Node,
	 * which it may not once we close the socket with Node's frames unread in it */
	int other = check_protocol(&hdr, msg, sizeof msg) < 0;
	for (int end = other && !strcmp(hdr.f[0], "end"); !end;) {
		struct frame f;
		int r = framebuf_read(&fb, CTL, &f);
		if (r <= 0 && other)
			break;
		if (r <= 0) {
			ctl_error("plan", (long)nplan, r < 0 ? errno : EPIPE, "", "read the plan");
			return -1;
		}
		if ((end = !strcmp(f.f[0], "end")) || other) {
			free_frame(&f);
			continue;
		}
		if (nplan == cap && !(plan = realloc(plan, (cap = cap * 2 + 16) * sizeof *plan)))
			_exit(1);
		plan[nplan++] = f;
	}
	if (framebuf_end(&fb, CTL) < 0 && !other) {
		ctl_error("plan", (long)nplan, errno, "", "read the plan");
		return -1;
	}
	if (other) {
		ctl_error("protocol", -1, EPROTO, strcmp(hdr.f[0], "protocol") || hdr.n < 2 ? hdr.f[0] : hdr.f[1], msg);
		return -1;
	}
	free_frame(&hdr);
	if (!(src.fd = malloc((nplan + 1) * sizeof *src.fd)))
		_exit(1);
	for (size_t i = 0; i <= nplan; i++)
		src.fd[i] = -1;
	for (size_t i = 0; i < nplan && !*msg; i++) {
		check_op(i, execs, msg, sizeof msg);
		execs += !strcmp(plan[i].f[0], "exec");
		if (*msg)
			ctl_error("plan", (long)i, EINVAL, plan[i].f[0], msg);
	}
	if (!*msg && !execs)
		ctl_error("plan", (long)nplan, EINVAL, "", strcpy(msg, "the plan has no exec"));
	long needs_tty = console_index >= 0 ? console_index : tty.attach_index;
	if (!*msg && tty.index < 0 && needs_tty >= 0)
		ctl_error("plan", needs_tty, EINVAL, plan[needs_tty].f[0],
			  strcpy(msg, "console and attach-socket need a tty op"));
	if (!*msg && join_index >= 0 && clone_flags)
		ctl_error("plan", join_index, EINVAL, "join", strcpy(msg, "join and clone exclude each other"));
	if (!*msg && logr.index >= 0 && tty.index >= 0)
		ctl_error("plan", logr.index, EINVAL, "log-relay", strcpy(msg, "log-relay and tty exclude each other"));
	if (!*msg && raw_index >= 0 && (console_index < 0 || console_index > raw_index))
		ctl_error("plan", raw_index, EINVAL, plan[raw_index].f[0],
			  strcpy(msg, "console-raw-output needs a console op before it"));
	return *msg ? -1 : 0;
}

/*
 * execdriver-init run-plan FILE: the container ops of FILE (frames up to ["end"], ending with
 * `exec`), carried out in order in this process, which is already in its container: another
 * runtime (LXC) made it, and we do the last steps the native child does (keyring, capabilities,
 * seccomp, user, exec). The environment is the one we got, plus `env` ops. Until the exec this
 * process is named `execdriver-plan` (/proc/PID/comm). A failure is one line on stderr
 * and exit status 125 (127 or 126 for `exec`, as a shell).
 */
int run_plan(const char *path)
{
	extern char **environ;
	size_t cap = 0;
	int execs = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	/* until the exec, /proc/PID/comm says so: the caller waits for another name (the command's) */
	prctl(PR_SET_NAME, "execdriver-plan", 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);                /* as the native child: until the exec */
	if (fd < 0) {
		dprintf(2, "execdriver-init: run-plan: open %s: %s\n", path, strerror(errno));
		return 125;
	}
	struct frame hdr;
	char msg[256];
	int hr = read_frame(fd, &hdr);
	if (hr <= 0 || check_protocol(&hdr, msg, sizeof msg) < 0) {
		dprintf(2, "execdriver-init: run-plan: %s: %s\n", path, hr < 0 ? strerror(errno) : hr == 0 ? "the plan is empty" : msg);
		return 125;
	}
	free_frame(&hdr);
	for (;;) {
		struct frame f;
		int r = read_frame(fd, &f);
		if (r <= 0) {
			dprintf(2, "execdriver-init: run-plan: %s: %s\n", path, r < 0 ? strerror(errno) : "the plan ends before [\"end\"]");
			return 125;
		}
		if (!strcmp(f.f[0], "end"))
			break;
		const struct op *op = find_op(f.f[0]);
		int nargs = (int)f.n - 1;
		if (!op || op->kind != OP_CONTAINER || (op->variadic ? nargs < op->nargs : nargs != op->nargs) || execs) {
			dprintf(2, "execdriver-init: run-plan: %s: op %zu (%.64s): unknown, not a container op, "
				   "a wrong number of arguments, or after exec\n", path, nplan, f.f[0]);
			return 125;
		}
		execs += op->run == op_exec;
		if (nplan == cap && !(plan = realloc(plan, (cap = cap * 2 + 16) * sizeof *plan)))
			_exit(125);
		plan[nplan++] = f;
	}
	close(fd);
	if (!execs) {
		dprintf(2, "execdriver-init: run-plan: %s: the plan has no exec\n", path);
		return 125;
	}
	for (char **e = environ; e && *e; e++) {       /* the runtime's environment, then `env` ops */
		char *add[2] = { "env", *e };
		op_env(add);
	}
	umask(cmd_umask = umask(0));
	for (size_t i = 0; i < nplan; i++) {
		const struct op *op = find_op(plan[i].f[0]);
		if (op->run(plan[i].f) == 0)
			continue;
		dprintf(2, "execdriver-init: %s#%zu: %s%s%s: %s\n", op->name, i, err.msg, *err.path ? " " : "", err.path,
			strerror(err.no));
		return op->run != op_exec ? 125 : err.no == ENOENT ? 127 : 126;
	}
	return 125;
}
