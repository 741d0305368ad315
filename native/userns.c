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
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
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
