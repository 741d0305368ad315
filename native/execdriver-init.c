/*
 * execdriver-init: carries out a plan that TypeScript has fully decided (see PROTOCOL.md).
 *
 *   execdriver-init monitor      (fd 3: the control socket; fds 0-2: the container's stdio)
 *
 * The monitor reads the plan (frames up to ["end"]), clones the container child into the asked
 * namespaces, reports ["pid", N] and waits for ["go"] or ["abort"]. After "go" the child carries
 * out the container ops in order and execs the command. An op failure travels back as an
 * ["error", STEP, ERRNO, PATH, MESSAGE] frame over a close-on-exec pipe; exec success is that
 * pipe's EOF with no frame (relayed as ["started"]). The monitor reaps the child, reads the OOM
 * counter, removes cgroups, writes the exit file and reports ["exit", CODE, SIGNAL, OOM_KILLS].
 *
 * No policy lives here: no default mounts, devices, capabilities or users. Only what the plan says.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/openat2.h>

#define CTL 3                        /* the control socket */
#define MAX_FIELDS 65536
#define MAX_FIELD (16u << 20)
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | \
		  CLONE_NEWUSER | CLONE_NEWCGROUP)
#define RETRY(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })

static const int fwd_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

/* ------------------------------------------------------------------ frames */

struct frame { uint32_t n; char **f; };         /* f[n] == NULL; fields are NUL-terminated copies */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		_exit(1);
	return p;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		buf = (const char *)buf + r;
		n -= (size_t)r;
	}
	return 0;
}

static int read_u32(int fd, uint32_t *v)
{
	ssize_t r = read_full(fd, v, 4);
	if (r == 4) {
		*v = le32toh(*v);
		return 1;
	}
	if (r > 0)
		errno = EPROTO;
	return r == 0 ? 0 : -1;
}

/* 1: a frame; 0: EOF before a frame; -1: error or truncated frame (errno set). */
static int read_frame(int fd, struct frame *fr)
{
	uint32_t n, len;
	int r = read_u32(fd, &n);
	if (r <= 0)
		return r;
	if (n == 0 || n > MAX_FIELDS)
		return errno = EPROTO, -1;
	fr->n = n;
	fr->f = xmalloc((n + 1) * sizeof(char *));
	for (uint32_t i = 0; i < n; i++) {
		if (read_u32(fd, &len) != 1 || len > MAX_FIELD)
			return errno = EPROTO, -1;
		fr->f[i] = xmalloc(len + 1);
		if (read_full(fd, fr->f[i], len) != (ssize_t)len)
			return errno = EPROTO, -1;
		fr->f[i][len] = 0;
	}
	fr->f[n] = NULL;
	return 1;
}

static void put_u32(char **p, uint32_t v)
{
	v = htole32(v);
	memcpy(*p, &v, 4);
	*p += 4;
}

static int send_frame(int fd, const char *const *f, size_t n)
{
	size_t total = 4;
	for (size_t i = 0; i < n; i++)
		total += 4 + strlen(f[i]);
	char *buf = xmalloc(total), *p = buf;
	put_u32(&p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(f[i]);
		put_u32(&p, (uint32_t)len);
		memcpy(p, f[i], len);
		p += len;
	}
	int r = write_full(fd, buf, total);
	free(buf);
	return r;
}

#define SEND(fd, ...) send_frame(fd, (const char *const[]){ __VA_ARGS__ }, \
				 sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))

/* Strict number parsing: decimal flags and ids, octal modes, hexadecimal capability masks. */
static int num(const char *s, int base, unsigned long long *v)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return errno = EINVAL, -1;
	*v = strtoull(s, &end, base);
	if (errno || *end)
		return errno = EINVAL, -1;
	return 0;
}

/* ------------------------------------------------------------------ container child: state */

static const char *root = "/";    /* where relative paths are resolved; "/" after pivot */
static int errfd = -1;             /* write end of the error pipe (close-on-exec) */
static char **envv;                /* the command's environment, only from `env` ops */
static size_t nenv;
static mode_t cmd_umask;           /* the umask the command gets (ops themselves run with 0) */
static int init_mode;              /* `init`: fork once more, stay pid 1 as a minimal init */

static struct { int no; char path[PATH_MAX]; char msg[2 * PATH_MAX + 128]; } err;

/* Record a failure (errno as it is now) for the error frame; returns -1. */
__attribute__((format(printf, 2, 3)))
static int fail(const char *path, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof err.msg, fmt, ap);
	va_end(ap);
	snprintf(err.path, sizeof err.path, "%s", path);
	err.no = e;
	errno = e;
	return -1;
}

static int invalid(const char *what, const char *s)
{
	errno = EINVAL;
	return fail(s, "invalid %s %s", what, s);
}

static void close_keep_errno(int fd)
{
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
}

/* A path as the user would read it: relative paths are shown joined to the root. */
static const char *show(const char *p)
{
	static char b[4][2 * PATH_MAX];
	static int k;
	if (p[0] == '/')
		return p;
	k = (k + 1) % 4;
	snprintf(b[k], sizeof b[k], "%s/%s", strcmp(root, "/") ? root : "", p);
	return b[k];
}

/* An open file and a name for it that path-based syscalls (mount, chmod) accept. */
struct res { int fd; char path[PATH_MAX + 2]; };

/*
 * Open P with FLAGS (normally O_PATH). A relative P is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT), and r->path becomes /proc/self/fd/N; an absolute P, or any P once
 * the root is "/", is opened as it is and r->path is that path (no /proc needed after pivot).
 */
static int resolve(const char *p, int flags, struct res *r)
{
	r->fd = -1;
	if (p[0] == '/' || !strcmp(root, "/")) {
		if (snprintf(r->path, sizeof r->path, "%s%s", p[0] == '/' ? "" : "/", p) >= (int)sizeof r->path)
			return errno = ENAMETOOLONG, -1;
		r->fd = open(r->path, flags | O_CLOEXEC);
		return r->fd < 0 ? -1 : 0;
	}
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);   /* reopened: sees mounts made since */
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

/* Open the directory holding P (resolved like P); *base is P's last component, inside buf. */
static int open_parent(const char *p, char *buf, size_t sz, const char **base, struct res *r)
{
	if (snprintf(buf, sz, "%s", p) >= (int)sz)
		return errno = ENAMETOOLONG, -1;
	size_t n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = 0;
	char *s = strrchr(buf, '/');
	const char *dir = ".";
	*base = buf;
	if (s == buf)
		dir = "/", *base = s + 1;
	else if (s)
		*s = 0, dir = buf, *base = s + 1;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return errno = EINVAL, -1;
	return resolve(dir, O_PATH | O_DIRECTORY, r);
}

static int mkdir_one(const char *p, mode_t mode)
{
	char buf[PATH_MAX];
	const char *base;
	struct res d;
	if (open_parent(p, buf, sizeof buf, &base, &d) < 0)
		return -1;
	int rc = mkdirat(d.fd, base, mode);
	close_keep_errno(d.fd);
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

/* Create the missing directories of P, one component at a time, each inside the root. */
static int mkdir_p(const char *p, mode_t mode)
{
	char buf[PATH_MAX];
	struct res r;
	if (snprintf(buf, sizeof buf, "%s", p) >= (int)sizeof buf)
		return errno = ENAMETOOLONG, -1;
	size_t n = strlen(buf);
	for (size_t i = 1; i <= n; i++) {
		if ((buf[i] != '/' && buf[i] != 0) || buf[i - 1] == '/')
			continue;
		char c = buf[i];
		buf[i] = 0;
		if (resolve(buf, O_PATH | O_DIRECTORY, &r) == 0)
			close(r.fd);
		else if (errno != ENOENT || mkdir_one(buf, mode) < 0)
			return -1;
		buf[i] = c;
	}
	return 0;
}

/* Create P as an empty file (and its missing parent directories) unless something is there. */
static int mkfile(const char *p)
{
	char buf[PATH_MAX];
	const char *base;
	struct res r;
	if (resolve(p, O_PATH, &r) == 0)
		return close(r.fd), 0;
	if (errno != ENOENT)
		return -1;
	if (snprintf(buf, sizeof buf, "%s", p) >= (int)sizeof buf)
		return errno = ENAMETOOLONG, -1;
	char *s = strrchr(buf, '/');
	while (s && s > buf && s[1] == 0) {            /* trailing slashes */
		*s = 0;
		s = strrchr(buf, '/');
	}
	if (s && s > buf) {
		*s = 0;
		if (mkdir_p(buf, 0755) < 0)
			return -1;
	}
	if (open_parent(p, buf, sizeof buf, &base, &r) < 0)
		return -1;
	int rc = mknodat(r.fd, base, S_IFREG | 0644, 0);
	close_keep_errno(r.fd);
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

/* ------------------------------------------------------------------ container ops */

static int op_root(char **a)
{
	if (a[1][0] != '/')
		return invalid("root (not absolute)", a[1]);
	root = a[1];
	return 0;
}

static int op_unshare(char **a)
{
	unsigned long long f;
	if (num(a[1], 10, &f) < 0)
		return invalid("unshare flags", a[1]);
	if (unshare((int)f) < 0)
		return fail("", "unshare %llu", f);
	return 0;
}

static int op_setns(char **a)
{
	unsigned long long f;
	struct res r;
	if (num(a[2], 10, &f) < 0)
		return invalid("setns flags", a[2]);
	if (resolve(a[1], O_RDONLY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = setns(r.fd, (int)f);
	close_keep_errno(r.fd);
	return rc < 0 ? fail(show(a[1]), "setns %s", show(a[1])) : 0;
}

/* mount / mount-if: SOURCE TARGET FSTYPE FLAGS DATA MKTARGET */
static int do_mount(char **a, int if_exists)
{
	const char *src = a[1], *tgt = a[2], *fstype = a[3], *data = a[5], *mk = a[6];
	unsigned long long flags;
	struct res t, s = { .fd = -1 };
	int rc = 0;

	if (num(a[4], 10, &flags) < 0)
		return invalid("mount flags", a[4]);
	if (!strcmp(mk, "dir")) {
		if (mkdir_p(tgt, 0755) < 0)
			return fail(show(tgt), "create directory %s", show(tgt));
	} else if (!strcmp(mk, "file")) {
		if (mkfile(tgt) < 0)
			return fail(show(tgt), "create file %s", show(tgt));
	} else if (*mk) {
		return invalid("mount target kind", mk);
	}
	if (resolve(tgt, O_PATH, &t) < 0) {
		if (if_exists && errno == ENOENT)
			return 0;
		return fail(show(tgt), "open mount target %s", show(tgt));
	}
	const char *srcarg = *src ? src : NULL, *what = *src ? src : *fstype ? fstype : "none";
	if ((flags & MS_BIND) && *src && src[0] != '/') {
		what = show(src);
		if (resolve(src, O_PATH, &s) < 0)
			rc = fail(show(src), "open bind source %s", show(src));
		srcarg = s.path;
	}
	if (rc == 0 && mount(srcarg, t.path, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0)
		rc = fail(show(tgt), "mount %s on %s", what, show(tgt));
	close_keep_errno(s.fd);
	close_keep_errno(t.fd);
	return rc;
}

static int op_mount(char **a) { return do_mount(a, 0); }
static int op_mount_if(char **a) { return do_mount(a, 1); }

/* A directory gets an empty read-only tmpfs, anything else the current /dev/null bound over it. */
static int op_mask(char **a)
{
	struct res t;
	struct stat st;
	int rc = 0;
	if (resolve(a[1], O_PATH, &t) < 0)
		return errno == ENOENT ? 0 : fail(show(a[1]), "open %s", show(a[1]));
	if (fstat(t.fd, &st) < 0)
		rc = fail(show(a[1]), "stat %s", show(a[1]));
	else if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", t.path, "tmpfs", MS_RDONLY, NULL) < 0)
			rc = fail(show(a[1]), "mount tmpfs on %s", show(a[1]));
	} else if (mount("/dev/null", t.path, NULL, MS_BIND, NULL) < 0)
		rc = fail(show(a[1]), "bind /dev/null on %s", show(a[1]));
	close_keep_errno(t.fd);
	return rc;
}

/* Bind TARGET onto itself, then remount that bind read-only keeping nosuid/nodev/noexec. */
static int op_readonly(char **a)
{
	struct res t;
	struct statvfs sv;
	const char *p = show(a[1]);
	if (resolve(a[1], O_PATH, &t) < 0)
		return errno == ENOENT ? 0 : fail(p, "open %s", p);
	int rc = mount(t.path, t.path, NULL, MS_BIND | MS_REC, NULL);
	close_keep_errno(t.fd);
	if (rc < 0)
		return fail(p, "bind %s onto itself", p);
	if (resolve(a[1], O_PATH, &t) < 0)                   /* the new bind, on top */
		return fail(p, "open %s", p);
	unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY;
	if (fstatvfs(t.fd, &sv) < 0)
		rc = fail(p, "statvfs %s", p);
	else {
		fl |= (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
		      (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
		if (mount(NULL, t.path, NULL, fl, NULL) < 0)
			rc = fail(p, "remount %s read-only", p);
	}
	close_keep_errno(t.fd);
	return rc;
}

static int op_mkdir(char **a)
{
	unsigned long long mode;
	char buf[PATH_MAX];
	const char *base;
	struct res d;
	if (num(a[2], 8, &mode) < 0 || mode > 07777)
		return invalid("mode", a[2]);
	if (open_parent(a[1], buf, sizeof buf, &base, &d) < 0)
		return fail(show(a[1]), "open parent of %s", show(a[1]));
	int rc = mkdirat(d.fd, base, (mode_t)mode);
	close_keep_errno(d.fd);
	if (rc < 0 && errno != EEXIST)
		return fail(show(a[1]), "create directory %s", show(a[1]));
	return 0;
}

static int chmod_path(const char *p, mode_t mode)
{
	struct res r;
	if (resolve(p, O_PATH, &r) < 0)
		return fail(show(p), "open %s", show(p));
	int rc = chmod(r.path, mode);
	close_keep_errno(r.fd);
	return rc < 0 ? fail(show(p), "chmod %s", show(p)) : 0;
}

static int op_chmod(char **a)
{
	unsigned long long mode;
	if (num(a[2], 8, &mode) < 0 || mode > 07777)
		return invalid("mode", a[2]);
	return chmod_path(a[1], (mode_t)mode);
}

/* mknod PATH TYPE MODE MAJOR MINOR */
static int op_mknod(char **a)
{
	unsigned long long mode, major, minor;
	char buf[PATH_MAX];
	const char *base;
	struct res d;
	mode_t type = !strcmp(a[2], "c") ? S_IFCHR : !strcmp(a[2], "b") ? S_IFBLK : 0;
	if (!type)
		return invalid("device type", a[2]);
	if (num(a[3], 8, &mode) < 0 || mode > 07777)
		return invalid("mode", a[3]);
	if (num(a[4], 10, &major) < 0 || major > UINT_MAX)
		return invalid("major", a[4]);
	if (num(a[5], 10, &minor) < 0 || minor > UINT_MAX)
		return invalid("minor", a[5]);
	if (open_parent(a[1], buf, sizeof buf, &base, &d) < 0)
		return fail(show(a[1]), "open parent of %s", show(a[1]));
	int rc = mknodat(d.fd, base, type | (mode_t)mode, makedev(major, minor));
	close_keep_errno(d.fd);
	if (rc < 0 && errno != EEXIST)
		return fail(show(a[1]), "mknod %s", show(a[1]));
	return chmod_path(a[1], (mode_t)mode);
}

static int op_symlink(char **a)
{
	char buf[PATH_MAX];
	const char *base;
	struct res d;
	if (open_parent(a[2], buf, sizeof buf, &base, &d) < 0)
		return fail(show(a[2]), "open parent of %s", show(a[2]));
	int rc = symlinkat(a[1], d.fd, base);
	close_keep_errno(d.fd);
	if (rc < 0 && errno != EEXIST)
		return fail(show(a[2]), "symlink %s to %s", show(a[2]), a[1]);
	return 0;
}

/*
 * pivot_root(".", ".") stacks the old root on top of the new one; the old root tree is made
 * rslave (so that unmounting it cannot propagate to the host) and detached. The new root's own
 * propagation, set by the plan's mount ops, is not touched.
 */
static int op_pivot(char **a)
{
	(void)a;
	if (!strcmp(root, "/"))
		return errno = EINVAL, fail("/", "pivot_root: no root set");
	int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old < 0)
		return fail("/", "open the old root");
	int rc = 0;
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
	close_keep_errno(old);
	if (rc == 0)
		root = "/";
	return rc;
}

static int op_chroot_move(char **a)
{
	(void)a;
	if (!strcmp(root, "/"))
		return errno = EINVAL, fail("/", "chroot-move: no root set");
	if (chdir(root) < 0)
		return fail(root, "chdir to %s", root);
	if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
		return fail(root, "move %s onto /", root);
	if (chroot(".") < 0)
		return fail(root, "chroot into %s", root);
	if (chdir("/") < 0)
		return fail("/", "chdir to the new root");
	root = "/";
	return 0;
}

static int op_sethostname(char **a)
{
	return sethostname(a[1], strlen(a[1])) < 0 ? fail(a[1], "sethostname %s", a[1]) : 0;
}

static int op_ifup(char **a)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	if (strlen(a[1]) >= IFNAMSIZ || !a[1][0])
		return invalid("interface name", a[1]);
	strcpy(ifr.ifr_name, a[1]);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	if (s < 0)
		return fail(a[1], "open a socket to bring up %s", a[1]);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		rc = fail(a[1], "read the flags of interface %s", a[1]);
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = fail(a[1], "bring up interface %s", a[1]);
	}
	close_keep_errno(s);
	return rc;
}

static int op_umask(char **a)
{
	unsigned long long m;
	if (num(a[1], 8, &m) < 0 || m > 0777)
		return invalid("umask", a[1]);
	cmd_umask = (mode_t)m;
	return 0;
}

static int op_setsid(char **a)
{
	(void)a;
	return setsid() < 0 ? fail("", "setsid") : 0;
}

static int op_bounding(char **a)
{
	unsigned long long keep;
	if (num(a[1], 16, &keep) < 0)
		return invalid("capability mask", a[1]);
	for (int c = 0; c < 64; c++) {                /* up to cap_last_cap: PR_CAPBSET_READ says EINVAL */
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

/* user UID GID GROUPS */
static int op_user(char **a)
{
	unsigned long long uid, gid, g;
	size_t n = 0;
	gid_t *groups = xmalloc((strlen(a[3]) / 2 + 1) * sizeof(gid_t));
	if (num(a[1], 10, &uid) < 0 || uid > UINT_MAX - 1)
		return invalid("uid", a[1]);
	if (num(a[2], 10, &gid) < 0 || gid > UINT_MAX - 1)
		return invalid("gid", a[2]);
	for (char *save, *s = strtok_r(a[3], ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (num(s, 10, &g) < 0 || g > UINT_MAX - 1)
			return invalid("group", s);
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
	free(groups);
	return 0;
}

/* caps EFFECTIVE PERMITTED INHERITABLE (hexadecimal masks) */
static int op_caps(char **a)
{
	unsigned long long m[3];
	const char *what[3] = { "effective", "permitted", "inheritable" };
	for (int i = 0; i < 3; i++)
		if (num(a[i + 1], 16, &m[i]) < 0)
			return invalid(what[i], a[i + 1]);
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

static int op_no_new_privs(char **a)
{
	(void)a;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? fail("", "set no_new_privs") : 0;
}

static int op_pdeathsig(char **a)
{
	unsigned long long sig;
	if (num(a[1], 10, &sig) < 0 || sig >= NSIG)
		return invalid("signal", a[1]);
	return prctl(PR_SET_PDEATHSIG, (int)sig, 0, 0, 0) < 0 ? fail(a[1], "set the parent death signal") : 0;
}

static int op_closefds(char **a)
{
	(void)a;
	return close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? fail("", "mark fds 3 and up close-on-exec") : 0;
}

static int op_chdir(char **a)
{
	struct res r;
	if (resolve(a[1], O_PATH | O_DIRECTORY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = fchdir(r.fd);
	close_keep_errno(r.fd);
	return rc < 0 ? fail(show(a[1]), "chdir to %s", show(a[1])) : 0;
}

static int op_env(char **a)
{
	char **n = realloc(envv, (nenv + 2) * sizeof(char *));
	if (!n)
		return fail("", "grow the environment");
	envv = n;
	envv[nenv++] = a[1];
	envv[nenv] = NULL;
	return 0;
}

/* The minimal init: forward the listed signals to the command, reap everything, exit like it. */
static __attribute__((noreturn)) void run_init(pid_t cmd, const sigset_t *set)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si), st;
		pid_t p;
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0 || (p < 0 && errno == EINTR))
			if (p == cmd)
				_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
	}
}

/* With `init`: fork; the parent becomes the init and never returns, the child returns 0. */
static int fork_init(void)
{
	sigset_t set, none;
	sigemptyset(&set);
	sigemptyset(&none);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof fwd_signals / sizeof *fwd_signals; i++)
		sigaddset(&set, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t pid = fork();
	if (pid < 0)
		return fail("", "fork the command");
	if (pid == 0)
		return sigprocmask(SIG_SETMASK, &none, NULL), 0;
	close(errfd);
	run_init(pid, &set);
}

/* exec SEARCHPATH ARG0 ARG...: PATH search like execvp, without the /bin/sh fallback. */
static int op_exec(char **a)
{
	const char *search = a[1], *cmd = a[2];
	char **argv = a + 2, cand[PATH_MAX], denied[PATH_MAX] = "";
	char *none[] = { NULL };
	if (init_mode && fork_init() < 0)
		return -1;
	umask(cmd_umask);
	char **env = envv ? envv : none;
	if (!*cmd)
		return errno = ENOENT, fail(cmd, "exec: empty command");
	if (strchr(cmd, '/')) {
		execve(cmd, argv, env);
		return fail(cmd, "exec %s", cmd);
	}
	for (const char *p = search; *search;) {        /* an empty SEARCHPATH: no candidates */
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);
		if (snprintf(cand, sizeof cand, "%.*s/%s", len ? len : 1, len ? p : ".", cmd) < (int)sizeof cand) {
			execve(cand, argv, env);
			switch (errno) {
			case EACCES:
				if (!*denied)
					strcpy(denied, cand);
				break;
			case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT:
				break;
			default:
				return fail(cand, "exec %s", cand);
			}
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (*denied)
		return errno = EACCES, fail(denied, "exec %s", denied);
	return errno = ENOENT, fail(cmd, "exec %s: not found in %s", cmd, search);
}

/* ------------------------------------------------------------------ the op table */

struct op { const char *name; int nargs; int (*run)(char **a); };   /* run NULL: a monitor op */

static const struct op ops[] = {
	{ "clone", 1, NULL }, { "detach", 0, NULL }, { "exit-file", 1, NULL },
	{ "oom-counter", 1, NULL }, { "cleanup-cgroup", 1, NULL }, { "init", 0, NULL },
	{ "signals-forward", 0, NULL },
	{ "root", 1, op_root }, { "unshare", 1, op_unshare }, { "setns", 2, op_setns }, { "mount", 6, op_mount },
	{ "mount-if", 6, op_mount_if }, { "mask", 1, op_mask }, { "readonly", 1, op_readonly },
	{ "mkdir", 2, op_mkdir }, { "mknod", 5, op_mknod }, { "symlink", 2, op_symlink },
	{ "chmod", 2, op_chmod }, { "pivot", 0, op_pivot }, { "chroot-move", 0, op_chroot_move },
	{ "sethostname", 1, op_sethostname }, { "ifup", 1, op_ifup }, { "umask", 1, op_umask },
	{ "setsid", 0, op_setsid }, { "bounding", 1, op_bounding }, { "user", 3, op_user },
	{ "caps", 3, op_caps }, { "no-new-privs", 0, op_no_new_privs }, { "pdeathsig", 1, op_pdeathsig },
	{ "closefds", 0, op_closefds }, { "chdir", 1, op_chdir }, { "env", 1, op_env },
	{ "exec", -2, op_exec },                                    /* -2: at least 2 arguments */
};

static const struct op *find_op(const char *name)
{
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

static struct frame *plan;
static size_t nplan;

/* ------------------------------------------------------------------ container child */

static __attribute__((noreturn)) void child(int gofd, int gofd_w, int efd_r, int efd_w, int sigfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);        /* until "go": die with the monitor */
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);                   /* SIGPIPE was ignored in the monitor */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(CTL);
	close(sigfd);
	close(gofd_w);
	close(efd_r);
	if (RETRY(read(gofd, &c, 1)) != 1)                 /* EOF: abort, or the monitor died */
		_exit(1);
	close(gofd);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);               /* from now on only the plan decides */
	errfd = efd_w;
	cmd_umask = umask(0);                               /* ops create with exact modes */

	for (size_t i = 0; i < nplan; i++) {
		const struct op *op = find_op(plan[i].f[0]);
		if (!op->run || op->run(plan[i].f) == 0)
			continue;
		char step[64], no[16];
		snprintf(step, sizeof step, "%s#%zu", op->name, i);
		snprintf(no, sizeof no, "%d", err.no);
		SEND(errfd, "error", step, no, err.path, err.msg);
		_exit(op->run != op_exec ? 1 : err.no == ENOENT ? 127 : 126);
	}
	_exit(1);                                           /* not reached: the plan ends with exec */
}

/* ------------------------------------------------------------------ monitor */

static int ctl_ok = 1;                  /* the control socket can still be written */
static unsigned long clone_flags;
static int detach, forward, clone_index = -1, exit_file_index, oom_index = -1;
static const char *exit_file, *oom_file;

static void ctl_frame(const char *const *f, size_t n)
{
	if (ctl_ok && send_frame(CTL, f, n) < 0)
		ctl_ok = 0;                     /* Node is gone: not fatal (detach) */
}
#define CTL_SEND(...) ctl_frame((const char *const[]){ __VA_ARGS__ }, \
				sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))

static void ctl_error(const char *op, long index, int no, const char *path, const char *msg)
{
	char step[64], n[16];
	snprintf(step, sizeof step, "%s#%ld", op, index);
	snprintf(n, sizeof n, "%d", no);
	CTL_SEND("error", step, n, path, msg);
}

/* Read the plan up to ["end"] and check it; on a bad plan report plan#i and return -1. */
static int read_plan(void)
{
	size_t cap = 0, execs = 0;
	for (;;) {
		struct frame f;
		int r = read_frame(CTL, &f);
		if (r <= 0) {
			ctl_error("plan", (long)nplan, r < 0 ? errno : EPIPE, "", "read the plan");
			return -1;
		}
		if (!strcmp(f.f[0], "end"))
			break;
		if (nplan == cap)
			plan = realloc(plan, (cap = cap * 2 + 16) * sizeof *plan);
		if (!plan)
			_exit(1);
		plan[nplan++] = f;
	}
	for (size_t i = 0; i < nplan; i++) {
		char msg[256], **a = plan[i].f;
		int nargs = (int)plan[i].n - 1;
		unsigned long long v;
		const struct op *op = find_op(a[0]);
		msg[0] = 0;
		if (!op)
			snprintf(msg, sizeof msg, "unknown op %.64s", a[0]);
		else if (op->nargs >= 0 ? nargs != op->nargs : nargs < -op->nargs)
			snprintf(msg, sizeof msg, "%s takes %s%d arguments, not %d", op->name,
				 op->nargs < 0 ? "at least " : "", abs(op->nargs), nargs);
		else if (execs)
			snprintf(msg, sizeof msg, "%s after exec (exec is the last op)", op->name);
		else if (!strcmp(a[0], "clone")) {
			if (num(a[1], 10, &v) < 0 || (v & ~(unsigned long long)NS_FLAGS))
				snprintf(msg, sizeof msg, "invalid clone flags %.64s", a[1]);
			clone_flags = (unsigned long)v, clone_index = (int)i;
		} else if (!strcmp(a[0], "detach"))
			detach = 1;
		else if (!strcmp(a[0], "signals-forward"))
			forward = 1;
		else if (!strcmp(a[0], "init"))
			init_mode = 1;
		else if (!strcmp(a[0], "exit-file"))
			exit_file = a[1], exit_file_index = (int)i;
		else if (!strcmp(a[0], "oom-counter"))
			oom_file = a[1], oom_index = (int)i;
		execs += op && op->run == op_exec;
		if (*msg) {
			ctl_error("plan", (long)i, EINVAL, a[0], msg);
			return -1;
		}
	}
	if (!execs) {
		ctl_error("plan", (long)nplan, EINVAL, "", "the plan has no exec");
		return -1;
	}
	return 0;
}

static long long read_oom_kills(const char *path)
{
	char key[64];
	long long v, r = -1;
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, "oom_kill")) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

static long long now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGKILL every process in DIR/cgroup.procs until it is empty (~5 s), then rmdir DIR. */
static int cleanup_cgroup(const char *dir)
{
	char procs[PATH_MAX];
	long long deadline = now_ms(CLOCK_MONOTONIC) + 5000;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	if (snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs)
		return errno = ENAMETOOLONG, -1;
	for (;;) {
		int pid, any = 0;
		FILE *f = fopen(procs, "re");
		if (!f)
			return errno == ENOENT ? 0 : -1;
		while (fscanf(f, "%d", &pid) == 1)
			if (pid != getpid()) {
				any = 1;
				kill(pid, SIGKILL);
			}
		fclose(f);
		if (!any) {
			if (rmdir(dir) == 0 || errno == ENOENT)
				return 0;
			if (errno != EBUSY)
				return -1;
		}
		if (now_ms(CLOCK_MONOTONIC) > deadline)
			return errno = EBUSY, -1;
		nanosleep(&tick, NULL);
	}
}

static int write_exit_file(const char *path, int code, int sig, long long oom)
{
	char tmp[PATH_MAX], json[256];
	int n = snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%d,\"oomKills\":%lld,\"finishedAt\":%lld}\n",
			 code, sig, oom, now_ms(CLOCK_REALTIME));
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_full(fd, json, (size_t)n) < 0 || fsync(fd) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0)
		return -1;
	return 0;
}

/* After the reap: OOM counter, cgroups, exit file, then the exit frame. */
static void finish(int status)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(status);
	long long oom = oom_file ? read_oom_kills(oom_file) : -1;
	char c[16], s[16], o[24], msg[PATH_MAX + 64];
	for (size_t i = 0; i < nplan; i++) {
		if (strcmp(plan[i].f[0], "cleanup-cgroup") || cleanup_cgroup(plan[i].f[1]) == 0)
			continue;
		snprintf(msg, sizeof msg, "remove cgroup %s", plan[i].f[1]);
		ctl_error("cleanup-cgroup", (long)i, errno, plan[i].f[1], msg);
	}
	if (exit_file && write_exit_file(exit_file, code, sig, oom) < 0) {
		snprintf(msg, sizeof msg, "write exit file %s", exit_file);
		ctl_error("exit-file", exit_file_index, errno, exit_file, msg);
	}
	snprintf(c, sizeof c, "%d", code);
	snprintf(s, sizeof s, "%d", sig);
	snprintf(o, sizeof o, "%lld", oom);
	CTL_SEND("exit", c, s, o);
}

static int monitor(void)
{
	int gop[2], errp[2], sigfd, status = 0, fl;
	enum { WAIT_GO, RUNNING, ABORTED } phase = WAIT_GO;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	if ((fl = fcntl(CTL, F_GETFL)) < 0 || fcntl(CTL, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		dprintf(2, "execdriver-init: fd 3 (the control socket): %s\n", strerror(errno));
		return 2;
	}
	if (read_plan() < 0)
		return 2;
	if (detach && setsid() < 0 && errno != EPERM) {       /* EPERM: already a session leader */
		ctl_error("detach", 0, errno, "", "setsid");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; forward && i < sizeof fwd_signals / sizeof *fwd_signals; i++)
		sigaddset(&set, fwd_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 ||
	    pipe2(gop, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		ctl_error("clone", clone_index, errno, "", "set up the monitor");
		return 1;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, clone_flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		ctl_error("clone", clone_index, errno, "", "clone the container process");
		return 1;
	}
	if (pid == 0)
		child(gop[0], gop[1], errp[0], errp[1], sigfd);
	close(gop[0]);
	close(errp[1]);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);    /* the stdio is the container's */
	if (null >= 0) {
		for (int fd = 0; fd < 3; fd++)
			dup2(null, fd);
		close(null);
	}
	char pidstr[16];
	snprintf(pidstr, sizeof pidstr, "%d", pid);
	CTL_SEND("pid", pidstr);

	int ctl_open = 1, efd = errp[0], reaped = 0;
	while (!reaped) {
		struct pollfd p[3] = { { sigfd, POLLIN, 0 }, { -1, POLLIN, 0 }, { -1, POLLIN, 0 } };
		if (ctl_open)
			p[1].fd = CTL;
		if (phase == RUNNING)
			p[2].fd = efd;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			kill(pid, SIGKILL);                 /* cannot watch it any more */
			reaped = RETRY(waitpid(pid, &status, 0)) == pid;
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si[16];
			ssize_t n = RETRY(read(sigfd, si, sizeof si));
			for (ssize_t i = 0; i < n / (ssize_t)sizeof *si; i++) {
				if (si[i].ssi_signo != SIGCHLD)
					kill(pid, (int)si[i].ssi_signo);
				else if (!reaped && RETRY(waitpid(pid, &status, WNOHANG)) == pid)
					reaped = 1;
			}
		}
		if (p[1].revents && phase == WAIT_GO) {
			struct frame f;
			int r = read_frame(CTL, &f);
			if (r == 1 && !strcmp(f.f[0], "go") && RETRY(write(gop[1], "g", 1)) == 1) {
				phase = RUNNING;
			} else {                            /* abort, EOF before go, or garbage */
				ctl_open = r == 1;
				kill(pid, SIGKILL);
				phase = ABORTED;
			}
			close(gop[1]);
		} else if (p[1].revents) {
			char buf[4096];                      /* later frames are ignored */
			if (RETRY(read(CTL, buf, sizeof buf)) <= 0) {
				ctl_open = 0;
				if (!detach)
					kill(pid, SIGKILL);
			}
		}
		if (p[2].revents) {
			struct frame f;
			int r = read_frame(efd, &f);
			if (r == 1)
				ctl_frame((const char *const *)f.f, f.n);
			else if (r == 0)
				CTL_SEND("started");
			close(efd);
			efd = -1;
			phase = ABORTED;                     /* nothing more to relay */
		}
	}
	if (phase == RUNNING) {                              /* drain: the child wrote, then exited */
		struct frame f;
		int r = read_frame(efd, &f);
		if (r == 1)
			ctl_frame((const char *const *)f.f, f.n);
		else if (r == 0)
			CTL_SEND("started");
	}
	if (phase == WAIT_GO)
		close(gop[1]);
	finish(status);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "monitor")) {
		dprintf(2, "usage: execdriver-init monitor   (the plan is read from fd 3, see PROTOCOL.md)\n");
		return 2;
	}
	return monitor();
}
