/*
 * The process's own attributes, the last steps before exec on both drivers (processTail in
 * src/native/plan.ts): capabilities (bounding, caps, ambient), the user, no_new_privs, the
 * session keyring and the seccomp filter (security.c), the death signal, fds, working
 * directory, umask and environment of the command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "execdriver-init.h"
#include "security.h"

char **envv;                /* the command's environment, only from `env` ops */
size_t nenv;
mode_t cmd_umask;           /* the command's umask (the ops themselves run with 0) */

int op_umask(char **a)
{
	unsigned long long m;
	if (arg(a[1], 8, 0777, &m, "umask") < 0)
		return -1;
	cmd_umask = (mode_t)m;                  /* applied just before exec */
	return 0;
}

int op_bounding(char **a)
{
	unsigned long long keep;
	if (arg(a[1], 16, ULLONG_MAX, &keep, "capability mask") < 0)
		return -1;
	for (int c = 0; c < 64; c++) {                  /* PR_CAPBSET_READ: EINVAL past cap_last_cap */
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0 && errno == EINVAL)
			break;
		if (r < 0)
			return fail("", "read capability %d of the bounding set", c);
		if (r == 1 && !(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return fail("", "drop capability %d from the bounding set", c);
	}
	return 0;
}

/* user UID GID GROUPS: setgroups, setgid, setuid, permitted capabilities kept (keepcaps) */
int op_user(char **a)
{
	unsigned long long uid, gid, g;
	gid_t groups[NGROUPS_MAX];
	size_t n = 0;
	if (arg(a[1], 10, UINT_MAX - 1, &uid, "uid") < 0 || arg(a[2], 10, UINT_MAX - 1, &gid, "gid") < 0)
		return -1;
	for (char *save, *s = strtok_r(a[3], ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (n == NGROUPS_MAX)
			return errno = EINVAL, fail("", "more than %d groups", NGROUPS_MAX);
		if (arg(s, 10, UINT_MAX - 1, &g, "group") < 0)
			return -1;
		groups[n++] = (gid_t)g;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail("", "set keepcaps");
	if (setgroups(n, groups) < 0)
		return fail("", "setgroups");
	if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		return fail(a[2], "setgid %llu", gid);
	if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		return fail(a[1], "setuid %llu", uid);
	return 0;
}

/* caps EFFECTIVE PERMITTED INHERITABLE (hexadecimal masks); ambient cleared */
int op_caps(char **a)
{
	unsigned long long m[3];
	for (int i = 0; i < 3; i++)
		if (arg(a[i + 1], 16, ULLONG_MAX, &m[i], "capability mask") < 0)
			return -1;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)m[0], (uint32_t)m[1], (uint32_t)m[2] },
		{ (uint32_t)(m[0] >> 32), (uint32_t)(m[1] >> 32), (uint32_t)(m[2] >> 32) },
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return fail("", "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return fail("", "clear the ambient capabilities");
	return 0;
}

/* Raise every capability of the mask into the ambient set (it must be permitted and inheritable). */
int op_ambient(char **a)
{
	unsigned long long m;
	if (arg(a[1], 16, ULLONG_MAX, &m, "capability mask") < 0)
		return -1;
	for (int c = 0; c < 64; c++)
		if ((m >> c) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
			int e = errno;
			char name[16];
			snprintf(name, sizeof name, "%d", c);
			errno = e;
			return fail(name, "raise capability %d into the ambient set", c);
		}
	return 0;
}

int op_no_new_privs(char **a UNUSED)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? fail("", "set no_new_privs") : 0;
}

int op_pdeathsig(char **a)
{
	unsigned long long sig;
	if (arg(a[1], 10, NSIG - 1, &sig, "signal") < 0)
		return -1;
	return prctl(PR_SET_PDEATHSIG, (int)sig, 0, 0, 0) < 0 ? fail(a[1], "set the parent death signal") : 0;
}

int op_closefds(char **a UNUSED)
{
	return close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? fail("", "mark fds 3 and up close-on-exec") : 0;
}

int op_chdir(char **a)
{
	struct res r;
	if (resolve(a[1], O_PATH | O_DIRECTORY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = fchdir(r.fd) < 0 ? fail(show(a[1]), "chdir to %s", show(a[1])) : 0;
	close(r.fd);
	return rc;
}

int op_env(char **a)
{
	char **n = realloc(envv, (nenv + 2) * sizeof(char *));
	if (!n)
		return fail("", "grow the environment");
	envv = n;
	envv[nenv++] = a[1];
	envv[nenv] = NULL;
	return 0;
}

/* seccomp, keyring (security.c) */
static int sec_fail(const struct sec_err *e)
{
	errno = e->no;
	return fail(e->path, "%s", e->msg);
}

int op_seccomp_filter(char **a)
{
	struct sec_err e;
	return sec_seccomp_load_hex(a[1], &e) < 0 ? sec_fail(&e) : 0;
}

int op_session_keyring(char **a)
{
	struct sec_err e;
	return sec_join_session_keyring(a[1], &e) < 0 ? sec_fail(&e) : 0;
}
