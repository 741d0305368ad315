/*
 * What an OCI runtime needs beyond a container that starts at once (execdriver-oci):
 * - `mkfifo PATH MODE` (monitor, before the clone) makes the exec fifo, mode MODE exactly (no
 *   umask): a syscall where Node would run mkfifo(1), a fork of itself;
 * - `exec-fifo PATH` opens the exec fifo (a fifo in the container's state directory) as an
 *   O_PATH descriptor while the host's paths are still reachable (before pivot);
 * - `exec-wait` tells the monitor the container is created (frame `created` on the error pipe,
 *   relayed to Node), then blocks in open(O_WRONLY) of that fifo until `start` opens it for
 *   reading, writes one byte and carries on to the rest of the plan (exec);
 * - `setdomainname NAME`, `personality PERSONA`;
 * - `leave` (monitor): once `created` is relayed the monitor exits, so the container's init is
 *   reparented to the nearest subreaper (containerd's shim, conmon), which reaps it as runc's;
 * - `console-socket PATH` (monitor): the terminal's master is sent to the unix socket PATH with
 *   SCM_RIGHTS instead of being relayed (as runc's --console-socket).
 * No policy: the plan decides where each goes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "oci.h"

static int fifo_fd = -1;
static const char *console_path;
static int leave;

int op_exec_fifo(char **a)
{
	fifo_fd = open(a[1], O_PATH | O_CLOEXEC);
	return fifo_fd < 0 ? fail(a[1], "open the exec fifo %s", a[1]) : 0;
}

int op_exec_wait(char **a UNUSED)
{
	char path[64];
	if (fifo_fd < 0)
		return errno = EBADF, fail("", "exec-wait without exec-fifo");
	if (send_frame(errfd, FIELDS("created")) < 0)
		return fail("", "report created");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fifo_fd);
	int fd = RETRY(open(path, O_WRONLY | O_CLOEXEC));   /* blocks until `start` opens it */
	if (fd < 0)
		return fail(path, "open the exec fifo for writing");
	int rc = RETRY(write(fd, "0", 1)) != 1 ? fail(path, "write the exec fifo") : 0;
	close(fd);
	close(fifo_fd);
	fifo_fd = -1;
	return rc;
}

int op_setdomainname(char **a)
{
	return setdomainname(a[1], strlen(a[1])) < 0 ? fail(a[1], "setdomainname %s", a[1]) : 0;
}

int op_personality(char **a)
{
	unsigned long long v;
	if (arg(a[1], 0, 0xffffffffULL, &v, "personality") < 0)
		return -1;
	return personality((unsigned long)v) < 0 ? fail(a[1], "personality %s", a[1]) : 0;
}

void check_console_socket(size_t i UNUSED, char **a, char *msg, size_t sz)
{
	struct sockaddr_un sa;
	if (strlen(a[1]) >= sizeof sa.sun_path)
		snprintf(msg, sz, "console socket path too long (%zu bytes)", strlen(a[1]));
	else
		console_path = a[1];
}

int oci_send_console(int master)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[] = "/dev/ptmx";
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { name, sizeof name - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c;
	if (!console_path)
		return 0;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", console_path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (RETRY(connect(s, (struct sockaddr *)&sa, sizeof sa)) < 0)
		return close_keep_errno(s), -1;
	memset(u.buf, 0, sizeof u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	int rc = RETRY(sendmsg(s, &msg, 0)) < 0 ? -1 : 1;
	close_keep_errno(s);
	return rc;
}

void check_mkfifo(size_t i UNUSED, char **a, char *msg, size_t sz)
{
	unsigned long long mode;
	if (a[1][0] != '/')
		snprintf(msg, sz, "mkfifo %.64s is not an absolute path", a[1]);
	else if (num(a[2], 8, 07777, &mode) < 0)
		snprintf(msg, sz, "mkfifo mode %.16s is not octal", a[2]);
}

int oci_make_fifos(long *index, const char **path)
{
	for (size_t i = 0; i < nplan; i++) {
		char **a = plan[i].f;
		unsigned long long mode;
		if (strcmp(a[0], "mkfifo"))
			continue;
		*index = (long)i, *path = a[1];
		if (num(a[2], 8, 07777, &mode) < 0 || mknod(a[1], S_IFIFO | 0600, 0) < 0 || chmod(a[1], (mode_t)mode) < 0)
			return -1;
	}
	return 0;
}

void check_leave(size_t i UNUSED, char **a UNUSED, char *msg UNUSED, size_t sz UNUSED)
{
	leave = 1;
}

int oci_leave(void)
{
	return leave;
}
