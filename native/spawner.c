/*
 * The spawner (`execdriver-init spawner`): a monitor factory a Node process starts once and keeps,
 * so that each container's monitor is a fork of this small static process rather than a fork of
 * Node (tens of MB of address space: the page tables copied, copy-on-write faults until the exec,
 * and Node's main thread blocked until the child has exec'd; the largest cost of a run under 8
 * runs at a time). It decides nothing: it forks on request and each fork runs `monitor`.
 *
 *   fd 0  a pipe from Node: EOF (Node is gone) ends the spawner; its monitors live on
 *   fd 1  a pipe to Node: one line "NAME SECRET" once listening, then "reaped PID STATUS" for each
 *         monitor reaped (the raw wait status)
 *
 * Node connects to the abstract unix socket @NAME for each monitor. A connection from any process
 * but the one that started us (SO_PEERCRED: its pid and uid) is closed unanswered. Each accepted
 * one is forked into a monitor: a new session, fds 0-2 on /dev/null, the connection as fd 3 (the
 * control socket), argv[1] shown as "monitor", the frame ["monitor", PID, SECRET] (SECRET: what
 * tells Node it talks to our fork), then `monitor` exactly as `execdriver-init monitor` runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "execdriver-init.h"
#include "spawner.h"

static void hex(char *out, size_t bytes)
{
	unsigned char r[32];
	if (bytes > sizeof r || getrandom(r, bytes, 0) != (ssize_t)bytes)
		_exit(1);
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

/* (the fork) become a monitor on CONN; never returns */
static __attribute__((noreturn)) void become_monitor(char *mode, int conn, int lsock, int sigfd, const char *secret)
{
	sigset_t none;
	char pid[16];
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(1);
	close(lsock), close(sigfd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || setsid() < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	if (conn != CTL && (dup2(conn, CTL) < 0 || close(conn) < 0))
		_exit(1);
	if (fcntl(CTL, F_SETFD, 0) < 0)                 /* as a spawned monitor has it */
		_exit(1);
	if (null > CTL)
		close(null);
	memcpy(mode, "monitor", 7);                     /* "spawner" in /proc/PID/cmdline: what it is now */
	snprintf(pid, sizeof pid, "%d", getpid());
	if (send_frame(CTL, FIELDS("monitor", pid, secret)) < 0)
		_exit(1);
	_exit(monitor());
}

int spawner(char *mode)
{
	char name[48] = "execdriver-spawner-", secret[33];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	sigset_t set;
	pid_t node = getppid();

	signal(SIGPIPE, SIG_IGN);
	hex(name + strlen(name), 12);
	hex(secret, 16);
	/* abstract: nothing on disk to leave behind; the whole sun_path, NUL-padded, is the name, as
	 * Node's net.connect gives it */
	memcpy(a.sun_path + 1, name, strlen(name));
	socklen_t alen = (socklen_t)sizeof a;
	int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	int sigfd = sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -1 : signalfd(-1, &set, SFD_CLOEXEC);
	if (lsock < 0 || sigfd < 0 || bind(lsock, (struct sockaddr *)&a, alen) < 0 || listen(lsock, 128) < 0) {
		dprintf(2, "execdriver-init: spawner: listen: %s\n", strerror(errno));
		return 1;
	}
	if (dprintf(1, "%s %s\n", name, secret) < 0)
		return 1;
	for (;;) {
		struct pollfd p[3] = { { 0, POLLIN, 0 }, { lsock, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[0].revents) {
			char buf[64];
			if (RETRY(read(0, buf, sizeof buf)) <= 0)
				return 0;                       /* Node is gone */
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;
			int st;
			pid_t pid;
			if (RETRY(read(sigfd, &si, sizeof si)) < 0 && errno != EAGAIN)
				return 1;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				if (dprintf(1, "reaped %d %d\n", pid, st) < 0 && errno == EPIPE)
					return 0;
		}
		if (p[1].revents) {
			struct ucred cr;
			socklen_t len = sizeof cr;
			int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
			if (conn < 0)
				continue;
			if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid != node || cr.uid != getuid()) {
				close(conn);                    /* not the Node process that started us */
				continue;
			}
			pid_t pid = fork();
			if (pid == 0)
				become_monitor(mode, conn, lsock, sigfd, secret);
			close(conn);                            /* a failed fork: Node sees EOF before the hello */
		}
	}
}
