/*
 * The terminal: the child's part (console: a new terminal of a devpts instance, its slave the
 * controlling terminal and fds 0-2, the master sent to the monitor; console-raw-output; ctty)
 * and the monitor's relay (PROTOCOL.md, "The terminal"): output through a ring buffer to fd 1
 * and the attach clients, input from fd 0 and the clients, window sizes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "logrotate.h"
#include "oci.h"

struct terminal tty = { .index = -1, .attach_index = -1, .sock = -1, .child_sock = -1, .master = -1, .in = -1, .out = -1, .lfd = -1 };
long console_index = -1, raw_index = -1;    /* the `console`, `console-raw-output` ops */

/* Make fd 0 (a terminal) the controlling terminal: a new session first (already leading one is fine). */
int op_ctty(char **a UNUSED)
{
	if (setsid() < 0 && getsid(0) != getpid())
		return fail("", "setsid");
	return ioctl(0, TIOCSCTTY, 0) < 0 ? fail("", "make fd 0 the controlling terminal") : 0;
}

/* Pass FD over the unix socket SOCK (SCM_RIGHTS, with one byte of data). */
static int send_fd(int sock, int fd)
{
	char byte = 'm';
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c;
	memset(&u, 0, sizeof u);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL)) == 1 ? 0 : -1;
}

/* Bind the terminal SLAVE (an open fd) onto TARGET, created as an empty file if missing. */
static int bind_slave(int slave, const char *target)
{
	char src[32];
	struct res t;
	snprintf(src, sizeof src, "/proc/self/fd/%d", slave);
	if (mkfile(target) < 0)
		return fail(show(target), "create file %s", show(target));
	if (resolve(target, O_PATH, &t) < 0)
		return fail(show(target), "open %s", show(target));
	int rc = mount(src, t.path, NULL, MS_BIND, NULL) < 0 ? fail(show(target), "bind the terminal onto %s", show(target)) : 0;
	close(t.fd);
	return rc;
}

/*
 * console PTMX TARGET: a new terminal of the devpts instance PTMX belongs to, with the `tty` size.
 * Its slave is bound onto TARGET (unless empty), becomes the controlling terminal of a new session
 * and fds 0-2; its master goes to the monitor over the `tty` socketpair.
 */
int op_console(char **a)
{
	const char *p = show(a[1]);
	struct winsize ws = { .ws_row = tty.rows, .ws_col = tty.cols };
	struct res m;
	int unlock = 0, slave = -1, rc = -1;
	if (resolve(a[1], O_RDWR | O_NOCTTY, &m) < 0)
		return fail(p, "open %s", p);
	if (ioctl(m.fd, TIOCSPTLCK, &unlock) < 0)
		fail(p, "unlock a terminal of %s", p);
	else if ((slave = ioctl(m.fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		fail(p, "open the slave of a terminal of %s", p);
	else if (ioctl(m.fd, TIOCSWINSZ, &ws) < 0)
		fail(p, "set the window size of a terminal of %s", p);
	else if (*a[2] && bind_slave(slave, a[2]) < 0)
		;
	else if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))   /* EPERM: a leader already */
		fail("", "setsid for the terminal");
	else if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(p, "make the terminal the controlling terminal");
	else if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		fail(p, "make the terminal fds 0, 1 and 2");
	else if (send_fd(tty.child_sock, m.fd) < 0)
		fail(p, "pass the terminal to the monitor");
	else
		rc = 0;
	if (slave > 2)
		close_keep_errno(slave);
	close_keep_errno(m.fd);
	close_keep_errno(tty.child_sock);
	tty.child_sock = -1;
	tty.console_made = rc == 0;
	return rc;
}

/*
 * console-raw-output: output processing off on the terminal `console` made (fd 0 by now), and
 * locked off (TIOCSLCKTRMIOS: a later tcsetattr keeps a locked bit as it is), so that what is
 * written to the terminal reaches the master byte for byte whatever modes the command sets.
 * The glibc termios starts like the kernel's (which the lock ioctls copy) and is larger.
 */
int op_console_raw_output(char **a UNUSED)
{
	struct termios t, lock;
	memset(&lock, 0, sizeof lock);
	if (tcgetattr(0, &t) < 0)
		return fail("", "read the terminal's modes");
	t.c_oflag &= ~(tcflag_t)OPOST;
	if (tcsetattr(0, TCSANOW, &t) < 0)
		return fail("", "turn off the terminal's output processing");
	if (ioctl(0, TIOCGLCKTRMIOS, &lock) < 0)
		return fail("", "read the terminal's locked modes");
	lock.c_oflag |= OPOST;
	if (ioctl(0, TIOCSLCKTRMIOS, &lock) < 0)
		return fail("", "lock the terminal's output processing");
	return 0;
}


/*
 * With `tty`, the monitor owns the container's terminal: the child sends the master (`console`),
 * the monitor relays it. Output read from the master goes into a ring buffer; from there to fd 1
 * (lossless: the master is not read while fd 1 is a whole buffer behind) and to every attached
 * client (lossy: a client more than a buffer behind skips ahead). Input comes from fd 0 and from
 * the clients' `in` frames, one piece at a time.
 */

static size_t out_room(void)
{
	return tty.size - (tty.out >= 0 ? (size_t)(tty.total - tty.out_pos) : 0);
}

static int winsize_set(void)
{
	struct winsize ws = { .ws_row = tty.rows, .ws_col = tty.cols };
	return tty.master >= 0 && !tty.master_eof && ioctl(tty.master, TIOCSWINSZ, &ws) < 0 ? -1 : 0;
}

/* A resize, from Node (ROWS, COLS NUL-terminated) or a client; applied once the master is here. */
int tty_resize(const char *rows, const char *cols)
{
	unsigned long long r, c;
	if (tty.index < 0)
		return errno = ENOTTY, -1;
	if (num(rows, 10, 65535, &r) < 0 || num(cols, 10, 65535, &c) < 0)
		return errno = EINVAL, -1;
	tty.rows = (unsigned short)r, tty.cols = (unsigned short)c;
	return winsize_set();
}

/* The master, from the child's `console` (or EOF: the child will not send one). */
static void tty_receive(void)
{
	char byte;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	ssize_t n = RETRY(recvmsg(tty.sock, &msg, MSG_CMSG_CLOEXEC));
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	int fl;
	if (n < 0)
		ctl_error("tty", tty.index, errno, "", "receive the terminal from the container");
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(&tty.master, CMSG_DATA(c), sizeof(int));
		/* console-socket: the master goes there (still blocking: the flags go with it), not relayed */
		int sent = oci_send_console(tty.master);
		if (sent < 0)
			ctl_error("console-socket", tty.index, errno, "", "send the terminal to the console socket");
		if (sent) {
			close(tty.master), tty.master = -1, tty.master_eof = 1;
			close(tty.sock), tty.sock = -1;
			return;
		}
		if ((fl = fcntl(tty.master, F_GETFL)) < 0 || fcntl(tty.master, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    winsize_set() < 0)
			ctl_error("tty", tty.index, errno, "", "set up the terminal's master");
	}
	close(tty.sock);                        /* one terminal per container */
	tty.sock = -1;
}

static void tty_read_master(void)
{
	size_t start = (size_t)(tty.total % tty.size), n = out_room();
	if (n > tty.size - start)
		n = tty.size - start;
	if (n == 0)
		return;
	ssize_t r = RETRY(read(tty.master, tty.ring + start, n));
	if (r > 0) {
		tty.total += (uint64_t)r;
		if (tty.out < 0)
			tty.out_pos = tty.total;
	} else if (r == 0 || errno != EAGAIN) {
		tty.master_eof = 1;             /* EIO: no slave fd is open any more */
	}
}

static void tty_write_master(void)
{
	ssize_t w = RETRY(write(tty.master, tty.inbuf + tty.in_off, tty.in_len));
	if (w > 0)
		tty.in_off += (size_t)w, tty.in_len -= (size_t)w;
	else if (w < 0 && errno != EAGAIN)
		tty.in_len = 0;                 /* nobody to read it */
}

/* One chunk of output from *POS on to FD; -1 if FD failed (EAGAIN is not a failure). */
static int write_output(int fd, uint64_t *pos)
{
	if (tty.total - *pos > tty.size)
		*pos = tty.total - tty.size;    /* it fell a whole buffer behind: what it missed is gone */
	size_t start = (size_t)(*pos % tty.size), n = (size_t)(tty.total - *pos);
	if (n > tty.size - start)
		n = tty.size - start;
	if (n > IO_CHUNK)
		n = IO_CHUNK;
	ssize_t w = RETRY(write(fd, tty.ring + start, n));
	if (w < 0)
		return errno == EAGAIN ? 0 : -1;
	*pos += (uint64_t)w;
	return 0;
}

static void tty_read_in(void)
{
	ssize_t r = RETRY(read(tty.in, tty.inbuf, IO_CHUNK));
	if (r > 0)
		tty.in_off = 0, tty.in_len = (size_t)r;
	else if (r == 0 || errno != EAGAIN)
		tty.in = -1;                    /* EOF: nothing more from there; the terminal stays */
}

/* A frame in a byte buffer: 1 complete (fields in V, its size in *USED), 0 not yet, -1 invalid. */
struct field { const char *p; uint32_t len; };
static int parse_frame(const char *b, size_t n, struct field *v, uint32_t max, uint32_t *count, size_t *used)
{
	uint32_t c, len;
	size_t off = 4;
	if (n < 4)
		return 0;
	memcpy(&c, b, 4);
	if ((c = le32toh(c)) == 0 || c > max)
		return -1;
	for (uint32_t i = 0; i < c; i++) {
		if (n < off + 4)
			return 0;
		memcpy(&len, b + off, 4);
		off += 4;
		if ((len = le32toh(len)) > CLIENT_BUF || off + len > CLIENT_BUF)
			return -1;              /* could never fit */
		if (n < off + len)
			return 0;
		v[i] = (struct field){ b + off, len };
		off += len;
	}
	*count = c, *used = off;
	return 1;
}

static int field_is(struct field f, const char *s)
{
	return f.len == strlen(s) && !memcmp(f.p, s, f.len);
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Carry out the complete frames client C sent; an `in` waits while earlier input is on its way. */
static void client_frames(struct client *c)
{
	struct field f[4];
	uint32_t n;
	size_t used;
	int r;
	while ((r = parse_frame(c->buf, c->len, f, NELEM(f), &n, &used)) == 1) {
		if (field_is(f[0], "in") && n == 2) {
			if (tty.master < 0 && !ct.reaped)
				return;                         /* no terminal yet */
			if (tty.in_len > 0)
				return;
			if (tty.master >= 0 && !tty.master_eof && f[1].len <= sizeof tty.inbuf)
				memcpy(tty.inbuf, f[1].p, f[1].len), tty.in_off = 0, tty.in_len = f[1].len;
		} else if (field_is(f[0], "resize") && n == 3 && f[1].len < 16 && f[2].len < 16) {
			char rows[16], cols[16];
			snprintf(rows, sizeof rows, "%.*s", (int)f[1].len, f[1].p);
			snprintf(cols, sizeof cols, "%.*s", (int)f[2].len, f[2].p);
			tty_resize(rows, cols);                 /* nobody to tell about a bad one */
		} else if (field_is(f[0], "attach") && n == 1 && !c->attached) {
			uint64_t oldest = tty.total > tty.size ? tty.total - tty.size : 0;
			c->attached = 1;
			c->pos = tty.seen > oldest ? tty.seen : oldest;     /* what no client got yet */
		}                                               /* anything else is ignored */
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (r < 0 || c->eof)
		client_close(c);
}

static void client_read(struct client *c)
{
	ssize_t r = RETRY(read(c->fd, c->buf + c->len, sizeof c->buf - c->len));
	if (r > 0)
		c->len += (size_t)r;
	else if (r == 0 || errno != EAGAIN)
		c->eof = 1;
	client_frames(c);
}

static void tty_accept(void)
{
	int fd = accept4(tty.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;                         /* EAGAIN, ECONNABORTED …: nothing to take */
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd < 0) {
			tty.cl[i] = (struct client){ .fd = fd };
			return;
		}
	close(fd);                              /* not reached: polled only with a free slot */
}

/* Before the clone: the socketpair, the buffer, the attach socket (mode 0600). */
int tty_setup(void)
{
	int sv[2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ctl_error("tty", tty.index, errno, "", "create the terminal's socketpair"), -1;
	tty.sock = sv[0], tty.child_sock = sv[1];
	if (tty.attach_index < 0)
		tty.size = RELAY_BUF;
	if (!(tty.ring = malloc(tty.size)))
		return ctl_error("tty", tty.index, errno, "", "allocate the output buffer"), -1;
	if (tty.attach_index < 0)
		return 0;
	strcpy(sa.sun_path, tty.path);                  /* its length was checked with the plan */
	if ((tty.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return ctl_error("attach-socket", tty.attach_index, errno, tty.path, "create the attach socket"), -1;
	mode_t old = umask(0177);
	int rc = bind(tty.lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(tty.lfd, MAX_CLIENTS) < 0) {
		char m[PATH_MAX + 64];
		snprintf(m, sizeof m, "%s the attach socket %s", rc < 0 ? "bind" : "listen on", tty.path);
		ctl_error("attach-socket", tty.attach_index, errno, tty.path, m);
		if (rc == 0)
			unlink(tty.path);
		return -1;
	}
	return 0;
}

/* What the terminal waits for (every entry -1 without `tty`; poll skips those). */
void tty_events(struct pollfd *p)
{
	int live = tty.master >= 0 && !tty.master_eof, slots = 0;
	short mev = (short)((out_room() ? POLLIN : 0) | (tty.in_len ? POLLOUT : 0));
	p[P_TTYSOCK] = (struct pollfd){ tty.sock, POLLIN, 0 };
	p[P_MASTER] = (struct pollfd){ live && mev ? tty.master : -1, mev, 0 };
	p[P_IN] = (struct pollfd){ live && !tty.in_len && !ct.reaped ? tty.in : -1, POLLIN, 0 };
	p[P_OUT] = (struct pollfd){ tty.out_pos < tty.total ? tty.out : -1, POLLOUT, 0 };
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &tty.cl[i];
		short ev = (short)((c->fd >= 0 && !c->eof && c->len < CLIENT_BUF ? POLLIN : 0) |
				   (c->fd >= 0 && c->attached && c->pos < tty.total ? POLLOUT : 0));
		p[P_CLIENT + i] = (struct pollfd){ ev ? c->fd : -1, ev, 0 };
		slots += c->fd < 0;
	}
	p[P_LISTEN] = (struct pollfd){ slots && !ct.reaped ? tty.lfd : -1, POLLIN, 0 };
}

/*
 * Before the monitor reports `created` or `started`: a master the child sent by then (its
 * `console` comes before) is taken now, and so reaches the console socket before the caller
 * hears that the process runs (and, with `leave`, before the monitor exits).
 */
void tty_take_pending(void)
{
	struct pollfd p = { tty.sock, POLLIN, 0 };
	if (tty.sock >= 0 && RETRY(poll(&p, 1, 0)) == 1)
		tty_receive();
}

void tty_handle(const struct pollfd *p)
{
	if (p[P_TTYSOCK].revents && tty.sock >= 0)     /* tty_take_pending may have taken it */
		tty_receive();
	if (p[P_MASTER].revents & (POLLOUT | POLLERR | POLLHUP) && tty.in_len)
		tty_write_master();
	if (p[P_MASTER].revents & (POLLIN | POLLERR | POLLHUP))
		tty_read_master();
	if (p[P_IN].revents)
		tty_read_in();
	if (p[P_OUT].revents)
		log_times_mark(tty.out, 0);                /* detached: container.log's times (logrotate.c) */
	if (p[P_OUT].revents && write_output(tty.out, &tty.out_pos) < 0)
		tty.out = -1, tty.out_pos = tty.total;          /* e.g. EPIPE: the reader is gone */
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &tty.cl[i];
		short r = p[P_CLIENT + i].revents;
		if (!r || c->fd < 0)
			continue;
		if ((r & POLLOUT) && write_output(c->fd, &c->pos) < 0) {
			client_close(c);
			continue;
		}
		if (c->pos > tty.seen)
			tty.seen = c->pos;
		if (r & (POLLIN | POLLERR | POLLHUP))
			client_read(c);
	}
	if (p[P_LISTEN].revents)
		tty_accept();
	for (size_t i = 0; i < MAX_CLIENTS && !tty.in_len; i++)    /* input that waited for its turn */
		if (tty.cl[i].fd >= 0 && tty.cl[i].len)
			client_frames(&tty.cl[i]);
}

/* After the exit: all output read from the master and passed on (the caller bounds the wait). */
int tty_drained(void)
{
	if (tty.sock >= 0 || (tty.master >= 0 && !tty.master_eof) || (tty.out >= 0 && tty.out_pos < tty.total))
		return 0;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd >= 0 && tty.cl[i].attached && tty.cl[i].pos < tty.total)
			return 0;
	return 1;
}

/* Close the clients (they see EOF), the attach socket (its path removed) and the master. */
void tty_close(void)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (tty.cl[i].fd >= 0)
			client_close(&tty.cl[i]);
	if (tty.lfd >= 0) {
		close(tty.lfd);
		if (unlink(tty.path) < 0 && errno != ENOENT) {
			char m[PATH_MAX + 64];
			snprintf(m, sizeof m, "remove the attach socket %s", tty.path);
			ctl_error("attach-socket", tty.attach_index, errno, tty.path, m);
		}
	}
	if (tty.sock >= 0)
		close(tty.sock);
	if (tty.master >= 0)
		close(tty.master);
	tty.lfd = tty.sock = tty.master = -1;
}

/* tty ROWS COLS: the initial window size; once */
void check_tty(size_t i, char **a, char *msg, size_t sz)
{
	unsigned long long v, w;
	if (num(a[1], 10, 65535, &v) < 0 || num(a[2], 10, 65535, &w) < 0)
		snprintf(msg, sz, "invalid window size %.16s %.16s (rows and columns, 0 to 65535)", a[1], a[2]);
	else if (check_once(&tty.index, i, a[0], msg, sz) == 0)
		tty.rows = (unsigned short)v, tty.cols = (unsigned short)w;
}

/* attach-socket PATH BUFFER: PATH fits sun_path, BUFFER 1 byte to 64 MiB; once */
void check_attach_socket(size_t i, char **a, char *msg, size_t sz)
{
	unsigned long long v;
	if (num(a[2], 10, 64u << 20, &v) < 0 || v == 0)
		snprintf(msg, sz, "invalid buffer size %.32s (1 to %u bytes)", a[2], 64u << 20);
	else if (strlen(a[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		snprintf(msg, sz, "attach socket path longer than %zu bytes", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	else if (check_once(&tty.attach_index, i, a[0], msg, sz) == 0)
		tty.path = a[1], tty.size = (size_t)v;
}

/* console: once (that it needs `tty` is checked with the whole plan) */
void check_console(size_t i, char **a, char *msg, size_t sz)
{
	check_once(&console_index, i, a[0], msg, sz);
}

void check_console_raw_output(size_t i, char **a UNUSED, char *msg UNUSED, size_t sz UNUSED)
{
	if (raw_index < 0)
		raw_index = (long)i;
}
