/*
 * The frame codec of the plan protocol (PROTOCOL.md, "Encoding"): u32le count, then u32le length
 * and bytes for every field, both ways; and the strict number parsing every op uses.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "execdriver-init.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		_exit(1);
	return p;
}

ssize_t read_full(int fd, void *buf, size_t n)
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

int write_full(int fd, const void *buf, size_t n)
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

/* write_full to an fd that may be in non-blocking mode (a descriptor the caller shares with
 * others, as the relay's output): on EAGAIN, wait until it can be written. */
int write_wait(int fd, const void *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = RETRY(write(fd, buf, n));
		if (r < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (RETRY(poll(&p, 1, -1)) < 0)
				return -1;
			continue;
		}
		if (r < 0)
			return -1;
		buf = (const char *)buf + r;
		n -= (size_t)r;
	}
	return 0;
}

/* 1: a frame; 0: EOF before a frame; -1: error or truncated frame (errno set). */
int read_frame(int fd, struct frame *fr)
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

void free_frame(struct frame *fr)
{
	for (uint32_t i = 0; i < fr->n; i++)
		free(fr->f[i]);
	free(fr->f);
}

int send_frame(int fd, const char *const *f, size_t n)
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

/* Strict unsigned parsing: decimal flags and ids, octal modes, hexadecimal capability masks. */
int num(const char *s, int base, unsigned long long max, unsigned long long *v)
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
