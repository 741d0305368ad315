/*
 * The plan's frames, read with a few syscalls rather than two reads per field (a plan is ~300
 * fields: ~600 reads, ~1.4 ms of the monitor's start measured). What has come on the socket is
 * peeked at (MSG_PEEK), every whole frame in it is parsed from memory, and exactly the bytes of
 * the frames handed out are then consumed: nothing after a frame is ever taken off the socket, so
 * a frame Node sends later (`go`, `abort`) is read by read_frame as before. A frame that has not
 * wholly come yet, or a control fd that is not a socket (a pipe), is read by read_frame.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "framebuf.h"

#define FRAMEBUF_START (64u << 10)
#define FRAMEBUF_MAX (MAX_FIELD + (1u << 20))

static uint32_t u32_at(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

/* One frame from P (N bytes): 1 and *USED, 0 if it is not whole yet, -1 (EPROTO) if malformed. */
static int parse_frame(const char *p, size_t n, struct frame *fr, size_t *used)
{
	size_t at = 4;
	if (n < 4)
		return 0;
	uint32_t count = u32_at(p);
	if (count == 0 || count > MAX_FIELDS)
		return errno = EPROTO, -1;
	for (uint32_t i = 0; i < count; i++) {              /* whole? (and sane) before any allocation */
		if (n - at < 4)
			return 0;
		uint32_t len = u32_at(p + at);
		if (len > MAX_FIELD)
			return errno = EPROTO, -1;
		if (n - at - 4 < len)
			return 0;
		at += 4 + len;
	}
	fr->n = count;
	fr->f = xmalloc((count + 1) * sizeof(char *));
	at = 4;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len = u32_at(p + at);
		fr->f[i] = xmalloc(len + 1);
		memcpy(fr->f[i], p + at + 4, len);
		fr->f[i][len] = 0;
		at += 4 + len;
	}
	fr->f[count] = NULL;
	*used = at;
	return 1;
}

int framebuf_read(struct framebuf *fb, int fd, struct frame *fr)
{
	int peeked = 0;                         /* the last peek has no whole frame at its start */
	for (;;) {
		size_t used;
		int r = fb->off < fb->len ? parse_frame(fb->b + fb->off, fb->len - fb->off, fr, &used) : 0;
		if (r < 0)
			return -1;
		if (r == 1) {
			fb->off += used;
			return 1;
		}
		if (fb->off) {                      /* take the frames handed out off the socket, peek again */
			errno = EPROTO;
			if (read_full(fd, fb->b, fb->off) != (ssize_t)fb->off)
				return -1;
			peeked = 0;
		} else if (peeked && (fb->len < fb->cap || fb->cap >= FRAMEBUF_MAX)) {
			fb->len = 0;
			return read_frame(fd, fr);          /* not wholly here yet: read it as it comes */
		}
		size_t cap = !fb->b ? FRAMEBUF_START : peeked ? fb->cap * 2 : fb->cap;
		if (cap != fb->cap) {                   /* first use, or a frame larger than what we peek */
			free(fb->b);
			fb->b = xmalloc(cap), fb->cap = cap;
		}
		fb->off = fb->len = 0;
		ssize_t n = fb->nopeek ? -1 : RETRY(recv(fd, fb->b, fb->cap, MSG_PEEK));
		if (n < 0 && (fb->nopeek || errno == ENOTSOCK)) {
			fb->nopeek = 1;                     /* a pipe: frame by frame */
			return read_frame(fd, fr);
		}
		if (n <= 0)
			return (int)n;
		fb->len = (size_t)n, peeked = 1;
	}
}

/* The end of the frames read this way: the bytes of those handed out are taken off FD; -1 if that fails. */
int framebuf_end(struct framebuf *fb, int fd)
{
	int r = 0;
	errno = EPROTO;
	if (fb->off && read_full(fd, fb->b, fb->off) != (ssize_t)fb->off)
		r = -1;
	free(fb->b);
	*fb = (struct framebuf)FRAMEBUF_INIT;
	return r;
}
