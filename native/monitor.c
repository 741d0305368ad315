/*
 * The monitor: sets up what the clone needs (signals, pipes, the terminal, the output relay, the
 * device filter), clones the child (clone.c), reports `pid`, waits for `go` (then opens the mount
 * sources and starts the network helper), relays the error pipe, the terminal and the output,
 * forwards signals, reaps the child and, after the exit, reads the OOM counter, removes the
 * cgroups, writes the exit file and reports `exit`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "join.h"
#include "bpf.h"
#include "userns.h"
#include "freezer.h"
#include "logrotate.h"
#include "oci.h"
#include "events.h"
#include "cgjoin.h"

/* `log-relay`: the container's fds 1 and 2 are pipes; the monitor copies them to its own fds 1 and 2. */
struct log_relay logr = { .index = -1, .r = { -1, -1 }, .w = { -1, -1 }, .to = { -1, -1 } };

static int ctl_ok = 1;                  /* the control socket can still be written */
static int forward;
static long detach = -1;                /* the `detach` op's index; >= 0: detached */
static const char *oom_file;

void ctl_send(const char *const *f, size_t n)
{
	if (ctl_ok && send_frame(CTL, f, n) < 0)
		ctl_ok = 0;                     /* Node is gone: not fatal (detach) */
}

void ctl_error(const char *op, long index, int no, const char *path, const char *msg)
{
	char step[64], n[16];
	snprintf(step, sizeof step, "%s#%ld", op, index);
	snprintf(n, sizeof n, "%d", no);
	ctl_send(FIELDS("error", step, n, path, msg));
}

long long now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long read_oom_kills(const char *path)
{
	char key[64];
	long long v, r = -1;
	FILE *f = fopen(path, "re");
	while (f && r < 0 && fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, "oom_kill"))
			r = v;
	if (f)
		fclose(f);
	return r;
}

/* SIGKILL every process in DIR/cgroup.procs until it is empty (~5 s), then rmdir DIR. */
static int cleanup_cgroup(const char *dir)
{
	char procs[PATH_MAX];
	long long deadline = now_ms(CLOCK_MONOTONIC) + 5000;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	if (snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs)
		return errno = ENAMETOOLONG, -1;
	for (;;) {
		int pid, any = 0;
		FILE *f = fopen(procs, "re");
		if (!f)
			return errno == ENOENT ? 0 : -1;
		while (fscanf(f, "%d", &pid) == 1)
			if (pid != getpid())
				any = 1, kill(pid, SIGKILL);
		fclose(f);
		if (!any && (rmdir(dir) == 0 || errno == ENOENT))
			return 0;
		if (!any && errno != EBUSY)
			return -1;
		if (now_ms(CLOCK_MONOTONIC) > deadline)
			return errno = EBUSY, -1;
		nanosleep(&tick, NULL);
	}
}

/* DURABLE: fsync'd before the rename (`exit-file PATH`); `exit-file PATH nosync` leaves it to the page cache */
static int write_exit_file(const char *path, int code, int sig, long long oom, int raw, int durable)
{
	char tmp[PATH_MAX], json[192];
	int n = snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%d,\"oomKills\":%lld,\"finishedAt\":%lld,\"status\":%d}\n",
			 code, sig, oom, now_ms(CLOCK_REALTIME), raw);
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return errno = ENAMETOOLONG, -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_full(fd, json, (size_t)n) < 0 || (durable && fsync(fd) < 0))
		return close_keep_errno(fd), -1;
	return close(fd) < 0 || rename(tmp, path) < 0 ? -1 : 0;
}

/* After the reap: the OOM counter, the cgroups, the exit file, then the exit frame. */
static void finish(int status)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(status);
	long long oom = oom_file ? read_oom_kills(oom_file) : -1;
	char c[16], s[16], o[24], w[16], msg[PATH_MAX + 64];
	for (int pass = 0; pass < 2; pass++)          /* every cleanup-cgroup, then the exit files */
		for (size_t i = 0; i < nplan; i++) {
			const char *op = plan[i].f[0], *p = plan[i].f[1];
			if (!pass && !strcmp(op, "cleanup-cgroup") && cleanup_cgroup(p) < 0) {
				snprintf(msg, sizeof msg, "remove cgroup %s", p);
				ctl_error(op, (long)i, errno, p, msg);
			} else if (pass && !strcmp(op, "exit-file") && write_exit_file(p, code, sig, oom, status, plan[i].n < 3) < 0) {
				snprintf(msg, sizeof msg, "write exit file %s", p);
				ctl_error(op, (long)i, errno, p, msg);
			}
		}
	events_exit(status, oom);                       /* oom (a last check), die: after the exit files (events.c) */
	snprintf(c, sizeof c, "%d", code);
	snprintf(s, sizeof s, "%d", sig);
	snprintf(o, sizeof o, "%lld", oom);
	snprintf(w, sizeof w, "%d", status);            /* the raw wait status: TypeScript decides */
	ctl_send(FIELDS("exit", c, s, o, w));
}

/* The container, as the monitor watches it. */
struct container ct = { .ctl_open = 1 };

/* Signal the container's init, never a pid that may have been reused since the reap. */
static void signal_ct(int sig)
{
	if (!ct.reaped && kill(ct.pid, sig) == 0 && sig == SIGKILL)
		thaw_on_kill();                         /* a paused container dies now, not at its thaw */
}

/* Copy what the container wrote on its fd 1 or 2 (I = 0, 1) to ours; at EOF stop watching it. A
 * write that fails (a full disk, a closed reader) drops the output from then on, never blocks the
 * container; a slow reader of ours (a pipe, a terminal: the command line's own) holds it back. */
static void log_relay(int i)
{
	char buf[16384];
	ssize_t n = RETRY(read(logr.r[i], buf, sizeof buf));
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			close(logr.r[i]), logr.r[i] = -1;
		return;
	}
	log_times_mark(logr.to[i], i);
	if (logr.to[i] >= 0 && write_wait(logr.to[i], buf, (size_t)n) < 0)
		close(logr.to[i]), logr.to[i] = -1;
	else
		log_rotate_wrote((size_t)n, logr.to);
}

/* `leave` of an exec: started, it is not reaped here but handed over when the control socket closes */
static int handed;

static void on_signals(void)
{
	struct signalfd_siginfo si[16];
	ssize_t n = RETRY(read(ct.sigfd, si, sizeof si));
	for (ssize_t i = 0; i < n / (ssize_t)sizeof *si; i++)
		if (si[i].ssi_signo != SIGCHLD)
			signal_ct((int)si[i].ssi_signo);
		else if (!ct.reaped && !handed && !(oci_leave() && ct.phase == RUNNING) &&
		         RETRY(waitpid(ct.pid, &ct.status, WNOHANG)) == ct.pid)   /* `leave`: see on_error_pipe */
			ct.reaped = 1;
}

/* At "go" (the maps are written by now): open every mount-source and pass it to the child. */
static int send_sources(void)
{
	for (size_t i = 0; src.count && i < nplan; i++) {
		char **a = plan[i].f;
		const char *what;
		if (strcmp(a[0], "mount-source"))
			continue;
		int fd = userns_open_source(a[1], !strcmp(a[2], "idmap"), ct.pid, &what);
		if (fd < 0 || userns_send_fd(src.sock, fd) < 0) {
			char msg[PATH_MAX + 64];
			snprintf(msg, sizeof msg, "%s %s", fd < 0 ? what : "pass the tree of", a[1]);
			ctl_error("mount-source", (long)i, errno, a[1], msg);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (src.sock >= 0)
		close(src.sock);
	src.sock = -1;
	for (size_t i = 0; i < nplan; i++) {                 /* then the network helpers (slirp4netns) */
		const char *what;
		int exit_w;
		if (strcmp(plan[i].f[0], "net-helper"))
			continue;
		if (userns_net_helper(plan[i].f + 1, ct.pid, 10000, &exit_w, &what) < 0) {
			char msg[PATH_MAX + 64];
			snprintf(msg, sizeof msg, "net-helper %s: %s", plan[i].f[1], what);
			ctl_error("net-helper", (long)i, errno, plan[i].f[1], msg);
			return -1;
		}
		/* exit_w stays open until the monitor exits: then the helper sees EOF and exits */
	}
	return 0;
}

static void on_control(void)
{
	struct frame f;
	if (ct.phase == WAIT_GO) {
		int r = read_frame(CTL, &f);
		if (r == 1 && !strcmp(f.f[0], "go") && send_sources() == 0 && RETRY(write(ct.go_w, "g", 1)) == 1) {
			ct.phase = RUNNING;
		} else {                                /* abort, EOF before go, or garbage */
			ct.ctl_open = r == 1;
			ct.phase = DONE;
			signal_ct(SIGKILL);
		}
		close(ct.go_w);
	} else if (read_frame(CTL, &f) != 1) {
		if (handed)                             /* the caller is gone: the process (even a zombie) */
			_exit(0);                           /* goes to its subreaper, which knows its pid by now */
		ct.ctl_open = 0;
		if (detach < 0)
			signal_ct(SIGKILL);
	} else {
		if (!strcmp(f.f[0], "resize") && f.n == 3 && tty_resize(f.f[1], f.f[2]) < 0)
			ctl_error("tty", tty.index, errno, "", "set the window size");
		free_frame(&f);                         /* other later frames are ignored */
	}
}

/* The error pipe: a frame is relayed; EOF with no frame after "go" means the exec succeeded. */
static void on_error_pipe(void)
{
	struct frame f;
	int r = read_frame(ct.err_r, &f);
	tty_take_pending();                         /* the master first (console-socket): it was sent before */
	if (r == 1 && f.n == 1 && !strcmp(f.f[0], "created")) {
		ctl_send(FIELDS("created"));            /* exec-wait: blocked before exec until `start` */
		free_frame(&f);
		if (oci_leave())                        /* the init goes to the subreaper (native/oci.c) */
			_exit(0);
		return;
	}
	if (r == 1)
		ctl_send((const char *const *)f.f, f.n);
	else if (r == 0 && ct.phase == RUNNING) {
		events_started(), ctl_send(FIELDS("started"));   /* in the log before anyone hears of it */
		handed = oci_leave();                   /* an OCI exec: to the subreaper when Node exits */
	}
	ct.phase = DONE;
	/* `leave`: a process that ended before its start was read here is reaped only if it failed */
	if (oci_leave() && !handed && !ct.reaped && RETRY(waitpid(ct.pid, &ct.status, WNOHANG)) == ct.pid)
		ct.reaped = 1;
}

int monitor(void)
{
	int go[2], errp[2], fl;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		tty.cl[i].fd = -1;
	if ((fl = fcntl(CTL, F_GETFL)) < 0 || fcntl(CTL, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		dprintf(2, "execdriver-init: fd 3 (the control socket): %s\n", strerror(errno));
		return 2;
	}
	if (read_plan() < 0)
		return 2;
	if (detach >= 0 && setsid() < 0 && errno != EPERM)     /* EPERM: already a session leader */
		return ctl_error("detach", detach, errno, "", "setsid"), 1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; forward && i < NELEM(fwd_signals); i++)
		sigaddset(&set, fwd_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (ct.sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 ||
	    pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return ctl_error("clone", clone_index, errno, "", "set up the monitor"), 1;
	if (tty.index >= 0 && tty_setup() < 0)
		return 1;
	for (int i = 0; logr.index >= 0 && i < 2; i++) {
		int pp[2];
		/* a socketpair, one way (the container cannot read from it, nor reopen it through /proc:
		 * ENXIO), as the sockets of Node's own relay were; else a pipe */
		if ((logr.socket ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp) < 0 || shutdown(pp[0], SHUT_WR) < 0 ||
		                   shutdown(pp[1], SHUT_RD) < 0
		                 : pipe2(pp, O_CLOEXEC) < 0) ||
		    (logr.to[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3)) < 0)
			return ctl_error("log-relay", logr.index, errno, "", "set up the output pipes"), 1;
		logr.r[i] = pp[0], logr.w[i] = pp[1];
	}
	if (logr.index >= 0)
		log_rotate_start(logr.to[0]);
	long fi;
	const char *fpath;
	if (oci_make_fifos(&fi, &fpath) < 0) {                   /* the exec fifo, for `exec-fifo` */
		int e = errno;
		tty_close();
		return ctl_error("mkfifo", fi, e, fpath, "make the exec fifo"), 1;
	}
	/* before the clone: the child is in the cgroup before it runs anything (Node moves it there) */
	for (size_t i = 0; i < nplan; i++) {
		char msg[1536];
		if (strcmp(plan[i].f[0], "device-filter") || device_filter_attach(plan[i].f[1], plan[i].f[2], msg, sizeof msg) == 0)
			continue;
		int e = errno;
		tty_close();
		return ctl_error("device-filter", (long)i, e, plan[i].f[1], msg), 1;
	}
	const char *jwhat;
	if (join_index >= 0 && join_prepare((pid_t)atoi(plan[join_index].f[1]), *plan[join_index].f[2] != 0, &jwhat) < 0) {
		int e = errno;
		char msg[128];
		snprintf(msg, sizeof msg, "%s process %s", jwhat, plan[join_index].f[1]);
		tty_close();
		return ctl_error("join", join_index, e, plan[join_index].f[1], msg), 1;
	}
	int sv[2];
	if (src.count && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return tty_close(), ctl_error("clone", clone_index, errno, "", "create the mount-source socketpair"), 1;
	if (src.count)
		src.sock = sv[0], src.child_sock = sv[1];
	ct.pid = clone_child(go, errp, ct.sigfd);
	if (ct.pid < 0) {
		tty_close();
		return ctl_error("clone", clone_index, errno, "", "clone the container process"), 1;
	}
	close(go[0]), close(errp[1]);
	char jmsg[PATH_MAX + 64];
	long ji = cgroup_join(ct.pid, jmsg, sizeof jmsg);         /* cgjoin.c: before `pid`, before `go` */
	if (ji >= 0) {
		int e = errno;
		kill(ct.pid, SIGKILL);
		RETRY(waitpid(ct.pid, NULL, 0));
		tty_close();
		return ctl_error("cgroup-join", ji, e, plan[ji].f[1], jmsg), 1;
	}
	if (tty.child_sock >= 0)
		close(tty.child_sock);
	if (src.child_sock >= 0)
		close(src.child_sock);
	ct.go_w = go[1], ct.err_r = errp[0];
	for (int i = 0; i < 2; i++)
		if (logr.w[i] >= 0)
			close(logr.w[i]), logr.w[i] = -1;
	/* fds 0-2 are the container's (so its pipes reach EOF when it closes them); with a terminal,
	 * 0 and 1 are the relay's */
	if (tty.index >= 0)
		tty.in = 0, tty.out = 1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = tty.index >= 0 ? 2 : 0; null >= 0 && fd < 3; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	char pid[16];
	snprintf(pid, sizeof pid, "%d", ct.pid);
	ctl_send(FIELDS("pid", pid));
	events_setup(ct.pid);

	/* until the reap, then (with a terminal) until its output is passed on, at most 2 s more */
	for (long long end = 0;;) {
		if (ct.reaped && !end)
			end = now_ms(CLOCK_MONOTONIC) + 2000;
		if (ct.reaped && (tty.index < 0 || tty_drained()) && logr.r[0] < 0 && logr.r[1] < 0)
			break;
		if (ct.reaped && now_ms(CLOCK_MONOTONIC) >= end)
			break;
		struct pollfd p[P_COUNT];
		p[P_SIG] = (struct pollfd){ ct.sigfd, POLLIN, 0 };
		p[P_CTL] = (struct pollfd){ ct.ctl_open ? CTL : -1, POLLIN, 0 };
		p[P_ERR] = (struct pollfd){ ct.phase == RUNNING ? ct.err_r : -1, POLLIN, 0 };
		tty_events(p);
		p[P_LOG] = (struct pollfd){ logr.r[0], POLLIN, 0 };
		p[P_LOG + 1] = (struct pollfd){ logr.r[1], POLLIN, 0 };
		events_pollfds(p + P_EV);
		if (poll(p, P_COUNT, ct.reaped ? (int)(end - now_ms(CLOCK_MONOTONIC)) : events_timeout()) < 0 && errno != EINTR) {
			if (!ct.reaped)
				kill(ct.pid, SIGKILL);          /* cannot watch it any more */
			ct.reaped = ct.reaped || RETRY(waitpid(ct.pid, &ct.status, 0)) == ct.pid;
			break;
		}
		if (p[P_SIG].revents)
			on_signals();
		if (p[P_CTL].revents)
			on_control();
		if (p[P_ERR].revents)
			on_error_pipe();
		tty_handle(p);
		events_handle(p + P_EV);
		for (int i = 0; i < 2; i++)
			if (p[P_LOG + i].revents)
				log_relay(i);
	}
	if (ct.phase != DONE)                       /* a frame written just before the exit */
		on_error_pipe();
	tty_close();
	finish(ct.status);
	return 0;
}

/* the monitor ops the monitor only takes in (their work is above) */
void check_detach(size_t i, char **a UNUSED, char *msg UNUSED, size_t sz UNUSED)
{
	detach = (long)i;
}

void check_signals_forward(size_t i UNUSED, char **a UNUSED, char *msg UNUSED, size_t sz UNUSED)
{
	forward = 1;
}

void check_oom_counter(size_t i UNUSED, char **a, char *msg UNUSED, size_t sz UNUSED)
{
	oom_file = a[1];
}

void check_exit_file(size_t i UNUSED, char **a, char *msg, size_t sz)
{
	if (a[2] && (strcmp(a[2], "nosync") || a[3]))
		snprintf(msg, sz, "exit-file PATH [nosync], not %.64s", a[2]);
}

void check_log_relay(size_t i, char **a, char *msg, size_t sz)
{
	if (a[1] && (strcmp(a[1], "socket") || a[2]))
		snprintf(msg, sz, "log-relay [socket], not %.64s", a[1]);
	else if (check_once(&logr.index, i, a[0], msg, sz) == 0)
		logr.socket = a[1] != NULL;
}

void check_net_helper(size_t i UNUSED, char **a, char *msg, size_t sz)
{
	if (a[1][0] != '/')
		snprintf(msg, sz, "net-helper %.64s is not an absolute path", a[1]);
}
