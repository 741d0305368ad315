/*
 * The op table: every op of the plan protocol, its kind, its arguments, its check (when the
 * monitor reads the plan) and, for a container op, what carries it out (in the child, in order).
 * `execdriver-init protocol` prints it; src/native/protocol.ts has the same table and
 * test/native/protocol.test.ts compares the two. Adding an op: a row here, its functions in the
 * file of its concern (declared in execdriver-init.h), its line in PROTOCOL.md and in OPS of
 * src/native/protocol.ts, and PROTOCOL_VERSION raised on both sides.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "join.h"
#include "freezer.h"
#include "settings.h"
#include "logrotate.h"
#include "oci.h"
#include "hooks.h"
#include "events.h"

static const struct op ops[] = {
/*	  name                   kind          args  more  check (plan read)            run (the child) */
	{ "clone",               OP_MONITOR,   1,    0,    check_clone,                 NULL },
	{ "detach",              OP_MONITOR,   0,    0,    check_detach,                NULL },
	{ "exit-file",           OP_MONITOR,   1,    1,    check_exit_file,             NULL },
	{ "oom-counter",         OP_MONITOR,   1,    0,    check_oom_counter,           NULL },
	{ "cleanup-cgroup",      OP_MONITOR,   1,    0,    NULL,                        NULL },
	{ "init",                OP_MONITOR,   0,    0,    check_init,                  NULL },
	{ "signals-forward",     OP_MONITOR,   0,    0,    check_signals_forward,       NULL },
	{ "tty",                 OP_MONITOR,   2,    0,    check_tty,                   NULL },
	{ "attach-socket",       OP_MONITOR,   2,    0,    check_attach_socket,         NULL },
	{ "log-relay",           OP_MONITOR,   0,    1,    check_log_relay,             NULL },
	{ "device-filter",       OP_MONITOR,   2,    0,    NULL,                        NULL },
	{ "mkfifo",              OP_MONITOR,   2,    0,    check_mkfifo,                NULL },
	{ "thaw-on-kill",        OP_MONITOR,   2,    0,    check_thaw_on_kill,          NULL },
	{ "event-log",           OP_MONITOR,   5,    0,    check_event_log,             NULL },
	{ "oom-watch",           OP_MONITOR,   1,    0,    check_oom_watch,             NULL },
	{ "lxc-log",             OP_MONITOR,   1,    0,    check_lxc_log,               NULL },
	{ "mount-source",        OP_MONITOR,   2,    0,    check_mount_source,          NULL },
	{ "net-helper",          OP_MONITOR,   1,    1,    check_net_helper,            NULL },
	{ "log-rotate",          OP_MONITOR,   3,    0,    check_log_rotate,            NULL },
	{ "log-times",           OP_MONITOR,   1,    0,    check_log_times,             NULL },
	{ "console-socket",      OP_MONITOR,   1,    0,    check_console_socket,        NULL },
	{ "leave",               OP_MONITOR,   0,    0,    check_leave,                 NULL },
	{ "cgroup-join",         OP_MONITOR,   1,    0,    NULL,                        NULL },
	{ "root",                OP_CONTAINER, 1,    0,    NULL,                        op_root },
	{ "unshare",             OP_CONTAINER, 1,    0,    NULL,                        op_unshare },
	{ "setns",               OP_CONTAINER, 2,    0,    NULL,                        op_setns },
	{ "mount",               OP_CONTAINER, 6,    0,    NULL,                        op_mount },
	{ "mask",                OP_CONTAINER, 1,    0,    NULL,                        op_mask },
	{ "readonly",            OP_CONTAINER, 1,    0,    NULL,                        op_readonly },
	{ "mknod",               OP_CONTAINER, 5,    0,    NULL,                        op_mknod },
	{ "symlink",             OP_CONTAINER, 2,    0,    NULL,                        op_symlink },
	{ "chown",               OP_CONTAINER, 3,    0,    NULL,                        op_chown },
	{ "pivot",               OP_CONTAINER, 0,    0,    NULL,                        op_pivot },
	{ "chroot-move",         OP_CONTAINER, 0,    0,    NULL,                        op_chroot_move },
	{ "sethostname",         OP_CONTAINER, 1,    0,    NULL,                        op_sethostname },
	{ "ifup",                OP_CONTAINER, 1,    0,    NULL,                        op_ifup },
	{ "ifaddr",              OP_CONTAINER, 4,    0,    NULL,                        op_ifaddr },
	{ "route-default",       OP_CONTAINER, 1,    0,    NULL,                        op_route_default },
	{ "umask",               OP_CONTAINER, 1,    0,    NULL,                        op_umask },
	{ "ctty",                OP_CONTAINER, 0,    0,    NULL,                        op_ctty },
	{ "bounding",            OP_CONTAINER, 1,    0,    NULL,                        op_bounding },
	{ "user",                OP_CONTAINER, 3,    0,    NULL,                        op_user },
	{ "caps",                OP_CONTAINER, 3,    0,    NULL,                        op_caps },
	{ "ambient",             OP_CONTAINER, 1,    0,    NULL,                        op_ambient },
	{ "no-new-privs",        OP_CONTAINER, 0,    0,    NULL,                        op_no_new_privs },
	{ "pdeathsig",           OP_CONTAINER, 1,    0,    NULL,                        op_pdeathsig },
	{ "closefds",            OP_CONTAINER, 0,    0,    NULL,                        op_closefds },
	{ "chdir",               OP_CONTAINER, 1,    0,    NULL,                        op_chdir },
	{ "env",                 OP_CONTAINER, 1,    0,    NULL,                        op_env },
	{ "console",             OP_CONTAINER, 2,    0,    check_console,               op_console },
	{ "console-raw-output",  OP_CONTAINER, 0,    0,    check_console_raw_output,    op_console_raw_output },
	{ "session-keyring",     OP_CONTAINER, 1,    0,    NULL,                        op_session_keyring },
	{ "seccomp-filter",      OP_CONTAINER, 1,    0,    NULL,                        op_seccomp_filter },
	{ "move-mount",          OP_CONTAINER, 3,    0,    check_move_mount,            op_move_mount },
	{ "join",                OP_CONTAINER, 2,    0,    check_join,                  op_join },
	{ "exec-fifo",           OP_CONTAINER, 1,    0,    NULL,                        op_exec_fifo },
	{ "exec-wait",           OP_CONTAINER, 0,    0,    NULL,                        op_exec_wait },
	{ "hook-state",          OP_CONTAINER, 1,    0,    NULL,                        op_hook_state },
	{ "hook",                OP_CONTAINER, 3,    1,    NULL,                        op_hook },
	{ "setdomainname",       OP_CONTAINER, 1,    0,    NULL,                        op_setdomainname },
	{ "personality",         OP_CONTAINER, 1,    0,    NULL,                        op_personality },
	{ "exec",                OP_CONTAINER, 2,    1,    NULL,                        op_exec },
	{ "rlimit",              OP_CONTAINER, 3,    0,    NULL,                        op_rlimit },
	{ "sysctl",              OP_CONTAINER, 2,    0,    NULL,                        op_sysctl },
	{ "workdir",             OP_CONTAINER, 3,    0,    NULL,                        op_workdir },
};

const struct op *find_op(const char *name)
{
	for (size_t i = 0; i < NELEM(ops); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

/* execdriver-init protocol: the plan protocol's version, then every op: NAME KIND ARITY (N+: at least N). */
int print_protocol(void)
{
	printf("protocol %d\n", PROTOCOL_VERSION);
	for (size_t i = 0; i < NELEM(ops); i++)
		printf("%s %s %d%s\n", ops[i].name, ops[i].kind == OP_MONITOR ? "monitor" : "container", ops[i].nargs,
		       ops[i].variadic ? "+" : "");
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ how an op reports a failure */

struct op_error err;

/* Record a failure, with errno as it is now, for the error frame; returns -1. */
int fail(const char *path, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof err.msg, fmt, ap);
	va_end(ap);
	snprintf(err.path, sizeof err.path, "%s", path);
	err.no = errno = e;
	return -1;
}

/* Parse an argument; on a bad one record EINVAL "invalid WHAT S" and return -1. */
int arg(const char *s, int base, unsigned long long max, unsigned long long *v, const char *what)
{
	if (num(s, base, max, v) == 0)
		return 0;
	return fail(s, "invalid %s %s", what, s);
}

void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

