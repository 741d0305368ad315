/*
 * execdriver-init: carries out a plan that TypeScript has fully decided (see PROTOCOL.md).
 *
 *   execdriver-init monitor      (fd 3: the control socket; fds 0-2: the container's stdio)
 *   execdriver-init console-exec CMD [ARG...]   (inside a container: fd 0 the controlling terminal)
 *   execdriver-init die-with-parent PATH [ARG...]   (PATH exec'd with PR_SET_PDEATHSIG SIGKILL)
 *
 * The monitor reads the plan (frames up to ["end"]), clones the container child into the asked
 * namespaces, reports ["pid", N] and waits for ["go"] or ["abort"]. After "go" the child carries
 * out the container ops in order and execs the command. An op failure travels back as an
 * ["error", STEP, ERRNO, PATH, MESSAGE] frame over a close-on-exec pipe; exec success is that
 * pipe's EOF with no frame (relayed as ["started"]). The monitor reaps the child, reads the OOM
 * counter, removes cgroups, writes the exit file and reports ["exit", CODE, SIGNAL, OOM_KILLS].
 * Without a `clone` op the child is a plain fork on the host (host mode: the lxc driver's tty).
 *
 * No policy lives here: no default mounts, devices, capabilities or users. Only what the plan says.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include "bpf.h"
#include "events.h"

#include "security.h"
#include "userns.h"

#define CTL 3                                   /* the control socket */
#define MAX_FIELDS 65536
#define MAX_FIELD (16u << 20)
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | \
		  CLONE_NEWUSER | CLONE_NEWCGROUP)
#define RETRY(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })
#define NELEM(a) (sizeof(a) / sizeof *(a))
#define UNUSED __attribute__((unused))

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
		ssize_t r = RETRY(read(fd, (char *)buf + got, n - got));
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
		ssize_t r = RETRY(write(fd, buf, n));
		if (r < 0)
			return -1;
		buf = (const char *)buf + r;
		n -= (size_t)r;
	}
	return 0;
}

/* 1: a frame; 0: EOF before a frame; -1: error or truncated frame (errno set). */
static int read_frame(int fd, struct frame *fr)
{
	uint32_t n, len;
	ssize_t r = read_full(fd, &n, 4);
	if (r <= 0)
		return (int)r;
	if (r != 4 || (n = le32toh(n)) == 0 || n > MAX_FIELDS)
		return errno = EPROTO, -1;
	fr->n = n;
	fr->f = xmalloc((n + 1) * sizeof(char *));
	for (uint32_t i = 0; i < n; i++) {
		if (read_full(fd, &len, 4) != 4 || (len = le32toh(len)) > MAX_FIELD)
			return errno = EPROTO, -1;
		fr->f[i] = xmalloc(len + 1);
		if (read_full(fd, fr->f[i], len) != (ssize_t)len)
			return errno = EPROTO, -1;
		fr->f[i][len] = 0;
	}
	fr->f[n] = NULL;
	return 1;
}

static void free_frame(struct frame *fr)
{
	for (uint32_t i = 0; i < fr->n; i++)
		free(fr->f[i]);
	free(fr->f);
}

static int send_frame(int fd, const char *const *f, size_t n)
{
	size_t total = 4;
	for (size_t i = 0; i < n; i++)
		total += 4 + strlen(f[i]);
	char *buf = xmalloc(total), *p = buf;
	uint32_t v = htole32((uint32_t)n);
	memcpy(p, &v, 4), p += 4;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(f[i]);
		v = htole32((uint32_t)len);
		memcpy(p, &v, 4), p += 4;
		memcpy(p, f[i], len), p += len;
	}
	int r = write_full(fd, buf, total);
	free(buf);
	return r;
}

#define FIELDS(...) (const char *const[]){ __VA_ARGS__ }, NELEM(((const char *const[]){ __VA_ARGS__ }))

/* Strict unsigned parsing: decimal flags and ids, octal modes, hexadecimal capability masks. */
static int num(const char *s, int base, unsigned long long max, unsigned long long *v)
{
	char *end;
	errno = 0;
	if (*s && *s != '-' && *s != '+') {
		*v = strtoull(s, &end, base);
		if (!errno && !*end && *v <= max)
			return 0;
	}
	return errno = EINVAL, -1;
}

/* ------------------------------------------------------------------ container child: helpers */

static const char *root = "/";    /* where relative paths are resolved; "/" after pivot */
static int errfd = -1;             /* write end of the error pipe (close-on-exec) */
static char **envv;                /* the command's environment, only from `env` ops */
static size_t nenv;
static mode_t cmd_umask;           /* the command's umask (the ops themselves run with 0) */
static int init_mode;              /* `init`: fork once more, stay pid 1 as a minimal init */

static struct { int no; char path[PATH_MAX]; char msg[2 * PATH_MAX + 128]; } err;

/* `log-relay`: the container's fds 1 and 2 are pipes; the monitor copies them to its own fds 1 and 2. */
static struct {
	long index;
	int r[2], w[2];                 /* the pipes' ends: read (monitor), write (child) */
	int to[2];                      /* where each goes: the monitor's fds 1 and 2 as Node gave them */
} logr = { .index = -1, .r = { -1, -1 }, .w = { -1, -1 }, .to = { -1, -1 } };

/* `tty` / `attach-socket` / `console`: the container's terminal (the monitor's part is further down). */
#define MAX_CLIENTS 16                  /* attach connections at once */
#define CLIENT_BUF 8192                 /* the largest frame a client may send */
#define IO_CHUNK 4096
#define RELAY_BUF (64u << 10)           /* the output buffer without `attach-socket` */

struct client {
	int fd, attached, eof;
	uint64_t pos;                   /* the next output byte it gets (an offset in the output) */
	size_t len;                     /* bytes in buf: the start of its next frames */
	char buf[CLIENT_BUF];
};

static struct {
	long index, attach_index;       /* the ops' indexes; index >= 0: the plan has `tty` */
	unsigned short rows, cols;      /* the current window size */
	int sock, child_sock;           /* the socketpair the master travels over */
	int console_made;               /* (child) `console` done: the slave is fds 0-2 */
	int master, master_eof;         /* (monitor) -1 until it came */
	int in, out;                    /* (monitor) fds 0 and 1, -1 once done with */
	char *ring;                     /* the last `size` bytes of output; total: bytes ever read */
	size_t size;
	uint64_t total, out_pos, seen;  /* seen: the furthest any attach client got */
	char inbuf[IO_CHUNK];           /* input on its way to the master */
	size_t in_off, in_len;
	const char *path;               /* the attach socket */
	int lfd;
	struct client cl[MAX_CLIENTS];  /* fd -1: a free slot */
} tty = { .index = -1, .attach_index = -1, .sock = -1, .child_sock = -1, .master = -1, .in = -1, .out = -1, .lfd = -1 };

/* Record a failure, with errno as it is now, for the error frame; returns -1. */
__attribute__((format(printf, 2, 3)))
static int fail(const char *path, const char *fmt, ...)
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
static int arg(const char *s, int base, unsigned long long max, unsigned long long *v, const char *what)
{
	if (num(s, base, max, v) == 0)
		return 0;
	return fail(s, "invalid %s %s", what, s);
}

static void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

/* A path as the user would read it: a relative one is shown joined to the root. */
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

/* An open file, and a name for it that path-based syscalls (mount, chmod) accept. */
struct res { int fd; char path[PATH_MAX + 2]; };

/*
 * Open P with FLAGS (normally O_PATH). A relative P is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT) and r->path is /proc/self/fd/N (the host's /proc, before pivot). An
 * absolute P, or any P once the root is "/", is opened as it is and r->path is that path.
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
static int mkdir_p(const char *p)
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
static int mkfile(const char *p)
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

/* ------------------------------------------------------------------ container ops */

static int op_root(char **a)
{
	if (a[1][0] != '/')
		return errno = EINVAL, fail(a[1], "root %s is not an absolute path", a[1]);
	root = a[1];
	return 0;
}

static int op_unshare(char **a)
{
	unsigned long long f;
	if (arg(a[1], 10, INT_MAX, &f, "unshare flags") < 0)
		return -1;
	return unshare((int)f) < 0 ? fail("", "unshare %llu", f) : 0;
}

static int op_setns(char **a)
{
	unsigned long long f;
	struct res r;
	if (arg(a[2], 10, INT_MAX, &f, "setns flags") < 0)
		return -1;
	if (resolve(a[1], O_RDONLY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = setns(r.fd, (int)f) < 0 ? fail(show(a[1]), "setns %s", show(a[1])) : 0;
	close(r.fd);
	return rc;
}

/* mount / mount-if: SOURCE TARGET FSTYPE FLAGS DATA MKTARGET */
static int op_mount(char **a)
{
	int if_exists = !strcmp(a[0], "mount-if");
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
	if (resolve(tgt, O_PATH, &t) < 0) {
		if (if_exists && errno == ENOENT)
			return 0;
		return fail(show(tgt), "open mount target %s", show(tgt));
	}
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
static int op_mask(char **a)
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
static int op_readonly(char **a)
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

static int op_mkdir(char **a)
{
	unsigned long long mode;
	if (arg(a[2], 8, 07777, &mode, "mode") < 0)
		return -1;
	return create(a[1], S_IFDIR | (mode_t)mode, 0, NULL) < 0 ? fail(show(a[1]), "mkdir %s", show(a[1])) : 0;
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

static int op_chmod(char **a)
{
	unsigned long long mode;
	return arg(a[2], 8, 07777, &mode, "mode") < 0 ? -1 : chmod_path(a[1], (mode_t)mode);
}

/* chown PATH UID GID (an absolute PATH such as /proc/self/fd/0 is followed to what it names) */
static int op_chown(char **a)
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
static int op_mknod(char **a)
{
	unsigned long long mode, major, minor;
	mode_t type = !strcmp(a[2], "c") ? S_IFCHR : !strcmp(a[2], "b") ? S_IFBLK : 0;
	if (!type)
		return errno = EINVAL, fail(a[2], "invalid device type %s", a[2]);
	if (arg(a[3], 8, 07777, &mode, "mode") < 0 || arg(a[4], 10, UINT_MAX, &major, "major") < 0 ||
	    arg(a[5], 10, UINT_MAX, &minor, "minor") < 0)
		return -1;
	if (create(a[1], type | (mode_t)mode, makedev(major, minor), NULL) < 0)
		return fail(show(a[1]), "mknod %s", show(a[1]));
	return chmod_path(a[1], (mode_t)mode);
}

static int op_symlink(char **a)
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
static int op_pivot(char **a UNUSED)
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

static int op_chroot_move(char **a UNUSED)
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

static int op_sethostname(char **a)
{
	return sethostname(a[1], strlen(a[1])) < 0 ? fail(a[1], "sethostname %s", a[1]) : 0;
}

/* An AF_INET socket and an ifreq naming interface NAME, for the SIOC* ioctls; -1 on failure. */
static int if_socket(const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof *ifr);
	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return errno = EINVAL, fail(name, "invalid interface name %s", name);
	strcpy(ifr->ifr_name, name);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail(name, "open a socket to configure %s", name);
	return s;
}

static int op_ifup(char **a)
{
	struct ifreq ifr;
	int s = if_socket(a[1], &ifr), rc = 0;
	if (s < 0)
		return -1;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		rc = fail(a[1], "read the flags of interface %s", a[1]);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = fail(a[1], "bring up interface %s", a[1]);
	close(s);
	return rc;
}

/* An IPv4 address (dotted quad) in a sockaddr, as the SIOC* ioctls take it; -1 if it is not one. */
static int in_addr_of(const char *text, struct sockaddr *sa)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	memset(in, 0, sizeof *in);
	in->sin_family = AF_INET;
	if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
		return errno = EINVAL, fail(text, "invalid IPv4 address %s", text);
	return 0;
}

/* ifaddr NAME ADDR PREFIXLEN BROADCAST: the interface's IPv4 address, netmask and broadcast */
static int op_ifaddr(char **a)
{
	unsigned long long len;
	struct ifreq ifr;
	char mask[INET_ADDRSTRLEN];
	if (arg(a[3], 10, 32, &len, "prefix length") < 0)
		return -1;
	uint32_t bits = len ? htonl(~0u << (32 - len)) : 0;
	if (!inet_ntop(AF_INET, &bits, mask, sizeof mask))
		return fail(a[1], "format the netmask of %s", a[1]);
	int s = if_socket(a[1], &ifr), rc = 0;
	if (s < 0)
		return -1;
	if (in_addr_of(a[2], &ifr.ifr_addr) < 0 || ioctl(s, SIOCSIFADDR, &ifr) < 0)
		rc = fail(a[1], "set address %s on %s", a[2], a[1]);
	if (rc == 0 && (in_addr_of(mask, &ifr.ifr_netmask) < 0 || ioctl(s, SIOCSIFNETMASK, &ifr) < 0))
		rc = fail(a[1], "set netmask %s on %s", mask, a[1]);
	if (rc == 0 && (in_addr_of(a[4], &ifr.ifr_broadaddr) < 0 || ioctl(s, SIOCSIFBRDADDR, &ifr) < 0))
		rc = fail(a[1], "set broadcast %s on %s", a[4], a[1]);
	close(s);
	return rc;
}

/* route-default GATEWAY: the default IPv4 route, via GATEWAY */
static int op_route_default(char **a)
{
	struct rtentry rt = { 0 };
	struct sockaddr_in any = { .sin_family = AF_INET };
	memcpy(&rt.rt_dst, &any, sizeof any);
	memcpy(&rt.rt_genmask, &any, sizeof any);
	if (in_addr_of(a[1], &rt.rt_gateway) < 0)
		return -1;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	if (s < 0)
		return fail(a[1], "open a socket to add a route");
	if (ioctl(s, SIOCADDRT, &rt) < 0)
		rc = fail(a[1], "add the default route via %s", a[1]);
	close(s);
	return rc;
}

static int op_umask(char **a)
{
	unsigned long long m;
	if (arg(a[1], 8, 0777, &m, "umask") < 0)
		return -1;
	cmd_umask = (mode_t)m;                  /* applied just before exec */
	return 0;
}

static int op_setsid(char **a UNUSED)
{
	return setsid() < 0 ? fail("", "setsid") : 0;
}

/* Make fd 0 (a terminal) the controlling terminal: a new session first (already leading one is fine). */
static int op_ctty(char **a UNUSED)
{
	if (setsid() < 0 && getsid(0) != getpid())
		return fail("", "setsid");
	return ioctl(0, TIOCSCTTY, 0) < 0 ? fail("", "make fd 0 the controlling terminal") : 0;
}

static int op_bounding(char **a)
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
static int op_user(char **a)
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
static int op_caps(char **a)
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
static int op_ambient(char **a)
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

static int op_no_new_privs(char **a UNUSED)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? fail("", "set no_new_privs") : 0;
}

static int op_pdeathsig(char **a)
{
	unsigned long long sig;
	if (arg(a[1], 10, NSIG - 1, &sig, "signal") < 0)
		return -1;
	return prctl(PR_SET_PDEATHSIG, (int)sig, 0, 0, 0) < 0 ? fail(a[1], "set the parent death signal") : 0;
}

static int op_closefds(char **a UNUSED)
{
	return close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? fail("", "mark fds 3 and up close-on-exec") : 0;
}

static int op_chdir(char **a)
{
	struct res r;
	if (resolve(a[1], O_PATH | O_DIRECTORY, &r) < 0)
		return fail(show(a[1]), "open %s", show(a[1]));
	int rc = fchdir(r.fd) < 0 ? fail(show(a[1]), "chdir to %s", show(a[1])) : 0;
	close(r.fd);
	return rc;
}

/* Pass FD over the unix socket SOCK (SCM_RIGHTS, with one byte of data). */
static int send_fd(int sock, int fd)
{
	char byte = 'm';
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c;
	memset(&u, 0, sizeof u);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL)) == 1 ? 0 : -1;
}

/* Bind the terminal SLAVE (an open fd) onto TARGET, created as an empty file if missing. */
static int bind_slave(int slave, const char *target)
{
	char src[32];
	struct res t;
	snprintf(src, sizeof src, "/proc/self/fd/%d", slave);
	if (mkfile(target) < 0)
		return fail(show(target), "create file %s", show(target));
	if (resolve(target, O_PATH, &t) < 0)
		return fail(show(target), "open %s", show(target));
	int rc = mount(src, t.path, NULL, MS_BIND, NULL) < 0 ? fail(show(target), "bind the terminal onto %s", show(target)) : 0;
	close(t.fd);
	return rc;
}

/*
 * console PTMX TARGET: a new terminal of the devpts instance PTMX belongs to, with the `tty` size.
 * Its slave is bound onto TARGET (unless empty), becomes the controlling terminal of a new session
 * and fds 0-2; its master goes to the monitor over the `tty` socketpair.
 */
static int op_console(char **a)
{
	const char *p = show(a[1]);
	struct winsize ws = { .ws_row = tty.rows, .ws_col = tty.cols };
	struct res m;
	int unlock = 0, slave = -1, rc = -1;
	if (resolve(a[1], O_RDWR | O_NOCTTY, &m) < 0)
		return fail(p, "open %s", p);
	if (ioctl(m.fd, TIOCSPTLCK, &unlock) < 0)
		fail(p, "unlock a terminal of %s", p);
	else if ((slave = ioctl(m.fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		fail(p, "open the slave of a terminal of %s", p);
	else if (ioctl(m.fd, TIOCSWINSZ, &ws) < 0)
		fail(p, "set the window size of a terminal of %s", p);
	else if (*a[2] && bind_slave(slave, a[2]) < 0)
		;
	else if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))   /* EPERM: a leader already */
		fail("", "setsid for the terminal");
	else if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(p, "make the terminal the controlling terminal");
	else if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		fail(p, "make the terminal fds 0, 1 and 2");
	else if (send_fd(tty.child_sock, m.fd) < 0)
		fail(p, "pass the terminal to the monitor");
	else
		rc = 0;
	if (slave > 2)
		close_keep_errno(slave);
	close_keep_errno(m.fd);
	close_keep_errno(tty.child_sock);
	tty.child_sock = -1;
	tty.console_made = rc == 0;
	return rc;
}

/*
 * console-raw-output: output processing off on the terminal `console` made (fd 0 by now), and
 * locked off (TIOCSLCKTRMIOS: a later tcsetattr keeps a locked bit as it is), so that what is
 * written to the terminal reaches the master byte for byte whatever modes the command sets.
 * The glibc termios starts like the kernel's (which the lock ioctls copy) and is larger.
 */
static int op_console_raw_output(char **a UNUSED)
{
	struct termios t, lock;
	memset(&lock, 0, sizeof lock);
	if (tcgetattr(0, &t) < 0)
		return fail("", "read the terminal's modes");
	t.c_oflag &= ~(tcflag_t)OPOST;
	if (tcsetattr(0, TCSANOW, &t) < 0)
		return fail("", "turn off the terminal's output processing");
	if (ioctl(0, TIOCGLCKTRMIOS, &lock) < 0)
		return fail("", "read the terminal's locked modes");
	lock.c_oflag |= OPOST;
	if (ioctl(0, TIOCSLCKTRMIOS, &lock) < 0)
		return fail("", "lock the terminal's output processing");
	return 0;
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
static int op_exec(char **a)
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

/* `mount-source` / `move-mount` (userns.c): trees the monitor opened, passed over a socketpair. */
static struct { int sock, child_sock; long count; int *fd; } src = { .sock = -1, .child_sock = -1 };

/* move-mount INDEX TARGET MKTARGET: attach the tree of the mount-source op #INDEX onto TARGET */
static int op_move_mount(char **a)
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

/* ------------------------------------------------------------------ seccomp, keyring (security.c) */

static int sec_fail(const struct sec_err *e)
{
	errno = e->no;
	return fail(e->path, "%s", e->msg);
}

static int op_seccomp_filter(char **a)
{
	struct sec_err e;
	return sec_seccomp_load_hex(a[1], &e) < 0 ? sec_fail(&e) : 0;
}

static int op_session_keyring(char **a)
{
	struct sec_err e;
	return sec_join_session_keyring(a[1], &e) < 0 ? sec_fail(&e) : 0;
}

/* ------------------------------------------------------------------ the op table */

struct op { const char *name; int nargs; int (*run)(char **a); };   /* run NULL: a monitor op */

static const struct op ops[] = {
	{ "clone", 1, NULL }, { "detach", 0, NULL }, { "exit-file", 1, NULL },
	{ "oom-counter", 1, NULL }, { "cleanup-cgroup", 1, NULL }, { "init", 0, NULL },
	{ "signals-forward", 0, NULL }, { "tty", 2, NULL }, { "attach-socket", 2, NULL }, { "log-relay", 0, NULL },
	{ "device-filter", 2, NULL }, { "event-log", 5, NULL }, { "oom-watch", 1, NULL }, { "lxc-log", 1, NULL },
	{ "root", 1, op_root }, { "unshare", 1, op_unshare }, { "setns", 2, op_setns },
	{ "mount", 6, op_mount }, { "mount-if", 6, op_mount }, { "mask", 1, op_mask },
	{ "readonly", 1, op_readonly }, { "mkdir", 2, op_mkdir }, { "mknod", 5, op_mknod },
	{ "symlink", 2, op_symlink }, { "chmod", 2, op_chmod }, { "chown", 3, op_chown }, { "pivot", 0, op_pivot },
	{ "chroot-move", 0, op_chroot_move }, { "sethostname", 1, op_sethostname }, { "ifup", 1, op_ifup },
	{ "ifaddr", 4, op_ifaddr }, { "route-default", 1, op_route_default },
	{ "umask", 1, op_umask }, { "setsid", 0, op_setsid }, { "ctty", 0, op_ctty }, { "bounding", 1, op_bounding },
	{ "user", 3, op_user }, { "caps", 3, op_caps }, { "ambient", 1, op_ambient },
	{ "no-new-privs", 0, op_no_new_privs },
	{ "pdeathsig", 1, op_pdeathsig }, { "closefds", 0, op_closefds }, { "chdir", 1, op_chdir },
	{ "env", 1, op_env }, { "console", 2, op_console }, { "console-raw-output", 0, op_console_raw_output },
	{ "session-keyring", 1, op_session_keyring }, { "seccomp-filter", 1, op_seccomp_filter },
	{ "mount-source", 2, NULL }, { "move-mount", 3, op_move_mount }, { "net-helper", -1, NULL },
	{ "exec", -2, op_exec },                                                                    /* -2: at least 2 arguments */
};

static const struct op *find_op(const char *name)
{
	for (size_t i = 0; i < NELEM(ops); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

static struct frame *plan;
static size_t nplan;

/* ------------------------------------------------------------------ container child */

static __attribute__((noreturn)) void child(int go_r, int go_w, int err_r, int err_w, int sigfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	char c;

	/* Until "go": die with the monitor (PDEATHSIG, and EOF on the go pipe closes the race). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(1);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);                   /* SIGPIPE was ignored; EINVAL for 32, 33 */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(1);
	close(CTL), close(sigfd), close(go_w), close(err_r);
	if (logr.index >= 0 && (dup2(logr.w[0], 1) < 0 || dup2(logr.w[1], 2) < 0))
		_exit(1);
	if (tty.sock >= 0)
		close(tty.sock);                            /* the monitor's end */
	if (src.sock >= 0)
		close(src.sock);
	if (RETRY(read(go_r, &c, 1)) != 1)                 /* EOF: abort, or the monitor died */
		_exit(1);
	close(go_r);
	for (size_t i = 0; src.count && i < nplan; i++)     /* the monitor sent them before "go" */
		if (!strcmp(plan[i].f[0], "mount-source") && (src.fd[i] = userns_recv_fd(src.child_sock)) < 0)
			_exit(1);
	if (src.child_sock >= 0)
		close(src.child_sock);
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)        /* from now on only the plan decides */
		_exit(1);
	/* Until exec (and for good in the minimal init of `init`) this process runs our binary: not
	 * dumpable, so no process of the container can open its /proc/PID/exe (CVE-2019-5736) or
	 * mem. Set after `go`: the maps of a user namespace are written while /proc/PID is still ours. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	errfd = err_w;
	cmd_umask = umask(0);                               /* the ops create with exact modes */

	for (size_t i = 0; i < nplan; i++) {
		const struct op *op = find_op(plan[i].f[0]);
		if (!op->run || op->run(plan[i].f) == 0)
			continue;
		char step[64], no[16];
		snprintf(step, sizeof step, "%s#%zu", op->name, i);
		snprintf(no, sizeof no, "%d", err.no);
		send_frame(errfd, FIELDS("error", step, no, err.path, err.msg));
		_exit(op->run != op_exec ? 1 : err.no == ENOENT ? 127 : 126);
	}
	_exit(1);                                           /* not reached: the plan ends with exec */
}

/* ------------------------------------------------------------------ monitor */

static int ctl_ok = 1;                  /* the control socket can still be written */
static unsigned long clone_flags;
static int forward;
static long clone_index = -1, detach = -1;     /* the ops' indexes; detach >= 0: detached */
static long console_index = -1, raw_index = -1;
static const char *oom_file;

static void ctl_send(const char *const *f, size_t n)
{
	if (ctl_ok && send_frame(CTL, f, n) < 0)
		ctl_ok = 0;                     /* Node is gone: not fatal (detach) */
}

static void ctl_error(const char *op, long index, int no, const char *path, const char *msg)
{
	char step[64], n[16];
	snprintf(step, sizeof step, "%s#%ld", op, index);
	snprintf(n, sizeof n, "%d", no);
	ctl_send(FIELDS("error", step, n, path, msg));
}

/* Check one op of the plan and take in the monitor's; a problem goes into msg. */
static void check_op(size_t i, int execs, char *msg, size_t sz)
{
	char **a = plan[i].f;
	int nargs = (int)plan[i].n - 1;
	unsigned long long v, w;
	const struct op *op = find_op(a[0]);
	if (!op)
		snprintf(msg, sz, "unknown op %.64s", a[0]);
	else if (op->nargs >= 0 ? nargs != op->nargs : nargs < -op->nargs)
		snprintf(msg, sz, "%s takes %s%d arguments, not %d", op->name, op->nargs < 0 ? "at least " : "",
			 abs(op->nargs), nargs);
	else if (execs)
		snprintf(msg, sz, "%s after exec (exec is the last op)", op->name);
	else if (!strcmp(a[0], "clone") && (num(a[1], 10, NS_FLAGS, &v) < 0 || (v & ~(unsigned long long)NS_FLAGS)))
		snprintf(msg, sz, "invalid clone flags %.64s (only CLONE_NEW* without NEWTIME)", a[1]);
	else if (!strcmp(a[0], "clone"))
		clone_flags = (unsigned long)v, clone_index = (long)i;
	else if (!strcmp(a[0], "tty") && (num(a[1], 10, 65535, &v) < 0 || num(a[2], 10, 65535, &w) < 0))
		snprintf(msg, sz, "invalid window size %.16s %.16s (rows and columns, 0 to 65535)", a[1], a[2]);
	else if (!strcmp(a[0], "tty"))
		tty.rows = (unsigned short)v, tty.cols = (unsigned short)w;
	else if (!strcmp(a[0], "attach-socket") && (num(a[2], 10, 64u << 20, &v) < 0 || v == 0))
		snprintf(msg, sz, "invalid buffer size %.32s (1 to %u bytes)", a[2], 64u << 20);
	else if (!strcmp(a[0], "attach-socket") && strlen(a[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		snprintf(msg, sz, "attach socket path longer than %zu bytes", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	else if (!strcmp(a[0], "attach-socket"))
		tty.path = a[1], tty.size = (size_t)v;
	else if (!strcmp(a[0], "mount-source") && *a[2] && strcmp(a[2], "idmap"))
		snprintf(msg, sz, "invalid mount-source mode %.32s (idmap or empty)", a[2]);
	else if (!strcmp(a[0], "mount-source"))
		src.count++;
	else if (!strcmp(a[0], "net-helper") && a[1][0] != '/')
		snprintf(msg, sz, "net-helper %.64s is not an absolute path", a[1]);
	else if (!strcmp(a[0], "move-mount") && (num(a[1], 10, i, &v) < 0 || strcmp(plan[v].f[0], "mount-source")))
		snprintf(msg, sz, "move-mount %.32s is not the index of an earlier mount-source op", a[1]);
	if (!*msg)
		events_check(a, msg, sz);               /* event-log, oom-watch, lxc-log (events.c) */
	if (*msg)
		return;
	long *once = !strcmp(a[0], "tty") ? &tty.index : !strcmp(a[0], "attach-socket") ? &tty.attach_index
		: !strcmp(a[0], "console") ? &console_index : !strcmp(a[0], "log-relay") ? &logr.index : NULL;
	if (once && *once >= 0)
		snprintf(msg, sz, "%s more than once", a[0]);
	else if (once)
		*once = (long)i;
	detach = !strcmp(a[0], "detach") ? (long)i : detach;
	raw_index = !strcmp(a[0], "console-raw-output") && raw_index < 0 ? (long)i : raw_index;
	forward |= !strcmp(a[0], "signals-forward");
	init_mode |= !strcmp(a[0], "init");
	if (!strcmp(a[0], "oom-counter"))
		oom_file = a[1];
}

/* Read the plan up to ["end"] and check it; a bad plan is reported as plan#i. */
static int read_plan(void)
{
	size_t cap = 0;
	int execs = 0;
	char msg[256] = "";
	for (;;) {
		struct frame f;
		int r = read_frame(CTL, &f);
		if (r <= 0) {
			ctl_error("plan", (long)nplan, r < 0 ? errno : EPIPE, "", "read the plan");
			return -1;
		}
		if (!strcmp(f.f[0], "end"))
			break;
		if (nplan == cap && !(plan = realloc(plan, (cap = cap * 2 + 16) * sizeof *plan)))
			_exit(1);
		plan[nplan++] = f;
	}
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
	if (!*msg && logr.index >= 0 && tty.index >= 0)
		ctl_error("plan", logr.index, EINVAL, "log-relay", strcpy(msg, "log-relay and tty exclude each other"));
	if (!*msg && raw_index >= 0 && (console_index < 0 || console_index > raw_index))
		ctl_error("plan", raw_index, EINVAL, plan[raw_index].f[0],
			  strcpy(msg, "console-raw-output needs a console op before it"));
	return *msg ? -1 : 0;
}

static long long now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long read_oom_kills(const char *path)
{
	char key[64];
	long long v, r = -1;
	FILE *f = fopen(path, "re");
	while (f && r < 0 && fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, "oom_kill"))
			r = v;
	if (f)
		fclose(f);
	return r;
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
			if (pid != getpid())
				any = 1, kill(pid, SIGKILL);
		fclose(f);
		if (!any && (rmdir(dir) == 0 || errno == ENOENT))
			return 0;
		if (!any && errno != EBUSY)
			return -1;
		if (now_ms(CLOCK_MONOTONIC) > deadline)
			return errno = EBUSY, -1;
		nanosleep(&tick, NULL);
	}
}

static int write_exit_file(const char *path, int code, int sig, long long oom)
{
	char tmp[PATH_MAX], json[160];
	int n = snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%d,\"oomKills\":%lld,\"finishedAt\":%lld}\n",
			 code, sig, oom, now_ms(CLOCK_REALTIME));
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_full(fd, json, (size_t)n) < 0 || fsync(fd) < 0)
		return close_keep_errno(fd), -1;
	return close(fd) < 0 || rename(tmp, path) < 0 ? -1 : 0;
}

/* After the reap: the OOM counter, the cgroups, the exit file, then the exit frame. */
static void finish(int status)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(status);
	long long oom = oom_file ? read_oom_kills(oom_file) : -1;
	char c[16], s[16], o[24], msg[PATH_MAX + 64];
	for (int pass = 0; pass < 2; pass++)          /* every cleanup-cgroup, then the exit files */
		for (size_t i = 0; i < nplan; i++) {
			const char *op = plan[i].f[0], *p = plan[i].f[1];
			if (!pass && !strcmp(op, "cleanup-cgroup") && cleanup_cgroup(p) < 0) {
				snprintf(msg, sizeof msg, "remove cgroup %s", p);
				ctl_error(op, (long)i, errno, p, msg);
			} else if (pass && !strcmp(op, "exit-file") && write_exit_file(p, code, sig, oom) < 0) {
				snprintf(msg, sizeof msg, "write exit file %s", p);
				ctl_error(op, (long)i, errno, p, msg);
			}
		}
	events_exit(status, oom);                       /* oom (a last check), die: after the exit files */
	snprintf(c, sizeof c, "%d", code);
	snprintf(s, sizeof s, "%d", sig);
	snprintf(o, sizeof o, "%lld", oom);
	ctl_send(FIELDS("exit", c, s, o));
}

/* The container, as the monitor watches it. */
static struct {
	pid_t pid;
	int status, reaped, go_w, err_r, sigfd, ctl_open;
	enum { WAIT_GO, RUNNING, DONE } phase;          /* DONE: nothing more to relay */
} ct = { .ctl_open = 1 };

/* Signal the container's init, never a pid that may have been reused since the reap. */
static void signal_ct(int sig)
{
	if (!ct.reaped)
		kill(ct.pid, sig);
}

/* ------------------------------------------------------------------ monitor: the terminal */

/*
 * With `tty`, the monitor owns the container's terminal: the child sends the master (`console`),
 * the monitor relays it. Output read from the master goes into a ring buffer; from there to fd 1
 * (lossless: the master is not read while fd 1 is a whole buffer behind) and to every attached
 * client (lossy: a client more than a buffer behind skips ahead). Input comes from fd 0 and from
 * the clients' `in` frames, one piece at a time.
 */

static size_t out_room(void)
{
	return tty.size - (tty.out >= 0 ? (size_t)(tty.total - tty.out_pos) : 0);
}

static int winsize_set(void)
{
	struct winsize ws = { .ws_row = tty.rows, .ws_col = tty.cols };
	return tty.master >= 0 && !tty.master_eof && ioctl(tty.master, TIOCSWINSZ, &ws) < 0 ? -1 : 0;
}

/* A resize, from Node (ROWS, COLS NUL-terminated) or a client; applied once the master is here. */
static int tty_resize(const char *rows, const char *cols)
{
	unsigned long long r, c;
	if (tty.index < 0)
		return errno = ENOTTY, -1;
	if (num(rows, 10, 65535, &r) < 0 || num(cols, 10, 65535, &c) < 0)
		return errno = EINVAL, -1;
	tty.rows = (unsigned short)r, tty.cols = (unsigned short)c;
	return winsize_set();
}

/* The master, from the child's `console` (or EOF: the child will not send one). */
static void tty_receive(void)
{
	char byte;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	ssize_t n = RETRY(recvmsg(tty.sock, &msg, MSG_CMSG_CLOEXEC));
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	int fl;
	if (n < 0)
		ctl_error("tty", tty.index, errno, "", "receive the terminal from the container");
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(&tty.master, CMSG_DATA(c), sizeof(int));
		if ((fl = fcntl(tty.master, F_GETFL)) < 0 || fcntl(tty.master, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    winsize_set() < 0)
			ctl_error("tty", tty.index, errno, "", "set up the terminal's master");
	}
	close(tty.sock);                        /* one terminal per container */
	tty.sock = -1;
}

static void tty_read_master(void)
{
	size_t start = (size_t)(tty.total % tty.size), n = out_room();
	if (n > tty.size - start)
		n = tty.size - start;
	if (n == 0)
		return;
	ssize_t r = RETRY(read(tty.master, tty.ring + start, n));
	if (r > 0) {
		tty.total += (uint64_t)r;
		if (tty.out < 0)
			tty.out_pos = tty.total;
	} else if (r == 0 || errno != EAGAIN) {
		tty.master_eof = 1;             /* EIO: no slave fd is open any more */
	}
}

static void tty_write_master(void)
{
	ssize_t w = RETRY(write(tty.master, tty.inbuf + tty.in_off, tty.in_len));
	if (w > 0)
		tty.in_off += (size_t)w, tty.in_len -= (size_t)w;
	else if (w < 0 && errno != EAGAIN)
		tty.in_len = 0;                 /* nobody to read it */
}

/* One chunk of output from *POS on to FD; -1 if FD failed (EAGAIN is not a failure). */
static int write_output(int fd, uint64_t *pos)
{
	if (tty.total - *pos > tty.size)
		*pos = tty.total - tty.size;    /* it fell a whole buffer behind: what it missed is gone */
	size_t start = (size_t)(*pos % tty.size), n = (size_t)(tty.total - *pos);
	if (n > tty.size - start)
		n = tty.size - start;
	if (n > IO_CHUNK)
		n = IO_CHUNK;
	ssize_t w = RETRY(write(fd, tty.ring + start, n));
	if (w < 0)
		return errno == EAGAIN ? 0 : -1;
	*pos += (uint64_t)w;
	return 0;
}

static void tty_read_in(void)
{
	ssize_t r = RETRY(read(tty.in, tty.inbuf, IO_CHUNK));
	if (r > 0)
		tty.in_off = 0, tty.in_len = (size_t)r;
	else if (r == 0 || errno != EAGAIN)
		tty.in = -1;                    /* EOF: nothing more from there; the terminal stays */
}

/* A frame in a byte buffer: 1 complete (fields in V, its size in *USED), 0 not yet, -1 invalid. */
struct field { const char *p; uint32_t len; };
static int parse_frame(const char *b, size_t n, struct field *v, uint32_t max, uint32_t *count, size_t *used)
{
	uint32_t c, len;
	size_t off = 4;
	if (n < 4)
		return 0;
	memcpy(&c, b, 4);
	if ((c = le32toh(c)) == 0 || c > max)
		return -1;
	for (uint32_t i = 0; i < c; i++) {
		if (n < off + 4)
			return 0;
		memcpy(&len, b + off, 4);
		off += 4;
		if ((len = le32toh(len)) > CLIENT_BUF || off + len > CLIENT_BUF)
			return -1;              /* could never fit */
		if (n < off + len)
			return 0;
		v[i] = (struct field){ b + off, len };
		off += len;
	}
	*count = c, *used = off;
	return 1;
}

static int field_is(struct field f, const char *s)
{
	return f.len == strlen(s) && !memcmp(f.p, s, f.len);
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Carry out the complete frames client C sent; an `in` waits while earlier input is on its way. */
static void client_frames(struct client *c)
{
	struct field f[4];
	uint32_t n;
	size_t used;
	int r;
	while ((r = parse_frame(c->buf, c->len, f, NELEM(f), &n, &used)) == 1) {
		if (field_is(f[0], "in") && n == 2) {
			if (tty.master < 0 && !ct.reaped)
				return;                         /* no terminal yet */
			if (tty.in_len > 0)
				return;
			if (tty.master >= 0 && !tty.master_eof && f[1].len <= sizeof tty.inbuf)
				memcpy(tty.inbuf, f[1].p, f[1].len), tty.in_off = 0, tty.in_len = f[1].len;
		} else if (field_is(f[0], "resize") && n == 3 && f[1].len < 16 && f[2].len < 16) {
			char rows[16], cols[16];
			snprintf(rows, sizeof rows, "%.*s", (int)f[1].len, f[1].p);
			snprintf(cols, sizeof cols, "%.*s", (int)f[2].len, f[2].p);
			tty_resize(rows, cols);                 /* nobody to tell about a bad one */
		} else if (field_is(f[0], "attach") && n == 1 && !c->attached) {
			uint64_t oldest = tty.total > tty.size ? tty.total - tty.size : 0;
			c->attached = 1;
			c->pos = tty.seen > oldest ? tty.seen : oldest;     /* what no client got yet */
		}                                               /* anything else is ignored */
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (r < 0 || c->eof)
		client_close(c);
}

static void client_read(struct client *c)
{
	ssize_t r = RETRY(read(c->fd, c->buf + c->len, sizeof c->buf - c->len));
	if (r > 0)
		c->len += (size_t)r;
	else if (r == 0 || errno != EAGAIN)
		c->eof = 1;
	client_frames(c);
}

static void tty_accept(void)
{
	int fd = accept4(tty.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;                         /* EAGAIN, ECONNABORTED …: nothing to take */
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd < 0) {
			tty.cl[i] = (struct client){ .fd = fd };
			return;
		}
	close(fd);                              /* not reached: polled only with a free slot */
}

/* Before the clone: the socketpair, the buffer, the attach socket (mode 0600). */
static int tty_setup(void)
{
	int sv[2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ctl_error("tty", tty.index, errno, "", "create the terminal's socketpair"), -1;
	tty.sock = sv[0], tty.child_sock = sv[1];
	if (tty.attach_index < 0)
		tty.size = RELAY_BUF;
	if (!(tty.ring = malloc(tty.size)))
		return ctl_error("tty", tty.index, errno, "", "allocate the output buffer"), -1;
	if (tty.attach_index < 0)
		return 0;
	strcpy(sa.sun_path, tty.path);                  /* its length was checked with the plan */
	if ((tty.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return ctl_error("attach-socket", tty.attach_index, errno, tty.path, "create the attach socket"), -1;
	mode_t old = umask(0177);
	int rc = bind(tty.lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(tty.lfd, MAX_CLIENTS) < 0) {
		char m[PATH_MAX + 64];
		snprintf(m, sizeof m, "%s the attach socket %s", rc < 0 ? "bind" : "listen on", tty.path);
		ctl_error("attach-socket", tty.attach_index, errno, tty.path, m);
		if (rc == 0)
			unlink(tty.path);
		return -1;
	}
	return 0;
}

enum { P_SIG, P_CTL, P_ERR, P_TTYSOCK, P_MASTER, P_IN, P_OUT, P_LISTEN, P_LOG, P_EV = P_LOG + 2, P_CLIENT = P_EV + EVENTS_NFDS,
       P_COUNT = P_CLIENT + MAX_CLIENTS };

/* Copy what the container wrote on its fd 1 or 2 (I = 0, 1) to ours; at EOF stop watching it. A
 * write that fails (a full disk, a closed reader) drops the output, never blocks the container. */
static void log_relay(int i)
{
	char buf[16384];
	ssize_t n = RETRY(read(logr.r[i], buf, sizeof buf));
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			close(logr.r[i]), logr.r[i] = -1;
		return;
	}
	if (logr.to[i] >= 0 && write_full(logr.to[i], buf, (size_t)n) < 0)
		close(logr.to[i]), logr.to[i] = -1;
}

/* What the terminal waits for (every entry -1 without `tty`; poll skips those). */
static void tty_events(struct pollfd *p)
{
	int live = tty.master >= 0 && !tty.master_eof, slots = 0;
	short mev = (short)((out_room() ? POLLIN : 0) | (tty.in_len ? POLLOUT : 0));
	p[P_TTYSOCK] = (struct pollfd){ tty.sock, POLLIN, 0 };
	p[P_MASTER] = (struct pollfd){ live && mev ? tty.master : -1, mev, 0 };
	p[P_IN] = (struct pollfd){ live && !tty.in_len && !ct.reaped ? tty.in : -1, POLLIN, 0 };
	p[P_OUT] = (struct pollfd){ tty.out_pos < tty.total ? tty.out : -1, POLLOUT, 0 };
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &tty.cl[i];
		short ev = (short)((c->fd >= 0 && !c->eof && c->len < CLIENT_BUF ? POLLIN : 0) |
				   (c->fd >= 0 && c->attached && c->pos < tty.total ? POLLOUT : 0));
		p[P_CLIENT + i] = (struct pollfd){ ev ? c->fd : -1, ev, 0 };
		slots += c->fd < 0;
	}
	p[P_LISTEN] = (struct pollfd){ slots && !ct.reaped ? tty.lfd : -1, POLLIN, 0 };
}

static void tty_handle(const struct pollfd *p)
{
	if (p[P_TTYSOCK].revents)
		tty_receive();
	if (p[P_MASTER].revents & (POLLOUT | POLLERR | POLLHUP) && tty.in_len)
		tty_write_master();
	if (p[P_MASTER].revents & (POLLIN | POLLERR | POLLHUP))
		tty_read_master();
	if (p[P_IN].revents)
		tty_read_in();
	if (p[P_OUT].revents && write_output(tty.out, &tty.out_pos) < 0)
		tty.out = -1, tty.out_pos = tty.total;          /* e.g. EPIPE: the reader is gone */
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &tty.cl[i];
		short r = p[P_CLIENT + i].revents;
		if (!r || c->fd < 0)
			continue;
		if ((r & POLLOUT) && write_output(c->fd, &c->pos) < 0) {
			client_close(c);
			continue;
		}
		if (c->pos > tty.seen)
			tty.seen = c->pos;
		if (r & (POLLIN | POLLERR | POLLHUP))
			client_read(c);
	}
	if (p[P_LISTEN].revents)
		tty_accept();
	for (size_t i = 0; i < MAX_CLIENTS && !tty.in_len; i++)    /* input that waited for its turn */
		if (tty.cl[i].fd >= 0 && tty.cl[i].len)
			client_frames(&tty.cl[i]);
}

/* After the exit: all output read from the master and passed on (the caller bounds the wait). */
static int tty_drained(void)
{
	if (tty.sock >= 0 || (tty.master >= 0 && !tty.master_eof) || (tty.out >= 0 && tty.out_pos < tty.total))
		return 0;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd >= 0 && tty.cl[i].attached && tty.cl[i].pos < tty.total)
			return 0;
	return 1;
}

/* Close the clients (they see EOF), the attach socket (its path removed) and the master. */
static void tty_close(void)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd >= 0)
			client_close(&tty.cl[i]);
	if (tty.lfd >= 0) {
		close(tty.lfd);
		if (unlink(tty.path) < 0 && errno != ENOENT) {
			char m[PATH_MAX + 64];
			snprintf(m, sizeof m, "remove the attach socket %s", tty.path);
			ctl_error("attach-socket", tty.attach_index, errno, tty.path, m);
		}
	}
	if (tty.sock >= 0)
		close(tty.sock);
	if (tty.master >= 0)
		close(tty.master);
	tty.lfd = tty.sock = tty.master = -1;
}

static void on_signals(void)
{
	struct signalfd_siginfo si[16];
	ssize_t n = RETRY(read(ct.sigfd, si, sizeof si));
	for (ssize_t i = 0; i < n / (ssize_t)sizeof *si; i++)
		if (si[i].ssi_signo != SIGCHLD)
			signal_ct((int)si[i].ssi_signo);
		else if (!ct.reaped && RETRY(waitpid(ct.pid, &ct.status, WNOHANG)) == ct.pid)
			ct.reaped = 1;
}

/* At "go" (the maps are written by now): open every mount-source and pass it to the child. */
static int send_sources(void)
{
	for (size_t i = 0; src.count && i < nplan; i++) {
		char **a = plan[i].f;
		const char *what;
		if (strcmp(a[0], "mount-source"))
			continue;
		int fd = userns_open_source(a[1], !strcmp(a[2], "idmap"), ct.pid, &what);
		if (fd < 0 || userns_send_fd(src.sock, fd) < 0) {
			char msg[PATH_MAX + 64];
			snprintf(msg, sizeof msg, "%s %s", fd < 0 ? what : "pass the tree of", a[1]);
			ctl_error("mount-source", (long)i, errno, a[1], msg);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (src.sock >= 0)
		close(src.sock);
	src.sock = -1;
	for (size_t i = 0; i < nplan; i++) {                 /* then the network helpers (slirp4netns) */
		const char *what;
		int exit_w;
		if (strcmp(plan[i].f[0], "net-helper"))
			continue;
		if (userns_net_helper(plan[i].f + 1, ct.pid, 10000, &exit_w, &what) < 0) {
			char msg[PATH_MAX + 64];
			snprintf(msg, sizeof msg, "net-helper %s: %s", plan[i].f[1], what);
			ctl_error("net-helper", (long)i, errno, plan[i].f[1], msg);
			return -1;
		}
		/* exit_w stays open until the monitor exits: then the helper sees EOF and exits */
	}
	return 0;
}

static void on_control(void)
{
	struct frame f;
	if (ct.phase == WAIT_GO) {
		int r = read_frame(CTL, &f);
		if (r == 1 && !strcmp(f.f[0], "go") && send_sources() == 0 && RETRY(write(ct.go_w, "g", 1)) == 1) {
			ct.phase = RUNNING;
		} else {                                /* abort, EOF before go, or garbage */
			ct.ctl_open = r == 1;
			ct.phase = DONE;
			signal_ct(SIGKILL);
		}
		close(ct.go_w);
	} else if (read_frame(CTL, &f) != 1) {
		ct.ctl_open = 0;
		if (detach < 0)
			signal_ct(SIGKILL);
	} else {
		if (!strcmp(f.f[0], "resize") && f.n == 3 && tty_resize(f.f[1], f.f[2]) < 0)
			ctl_error("tty", tty.index, errno, "", "set the window size");
		free_frame(&f);                         /* other later frames are ignored */
	}
}

/* The error pipe: a frame is relayed; EOF with no frame after "go" means the exec succeeded. */
static void on_error_pipe(void)
{
	struct frame f;
	int r = read_frame(ct.err_r, &f);
	if (r == 1)
		ctl_send((const char *const *)f.f, f.n);
	else if (r == 0 && ct.phase == RUNNING)
		ctl_send(FIELDS("started")), events_started();
	ct.phase = DONE;
}

static int monitor(void)
{
	int go[2], errp[2], fl;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		tty.cl[i].fd = -1;
	if ((fl = fcntl(CTL, F_GETFL)) < 0 || fcntl(CTL, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		dprintf(2, "execdriver-init: fd 3 (the control socket): %s\n", strerror(errno));
		return 2;
	}
	if (read_plan() < 0)
		return 2;
	if (detach >= 0 && setsid() < 0 && errno != EPERM)     /* EPERM: already a session leader */
		return ctl_error("detach", detach, errno, "", "setsid"), 1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; forward && i < NELEM(fwd_signals); i++)
		sigaddset(&set, fwd_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (ct.sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 ||
	    pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return ctl_error("clone", clone_index, errno, "", "set up the monitor"), 1;
	if (tty.index >= 0 && tty_setup() < 0)
		return 1;
	for (int i = 0; logr.index >= 0 && i < 2; i++) {
		int pp[2];
		if (pipe2(pp, O_CLOEXEC) < 0 || (logr.to[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3)) < 0)
			return ctl_error("log-relay", logr.index, errno, "", "set up the output pipes"), 1;
		logr.r[i] = pp[0], logr.w[i] = pp[1];
	}
	/* before the clone: the child is in the cgroup before it runs anything (Node moves it there) */
	for (size_t i = 0; i < nplan; i++) {
		char msg[1536];
		if (strcmp(plan[i].f[0], "device-filter") || device_filter_attach(plan[i].f[1], plan[i].f[2], msg, sizeof msg) == 0)
			continue;
		int e = errno;
		tty_close();
		return ctl_error("device-filter", (long)i, e, plan[i].f[1], msg), 1;
	}
	int sv[2];
	if (src.count && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return tty_close(), ctl_error("clone", clone_index, errno, "", "create the mount-source socketpair"), 1;
	if (src.count)
		src.sock = sv[0], src.child_sock = sv[1];
	ct.pid = (pid_t)syscall(SYS_clone, clone_flags | SIGCHLD, 0, 0, 0, 0);
	if (ct.pid < 0) {
		tty_close();
		return ctl_error("clone", clone_index, errno, "", "clone the container process"), 1;
	}
	if (ct.pid == 0)
		child(go[0], go[1], errp[0], errp[1], ct.sigfd);
	close(go[0]), close(errp[1]);
	if (tty.child_sock >= 0)
		close(tty.child_sock);
	if (src.child_sock >= 0)
		close(src.child_sock);
	ct.go_w = go[1], ct.err_r = errp[0];
	for (int i = 0; i < 2; i++)
		if (logr.w[i] >= 0)
			close(logr.w[i]), logr.w[i] = -1;
	/* fds 0-2 are the container's (so its pipes reach EOF when it closes them); with a terminal,
	 * 0 and 1 are the relay's */
	if (tty.index >= 0)
		tty.in = 0, tty.out = 1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = tty.index >= 0 ? 2 : 0; null >= 0 && fd < 3; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	char pid[16];
	snprintf(pid, sizeof pid, "%d", ct.pid);
	ctl_send(FIELDS("pid", pid));
	events_setup(ct.pid);

	/* until the reap, then (with a terminal) until its output is passed on, at most 2 s more */
	for (long long end = 0;;) {
		if (ct.reaped && !end)
			end = now_ms(CLOCK_MONOTONIC) + 2000;
		if (ct.reaped && (tty.index < 0 || tty_drained()) && logr.r[0] < 0 && logr.r[1] < 0)
			break;
		if (ct.reaped && now_ms(CLOCK_MONOTONIC) >= end)
			break;
		struct pollfd p[P_COUNT];
		p[P_SIG] = (struct pollfd){ ct.sigfd, POLLIN, 0 };
		p[P_CTL] = (struct pollfd){ ct.ctl_open ? CTL : -1, POLLIN, 0 };
		p[P_ERR] = (struct pollfd){ ct.phase == RUNNING ? ct.err_r : -1, POLLIN, 0 };
		tty_events(p);
		p[P_LOG] = (struct pollfd){ logr.r[0], POLLIN, 0 };
		p[P_LOG + 1] = (struct pollfd){ logr.r[1], POLLIN, 0 };
		events_pollfds(p + P_EV);
		if (poll(p, P_COUNT, ct.reaped ? (int)(end - now_ms(CLOCK_MONOTONIC)) : events_timeout()) < 0 && errno != EINTR) {
			if (!ct.reaped)
				kill(ct.pid, SIGKILL);          /* cannot watch it any more */
			ct.reaped = ct.reaped || RETRY(waitpid(ct.pid, &ct.status, 0)) == ct.pid;
			break;
		}
		if (p[P_SIG].revents)
			on_signals();
		if (p[P_CTL].revents)
			on_control();
		if (p[P_ERR].revents)
			on_error_pipe();
		tty_handle(p);
		events_handle(p + P_EV);
		for (int i = 0; i < 2; i++)
			if (p[P_LOG + i].revents)
				log_relay(i);
	}
	if (ct.phase != DONE)                       /* a frame written just before the exit */
		on_error_pipe();
	tty_close();
	finish(ct.status);
	return 0;
}

/* ------------------------------------------------------------------ console-exec */

/*
 * execdriver-init console-exec CMD [ARG...]: for a command that another runtime (LXC) starts on a
 * terminal without making it the controlling one. fd 0 becomes the controlling terminal (after
 * setsid, unless already a session leader, as a container's pid 1 is), its process group the
 * foreground, then CMD is exec'd in place (it keeps the pid), looked up in $PATH like `exec`.
 */
/* `exec` / `console-exec`: no descriptor beyond 0-2 survives into CMD (another runtime's leaks). */
static int clean_exec(int argc, char **argv, int ctty)
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

/*
 * execdriver-init run-plan FILE: the container ops of FILE (frames up to ["end"], ending with
 * `exec`), carried out in order in this process, which is already in its container: another
 * runtime (LXC) made it, and we do the last steps the native child does (keyring, capabilities,
 * seccomp, user, exec). The environment is the one we got, plus `env` ops. Until the exec this
 * process is named `execdriver-plan` (/proc/PID/comm). A failure is one line on stderr
 * and exit status 125 (127 or 126 for `exec`, as a shell).
 */
static int run_plan(const char *path)
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
		if (!op || !op->run || (op->nargs >= 0 ? nargs != op->nargs : nargs < -op->nargs) || execs) {
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

/* ------------------------------------------------------------------ die-with-parent */

/*
 * execdriver-init die-with-parent PATH [ARG...]: exec PATH (absolute) so that it gets SIGKILL when
 * the process that started us dies, which Node's spawn cannot ask for. The parent may already be
 * gone between fork and prctl: then PATH is not run at all.
 */
static int die_with_parent(char **argv)
{
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		dprintf(2, "execdriver-init: die-with-parent: set the parent death signal: %s\n", strerror(errno));
		return 125;
	}
	if (getppid() != parent)
		return 137;
	execv(argv[0], argv);
	dprintf(2, "execdriver-init: die-with-parent: exec %s: %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/*
 * execdriver-init mkpath ROOT KIND:PATH...: for the lxc driver, which must not let LXC create mount
 * targets (LXC follows the rootfs's symlinks out of it). Each PATH (a path in the container) is
 * resolved inside ROOT like a container op's (RESOLVE_IN_ROOT: symlinks as the container sees
 * them, never out of ROOT), its missing parts created as MKTARGET does (KIND `dir` or `file`; a
 * dangling symlink is never followed), and where it resolved to is printed, one line each,
 * relative to ROOT with a leading '/'. The first failure: one line on stderr, exit status 1.
 */
static int mkpath(int argc, char **argv)
{
	char rootreal[PATH_MAX], real[PATH_MAX], link[64];
	if (argv[0][0] != '/' || !realpath(argv[0], rootreal)) {
		dprintf(2, "execdriver-init: mkpath: the root %s: %s\n", argv[0], argv[0][0] != '/' ? "not absolute" : strerror(errno));
		return 1;
	}
	root = rootreal;
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

/* execdriver-init device-filters DIR: "ATTACHED EFFECTIVE" device programs of a cgroup2 directory. */
static int device_filters(const char *dir)
{
	unsigned attached, effective;
	if (device_filter_query(dir, &attached, &effective) < 0) {
		dprintf(2, "execdriver-init: device-filters: query %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("%u %u\n", attached, effective);
	return 0;
}

/*
 * execdriver-init seccomp-compile: the build ops as frames on fd 0 up to ["end"] (security.h),
 * the compiled BPF program (a struct sock_filter array) on fd 1. A failure is one line on fd 2,
 * `STEP<TAB>ERRNO<TAB>PATH<TAB>MESSAGE` (STEP `op#index`, `compile#N` for the compilation), and
 * exit status 1.
 */
static int seccomp_compile(void)
{
	struct frame f;
	char **fields[4096];
	size_t n = 0;
	int r;
	struct sec_bpf out = { 0 };
	struct sec_err e = { 0 };
	while ((r = read_frame(0, &f)) == 1 && strcmp(f.f[0], "end") && n < NELEM(fields))
		fields[n++] = f.f;
	if (r != 1 || strcmp(f.f[0], "end")) {
		dprintf(2, "plan#%zu\t%d\t\tread the seccomp rules (at most %zu, ended by [\"end\"])\n", n,
			r < 0 ? errno : EPROTO, NELEM(fields));
		return 1;
	}
	long failed = sec_seccomp_compile((char **const *)fields, n, &out, &e);
	if (failed >= 0) {
		dprintf(2, "%s#%ld\t%d\t%s\t%s\n", (size_t)failed < n ? fields[failed][0] : "compile", failed, e.no, e.path, e.msg);
		return 1;
	}
	return write_full(1, out.bytes, out.len) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "mkpath"))
		return mkpath(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "device-filters"))
		return device_filters(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "seccomp-compile"))
		return seccomp_compile();
	if (argc == 3 && !strcmp(argv[1], "run-plan"))
		return run_plan(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "console-exec"))
		return clean_exec(argc - 2, argv + 2, 1);
	if (argc >= 3 && !strcmp(argv[1], "exec"))
		return clean_exec(argc - 2, argv + 2, 0);
	if (argc >= 3 && !strcmp(argv[1], "die-with-parent"))
		return die_with_parent(argv + 2);
	if (argc != 2 || strcmp(argv[1], "monitor")) {
		dprintf(2, "usage: execdriver-init monitor              (the plan comes on fd 3)\n"
			   "       execdriver-init console-exec CMD [ARG...]  (fd 0 the controlling terminal, then CMD)\n"
			   "       execdriver-init exec CMD [ARG...]  (fds above 2 closed, then CMD)\n"
			   "       execdriver-init run-plan FILE  (the container ops of FILE, in a container another runtime made)\n"
			   "       execdriver-init die-with-parent PATH [ARG...]  (PATH killed when our parent dies)\n"
			   "       execdriver-init mkpath ROOT dir:PATH|file:PATH...  (mount targets made inside ROOT)\n"
			   "       execdriver-init device-filters DIR  (device programs attached to a cgroup2 dir, in force)\n"
			   "       execdriver-init seccomp-compile          (rules on fd 0, the BPF program on fd 1)\n"
			   "see PROTOCOL.md\n");
		return 2;
	}
	return monitor();
}
