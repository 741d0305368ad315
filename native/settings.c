/*
 * Process settings of Docker's `run` flags (issue 12): resource limits (`rlimit`, --ulimit), a
 * namespaced kernel parameter (`sysctl`, --sysctl: written under the container's own /proc/sys,
 * after the mounts and before /proc/sys is made read-only), and the working directory made when
 * missing, owned by the command's user (`workdir`, -w). TypeScript decides which; these carry out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "settings.h"

static const struct { const char *name; int resource; } limits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },   { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

/* "unlimited" or a decimal number */
static int limit_value(const char *s, rlim_t *v)
{
	unsigned long long n;
	if (!strcmp(s, "unlimited"))
		return *v = RLIM_INFINITY, 0;
	if (arg(s, 10, ULLONG_MAX, &n, "limit") < 0)
		return -1;
	*v = (rlim_t)n;
	return 0;
}

/* rlimit TYPE SOFT HARD: setrlimit(2) of the process (inherited by the command at exec) */
int op_rlimit(char **a)
{
	int res = -1;
	for (size_t i = 0; i < NELEM(limits); i++)
		if (!strcmp(limits[i].name, a[1]))
			res = limits[i].resource;
	if (res < 0)
		return errno = EINVAL, fail(a[1], "unknown resource limit %s", a[1]);
	struct rlimit rl;
	if (limit_value(a[2], &rl.rlim_cur) < 0 || limit_value(a[3], &rl.rlim_max) < 0)
		return -1;
	if (setrlimit(res, &rl) < 0)
		return fail(a[1], "set %s to %s:%s", a[1], a[2], a[3]);
	return 0;
}

/* sysctl KEY VALUE: write VALUE to /proc/sys/KEY (dots as slashes), the container's own */
int op_sysctl(char **a)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "/proc/sys/%s", a[1]) >= (int)sizeof path)
		return errno = ENAMETOOLONG, fail(a[1], "sysctl %s", a[1]);
	for (char *p = path + strlen("/proc/sys/"); *p; p++) {
		if (*p == '/' || (*p == '.' && p[1] == '.'))
			return errno = EINVAL, fail(a[1], "invalid sysctl name %s", a[1]);
		if (*p == '.')
			*p = '/';
	}
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(a[1], "sysctl %s", a[1]);
	size_t n = strlen(a[2]);
	int rc = write_full(fd, a[2], n) < 0 ? fail(a[1], "sysctl %s = %s", a[1], a[2]) : 0;
	close_keep_errno(fd);
	return rc;
}

/*
 * workdir PATH UID GID: make the missing directories of PATH (0755) inside the root, and give
 * the ones made to UID:GID (Docker's -w); what exists is left as it is.
 */
int op_workdir(char **a)
{
	unsigned long long uid, gid;
	char buf[PATH_MAX];
	if (arg(a[2], 10, 0xfffffffeULL, &uid, "uid") < 0 || arg(a[3], 10, 0xfffffffeULL, &gid, "gid") < 0)
		return -1;
	if (snprintf(buf, sizeof buf, "%s", a[1]) >= (int)sizeof buf)
		return errno = ENAMETOOLONG, fail(show(a[1]), "working directory %s", show(a[1]));
	for (size_t i = 1, n = strlen(buf); i <= n; i++) {
		if ((buf[i] != '/' && buf[i] != 0) || buf[i - 1] == '/')
			continue;
		char c = buf[i];
		buf[i] = 0;
		struct res r;
		if (resolve(buf, O_PATH | O_DIRECTORY, &r) == 0) {
			close(r.fd);
		} else {
			if (errno != ENOENT || mkdir_p(buf) < 0)
				return fail(show(buf), "make the working directory");
			if (resolve(buf, O_PATH | O_DIRECTORY | O_NOFOLLOW, &r) < 0)
				return fail(show(buf), "open the working directory");
			int rc = fchownat(r.fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH);
			close_keep_errno(r.fd);
			if (rc < 0)
				return fail(show(buf), "give the working directory to the user");
		}
		buf[i] = c;
	}
	return 0;
}
