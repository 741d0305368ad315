/*
 * Mounts for a container in a user namespace. The container's process cannot make an idmapped
 * mount (that needs CAP_SYS_ADMIN over the filesystem's own user namespace, the host's), and it
 * cannot reach host paths under directories only host root may search. So the monitor, still
 * host root in the host's namespaces, takes a detached copy of each source (open_tree), idmaps it
 * to the container's user namespace when asked (after Node wrote the maps), and passes the fd to
 * the child, which attaches it inside its own mount namespace (move_mount). runc and crun do the
 * same for their idmapped mounts; this is our own small version of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "userns.h"

#define RETRY(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })

int userns_open_source(const char *path, int idmap, pid_t pid, const char **what)
{
	*what = "open_tree";
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0 || !idmap)
		return fd;
	char ns[64];
	snprintf(ns, sizeof ns, "/proc/%d/ns/user", (int)pid);
	*what = "open the user namespace";
	int userns = open(ns, O_RDONLY | O_CLOEXEC);
	if (userns < 0) {
		int e = errno;
		close(fd);
		return errno = e, -1;
	}
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)userns };
	*what = "mount_setattr MOUNT_ATTR_IDMAP";
	int rc = mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
	int e = errno;
	close(userns);
	if (rc < 0) {
		close(fd);
		return errno = e, -1;
	}
	return fd;
}

int userns_move_mount(int fd, int target)
{
	return move_mount(fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int userns_send_fd(int sock, int fd)
{
	char byte = 's';
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	memset(&u, 0, sizeof u);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL)) == 1 ? 0 : -1;
}

int userns_recv_fd(int sock)
{
	char byte;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	if (RETRY(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) != 1)
		return errno = errno ? errno : EPIPE, -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return errno = EPROTO, -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

pid_t userns_net_helper(char *const argv[], pid_t pid, int timeout_ms, int *exit_w, const char **what)
{
	int ex[2] = { -1, -1 }, ready[2] = { -1, -1 }, ns[2] = { -1, -1 }, e = 0;
	char path[64];
	pid_t h = -1;
	*what = "create the helper's pipes";
	if (pipe2(ex, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		goto out;
	*what = "open the child's namespaces";
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if ((ns[0] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto out;
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
	if ((ns[1] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto out;
	*what = "fork the helper";
	if ((h = fork()) < 0)
		goto out;
	if (h == 0) {
		/* fds 3-6 as documented; dup2 clears close-on-exec. Move them above 6 first. */
		int from[4] = { ex[0], ready[1], ns[0], ns[1] }, high[4];
		for (int i = 0; i < 4; i++)
			if ((high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 16)) < 0)
				_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);     /* the monitor's blocked signals, its SIGPIPE */
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);   /* dup2 clears it on 0-2 */
		for (int fd = 0; null >= 0 && fd < 3; fd++)
			dup2(null, fd);
		for (int i = 0; i < 4; i++)
			if (dup2(high[i], 3 + i) < 0)
				_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(ex[0]), ex[0] = -1;
	close(ready[1]), ready[1] = -1;
	*what = "wait for the helper to be ready";
	struct pollfd p = { ready[0], POLLIN, 0 };
	int n = RETRY(poll(&p, 1, timeout_ms));
	char byte;
	if (n == 0) {
		errno = ETIMEDOUT;
	} else if (n > 0 && RETRY(read(ready[0], &byte, 1)) == 1) {
		*exit_w = ex[1], ex[1] = -1;
		e = 0;
		goto done;
	} else if (n > 0) {
		errno = ECHILD;                         /* EOF: it exited (or failed to exec) */
	}
out:
	e = errno;
	if (h > 0) {
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
	}
	h = -1;
done:
	for (int *fd = (int[]){ ex[0], ex[1], ready[0], ready[1], ns[0], ns[1] }, i = 0; i < 6; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	errno = e;
	return h;
}
