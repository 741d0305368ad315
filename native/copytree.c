/*
 * execdriver-init copy-stat ROOT PATH FOLLOW / copy-tree SROOT SPATH DROOT DDIR NAME UIDMAP GIDMAP AS:
 * `execdriver cp` of whole trees between the host and a container. TypeScript decides what goes
 * where (Docker's rules: a trailing /., an existing target directory) and who owns it; this file
 * only walks. Paths given are resolved inside their root with openat2(RESOLVE_IN_ROOT) (the host
 * side's root is /); below them every entry is opened relative to its directory's fd with
 * O_NOFOLLOW, so no symbolic link is ever followed on either side: links are copied as links, and
 * a container's links (or a running container swapping a directory for one) never lead out.
 *
 *   copy-stat: prints what PATH is: dir, file, link, other, or missing (its parent a directory);
 *              FOLLOW 1: the last component's link followed (inside ROOT). Exit 1: no parent.
 *   copy-tree: copies SPATH (a link at its end is copied, not followed) to DDIR/NAME (DDIR a
 *              directory); NAME empty: SPATH is a directory whose entries go into DDIR. An
 *              existing directory is merged into, an existing non-directory replaced; a
 *              directory onto a non-directory fails. Modes, times kept (umask 0); ids mapped by
 *              UIDMAP/GIDMAP: empty (kept), `*:ID` (all to ID), or `FROM:TO:COUNT[,…]` (other
 *              ids: 65534). Files of proc, sysfs, cgroup, devpts … below SPATH are skipped,
 *              sockets too; hard links become separate files. AS `UID:GID` (else empty): files
 *              are created with these fs ids, the capabilities kept (a user namespace's own
 *              mounts take only its ids: a running container's root in one).
 * A failure: one line on stderr (the path that failed), exit status 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/fsuid.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "copytree.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct idmap {
	int all, n;
	unsigned long long all_id, from[32], to[32], count[32];
};

static struct idmap umap, gmap;
static char where[PATH_MAX];    /* the path being copied, for messages */

static int parse_map(const char *s, struct idmap *m)
{
	memset(m, 0, sizeof *m);
	if (!*s)
		return 0;
	if (s[0] == '*' && s[1] == ':')
		return m->all = 1, num(s + 2, 10, 0xffffffffu, &m->all_id);
	char buf[1024], *save = NULL;
	snprintf(buf, sizeof buf, "%s", s);
	for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *b = strchr(e, ':'), *c = b ? strchr(b + 1, ':') : NULL;
		if (!c || m->n == 32)
			return -1;
		*b = *c = 0;
		if (num(e, 10, 0xffffffffu, &m->from[m->n]) < 0 || num(b + 1, 10, 0xffffffffu, &m->to[m->n]) < 0 ||
		    num(c + 1, 10, 0x100000000ull, &m->count[m->n]) < 0)
			return -1;
		m->n++;
	}
	return 0;
}

static unsigned map_id(const struct idmap *m, unsigned id)
{
	if (m->all)
		return (unsigned)m->all_id;
	if (!m->n)
		return id;
	for (int i = 0; i < m->n; i++)
		if (id >= m->from[i] && id - m->from[i] < m->count[i])
			return (unsigned)(m->to[i] + (id - m->from[i]));
	return 65534;
}

static int in_root(int root, const char *p, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	while (*p == '/')
		p++;
	return (int)syscall(SYS_openat2, root, *p ? p : ".", &how, sizeof how);
}

static int tfail(const char *what)
{
	dprintf(2, "execdriver-init: %s %s: %s\n", what, where, strerror(errno));
	return -1;
}

/* the parent directory of PATH in ROOT (an O_PATH fd) and its last component in BASE ("." for /) */
static int parent_of(int root, const char *path, char *base, size_t bsz)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	size_t l = strlen(p);
	while (l > 1 && p[l - 1] == '/')
		p[--l] = 0;
	char *slash = strrchr(p, '/');
	const char *b = slash ? slash + 1 : p;
	if (!*b || !strcmp(b, ".") || !strcmp(b, "..")) {      /* / itself, or a name we do not split */
		snprintf(base, bsz, ".");
		return in_root(root, p, O_PATH | O_DIRECTORY);
	}
	snprintf(base, bsz, "%s", b);
	if (slash)
		slash[1] = 0;
	else
		p[0] = 0;
	return in_root(root, p, O_PATH | O_DIRECTORY);
}

static int skipped_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
	case DEVPTS_SUPER_MAGIC: case SECURITYFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC: case BPF_FS_MAGIC:
		return 1;
	}
	return 0;
}

static int attrs(int fd, int dir, const char *name, const struct stat *st)
{
	struct timespec t[2] = { st->st_atim, st->st_mtim };
	uid_t u = map_id(&umap, st->st_uid);
	gid_t g = map_id(&gmap, st->st_gid);
	if (fd >= 0) {
		if (fchown(fd, u, g) < 0 || fchmod(fd, st->st_mode & 07777) < 0 || futimens(fd, t) < 0)
			return tfail("set the owner, mode or times of");
		return 0;
	}
	if (fchownat(dir, name, u, g, AT_SYMLINK_NOFOLLOW) < 0 || utimensat(dir, name, t, AT_SYMLINK_NOFOLLOW) < 0)
		return tfail("set the owner or times of");
	return 0;
}

/* an existing non-directory DIR/NAME is replaced; a directory there is an error for a non-directory */
static int make_room(int dir, const char *name)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : tfail("look at");
	if (S_ISDIR(st.st_mode))
		return errno = EISDIR, tfail("cannot replace the directory");
	if (unlinkat(dir, name, 0) < 0)
		return tfail("replace");
	return 0;
}

static int copy_entries(int s, int d);

static int copy_node(int sdir, const char *sname, int ddir, const char *dname)
{
	struct stat st;
	size_t wl = strlen(where);
	int rc = -1, s = -1, d = -1;
	if (strcmp(sname, "."))
		snprintf(where + wl, sizeof where - wl, "%s%s", wl && where[wl - 1] == '/' ? "" : "/", sname);
	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		tfail("read");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((s = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			tfail("open");
			goto out;
		}
		if (skipped_fs(s)) {
			rc = 0;
			goto out;
		}
		if (mkdirat(ddir, dname, 0700) < 0 && errno != EEXIST) {
			tfail("create the directory");
			goto out;
		}
		if ((d = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			if (errno == ENOTDIR || errno == ELOOP)
				errno = ENOTDIR, tfail("cannot copy a directory onto the non-directory at");
			else
				tfail("open the target of");
			goto out;
		}
		if (copy_entries(s, d) < 0 || attrs(d, -1, NULL, &st) < 0)
			goto out;
	} else if (S_ISREG(st.st_mode)) {
		if ((s = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
			tfail("open");
			goto out;
		}
		if (make_room(ddir, dname) < 0)
			goto out;
		if ((d = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
			tfail("create");
			goto out;
		}
		char buf[65536];
		for (;;) {
			ssize_t n = RETRY(read(s, buf, sizeof buf));
			if (n < 0) {
				tfail("read");
				goto out;
			}
			if (n == 0)
				break;
			if (write_full(d, buf, (size_t)n) < 0) {
				tfail("write");
				goto out;
			}
		}
		if (attrs(d, -1, NULL, &st) < 0)
			goto out;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sdir, sname, target, sizeof target - 1);
		if (n < 0) {
			tfail("read the link");
			goto out;
		}
		target[n] = 0;
		if (make_room(ddir, dname) < 0)
			goto out;
		if (symlinkat(target, ddir, dname) < 0) {
			tfail("create the link");
			goto out;
		}
		if (attrs(-1, ddir, dname, &st) < 0)
			goto out;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		if (make_room(ddir, dname) < 0)
			goto out;
		if (mknodat(ddir, dname, st.st_mode, st.st_rdev) < 0) {
			tfail("create the node");
			goto out;
		}
		if (attrs(-1, ddir, dname, &st) < 0)
			goto out;
	}                                               /* a socket: skipped */
	rc = 0;
out:
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	where[wl] = 0;
	return rc;
}

static int copy_entries(int s, int d)
{
	int fd = dup(s);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir)
		return tfail("list");
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (errno = 0, e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = copy_node(s, e->d_name, d, e->d_name);
	if (rc == 0 && errno)
		rc = tfail("list");
	closedir(dir);
	return rc;
}

int copy_stat(char **argv)
{
	char base[NAME_MAX + 1];
	struct stat st;
	snprintf(where, sizeof where, "%s", argv[1]);
	int root = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return tfail("open the root of"), 1;
	int parent = parent_of(root, argv[1], base, sizeof base);
	if (parent < 0)
		return tfail("find the directory of"), 1;
	int r;
	if (!strcmp(argv[2], "1")) {
		int fd = in_root(root, argv[1], O_PATH);
		r = fd < 0 ? -1 : fstat(fd, &st);
	} else {
		r = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW);
	}
	if (r < 0 && errno == ENOENT)
		return printf("missing\n"), 0;
	if (r < 0)
		return tfail("look at"), 1;
	printf("%s\n", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "link" : "other");
	return 0;
}

/* create as UID:GID (setfsuid), then raise again the capabilities the change dropped */
static int create_as(const char *as)
{
	unsigned long long u, g;
	const char *colon = strchr(as, ':');
	if (!*as)
		return 0;
	char ubuf[16];
	snprintf(ubuf, sizeof ubuf, "%.*s", colon ? (int)(colon - as) : 0, as);
	if (!colon || num(ubuf, 10, 0xfffffffeu, &u) < 0 || num(colon + 1, 10, 0xfffffffeu, &g) < 0)
		return errno = EINVAL, -1;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	setfsgid((gid_t)g);
	setfsuid((uid_t)u);
	d[0].effective = d[0].permitted, d[1].effective = d[1].permitted;
	return (int)syscall(SYS_capset, &h, d);
}

int copy_tree(char **argv)
{
	char base[NAME_MAX + 1];
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
		rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
	umask(0);
	if (parse_map(argv[5], &umap) < 0 || parse_map(argv[6], &gmap) < 0)
		return errno = EINVAL, tfail("the id maps"), 1;
	if (create_as(argv[7]) < 0)
		return snprintf(where, sizeof where, "%s", argv[7]), tfail("create as"), 1;
	const char *name = argv[4];
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return snprintf(where, sizeof where, "%s", name), errno = EINVAL, tfail("the name"), 1;
	snprintf(where, sizeof where, "%s", argv[0]);
	int sroot = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sroot < 0)
		return tfail("open the root"), 1;
	snprintf(where, sizeof where, "%s", argv[2]);
	int droot = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (droot < 0)
		return tfail("open the root"), 1;
	snprintf(where, sizeof where, "%s", argv[3]);
	int ddir = in_root(droot, argv[3], O_RDONLY | O_DIRECTORY);
	if (ddir < 0)
		return tfail("open the directory"), 1;
	snprintf(where, sizeof where, "%s", argv[1]);
	if (!*name) {                                   /* the entries of a directory */
		int s = in_root(sroot, argv[1], O_RDONLY | O_DIRECTORY);
		if (s < 0)
			return tfail("open the directory"), 1;
		return copy_entries(s, ddir) < 0;
	}
	int sdir = parent_of(sroot, argv[1], base, sizeof base);
	if (sdir < 0)
		return tfail("find the directory of"), 1;
	int s = openat(sdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);     /* readable, for readlinkat … */
	if (s < 0)
		return tfail("open the directory of"), 1;
	char *slash = strrchr(where, '/');                                  /* messages: the path given */
	if (slash && strcmp(base, "."))
		*slash = 0;
	return copy_node(s, base, ddir, name) < 0;
}
