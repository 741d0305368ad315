/*
 * execdriver-init: carries out a plan that TypeScript has fully decided (see PROTOCOL.md).
 *
 *   execdriver-init monitor      (fd 3: the control socket; fds 0-2: the container's stdio)
 *   execdriver-init console-exec CMD [ARG...]   (inside a container: fd 0 the controlling terminal)
 *
 * The monitor reads the plan (frames up to ["end"]), clones the container child into the asked
 * namespaces, reports ["pid", N] and waits for ["go"] or ["abort"]. After "go" the child carries
 * out the container ops in order and execs the command. An op failure travels back as an
 * ["error", STEP, ERRNO, PATH, MESSAGE] frame over a close-on-exec pipe; exec success is that
 * pipe's EOF with no frame (relayed as ["started"]). The monitor reaps the child, reads the OOM
 * counter, removes cgroups, writes the exit file and reports ["exit", CODE, SIGNAL, OOM_KILLS].
 * Without a `clone` op the child is a plain fork on the host (host mode: the lxc driver's tty).
 *
 * No policy lives here: no default mounts, devices, capabilities or users. Only what the plan says.
 *
 * One file per concern (what they share: execdriver-init.h; PROTOCOL.md, "Where things are"):
 *   execdriver-init.c  this: the binary's modes          frame.c    the frame codec
 *   ops.c      the op table: every op, its kind, arguments, check and handler
 *   plan.c     the plan read and checked; run-plan      monitor.c  the monitor: setup, go, reaping, exit
 *   clone.c    the child: clone, namespaces, its ops    mounts.c   mounts and the rootfs; mkpath
 *   netif.c    the container's interfaces               process.c  capabilities, user, seccomp, env
 *   exec.c     exec, the minimal init, exec modes       terminal.c the terminal: console ops, the relay
 *   bpf.c      device filters   security.c  seccomp, keyring   userns.c  mount sources, net helper
 *   spawner.c  monitors forked from a process Node keeps (not from Node)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "copy.h"
#include "copytree.h"
#include "execdriver-init.h"
#include "join.h"
#include "bpf.h"
#include "security.h"
#include "spawner.h"

/* execdriver-init device-filters DIR: "ATTACHED EFFECTIVE" device programs of a cgroup2 directory. */
static int device_filters(const char *dir)
{
	unsigned attached, effective;
	if (device_filter_query(dir, &attached, &effective) < 0) {
		dprintf(2, "execdriver-init: device-filters: query %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("%u %u\n", attached, effective);
	return 0;
}

/*
 * execdriver-init seccomp-compile: the build ops as frames on fd 0 up to ["end"] (security.h),
 * the compiled BPF program (a struct sock_filter array) on fd 1. A failure is one line on fd 2,
 * `STEP<TAB>ERRNO<TAB>PATH<TAB>MESSAGE` (STEP `op#index`, `compile#N` for the compilation), and
 * exit status 1.
 */
static int seccomp_compile(void)
{
	struct frame f;
	char **fields[4096];
	size_t n = 0;
	int r;
	struct sec_bpf out = { 0 };
	struct sec_err e = { 0 };
	while ((r = read_frame(0, &f)) == 1 && strcmp(f.f[0], "end") && n < NELEM(fields))
		fields[n++] = f.f;
	if (r != 1 || strcmp(f.f[0], "end")) {
		dprintf(2, "plan#%zu\t%d\t\tread the seccomp rules (at most %zu, ended by [\"end\"])\n", n,
			r < 0 ? errno : EPROTO, NELEM(fields));
		return 1;
	}
	long failed = sec_seccomp_compile((char **const *)fields, n, &out, &e);
	if (failed >= 0) {
		dprintf(2, "%s#%ld\t%d\t%s\t%s\n", (size_t)failed < n ? fields[failed][0] : "compile", failed, e.no, e.path, e.msg);
		return 1;
	}
	return write_full(1, out.bytes, out.len) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "protocol"))
		return print_protocol();
	if (argc >= 4 && !strcmp(argv[1], "mkpath"))
		return mkpath(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "device-filters"))
		return device_filters(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "seccomp-compile"))
		return seccomp_compile();
	if (argc >= 4 && !strcmp(argv[1], "read-in-root"))
		return read_in_root(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "copy-out"))
		return copy_out(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "copy-in"))
		return copy_in(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "copy-stat"))
		return copy_stat(argv + 2);
	if (argc == 10 && !strcmp(argv[1], "copy-tree"))
		return copy_tree(argv + 2);
	if (argc == 2 && !strcmp(argv[1], "spawner"))
		return spawner(argv[1]);
	if (argc == 3 && !strcmp(argv[1], "run-plan"))
		return run_plan(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "console-exec"))
		return clean_exec(argc - 2, argv + 2, 1);
	if (argc >= 3 && !strcmp(argv[1], "exec"))
		return clean_exec(argc - 2, argv + 2, 0);
	if (argc != 2 || strcmp(argv[1], "monitor")) {
		dprintf(2, "usage: execdriver-init monitor              (the plan comes on fd 3)\n"
			   "       execdriver-init console-exec CMD [ARG...]  (fd 0 the controlling terminal, then CMD)\n"
			   "       execdriver-init exec CMD [ARG...]  (fds above 2 closed, then CMD)\n"
			   "       execdriver-init run-plan FILE  (the container ops of FILE, in a container another runtime made)\n"
			   "       execdriver-init mkpath ROOT dir:PATH|file:PATH...  (mount targets made inside ROOT)\n"
			   "       execdriver-init read-in-root ROOT FILE...  (files resolved inside ROOT, as one frame on fd 1)\n"
			   "       execdriver-init copy-out ROOT PATH | copy-in ROOT PATH NAME MODE  (execdriver cp)\n"
			   "       execdriver-init copy-stat ROOT PATH FOLLOW | copy-tree SROOT SPATH DROOT DDIR NAME UIDMAP GIDMAP AS\n"
			   "       execdriver-init device-filters DIR  (device programs attached to a cgroup2 dir, in force)\n"
			   "       execdriver-init seccomp-compile          (rules on fd 0, the BPF program on fd 1)\n"
			   "       execdriver-init spawner                  (forks monitors for the Node process that started it)\n"
			   "       execdriver-init protocol                 (the plan protocol's version and ops)\n"
			   "see PROTOCOL.md\n");
		return 2;
	}
	return monitor();
}

