/*
 * execdriver-init copy-out ROOT PATH / copy-in ROOT PATH NAME MODE: `execdriver cp` between the
 * host and a container. PATH is resolved inside ROOT with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS): the container's symlinks are followed as the container sees them and
 * never lead out of ROOT, so a container cannot make cp read or write a host file.
 *   copy-out: PATH must be a regular file; its bytes go to stdout.
 *   copy-in:  stdin becomes the regular file PATH (created with MODE, or truncated; a symlink as
 *             the last component is not followed); when PATH is a directory, NAME inside it.
 * A failure: one line on stderr, exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "copy.h"

static int in_root(int root, const char *p, int flags, mode_t mode)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY)), .mode = mode,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	while (*p == '/')
		p++;
	return (int)syscall(SYS_openat2, root, *p ? p : ".", &how, sizeof how);
}

static int pump(int from, int to)
{
	char buf[65536];
	for (;;) {
		ssize_t n = RETRY(read(from, buf, sizeof buf));
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (write_full(to, buf, (size_t)n) < 0)
			return -1;
	}
}

static int failed(const char *what, const char *path, const char *root)
{
	dprintf(2, "execdriver-init: %s %s in %s: %s\n", what, path, root, strerror(errno));
	return 1;
}

int copy_out(char **argv)
{
	int root = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return failed("open the root", "", argv[0]);
	int fd = in_root(root, argv[1], O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return failed("open", argv[1], argv[0]);
	if (!S_ISREG(st.st_mode))
		return errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL, failed("copy (only regular files)", argv[1], argv[0]);
	if (fcntl(fd, F_SETFL, 0) < 0 || pump(fd, 1) < 0)
		return failed("read", argv[1], argv[0]);
	return 0;
}

int copy_in(char **argv)
{
	unsigned long long mode;
	char path[PATH_MAX];
	if (num(argv[3], 8, 07777, &mode) < 0)
		return errno = EINVAL, failed("mode", argv[3], argv[0]);
	int root = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return failed("open the root", "", argv[0]);
	snprintf(path, sizeof path, "%s", argv[1]);
	int dir = in_root(root, path, O_PATH | O_DIRECTORY, 0);
	if (dir >= 0) {                                        /* into the directory, by its name */
		close(dir);
		if (!*argv[2] || strchr(argv[2], '/') || !strcmp(argv[2], ".") || !strcmp(argv[2], ".."))
			return errno = EINVAL, failed("name", argv[2], argv[0]);
		if (snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]) >= (int)sizeof path)
			return errno = ENAMETOOLONG, failed("copy to", argv[1], argv[0]);
	}
	int fd = in_root(root, path, O_WRONLY | O_CREAT | O_NOFOLLOW, (mode_t)mode);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return failed("create", path, argv[0]);
	if (!S_ISREG(st.st_mode))
		return errno = EINVAL, failed("copy onto (not a regular file)", path, argv[0]);
	if (ftruncate(fd, 0) < 0 || pump(0, fd) < 0 || close(fd) < 0)
		return failed("write", path, argv[0]);
	return 0;
}
