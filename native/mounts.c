/*
 * Mounts and the rootfs: the container ops that build the container's file system (root, mount,
 * mask, readonly, mknod, symlink, chown, pivot, chroot-move, move-mount), the resolution of
 * relative paths inside the root (openat2 RESOLVE_IN_ROOT) and the creation of missing targets,
 * and `execdriver-init mkpath`, which the lxc driver uses for the same resolution.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "execdriver-init.h"
#include "userns.h"

const char *root = "/";    /* where relative paths are resolved; "/" after pivot */

/* A path as the user would read it: a relative one is shown joined to the root. */
const char *show(const char *p)
{
	static char b[4][2 * PATH_MAX];
	static int k;
	if (p[0] == '/')
		return p;
	k = (k + 1) % 4;
	snprintf(b[k], sizeof b[k], "%s/%s", strcmp(root, "/") ? root : "", p);
	return b[k];
}

/*
 * Open P with FLAGS (normally O_PATH). A relative P is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT) and r->path is /proc/self/fd/N (the host's /proc, before pivot). An
 * absolute P, or any P once the root is "/", is opened as it is and r->path is that path.
 */
int resolve(const char *p, int flags, struct res *r)
{
	r->fd = -1;
	if (p[0] == '/' || !strcmp(root, "/")) {
		if (snprintf(r->path, sizeof r->path, "%s%s", p[0] == '/' ? "" : "/", p) >= (int)sizeof r->path)
			return errno = ENAMETOOLONG, -1;
		r->fd = open(r->path, flags | O_CLOEXEC);
		return r->fd < 0 ? -1 : 0;
	}
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);     /* fresh: sees the mounts made since */
	if (rfd < 0)
		return -1;
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	r->fd = (int)syscall(SYS_openat2, rfd, p, &how, sizeof how);
	close_keep_errno(rfd);
	if (r->fd < 0)
		return -1;
	snprintf(r->path, sizeof r->path, "/proc/self/fd/%d", r->fd);
	return 0;
}

/* Copy P into buf (PATH_MAX) without trailing slashes; *slash: its last '/', or NULL. */
static int split(const char *p, char *buf, char **slash)
{
	if (snprintf(buf, PATH_MAX, "%s", p) >= PATH_MAX)
		return errno = ENAMETOOLONG, -1;
	for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/';)
		buf[--n] = 0;
	*slash = strrchr(buf, '/');
	return 0;
}

/*
 * Create P's last component in its parent directory (resolved like P, so inside the root):
 * a directory, a node or a regular file (MODE with its S_IF* type) or, with LINK, a symlink.
 * Something already there (EEXIST) is fine; a dangling symlink is never followed.
 */
static int create(const char *p, mode_t mode, dev_t dev, const char *link)
{
	char buf[PATH_MAX], *s;
	const char *dir = ".", *base = buf;
	struct res d;
	if (split(p, buf, &s) < 0)
		return -1;
	if (s == buf)
		dir = "/", base = s + 1;
	else if (s)
		*s = 0, dir = buf, base = s + 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return errno = EINVAL, -1;
	if (resolve(dir, O_PATH | O_DIRECTORY, &d) < 0)
		return -1;
	int rc = link ? symlinkat(link, d.fd, base) : S_ISDIR(mode) ? mkdirat(d.fd, base, mode & 07777)
		: mknodat(d.fd, base, mode, dev);
	close_keep_errno(d.fd);
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

/* Create the missing directories of P (0755), one component at a time, each inside the root. */
int mkdir_p(const char *p)
{
	char buf[PATH_MAX], *s;
	struct res r;
	if (split(p, buf, &s) < 0)
		return -1;
	for (size_t i = 1, n = strlen(buf); i <= n; i++) {
		if ((buf[i] != '/' && buf[i] != 0) || buf[i - 1] == '/')
			continue;
		char c = buf[i];
		buf[i] = 0;
		if (resolve(buf, O_PATH | O_DIRECTORY, &r) == 0)
			close(r.fd);
		else if (errno != ENOENT || create(buf, S_IFDIR | 0755, 0, NULL) < 0)
			return -1;
		buf[i] = c;
	}
	return 0;
}

/* Create P as an empty file (0644), and its missing parent directories, unless P exists. */
int mkfile(const char *p)
{
	char buf[PATH_MAX], *s;
	struct res r;
	if (resolve(p, O_PATH, &r) == 0)
		return close(r.fd), 0;
	if (errno != ENOENT || split(p, buf, &s) < 0)
		return -1;
	if (s && s > buf && (*s = 0, mkdir_p(buf) < 0))
		return -1;
	return create(p, S_IFREG | 0644, 0, NULL);
}

int op_root(char **a)
{
	if (a[1][0] != '/')
		return errno = EINVAL, fail(a[1], "root %s is not an absolute path", a[1]);
	root = a[1];
	return 0;
}

/* mount SOURCE TARGET FSTYPE FLAGS DATA MKTARGET */
int op_mount(char **a)
{
	const char *src = a[1], *tgt = a[2], *fstype = a[3], *data = a[5], *mk = a[6];
	const char *srcarg = *src ? src : NULL, *what = *src ? src : *fstype ? fstype : "none";
	unsigned long long flags;
	struct res t, s = { .fd = -1 };
	int rc = 0;

	if (arg(a[4], 10, ULONG_MAX, &flags, "mount flags") < 0)
		return -1;
	if (!strcmp(mk, "dir") ? mkdir_p(tgt) < 0 : !strcmp(mk, "file") ? mkfile(tgt) < 0 : 0)
		return fail(show(tgt), "create %s %s", *mk == 'd' ? "directory" : "file", show(tgt));
	if (*mk && strcmp(mk, "dir") && strcmp(mk, "file"))
		return errno = EINVAL, fail(mk, "invalid mount target kind %s", mk);
	if (resolve(tgt, O_PATH, &t) < 0)
		return fail(show(tgt), "open mount target %s", show(tgt));
	if ((flags & MS_BIND) && *src && src[0] != '/') {
		what = show(src);
		if (resolve(src, O_PATH, &s) < 0)
			rc = fail(what, "open bind source %s", what);
		srcarg = s.path;
	}
	if (rc == 0 && mount(srcarg, t.path, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0)
		rc = fail(show(tgt), "mount %s on %s", what, show(tgt));
	if (s.fd >= 0)
		close(s.fd);
	close(t.fd);
	return rc;
}

/* A directory gets an empty read-only tmpfs, anything else the current /dev/null bound over it. */
int op_mask(char **a)
{
	const char *p = show(a[1]);
	struct res t;
	struct stat st;
	int rc = 0;
	if (resolve(a[1], O_PATH, &t) < 0)
		return errno == ENOENT ? 0 : fail(p, "open %s", p);
	if (fstat(t.fd, &st) < 0)
		rc = fail(p, "stat %s", p);
	else if (S_ISDIR(st.st_mode) && mount("tmpfs", t.path, "tmpfs", MS_RDONLY, NULL) < 0)
		rc = fail(p, "mount tmpfs on %s", p);
	else if (!S_ISDIR(st.st_mode) && mount("/dev/null", t.path, NULL, MS_BIND, NULL) < 0)
		rc = fail(p, "bind /dev/null on %s", p);
	close(t.fd);
	return rc;
}

/* Bind TARGET onto itself, then remount that bind read-only, keeping nosuid/nodev/noexec. */
int op_readonly(char **a)
{
	const char *p = show(a[1]);
	struct res t;
	struct statvfs sv;
	if (resolve(a[1], O_PATH, &t) < 0)
		return errno == ENOENT ? 0 : fail(p, "open %s", p);
	int rc = mount(t.path, t.path, NULL, MS_BIND | MS_REC, NULL) < 0 ? fail(p, "bind %s onto itself", p) : 0;
	close(t.fd);
	if (rc < 0)
		return rc;
	if (resolve(a[1], O_PATH, &t) < 0)                       /* the new bind, on top */
		return fail(p, "open %s", p);
	if (fstatvfs(t.fd, &sv) < 0)
		rc = fail(p, "statvfs %s", p);
	else if (mount(NULL, t.path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
		       (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
		       (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0), NULL) < 0)
		rc = fail(p, "remount %s read-only", p);
	close(t.fd);
	return rc;
}

static int chmod_path(const char *p, mode_t mode)
{
	struct res r;
	if (resolve(p, O_PATH, &r) < 0)
		return fail(show(p), "open %s", show(p));
	int rc = chmod(r.path, mode) < 0 ? fail(show(p), "chmod %s", show(p)) : 0;
	close(r.fd);
	return rc;
}

/* chown PATH UID GID (an absolute PATH such as /proc/self/fd/0 is followed to what it names) */
int op_chown(char **a)
{
	unsigned long long uid, gid;
	struct res r;
	if (arg(a[2], 10, 0xfffffffe, &uid, "uid") < 0 || arg(a[3], 10, 0xfffffffe, &gid, "gid") < 0)
		return -1;
	if (resolve(a[1], O_PATH, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = chown(r.path, (uid_t)uid, (gid_t)gid) < 0 ? fail(show(a[1]), "chown %s", show(a[1])) : 0;
	close(r.fd);
	return rc;
}

/* mknod PATH TYPE MODE MAJOR MINOR, then chmod (the mode is exact) */
int op_mknod(char **a)
{
	unsigned long long mode, major, minor;
	mode_t type = !strcmp(a[2], "c") ? S_IFCHR : !strcmp(a[2], "b") ? S_IFBLK : !strcmp(a[2], "p") ? S_IFIFO : 0;
	if (!type)
		return errno = EINVAL, fail(a[2], "invalid device type %s", a[2]);
	if (arg(a[3], 8, 07777, &mode, "mode") < 0 || arg(a[4], 10, UINT_MAX, &major, "major") < 0 ||
	    arg(a[5], 10, UINT_MAX, &minor, "minor") < 0)
		return -1;
	if (create(a[1], type | (mode_t)mode, makedev(major, minor), NULL) < 0)
		return fail(show(a[1]), "mknod %s", show(a[1]));
	return chmod_path(a[1], (mode_t)mode);
}

int op_symlink(char **a)
{
	if (create(a[2], 0, 0, a[1]) < 0)
		return fail(show(a[2]), "symlink %s to %s", show(a[2]), a[1]);
	return 0;
}

/*
 * pivot_root(".", ".") stacks the old root on top of the new one; the old root's tree is made
 * rslave (so that unmounting it cannot propagate to the host) and lazily detached. The new
 * root's propagation, as the plan's mount ops set it, is left alone.
 */
int op_pivot(char **a UNUSED)
{
	if (!strcmp(root, "/"))
		return errno = EINVAL, fail("/", "pivot_root: no root set");
	int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), rc = 0;
	if (old < 0)
		return fail("/", "open the old root");
	if (chdir(root) < 0)
		rc = fail(root, "chdir to %s", root);
	else if (syscall(SYS_pivot_root, ".", ".") < 0)
		rc = fail(root, "pivot_root into %s", root);
	else if (fchdir(old) < 0)
		rc = fail("/", "chdir to the old root");
	else if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		rc = fail("/", "make the old root rslave");
	else if (umount2(".", MNT_DETACH) < 0)
		rc = fail("/", "unmount the old root");
	else if (chdir("/") < 0)
		rc = fail("/", "chdir to the new root");
	close(old);
	if (rc == 0)
		root = "/";
	return rc;
}

int op_chroot_move(char **a UNUSED)
{
	int rc = 0;
	if (!strcmp(root, "/"))
		return errno = EINVAL, fail("/", "chroot-move: no root set");
	if (chdir(root) < 0)
		rc = fail(root, "chdir to %s", root);
	else if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
		rc = fail(root, "move %s onto /", root);
	else if (chroot(".") < 0)
		rc = fail(root, "chroot into %s", root);
	else if (chdir("/") < 0)
		rc = fail("/", "chdir to the new root");
	else
		root = "/";
	return rc;
}

struct mount_sources src = { .sock = -1, .child_sock = -1 };

/* move-mount INDEX TARGET MKTARGET: attach the tree of the mount-source op #INDEX onto TARGET */
int op_move_mount(char **a)
{
	const char *tgt = a[2], *mk = a[3];
	struct res t;
	int fd = src.fd[strtol(a[1], NULL, 10)];
	if (!strcmp(mk, "dir") ? mkdir_p(tgt) < 0 : !strcmp(mk, "file") ? mkfile(tgt) < 0 : 0)
		return fail(show(tgt), "create %s %s", *mk == 'd' ? "directory" : "file", show(tgt));
	if (resolve(tgt, O_PATH, &t) < 0)
		return fail(show(tgt), "open mount target %s", show(tgt));
	int rc = userns_move_mount(fd, t.fd) < 0 ? fail(show(tgt), "move_mount the tree of op %s onto %s", a[1], show(tgt)) : 0;
	close(t.fd);
	return rc;
}

/*
 * execdriver-init mkpath ROOT KIND:PATH...: for the lxc driver, which must not let LXC create mount
 * targets (LXC follows the rootfs's symlinks out of it). Each PATH (a path in the container) is
 * resolved inside ROOT like a container op's (RESOLVE_IN_ROOT: symlinks as the container sees
 * them, never out of ROOT), its missing parts created as MKTARGET does (KIND `dir` or `file`; a
 * dangling symlink is never followed), and where it resolved to is printed, one line each,
 * relative to ROOT with a leading '/'. The first failure: one line on stderr, exit status 1.
 */
int mkpath(int argc, char **argv)
{
	char rootreal[PATH_MAX], real[PATH_MAX], link[64], rootfd[64];
	ssize_t rn = -1;
	/* The root held open and named by its fd: ROOT may lead into another mount namespace
	 * (/proc/PID/root/..., the lxc driver's overlay), which a path string would lose. Its
	 * name and the targets' names are both read back from /proc/self/fd, so they compare. */
	int rfd = argv[0][0] == '/' ? open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC) : (errno = EINVAL, -1);
	if (rfd >= 0) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", rfd);
		if ((rn = readlink(link, rootreal, sizeof rootreal - 1)) >= 0)
			rootreal[rn] = 0;
	}
	if (rn < 0) {
		dprintf(2, "execdriver-init: mkpath: the root %s: %s\n", argv[0], argv[0][0] != '/' ? "not absolute" : strerror(errno));
		return 1;
	}
	snprintf(rootfd, sizeof rootfd, "/proc/self/fd/%d", rfd);
	root = rootfd;
	umask(0);
	for (int i = 1; i < argc; i++) {
		char *colon = strchr(argv[i], ':'), *p;
		int dir = colon && !strncmp(argv[i], "dir:", 4), file = colon && !strncmp(argv[i], "file:", 5);
		struct res r = { .fd = -1 };
		struct stat st;
		ssize_t n = -1;
		if (!dir && !file) {
			dprintf(2, "execdriver-init: mkpath: %s: expected dir:PATH or file:PATH\n", argv[i]);
			return 1;
		}
		for (p = colon + 1; *p == '/'; p++)
			;
		if (!*p) {                                  /* the root itself */
			printf("/\n");
			continue;
		}
		if ((dir ? mkdir_p(p) : mkfile(p)) < 0 || resolve(p, O_PATH, &r) < 0 || fstat(r.fd, &st) < 0 ||
		    (dir && !S_ISDIR(st.st_mode) && (errno = ENOTDIR)) || (file && S_ISDIR(st.st_mode) && (errno = EISDIR))) {
			dprintf(2, "execdriver-init: mkpath: /%s in %s: %s%s\n", p, rootreal, strerror(errno),
				errno == ENOENT ? " (a symbolic link on the way points to nothing: it is not followed to create)" : "");
			return 1;
		}
		snprintf(link, sizeof link, "/proc/self/fd/%d", r.fd);
		if ((n = readlink(link, real, sizeof real - 1)) >= 0)
			real[n] = 0;
		close(r.fd);
		size_t rl = strlen(rootreal);
		if (n < 0 || strncmp(real, rootreal, rl) || (real[rl] != '/' && real[rl] != 0)) {
			dprintf(2, "execdriver-init: mkpath: /%s in %s: resolves to %s, not inside the root\n", p, rootreal, n < 0 ? "?" : real);
			return 1;
		}
		printf("%s\n", real[rl] ? real + rl : "/");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* mount-source PATH IDMAP: the mode is `idmap` or empty; the monitor opens them at `go` (monitor.c). */
void check_mount_source(size_t i UNUSED, char **a, char *msg, size_t sz)
{
	if (*a[2] && strcmp(a[2], "idmap"))
		snprintf(msg, sz, "invalid mount-source mode %.32s (idmap or empty)", a[2]);
	else
		src.count++;
}

/* move-mount INDEX …: INDEX is an earlier mount-source op */
void check_move_mount(size_t i, char **a, char *msg, size_t sz)
{
	unsigned long long v;
	if (num(a[1], 10, i, &v) < 0 || strcmp(plan[v].f[0], "mount-source"))
		snprintf(msg, sz, "move-mount %.32s is not the index of an earlier mount-source op", a[1]);
}
