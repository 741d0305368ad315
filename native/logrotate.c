/*
 * `log-rotate PATH MAXSIZE MAXFILES` (with `log-relay`): the output file the monitor relays to
 * (its fds 1 and 2, opened on PATH by the driver) is bounded. Once it holds MAXSIZE bytes it is
 * renamed PATH.1 (PATH.1 → PATH.2 …, the oldest beyond MAXFILES - 1 dropped) and a new PATH
 * is opened; with MAXFILES 1 it is emptied instead. Docker's max-size / max-file; the policy
 * (the defaults, the limits) is TypeScript's.
 *
 * `log-times PATH`: before each chunk is written to the output, a 16-byte record goes to PATH
 * (little endian: u64 the output's size before the chunk, its top bit set for stderr, u64
 * CLOCK_REALTIME in ns): `logs -t` and `--since` read a line's time from the record of the chunk
 * its first byte came in, `logs` splits stdout from stderr, and the output stays the container's
 * bytes exactly. The records count into MAXSIZE (as Docker's
 * json-file counts its own), and PATH rotates with the output (PATH.1 …), before it: a reader that
 * sees a new output file finds its records file already there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "logrotate.h"

static struct {
	long index;
	const char *path;
	unsigned long long max_size, max_files, size;
} lr = { .index = -1 };

static struct {
	long index;
	const char *path;
	int fd;
} lt = { .index = -1, .fd = -1 };

void check_log_times(size_t i, char **a, char *msg, size_t sz)
{
	if (check_once(&lt.index, i, a[0], msg, sz) < 0)
		return;
	if (a[1][0] != '/')
		snprintf(msg, sz, "log-times %.64s is not an absolute path", a[1]);
	lt.path = a[1];
}

static void log_times_open(void)
{
	lt.fd = open(lt.path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* A chunk of STREAM (0 stdout, 1 stderr) is about to be written to TO (the output): its record.
 * A failure drops the record only. */
void log_times_mark(int to, int stream)
{
	struct stat st;
	struct timespec ts;
	if (lt.index < 0 || to < 0)
		return;
	if (lt.fd < 0 && lt.path)
		log_times_open(), lt.path = lt.fd < 0 ? NULL : lt.path;
	if (lt.fd < 0 || fstat(to, &st) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t v[2] = { (uint64_t)st.st_size | (stream ? 1ull << 63 : 0), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec };
	unsigned char rec[16];
	for (int k = 0; k < 16; k++)
		rec[k] = (unsigned char)(v[k / 8] >> (8 * (k % 8)));
	if (write_full(lt.fd, rec, sizeof rec) == 0)
		lr.size += sizeof rec;
}

void check_log_rotate(size_t i, char **a, char *msg, size_t sz)
{
	if (check_once(&lr.index, i, a[0], msg, sz) < 0)
		return;
	if (a[1][0] != '/')
		snprintf(msg, sz, "log-rotate %.64s is not an absolute path", a[1]);
	else if (num(a[2], 10, ULLONG_MAX, &lr.max_size) < 0 || lr.max_size == 0)
		snprintf(msg, sz, "log-rotate: invalid size %.32s", a[2]);
	else if (num(a[3], 10, 1000, &lr.max_files) < 0 || lr.max_files == 0)
		snprintf(msg, sz, "log-rotate: invalid file count %.32s", a[3]);
	lr.path = a[1];
}

/* The relay's output is fd TO (the same file on both); the size so far from its fstat. */
void log_rotate_start(int to)
{
	struct stat st;
	if (lr.index >= 0 && to >= 0 && fstat(to, &st) == 0)
		lr.size = (unsigned long long)st.st_size;
}

/*
 * N bytes were written to the output; rotate when past the size. TO[0], TO[1] are the relay's
 * fds (replaced by the new file's); a failure leaves them as they are (the output goes on).
 */
void log_rotate_wrote(size_t n, int to[2])
{
	if (lr.index < 0)
		return;
	lr.size += n;
	if (lr.size < lr.max_size)
		return;
	if (lr.max_files == 1) {
		if (lt.fd >= 0 && ftruncate(lt.fd, 0) < 0)
			close(lt.fd), lt.fd = -1;
		for (int i = 0; i < 2; i++)
			if (to[i] >= 0 && ftruncate(to[i], 0) == 0)
				break;
		lr.size = 0;
		return;
	}
	char from[PATH_MAX], dest[PATH_MAX];
	for (unsigned long long k = lr.max_files - 1; lt.fd >= 0 && k >= 1; k--) {   /* the records first */
		snprintf(dest, sizeof dest, "%s.%llu", lt.path, k);
		if (k == 1)
			snprintf(from, sizeof from, "%s", lt.path);
		else
			snprintf(from, sizeof from, "%s.%llu", lt.path, k - 1);
		rename(from, dest);
	}
	for (unsigned long long k = lr.max_files - 1; k >= 1; k--) {
		snprintf(dest, sizeof dest, "%s.%llu", lr.path, k);
		if (k == 1)
			snprintf(from, sizeof from, "%s", lr.path);
		else
			snprintf(from, sizeof from, "%s.%llu", lr.path, k - 1);
		if (rename(from, dest) < 0 && errno != ENOENT)
			return;
	}
	if (lt.fd >= 0)
		close(lt.fd), log_times_open();
	int fd = open(lr.path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (to[i] < 0)
			continue;
		if (dup3(fd, to[i], O_CLOEXEC) < 0)
			close(to[i]), to[i] = -1;
	}
	close(fd);
	lr.size = 0;
}
