/*
 * Joining a running container (PROTOCOL.md, `join`): the namespaces of its init, entered by
 * setns, in a safe order, and its root. No policy: which process to join, and everything the
 * process does after (capabilities, seccomp, user, exec), comes from the plan.
 */
#define _GNU_SOURCE
#include "join.h"
#include "execdriver-init.h"
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

/* the order the child joins them in: user first (it gives the capabilities over the others), mnt last */
static const struct { const char *name; int flag; } nss[] = {
	{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS },
};
#define NNS (sizeof nss / sizeof *nss)

static int ns_fd[NNS] = { -1, -1, -1, -1, -1, -1 };
static int root_fd = -1;
static int prepared;

/* Open /proc/PID/ns/NAME; -2 (no error) when it is the namespace we are in already. */
static int open_ns(pid_t pid, const char *name)
{
	char path[64];
	struct stat theirs, ours;
	snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	if (fstat(fd, &theirs) == 0 && stat(path, &ours) == 0 && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
		close(fd);
		return -2;
	}
	return fd;
}

int join_prepare(pid_t pid, int userns_first, const char **what)
{
	char path[64];
	int pidns;
	/* not dumpable (inherited by the child): nothing in the container may open our /proc/PID/exe,
	 * fds or memory, although the child shares its pid namespace before it execs (CVE-2019-5736) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return *what = "prctl PR_SET_DUMPABLE", -1;
	for (size_t i = 0; i < NNS; i++)
		if ((ns_fd[i] = open_ns(pid, nss[i].name)) == -1)
			return *what = "open the namespaces of", -1;
	snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
	if ((root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return *what = "open the root of", -1;
	if (userns_first && ns_fd[0] >= 0) {
		if (setns(ns_fd[0], CLONE_NEWUSER) < 0)
			return *what = "join the user namespace of", -1;
		close(ns_fd[0]);
		ns_fd[0] = -2;
	}
	if ((pidns = open_ns(pid, "pid")) == -1)
		return *what = "open the pid namespace of", -1;
	if (pidns >= 0) {
		int rc = setns(pidns, CLONE_NEWPID);
		close(pidns);
		if (rc < 0)
			return *what = "join the pid namespace of", -1;
	}
	prepared = 1;
	return 0;
}

int join_enter(const char **what)
{
	static char buf[64];
	if (!prepared)
		return *what = "join (no container was opened before the fork)", errno = EINVAL, -1;
	for (size_t i = 0; i < NNS; i++) {
		if (ns_fd[i] < 0)
			continue;
		if (setns(ns_fd[i], nss[i].flag) < 0) {
			snprintf(buf, sizeof buf, "join the %s namespace of", nss[i].name);
			return *what = buf, -1;
		}
		close(ns_fd[i]);
		ns_fd[i] = -2;
	}
	/* the container's root (it may have pivoted or chrooted), and nothing of ours as the cwd */
	if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return *what = "enter the root of", -1;
	close(root_fd);
	root_fd = -1;
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p = (const char *)p + r, n -= (size_t)r;
	}
	return 0;
}

int read_in_root(int argc, char **argv)
{
	int root = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		dprintf(2, "execdriver-init: read-in-root: open %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	uint32_t n = htole32((uint32_t)(argc - 1));
	if (write_all(1, &n, 4) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		const char *p = argv[i];
		while (*p == '/')
			p++;
		char *data = NULL;
		size_t len = 0, cap = 0;
		int fd = (int)syscall(SYS_openat2, root, *p ? p : ".", &how, sizeof how);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {      /* never a fifo or a device */
			for (;;) {
				if (len == cap && !(data = realloc(data, cap = cap * 2 + 65536)))
					return 1;
				ssize_t r = read(fd, data + len, cap - len);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0 || len + (size_t)r > (4u << 20))
					break;
				len += (size_t)r;
			}
		} else if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
			dprintf(2, "execdriver-init: read-in-root: /%s in %s: %s\n", p, argv[0], strerror(errno));
			return 1;
		}
		if (fd >= 0)
			close(fd);
		uint32_t l = htole32((uint32_t)len);
		if (write_all(1, &l, 4) < 0 || write_all(1, data ? data : "", len) < 0)
			return 1;
		free(data);
	}
	return 0;
}

long join_index = -1;

void check_join(size_t i, char **a, char *msg, size_t sz)
{
	unsigned long long v;
	if (num(a[1], 10, INT_MAX, &v) < 0 || v < 1 || (*a[2] && strcmp(a[2], "userns-first")))
		snprintf(msg, sz, "invalid join %.32s %.32s (a pid, and userns-first or empty)", a[1], a[2]);
	else
		check_once(&join_index, i, a[0], msg, sz);
}

/* `join PID MODE`: the monitor opened the container before the fork (join_prepare); the child enters it */
int op_join(char **a)
{
	const char *what;
	return join_enter(&what) < 0 ? fail(a[1], "%s process %s", what, a[1]) : 0;
}
