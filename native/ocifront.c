/*
 * execdriver-oci-front: the native front of execdriver-oci (README, "execdriver-oci"; issue 13).
 * bin/execdriver-oci runs it as `execdriver-oci-front NODE_ENTRY ARGS...`. For `state`, `start`,
 * `kill` (one signal, no --all), `pause` and `resume` of a container in a plain situation it does
 * the mechanical work itself, with the files TypeScript wrote (src/oci/light.ts, the record of
 * src/lifecycle/record.ts): read the record, check that the init is the same live process (pid and
 * start time), open the exec fifo, kill(2), write the v1 freezer and wait for it. Everything else
 * (any other verb or flag, a record in `creating`, an init gone while its record says running,
 * hooks to run, any error to report, anything unexpected) goes to Node unchanged:
 * `execvp("node", [node, NODE_ENTRY, ARGS...])`, so TypeScript stays the one place of policy and
 * of error messages. Whatever it prints or writes is byte for byte what the Node path would
 * (test/oci/front.test.ts compares them).
 *
 * EXECDRIVER_OCI_NO_FRONT=1: straight to Node. EXECDRIVER_OCI_FRONT_TRACE=FILE: one line there per
 * call, `front VERB` or `node: WHY` (for tests and for finding why a call was not served).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include "eventlog.h"

#define DEFAULT_ROOT "/run/execdriver-oci"      /* src/oci/cli.ts DEFAULT_OCI_ROOT */
#define DRIVER_DIR "native"                     /* src/oci/light.ts DRIVER_DIR */
#define EVENTS_MAX (4ULL << 20)                 /* src/events/log.ts MAX_LOG_BYTES */
#define START_WAIT_MS 10000                     /* src/oci/light.ts ociStart's deadline */
#define FREEZE_WAIT_MS 5000                     /* src/cgroups/index.ts freeze/thaw timeout */

static const char *node_entry;
static char **uargv;
static int uargc;
static const char *verb = "";
static int released;

static void trace(const char *fmt, ...)
{
	const char *file = getenv("EXECDRIVER_OCI_FRONT_TRACE");
	if (!file || !*file)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) {
			/* a trace only */
		}
		close(fd);
	}
}

/* Everything the front does not do: Node, with the argv unchanged. */
static _Noreturn void to_node(const char *why)
{
	trace("node: %s%s%s", verb, *verb ? ": " : "", why);
	if (released)
		setenv("EXECDRIVER_OCI_FRONT_RELEASED", "1", 1);
	char **av = calloc((size_t)uargc + 4, sizeof *av);
	if (!av)
		_exit(127);
	/* "--": Node 20 reads an --env-file anywhere on its command line, even after the script */
	av[0] = "node";
	av[1] = "--";
	av[2] = (char *)node_entry;
	memcpy(av + 3, uargv, (size_t)uargc * sizeof *av);
	execvp("node", av);
	fprintf(stderr, "execdriver-oci: cannot run node: %s\n", strerror(errno));
	_exit(127);
}

/* ---- files ---- */

/* The whole file, NUL-terminated; NULL with errno (ENOENT: there is none). */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return close(fd), errno = ENOMEM, NULL;
		if (n + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		if (!buf)
			continue;
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return errno = e, NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* JavaScript's String.prototype.trim() for what the kernel's files hold (ASCII whitespace). */
static int trimmed_is(const char *s, const char *want)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n == strlen(want) && !memcmp(s, want, n);
}

/* ---- a strict JSON scanner: spans of the text, nothing copied ---- */

struct span {
	const char *p;                  /* the raw token, quotes included for a string */
	size_t n;
};

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_str(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c != '\\')
			continue;
		if (++p >= e)
			return NULL;
		if (*p == 'u') {
			for (int k = 0; k < 4; k++)
				if (++p >= e || !isxdigit((unsigned char)*p))
					return NULL;
		} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
			return NULL;
		}
	}
	return NULL;
}

static const char *skip_digits(const char *p, const char *e)
{
	const char *s = p;
	while (p < e && isdigit((unsigned char)*p))
		p++;
	return p > s ? p : NULL;
}

static const char *skip_val(const char *p, const char *e, int depth)
{
	p = ws(p, e);
	if (p >= e || depth > 64)
		return NULL;
	if (*p == '"')
		return skip_str(p, e);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		int obj = *p == '{';
		p = ws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = ws(p, e);
				if (p >= e || *p != '"' || !(p = skip_str(p, e)))
					return NULL;
				p = ws(p, e);
				if (p >= e || *p != ':')
					return NULL;
				p++;
			}
			if (!(p = skip_val(p, e, depth + 1)))
				return NULL;
			p = ws(p, e);
			if (p >= e)
				return NULL;
			if (*p == ',') {
				p++;
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	static const char *const lit[] = { "true", "false", "null" };
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(lit[k]);
		if ((size_t)(e - p) >= n && !memcmp(p, lit[k], n))
			return p + n;
	}
	if (*p == '-')
		p++;
	if (p < e && *p == '0')
		p++;
	else if (!(p = skip_digits(p, e)))
		return NULL;
	if (p < e && *p == '.' && !(p = skip_digits(p + 1, e)))
		return NULL;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (!(p = skip_digits(p, e)))
			return NULL;
	}
	return p;
}

/* The whole text is one JSON value (what JSON.parse accepts). */
static int json_whole(const char *p, size_t n, struct span *v)
{
	const char *e = p + n, *s = ws(p, e), *end = skip_val(s, e, 0);
	if (!end || ws(end, e) != e)
		return 0;
	v->p = s;
	v->n = (size_t)(end - s);
	return 1;
}

/* Member KEY of object OBJ (the last one, as JSON.parse keeps it); 0 when absent or OBJ is not an object. */
static int member(struct span obj, const char *key, struct span *out)
{
	const char *p = obj.p, *e = obj.p + obj.n;
	size_t kn = strlen(key);
	int found = 0;
	if (obj.n < 2 || *p != '{')
		return 0;
	p = ws(p + 1, e);
	if (p < e && *p == '}')
		return 0;
	for (;;) {
		const char *k = ws(p, e), *ke = skip_str(k, e);
		if (!ke)
			return 0;
		p = ws(ke, e) + 1;                      /* the ':' (checked when the text was) */
		const char *v = ws(p, e), *ve = skip_val(v, e, 1);
		if (!ve)
			return 0;
		if ((size_t)(ke - k) == kn + 2 && !memcmp(k + 1, key, kn))
			out->p = v, out->n = (size_t)(ve - v), found = 1;
		p = ws(ve, e);
		if (p >= e || *p != ',')
			return found;
		p++;
	}
}

/* A string without escapes: its characters, NUL-terminated in a new buffer; NULL otherwise. */
static char *plain_str(struct span s)
{
	if (s.n < 2 || s.p[0] != '"' || memchr(s.p, '\\', s.n))
		return NULL;
	return strndup(s.p + 1, s.n - 2);
}

static int is_str(struct span s)
{
	return s.n >= 2 && s.p[0] == '"';
}

/* An integer (a JSON number with digits only). */
static int integer(struct span s, long long *v)
{
	size_t i = s.n && s.p[0] == '-';
	if (s.n == i || s.n > 19)
		return 0;
	for (; i < s.n; i++)
		if (!isdigit((unsigned char)s.p[i]))
			return 0;
	*v = strtoll(s.p, NULL, 10);
	return 1;
}

/* ---- the container ---- */

struct rec {
	char *text;
	size_t len;
	char status[16];
	long long pid, start;
	struct span created, bundle, rootfs, owner, annotations, paths;
};

static char root[4096], dir[4096];

static void path_in(char *out, size_t sz, const char *name)
{
	if (snprintf(out, sz, "%s/%s", dir, name) >= (int)sz)
		to_node("path too long");
}

/* The record TypeScript wrote (src/oci/light.ts ociRecord), with the fields this front reads. */
static void load(struct rec *r)
{
	char file[4200];
	struct span top, v, extra;
	path_in(file, sizeof file, "state.json");
	if (!(r->text = slurp(file, &r->len)))
		to_node(errno == ENOENT ? "no record" : "the record cannot be read");
	if (!json_whole(r->text, r->len, &top) || top.p[0] != '{')
		to_node("the record is not a JSON object");
	long long version;
	if (!member(top, "version", &v) || !integer(v, &version) || version != 1)
		to_node("a record of another version");
	char *s;
	if (!member(top, "status", &v) || !(s = plain_str(v)) || strlen(s) >= sizeof r->status)
		to_node("no status");
	strcpy(r->status, s);
	free(s);
	if (!member(top, "pid", &v) || !integer(v, &r->pid) || !member(top, "startTime", &v) || !integer(v, &r->start))
		to_node("no pid or start time");
	if (!member(top, "createdAt", &r->created) || !is_str(r->created))
		to_node("no createdAt");
	if (!member(top, "cgroupPaths", &r->paths) || r->paths.p[0] != '[')
		to_node("no cgroupPaths");
	if (!member(top, "extra", &extra) || !member(extra, "bundle", &r->bundle) || !is_str(r->bundle) || r->bundle.n == 2)
		to_node("not an execdriver-oci record");
	if (!member(extra, "rootfs", &r->rootfs) || !is_str(r->rootfs) || !member(extra, "owner", &r->owner) || !is_str(r->owner) ||
	    !member(extra, "annotations", &r->annotations) || r->annotations.p[0] != '{')
		to_node("the record's extra lacks a field");
}

/* Each cgroup path of the record, in order; NULL at the end (or on an escaped string: to Node). */
static char *next_path(const struct rec *r, const char **cur)
{
	const char *e = r->paths.p + r->paths.n;
	const char *p = ws(*cur ? *cur : r->paths.p + 1, e);
	if (p < e && *p == ',')
		p = ws(p + 1, e);
	if (p >= e || *p == ']')
		return NULL;
	const char *end = skip_str(p, e);
	if (*p != '"' || !end)
		to_node("a cgroup path that is not a string");
	*cur = end;
	char *s = plain_str((struct span){ p, (size_t)(end - p) });
	if (!s)
		to_node("an escaped cgroup path");
	return s;
}

/* field 22 of /proc/PID/stat and its state letter: the same live process (src/state isSameProcessAlive) */
static int alive(long long pid, long long start)
{
	char file[64];
	if (pid <= 0)
		return 0;
	snprintf(file, sizeof file, "/proc/%lld/stat", pid);
	char *st = slurp(file, NULL);
	if (!st)
		return 0;
	char *close = strrchr(st, ')');
	int ok = 0;
	if (close && close[1] == ' ' && close[2]) {
		char state = close[2];
		char *f = close + 2;
		for (int k = 3; k < 22 && f; k++)              /* f at field k; on to field 22 */
			f = (f = strchr(f, ' ')) ? f + 1 : NULL;
		char *end;
		if (f) {
			long long v = strtoll(f, &end, 10);
			ok = end != f && (*end == ' ' || *end == '\n' || !*end) && v == start && state != 'Z';
		}
	}
	free(st);
	return ok;
}

/* exit.json: there (and JSON: exited), absent, or to Node */
static int exited(void)
{
	char file[4200];
	size_t n;
	struct span v;
	path_in(file, sizeof file, "exit.json");
	char *t = slurp(file, &n);
	if (!t) {
		if (errno == ENOENT)
			return 0;
		to_node("exit.json cannot be read");
	}
	if (!json_whole(t, n, &v))
		to_node("exit.json is not JSON");
	free(t);
	return 1;
}

/* `/\/sys\/fs\/cgroup\/[^/]+\//` matches P (src/oci/light.ts frozen) */
static int under_v1_style(const char *p)
{
	for (const char *q = p; (q = strstr(q, "/sys/fs/cgroup/")); q++) {
		const char *s = q + strlen("/sys/fs/cgroup/"), *t = s;
		while (*t && *t != '/')
			t++;
		if (t > s && *t == '/')
			return 1;
	}
	return 0;
}

/* frozen now, as src/oci/light.ts frozen() reads it */
static int frozen(const struct rec *r)
{
	const char *cur = NULL;
	char *p, file[4200];
	while ((p = next_path(r, &cur))) {
		int res = -1;
		if (strstr(p, "/freezer/")) {
			snprintf(file, sizeof file, "%s/freezer.state", p);
			char *t = slurp(file, NULL);
			if (t)
				res = !trimmed_is(t, "THAWED"), free(t);
		} else if (strstr(p, "/unified/") || !under_v1_style(p)) {
			snprintf(file, sizeof file, "%s/cgroup.freeze", p);
			char *t = slurp(file, NULL);
			if (t && trimmed_is(t, "1"))
				res = 1;
			free(t);
		}
		free(p);
		if (res >= 0)
			return res;
	}
	return 0;
}

enum status { CREATED, RUNNING, PAUSED, STOPPED };
static const char *const status_name[] = { "created", "running", "paused", "stopped" };

/* src/oci/light.ts statusOf, where it needs no settling: an init gone while its record says it lives goes to Node */
static enum status status_of(const struct rec *r)
{
	if (exited())
		return STOPPED;
	int run = !strcmp(r->status, "running") || !strcmp(r->status, "paused");
	if (!run && strcmp(r->status, "created"))
		to_node("the record is neither created nor running");
	if (!alive(r->pid, r->start))
		to_node("the init is gone, its record not settled");
	return run ? (frozen(r) ? PAUSED : RUNNING) : CREATED;
}

/* ---- output ---- */

static char logfile[4096];
static int log_json, log_debug;
static char debug_msg[1024];

static void iso_now(char *out, size_t sz)
{
	struct timespec ts;
	struct tm tm;
	char t[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sz, "%.20s.%03dZ", t, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The `--debug` line that src/oci/cli.ts main logs before each verb (to --log only), once served. */
static void log_debug_line(void)
{
	if (!log_debug || !*logfile)
		return;
	char time[40], line[2048];
	iso_now(time, sizeof time);
	int n = log_json ? snprintf(line, sizeof line, "{\"level\":\"debug\",\"msg\":\"%s\",\"time\":\"%s\"}\n", debug_msg, time)
			 : snprintf(line, sizeof line, "time=\"%s\" level=debug msg=\"%s\"\n", time, debug_msg);
	int fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return;                                 /* the log is best effort */
	if (write(fd, line, (size_t)n) < 0) {
		/* best effort */
	}
	close(fd);
}

static void put(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(1);
		s += w, n -= (size_t)w;
	}
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

static void putspan(struct span s)
{
	put(s.p, s.n);
}

/* ---- the verbs ---- */

static const char *id;

/* JSON.stringify(ociState(...), null, 2) */
static int v_state(void)
{
	struct rec r;
	load(&r);
	enum status st = status_of(&r);
	char num[32];
	/* annotations: string values (a map of strings), else Node */
	const char *p = r.annotations.p + 1, *e = r.annotations.p + r.annotations.n;
	for (;;) {
		p = ws(p, e);
		if (p >= e || *p == '}')
			break;
		const char *v = ws(ws(skip_str(p, e), e) + 1, e);
		if (*v != '"')
			to_node("an annotation that is not a string");
		p = ws(skip_val(v, e, 1), e);
		if (p < e && *p == ',')
			p++;
	}
	log_debug_line();
	puts_("{\n  \"ociVersion\": \"1.1.0\",\n  \"id\": \"");
	puts_(id);
	snprintf(num, sizeof num, "%lld", st == STOPPED ? 0 : r.pid);
	puts_("\",\n  \"pid\": ");
	puts_(num);
	puts_(",\n  \"status\": \"");
	puts_(status_name[st]);
	puts_("\",\n  \"bundle\": ");
	putspan(r.bundle);
	puts_(",\n  \"rootfs\": ");
	putspan(r.rootfs);
	puts_(",\n  \"created\": ");
	putspan(r.created);
	puts_(",\n  \"owner\": ");
	putspan(r.owner);
	/* annotations, when any, re-indented */
	p = r.annotations.p + 1;
	int first = 1;
	for (;;) {
		p = ws(p, e);
		if (p >= e || *p == '}')
			break;
		const char *k = p, *ke = skip_str(k, e);
		const char *v = ws(ws(ke, e) + 1, e), *ve = skip_val(v, e, 1);
		puts_(first ? ",\n  \"annotations\": {\n    " : ",\n    ");
		put(k, (size_t)(ke - k));
		puts_(": ");
		put(v, (size_t)(ve - v));
		first = 0;
		p = ws(ve, e);
		if (p < e && *p == ',')
			p++;
	}
	puts_(first ? "\n}\n" : "\n  }\n}\n");
	return 0;
}

static const struct { const char *name; int n; } signals[] = {      /* Node's os.constants.signals */
	{ "SIGHUP", 1 }, { "SIGINT", 2 }, { "SIGQUIT", 3 }, { "SIGILL", 4 }, { "SIGTRAP", 5 }, { "SIGABRT", 6 },
	{ "SIGIOT", 6 }, { "SIGBUS", 7 }, { "SIGFPE", 8 }, { "SIGKILL", 9 }, { "SIGUSR1", 10 }, { "SIGSEGV", 11 },
	{ "SIGUSR2", 12 }, { "SIGPIPE", 13 }, { "SIGALRM", 14 }, { "SIGTERM", 15 }, { "SIGCHLD", 17 },
	{ "SIGSTKFLT", 16 }, { "SIGCONT", 18 }, { "SIGSTOP", 19 }, { "SIGTSTP", 20 }, { "SIGTTIN", 21 },
	{ "SIGTTOU", 22 }, { "SIGURG", 23 }, { "SIGXCPU", 24 }, { "SIGXFSZ", 25 }, { "SIGVTALRM", 26 },
	{ "SIGPROF", 27 }, { "SIGWINCH", 28 }, { "SIGIO", 29 }, { "SIGPOLL", 29 }, { "SIGPWR", 30 }, { "SIGSYS", 31 },
};

/* src/oci/cli.ts signalOf: TERM by default, a number 1-64, a name with or without SIG */
static int signal_of(const char *s)
{
	if (!s || !*s)
		return SIGTERM;
	size_t n = strlen(s);
	if (strspn(s, "0123456789") == n) {
		if (n > 3)
			to_node("a signal number out of range");
		int v = atoi(s);
		if (v < 1 || v > 64)
			to_node("a signal number out of range");
		return v;
	}
	char up[32];
	if (n >= 20)
		to_node("an unknown signal");
	for (size_t i = 0; i <= n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			to_node("an unknown signal");
		up[i] = (char)toupper((unsigned char)s[i]);
	}
	char name[40];
	snprintf(name, sizeof name, "%s%s", strncmp(up, "SIG", 3) ? "SIG" : "", up);
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
		if (!strcmp(signals[i].name, name))
			return signals[i].n;
	to_node("an unknown signal");
}

/* src/oci/light.ts ociKill without --all */
static int v_kill(const char *sig)
{
	int n = signal_of(sig);
	struct rec r;
	load(&r);
	enum status st = status_of(&r);
	if (st == STOPPED)
		to_node("kill of a stopped container (an error)");
	if (st == PAUSED && n == SIGKILL)
		to_node("SIGKILL to a paused container (thawed by Node)");
	if (kill((pid_t)r.pid, n) < 0)
		to_node("kill(2) failed");
	log_debug_line();
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The one occurrence of NEEDLE in the record's text (a top-level member: two spaces of indent), else NULL. */
static const char *only_once(const struct rec *r, const char *needle)
{
	const char *a = strstr(r->text, needle);
	return a && !strstr(a + 1, needle) ? a : NULL;
}

/* src/oci/light.ts ociStart without poststart hooks */
static int v_start(void)
{
	struct rec r;
	char file[4200], fifo[4200], tmp[4300];
	load(&r);
	if (status_of(&r) != CREATED)
		to_node("start of a container that is not created (an error)");
	/* poststart hooks: Node runs them */
	path_in(file, sizeof file, "config.json");
	size_t n;
	char *cfg = slurp(file, &n);
	if (cfg) {
		struct span top, hooks, post;
		if (!json_whole(cfg, n, &top))
			to_node("the saved config.json is not JSON");
		if (member(top, "hooks", &hooks) && member(hooks, "poststart", &post) && !(post.n == 4 && !memcmp(post.p, "null", 4))) {
			const char *q = ws(post.p + 1, post.p + post.n);
			if (post.p[0] != '[' || *q != ']')
				to_node("poststart hooks to run");
		}
		free(cfg);
	} else if (errno != ENOENT) {
		to_node("the saved config.json cannot be read");
	}
	/* what TypeScript's saveRecord writes, JSON.stringify(rec, null, 2): status and startedAt, the rest as it is */
	const char *ps = only_once(&r, "\n  \"status\": \"created\",\n"), *pa = only_once(&r, "\n  \"startedAt\": null");
	if (!ps || !pa || (pa[strlen("\n  \"startedAt\": null")] != ',' && pa[strlen("\n  \"startedAt\": null")] != '\n'))
		to_node("the record is not as TypeScript writes it");
	path_in(fifo, sizeof fifo, "exec.fifo");
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		to_node("the exec fifo cannot be opened");
	long long deadline = mono_ms() + START_WAIT_MS;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got > 0)
			break;
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			close(fd), to_node("read of the exec fifo failed");
		if (exited() || !alive(r.pid, r.start) || mono_ms() > deadline) {
			if (read(fd, &c, 1) > 0)        /* written, run and exited since the read: the byte stays */
				break;
			close(fd), to_node("the container did not take the start");
		}
		sleep_ms(1);
	}
	close(fd);
	released = 1;                   /* from here Node, if it must finish, does not wait for the fifo */
	if (unlink(fifo) < 0 && errno != ENOENT)
		to_node("the exec fifo cannot be removed");
	char now[40];
	iso_now(now, sizeof now);
	size_t cap = r.len + 64, k = 0;
	char *out = malloc(cap);
	if (!out)
		to_node("out of memory");
	const char *first = ps < pa ? ps : pa, *second = ps < pa ? pa : ps;
	const char *parts[2] = { first, second };
	const char *from = r.text;
	for (int i = 0; i < 2; i++) {
		memcpy(out + k, from, (size_t)(parts[i] - from));
		k += (size_t)(parts[i] - from);
		if (parts[i] == ps)
			k += (size_t)sprintf(out + k, "\n  \"status\": \"running\",\n"), from = ps + strlen("\n  \"status\": \"created\",\n");
		else
			k += (size_t)sprintf(out + k, "\n  \"startedAt\": \"%s\"", now), from = pa + strlen("\n  \"startedAt\": null");
	}
	memcpy(out + k, from, r.len - (size_t)(from - r.text));
	k += r.len - (size_t)(from - r.text);
	path_in(file, sizeof file, "state.json");
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", file, (int)getpid());
	int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok = w >= 0;
	for (size_t off = 0; ok && off < k;) {
		ssize_t m = write(w, out + off, k - off);
		if (m < 0 && errno == EINTR)
			continue;
		ok = m > 0;
		off += ok ? (size_t)m : 0;
	}
	if (w >= 0 && close(w) < 0)
		ok = 0;
	if (!ok || rename(tmp, file) < 0) {
		unlink(tmp);
		to_node("the record cannot be written");
	}
	log_debug_line();
	return 0;
}

/* src/ops pauseContainer / resumeContainer on the v1 freezer, and the event src/events/log.ts appends */
static int v_freeze(int freeze)
{
	struct rec r;
	load(&r);
	if (strcmp(r.status, "running") || r.pid <= 0 || !alive(r.pid, r.start))
		to_node("not running (an error)");
	const char *cur = NULL;
	char *p, *freezer = NULL;
	while ((p = next_path(&r, &cur))) {
		if (!freezer && !strncmp(p, "/sys/fs/cgroup/freezer/", strlen("/sys/fs/cgroup/freezer/")))
			freezer = p;
		else
			free(p);
	}
	struct statfs fs;
	if (!freezer || statfs("/sys/fs/cgroup/freezer", &fs) < 0 || fs.f_type != 0x27e0eb /* CGROUP_SUPER_MAGIC: v1 */)
		to_node("no v1 freezer directory");
	char state[4200];
	snprintf(state, sizeof state, "%s/freezer.state", freezer);
	char *t = slurp(state, NULL);
	if (!t)
		to_node("freezer.state cannot be read");
	int is_frozen = trimmed_is(t, "FROZEN");
	free(t);
	if (is_frozen == freeze)
		to_node(freeze ? "already paused (an error)" : "not paused (an error)");
	const char *value = freeze ? "FROZEN" : "THAWED";
	long long deadline = mono_ms() + FREEZE_WAIT_MS;
	for (long delay = 1;; delay = delay * 2 > 20 ? 20 : delay * 2) {
		int fd = open(state, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			to_node("freezer.state cannot be written");
		ssize_t w = write(fd, value, strlen(value));
		close(fd);
		if (w != (ssize_t)strlen(value))
			to_node("freezer.state cannot be written");
		if (!(t = slurp(state, NULL)))
			to_node("freezer.state cannot be read");
		int now = trimmed_is(t, "FROZEN");
		free(t);
		if (now == freeze)
			break;
		if (mono_ms() >= deadline)
			to_node("the freezer did not settle in time");
		sleep_ms(delay);
	}
	char time[40], line[512], log[4200];
	iso_now(time, sizeof time);
	int n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"type\":\"%s\",\"driver\":\"" DRIVER_DIR "\",\"id\":\"%s\"}\n", time,
			 freeze ? "pause" : "unpause", id);
	snprintf(log, sizeof log, "%s/events.log", root);
	eventlog_append(log, EVENTS_MAX, line, (size_t)n);
	log_debug_line();
	return 0;
}

/* ---- the command line ---- */

/* src/oci/cli.ts validId */
static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64 || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || !(isalnum((unsigned char)s[i]) || strchr("_.-", s[i])))
			return 0;
	return 1;
}

/* A root path as path.resolve() makes it, when that is only a prefix of the cwd: no `.` or `..` component. */
static void set_root(const char *r)
{
	if (!*r)
		to_node("an empty --root");
	for (const char *q = r; *q; q++)
		if (*q == '.' && (q == r || q[-1] == '/') && (q[1] == '/' || !q[1] || (q[1] == '.' && (q[2] == '/' || !q[2]))))
			to_node("a --root with . or ..");
	char cwd[4096] = "";
	if (*r != '/' && !getcwd(cwd, sizeof cwd))
		to_node("no cwd");
	if (snprintf(root, sizeof root, "%s%s%s", cwd, *cwd ? "/" : "", r) >= (int)sizeof root)
		to_node("--root too long");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: execdriver-oci-front NODE_ENTRY [ARGS...] (run by bin/execdriver-oci)\n", stderr);
		return 2;
	}
	node_entry = argv[1];
	uargv = argv + 2;
	uargc = argc - 2;
	const char *no = getenv("EXECDRIVER_OCI_NO_FRONT");
	if (no && *no)
		to_node("EXECDRIVER_OCI_NO_FRONT");
	/* runc's global flags, as src/oci/cli.ts main reads them */
	const char *rootarg = DEFAULT_ROOT, *fmt = "text";
	int i = 0;
	while (i < uargc && uargv[i][0] == '-') {
		const char *a = uargv[i], *name = a + (a[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const char *value = eq ? eq + 1 : NULL;
#define IS(s) (nl == strlen(s) && !strncmp(name, s, nl))
		if (IS("root") || IS("log") || IS("log-format") || IS("criu") || IS("rootless")) {
			if (!value) {
				if (i + 1 >= uargc)
					to_node("a global flag without its value");
				value = uargv[++i];
			}
			if (IS("root"))
				rootarg = value;
			else if (IS("log")) {
				if (snprintf(logfile, sizeof logfile, "%s", value) >= (int)sizeof logfile)
					to_node("--log too long");
			} else if (IS("log-format"))
				fmt = value;
		} else if (IS("debug")) {
			log_debug = !value || strcmp(value, "false");
		} else if (!IS("systemd-cgroup")) {
			to_node("a global flag the front leaves to Node");
		}
#undef IS
		i++;
	}
	if (strcmp(fmt, "text") && strcmp(fmt, "json"))
		to_node("an unknown --log-format");
	log_json = !strcmp(fmt, "json");
	if (i >= uargc)
		to_node("no verb");
	verb = uargv[i];
	char **rest = uargv + i + 1;
	int nrest = uargc - i - 1;
	int isk = !strcmp(verb, "kill");
	if (strcmp(verb, "state") && strcmp(verb, "start") && !isk && strcmp(verb, "pause") && strcmp(verb, "resume"))
		to_node("a verb the front leaves to Node");
	if (nrest < 1 || nrest > (isk ? 2 : 1))
		to_node("not one container id");
	for (int k = 0; k < nrest; k++)
		if (rest[k][0] == '-')
			to_node("a verb flag");
	id = rest[0];
	if (!valid_id(id))
		to_node("an invalid id");
	/* the debug line: `${verb} ${args.join(' ')}` (plain ASCII only: JSON-escaping the rest is Node's) */
	size_t dn = (size_t)snprintf(debug_msg, sizeof debug_msg, "%s", verb);
	for (int k = 0; k < nrest; k++)
		dn += (size_t)snprintf(debug_msg + dn, dn < sizeof debug_msg ? sizeof debug_msg - dn : 0, " %s", rest[k]);
	if (dn >= sizeof debug_msg)
		to_node("a long debug line");
	for (const char *q = debug_msg; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f || *q == '"' || *q == '\\')
			to_node("a debug line to escape");
	set_root(rootarg);
	if (snprintf(dir, sizeof dir, "%s/" DRIVER_DIR "/%s", root, id) >= (int)sizeof dir)
		to_node("path too long");
	int rc;
	if (!strcmp(verb, "state"))
		rc = v_state();
	else if (!strcmp(verb, "start"))
		rc = v_start();
	else if (isk)
		rc = v_kill(nrest > 1 ? rest[1] : NULL);
	else
		rc = v_freeze(!strcmp(verb, "pause"));
	trace("front %s", verb);
	return rc;
}
