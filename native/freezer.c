/*
 * `thaw-on-kill FILE VALUE`: a paused container's processes do not die of SIGKILL while the
 * cgroup v1 freezer holds them. When the monitor itself kills the container (its caller went
 * away, an abort before `go`, a forwarded SIGKILL) it writes VALUE to FILE afterwards, so they die
 * at once. Which file and value (v1 freezer.state THAWED, v2 cgroup.freeze 0) is TypeScript's
 * choice; this only writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "freezer.h"

static const char *thaw_file, *thaw_value;

void check_thaw_on_kill(size_t i UNUSED, char **a, char *msg UNUSED, size_t sz UNUSED)
{
	thaw_file = a[1];
	thaw_value = a[2];
}

void thaw_on_kill(void)
{
	if (!thaw_file)
		return;
	int saved = errno;
	int fd = open(thaw_file, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n;
		do
			n = write(fd, thaw_value, strlen(thaw_value));
		while (n < 0 && errno == EINTR);
		close(fd);
	}
	errno = saved;
}
