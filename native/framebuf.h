/* framebuf.c: the plan's frames read with a few syscalls (peeked, parsed, consumed as a whole) */
#ifndef FRAMEBUF_H
#define FRAMEBUF_H
#include <stddef.h>
#include "execdriver-init.h"

struct framebuf { char *b; size_t cap, len, off; int nopeek; };
#define FRAMEBUF_INIT { NULL, 0, 0, 0, 0 }

/* As read_frame (1: a frame; 0: EOF before a frame; -1: error, errno set). What is peeked is taken off
 * the socket only up to the frames handed out, at the latest by framebuf_end. */
int framebuf_read(struct framebuf *fb, int fd, struct frame *fr);
/* Done with FB: the bytes of the frames it handed out are taken off FD (0), -1 if that failed. */
int framebuf_end(struct framebuf *fb, int fd);
#endif
