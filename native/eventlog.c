/*
 * The state root's event log, the C side (src/events/log.ts is the Node side): a line is appended
 * in one O_APPEND write, so lines of concurrent writers never mix; past MAX bytes the writer renames
 * the log to LOG.1 under a lock file made with O_EXCL, and only if the log is still the file it
 * wrote. Used by the monitor (events.c) and by execdriver-oci's front (ocifront.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "eventlog.h"

#define LOCK_STALE_S 10                 /* a rotation lock older than this was left by a crash */

static void rotate(const char *log, unsigned long long max, int fd)
{
	char lock[4096], old[4096];
	struct stat mine, now;
	if (snprintf(lock, sizeof lock, "%s.lock", log) >= (int)sizeof lock ||
	    snprintf(old, sizeof old, "%s.1", log) >= (int)sizeof old || fstat(fd, &mine) < 0)
		return;
	int l = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (l < 0) {
		if (errno == EEXIST && stat(lock, &now) == 0 && time(NULL) - now.st_mtime > LOCK_STALE_S)
			unlink(lock);                   /* a crashed rotator's: the next append rotates */
		return;
	}
	if (stat(log, &now) == 0 && now.st_ino == mine.st_ino && now.st_dev == mine.st_dev &&
	    (unsigned long long)now.st_size > max)
		rename(log, old);
	close(l);
	unlink(lock);
}

void eventlog_append(const char *log, unsigned long long max, const char *line, size_t n)
{
	int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	struct stat st;
	if (write(fd, line, n) == (ssize_t)n && max && fstat(fd, &st) == 0 && (unsigned long long)st.st_size > max)
		rotate(log, max, fd);
	close(fd);
}
