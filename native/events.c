/*
 * The monitor's part of the event log (PROTOCOL.md, `event-log`, `oom-watch`, `lxc-log`): it
 * appends `start`, `oom` and `die` (`exec_start`, `exec_die` for an exec'd process) to the state
 * root's log itself, one JSON line per O_APPEND write, so that they are recorded when the Node
 * process that started the container is gone. The log is rotated past MAXBYTES exactly as the
 * Node writer does it (src/events/log.ts). No policy: what to watch and where to write is the plan's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "eventlog.h"
#include "events.h"
#include "execdriver-init.h"

#define RECHECK_MS 20                   /* v1 notifies before the kill is counted: look again */
#define RECHECK_FOR_MS 1000
#define LXC_SCAN_MS 5                   /* lxc-log: at most one scan of LXC's log per this many ms */

static struct {
	const char *log, *driver, *id, *execid, *oom_path, *lxc_path;
	unsigned long long max;
	pid_t pid;
	int on, started;
	int oom_fd, oom_poll, oom_v1_efd;       /* the counter file; what is polled (v1: an eventfd) */
	long long oom_last, recheck_until, next_check;
	int ino_fd;                             /* lxc-log: inotify on LXC's log until the start is seen */
	off_t lxc_off;
	long long lxc_next;                     /* lxc-log: the inotify fd is not polled before (mono ms) */
} ev = { .oom_fd = -1, .oom_poll = -1, .oom_v1_efd = -1, .ino_fd = -1 };

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A JSON string of s (quotes included) at out; returns the length written (bounded by sz). */
static size_t json_str(char *out, size_t sz, const char *s)
{
	size_t n = 0;
	if (sz < 3)
		return 0;
	out[n++] = '"';
	for (; *s && n + 8 < sz; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			out[n++] = '\\', out[n++] = (char)c;
		else if (c < 0x20)
			n += (size_t)snprintf(out + n, sz - n, "\\u%04x", c);
		else
			out[n++] = (char)c;
	}
	out[n++] = '"';
	out[n] = 0;
	return n;
}

/* One record: {"time","type","driver","id"[,"execId"][,"pid"][,"exitCode","signal"]}, one write. */
static void append(const char *type, long pid, int code, int sig)
{
	char line[2048], t[40];
	struct timespec ts;
	struct tm tm;
	size_t n = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n, "{\"time\":\"%s.%03ldZ\",\"type\":\"%s\",\"driver\":", t,
			      ts.tv_nsec / 1000000, type);
	n += json_str(line + n, sizeof line - n, ev.driver);
	n += (size_t)snprintf(line + n, sizeof line - n, ",\"id\":");
	n += json_str(line + n, sizeof line - n, ev.id);
	if (*ev.execid) {
		n += (size_t)snprintf(line + n, sizeof line - n, ",\"execId\":");
		n += json_str(line + n, sizeof line - n, ev.execid);
	}
	if (pid > 0)
		n += (size_t)snprintf(line + n, sizeof line - n, ",\"pid\":%ld", pid);
	if (code >= 0) {
		const char *name = sig > 0 ? sigabbrev_np(sig) : NULL;
		n += (size_t)snprintf(line + n, sizeof line - n, ",\"exitCode\":%d", code);
		if (name)
			n += (size_t)snprintf(line + n, sizeof line - n, ",\"signal\":\"SIG%s\"", name);
	}
	if (n + 3 > sizeof line)
		return;
	line[n++] = '}', line[n++] = '\n';
	eventlog_append(ev.log, ev.max, line, n); /* the log records; failing to write it fails nothing */
}

static const char *type_of(const char *what)
{
	if (!*ev.execid)
		return what;
	return !strcmp(what, "start") ? "exec_start" : "exec_die";
}

void check_event_log(size_t i, char **a, char *msg, size_t sz)
{
	static long once = -1;
	char *end;
	errno = 0;
	unsigned long long max = strtoull(a[2], &end, 10);
	if (check_once(&once, i, "event-log", msg, sz) < 0)
		return;
	if (a[1][0] != '/' || errno || *end || !*a[2] || a[2][0] == '-')
		snprintf(msg, sz, "event-log needs an absolute PATH and MAXBYTES (0: no rotation)");
	else if (!*a[3] || !*a[4])
		snprintf(msg, sz, "event-log needs a DRIVER and an ID");
	else
		ev.log = a[1], ev.max = max, ev.driver = a[3], ev.id = a[4], ev.execid = a[5], ev.on = 1;
}

void check_oom_watch(size_t i, char **a, char *msg, size_t sz)
{
	(void)i, (void)msg, (void)sz;
	ev.oom_path = a[1];
}

void check_lxc_log(size_t i, char **a, char *msg, size_t sz)
{
	(void)i, (void)msg, (void)sz;
	ev.lxc_path = a[1];
}

/* `oom_kill N` of the counter file (read again from its start, which also re-arms v2's poll). */
static long long oom_count(void)
{
	char buf[4096];
	ssize_t n = pread(ev.oom_fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = 0;
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "oom_kill ", 9))
			return atoll(p + 9);
	return -1;
}

static void oom_close(void)
{
	if (ev.oom_fd >= 0)
		close(ev.oom_fd);
	if (ev.oom_v1_efd >= 0)
		close(ev.oom_v1_efd);
	ev.oom_fd = ev.oom_poll = ev.oom_v1_efd = -1;
	ev.recheck_until = 0;
}

/*
 * Watch the counter: v1 `memory.oom_control` through an eventfd registered in the same
 * directory's `cgroup.event_control`; otherwise (v2 `memory.events`) the file itself, which
 * polls POLLPRI when it changes. Quietly nothing when it cannot (not there yet: lxc-log retries).
 */
static void oom_open(void)
{
	if (!ev.on || !ev.oom_path || *ev.execid || ev.oom_fd >= 0)
		return;
	if ((ev.oom_fd = open(ev.oom_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	const char *base = strrchr(ev.oom_path, '/');
	base = base ? base + 1 : ev.oom_path;
	if (!strcmp(base, "memory.oom_control")) {
		char ctl[4096];
		int n = snprintf(ctl, sizeof ctl, "%.*s/cgroup.event_control", (int)(base - ev.oom_path - 1), ev.oom_path);
		int c = n < (int)sizeof ctl ? open(ctl, O_WRONLY | O_CLOEXEC) : -1;
		ev.oom_v1_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c < 0 || ev.oom_v1_efd < 0 || dprintf(c, "%d %d", ev.oom_v1_efd, ev.oom_fd) < 0) {
			if (c >= 0)
				close(c);
			oom_close();
			return;
		}
		close(c);
		ev.oom_poll = ev.oom_v1_efd;
	} else {
		ev.oom_poll = ev.oom_fd;
	}
	ev.oom_last = oom_count();
	if (ev.oom_last < 0)
		ev.oom_last = 0;
}

/* The counter rose: one `oom` record. Not yet (v1 tells before the kill is counted): look again soon. */
static void oom_check(void)
{
	long long n = oom_count();
	if (n < 0) {
		oom_close();                    /* the cgroup is gone */
		return;
	}
	if (n > ev.oom_last) {
		ev.oom_last = n;
		ev.recheck_until = 0;
		append("oom", (long)ev.pid, -1, 0);
		return;
	}
	if (!ev.recheck_until)
		ev.recheck_until = mono_ms() + RECHECK_FOR_MS;
	ev.next_check = mono_ms() + RECHECK_MS;
}

/* LXC's log, the lines that matter (the same as src/lxc/log.ts reads). */
struct lxc_run { long pid; int code, sig, init_exited, foreign; };

static void lxc_line(struct lxc_run *r, const char *l)
{
	const char *p;
	if ((p = strstr(l, "ended on error ("))) {
		r->code = atoi(p + 16), r->sig = 0;
	} else if (strstr(l, "ended on signal") && (p = strrchr(l, '('))) {
		r->sig = atoi(p + 1), r->code = -1;
	} else if (strstr(l, "Container init process ") && strstr(l, " exited")) {
		r->init_exited = 1;
	} else if (strstr(l, " instead of container init ")) {
		r->foreign = 1;
	} else if (r->foreign && strstr(l, "Deleted network devices")) {
		r->init_exited = 1;
	} else if ((p = strstr(l, " with pid \"")) || (p = strstr(l, " with pid '"))) {
		r->pid = atol(p + 11);
	}
}

/* Scan the complete lines of LXC's log from *off on (only whole lines; *off moves past them). */
static void lxc_scan(struct lxc_run *r, off_t *off)
{
	char buf[65536];
	int fd = open(ev.lxc_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf - 1, *off);
		if (n <= 0)
			break;
		buf[n] = 0;
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', (size_t)(buf + n - start)))) {
			*nl = 0;
			lxc_line(r, start);
			start = nl + 1;
		}
		if (start == buf && n == (ssize_t)sizeof buf - 1)
			start = buf + n;        /* a line longer than the buffer: skipped */
		if (start == buf)
			break;                  /* an incomplete last line: later */
		*off += start - buf;
	}
	close(fd);
}

static void record_start(void)
{
	if (ev.started)
		return;
	ev.started = 1;
	append(type_of("start"), (long)ev.pid, -1, 0);
	oom_open();                             /* lxc: LXC has made the cgroup by now */
}

static void lxc_watch(void)
{
	struct lxc_run r = { .code = -1 };
	char drain[4096];
	while (read(ev.ino_fd, drain, sizeof drain) > 0)
		;
	lxc_scan(&r, &ev.lxc_off);
	if (r.pid <= 0) {
		/* LXC writes ~100 lines (DEBUG) during its setup, one write each: woken for every one, the
		 * monitor competed with LXC for the CPU. The changes meanwhile wait in the inotify queue. */
		ev.lxc_next = mono_ms() + LXC_SCAN_MS;
		return;
	}
	ev.pid = (pid_t)r.pid;
	record_start();
	close(ev.ino_fd);
	ev.ino_fd = -1;
}

void events_setup(pid_t pid)
{
	if (!ev.on)
		return;
	if (!ev.lxc_path) {
		ev.pid = pid;
		oom_open();
		return;
	}
	if ((ev.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) >= 0 && inotify_add_watch(ev.ino_fd, ev.lxc_path, IN_MODIFY) < 0) {
		close(ev.ino_fd);
		ev.ino_fd = -1;
	}
	if (ev.ino_fd >= 0)
		lxc_watch();
}

void events_started(void)
{
	if (ev.on && !ev.lxc_path)
		record_start();
}

void events_pollfds(struct pollfd *p)
{
	p[0] = (struct pollfd){ ev.oom_poll, (short)(ev.oom_poll == ev.oom_fd ? POLLPRI : POLLIN), 0 };
	p[1] = (struct pollfd){ ev.ino_fd >= 0 && mono_ms() >= ev.lxc_next ? ev.ino_fd : -1, POLLIN, 0 };
}

int events_timeout(void)
{
	long long now = mono_ms(), left = -1;
	if (ev.recheck_until)
		left = ev.next_check > now ? ev.next_check - now : 0;
	if (ev.ino_fd >= 0 && ev.lxc_next > now && (left < 0 || ev.lxc_next - now < left))
		left = ev.lxc_next - now;       /* the log's watch is polled again then */
	return (int)left;
}

void events_handle(const struct pollfd *p)
{
	if (p[0].fd >= 0 && p[0].revents) {
		uint64_t v;
		if (ev.oom_v1_efd >= 0 && read(ev.oom_v1_efd, &v, sizeof v) < 0 && errno != EAGAIN)
			oom_close();
		else
			oom_check();
	} else if (ev.recheck_until && ev.oom_fd >= 0 && mono_ms() >= ev.next_check) {
		if (mono_ms() > ev.recheck_until)
			ev.recheck_until = 0;
		else
			oom_check();
	}
	if (p[1].fd >= 0 && p[1].revents && ev.ino_fd >= 0)
		lxc_watch();
}

void events_exit(int status, long long oom_kills)
{
	if (!ev.on)
		return;
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(status);
	if (ev.ino_fd >= 0)
		close(ev.ino_fd), ev.ino_fd = -1;
	if (ev.lxc_path) {
		/* lxc-start's own status says nothing (0 once the container ran): LXC's log has the container's */
		struct lxc_run r = { .code = -1 };
		off_t off = 0;
		lxc_scan(&r, &off);
		if (r.pid <= 0)
			return;                 /* it never ran: no die */
		ev.pid = (pid_t)r.pid;
		record_start();                 /* a command that ended before the log was watched */
		sig = r.sig > 0 ? r.sig : 0;
		code = sig ? 128 + sig : r.code >= 0 ? r.code : r.init_exited ? 0 : 128 + SIGKILL;
		if (!r.sig && r.code < 0 && !r.init_exited)
			sig = SIGKILL;          /* lxc-start itself was killed, and LXC's init with it */
	} else if (!ev.started) {
		return;                         /* the command never ran: no die */
	}
	if (!*ev.execid) {
		if (ev.oom_fd >= 0) {
			long long live = oom_count();
			if (live > oom_kills)
				oom_kills = live;
		}
		if (oom_kills > ev.oom_last)
			append("oom", (long)ev.pid, -1, 0);
	}
	oom_close();
	append(type_of("die"), (long)ev.pid, code, sig);
}
