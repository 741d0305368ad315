/*
 * probe SYSCALL...: tries each named syscall in a harmless way and prints one line per call,
 * `NAME ok` or `NAME ERRNONAME` (e.g. `mount-tmpfs EPERM`). Built static by the tests
 * (test/helpers.ts buildProbe) and copied into a test rootfs: busybox has none of these.
 *
 *   keyctl          keyctl(KEYCTL_READ) of the user keyring (@u)
 *   add_key         add a "user" key (PROBE_KEY, default execdriver-probe) to the session keyring
 *   keyctl-session  search the session keyring for that key (ok: found, ENOKEY: not there); a
 *                   process without one gets the user-session keyring as its session keyring
 *   add-key-user-session     add that key to the user-session keyring (@us; the tests, on the host)
 *   unlink-key-user-session  unlink it from there again (the tests' clean-up)
 *   request_key     request_key of that key
 *   unshare-user    unshare(CLONE_NEWUSER) (of the probe itself)
 *   mount-tmpfs     a tmpfs on a new directory under /tmp, unmounted and removed again
 *   umount          umount2 of a path that does not exist
 *   swapon          swapon of a file that does not exist
 *   reboot          reboot(LINUX_REBOOT_CMD_CAD_OFF) (EINVAL in a pid namespace even when allowed)
 *   bpf             BPF_PROG_LOAD of "r0 = 0; exit" as a socket filter (closed again)
 *   perf_event_open a CPU-wide software clock on cpu 0, pid -1 (closed again)
 *   open_by_handle_at  a forged handle (inode 2) on / (never read)
 *   name_to_handle_at  the handle of /
 *   setns           setns into its own uts namespace
 *   pivot_root      pivot_root between two paths that do not exist
 *   personality     personality(0x12345), a bad value (restored if it was taken)
 *   clone-newns     clone(CLONE_NEWNS) (the child exits at once)
 *   clone-thread    clone without namespace flags (a fork; the child exits at once)
 *   userfaultfd     userfaultfd(O_CLOEXEC) (closed again)
 *   settimeofday    settimeofday(NULL, NULL): only the permission check, the clock is not touched
 *   ptrace          ptrace(PTRACE_TRACEME) of a forked child
 *   chroot          chroot(".")
 *   mkdir           mkdir of a new directory under /tmp (removed again)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>

static const char *key_name(void)
{
	const char *k = getenv("PROBE_KEY");
	return k && *k ? k : "execdriver-probe";
}

/* The result of one call: r < 0 means failed with errno. */
static void report(const char *name, long r)
{
	if (r >= 0)
		printf("%s ok\n", name);
	else
		printf("%s %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "EUNKNOWN");
}

static long fork_like(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid;
}

static long probe(const char *name)
{
	char buf[256], dir[64];
	long r;
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, KEYCTL_READ, KEY_SPEC_USER_KEYRING, buf, sizeof buf);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, "user", key_name(), "probe", 5, KEY_SPEC_SESSION_KEYRING);
	if (!strcmp(name, "keyctl-session"))
		return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", key_name(), 0);
	if (!strcmp(name, "add-key-user-session"))
		return syscall(SYS_add_key, "user", key_name(), "probe", 5, KEY_SPEC_USER_SESSION_KEYRING);
	if (!strcmp(name, "unlink-key-user-session")) {
		r = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_SESSION_KEYRING, "user", key_name(), 0);
		return r < 0 ? r : syscall(SYS_keyctl, KEYCTL_UNLINK, r, KEY_SPEC_USER_SESSION_KEYRING);
	}
	if (!strcmp(name, "request_key"))
		return syscall(SYS_request_key, "user", key_name(), NULL, 0);
	if (!strcmp(name, "unshare-user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(name, "mount-tmpfs")) {
		snprintf(dir, sizeof dir, "/tmp/.probe-mnt-%d", (int)getpid());
		if (mkdir(dir, 0700) < 0)
			return -1;
		r = mount("probe", dir, "tmpfs", 0, "size=64k");
		int e = errno;
		if (r == 0)
			umount2(dir, MNT_DETACH);
		rmdir(dir);
		errno = e;
		return r;
	}
	if (!strcmp(name, "umount"))
		return umount2("/.probe-no-such-mount", 0);
	if (!strcmp(name, "swapon"))
		return swapon("/.probe-no-such-swapfile", 0);
	if (!strcmp(name, "reboot"))
		return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL);
	if (!strcmp(name, "bpf")) {
		struct bpf_insn insns[2] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		union bpf_attr a;
		memset(&a, 0, sizeof a);
		a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		a.insns = (uintptr_t)insns;
		a.insn_cnt = 2;
		a.license = (uintptr_t)"GPL";
		r = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
		if (r >= 0)
			close((int)r);
		return r;
	}
	if (!strcmp(name, "perf_event_open")) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof a);
		a.type = PERF_TYPE_SOFTWARE;
		a.size = sizeof a;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		a.disabled = 1;
		r = syscall(SYS_perf_event_open, &a, -1, 0, -1, 0);
		if (r >= 0)
			close((int)r);
		return r;
	}
	if (!strcmp(name, "open_by_handle_at")) {
		struct { struct file_handle h; unsigned char bytes[8]; } fh;
		int root = open("/", O_RDONLY | O_DIRECTORY);
		memset(&fh, 0, sizeof fh);
		fh.h.handle_bytes = 8;
		fh.h.handle_type = 1;                   /* FILEID_INO32_GEN */
		fh.bytes[0] = 2;                        /* inode 2, generation 0 */
		r = open_by_handle_at(root, &fh.h, O_RDONLY);
		int e = errno;
		if (r >= 0)
			close((int)r);
		close(root);
		errno = e;
		return r;
	}
	if (!strcmp(name, "name_to_handle_at")) {
		struct { struct file_handle h; unsigned char bytes[128]; } fh;
		int mnt;
		fh.h.handle_bytes = 128;
		return name_to_handle_at(AT_FDCWD, "/", &fh.h, &mnt, 0);
	}
	if (!strcmp(name, "setns")) {
		int fd = open("/proc/self/ns/uts", O_RDONLY);
		if (fd < 0)
			return -1;
		r = setns(fd, CLONE_NEWUTS);
		int e = errno;
		close(fd);
		errno = e;
		return r;
	}
	if (!strcmp(name, "pivot_root"))
		return syscall(SYS_pivot_root, "/.probe-no-such-a", "/.probe-no-such-b");
	if (!strcmp(name, "personality")) {
		r = syscall(SYS_personality, 0x12345UL);
		if (r >= 0)
			syscall(SYS_personality, (unsigned long)r);
		return r;
	}
	if (!strcmp(name, "clone-newns"))
		return fork_like(CLONE_NEWNS);
	if (!strcmp(name, "clone-thread"))
		return fork_like(0);
	if (!strcmp(name, "userfaultfd")) {
		r = syscall(SYS_userfaultfd, O_CLOEXEC);
		if (r >= 0)
			close((int)r);
		return r;
	}
	if (!strcmp(name, "settimeofday"))
		return syscall(SYS_settimeofday, NULL, NULL);
	if (!strcmp(name, "ptrace")) {
		int st = 0;
		pid_t pid = fork();
		if (pid == 0)
			_exit(ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 ? errno : 0);
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			return -1;
		if (WEXITSTATUS(st))
			return errno = WEXITSTATUS(st), -1;
		return 0;
	}
	if (!strcmp(name, "chroot"))
		return chroot(".");
	if (!strcmp(name, "socket-vsock")) {                     /* AF_VSOCK (40): a way to a hypervisor */
		r = socket(40, SOCK_STREAM, 0);
		if (r >= 0)
			close((int)r);
		return r;
	}
	if (!strcmp(name, "mkdir")) {
		snprintf(dir, sizeof dir, "/tmp/.probe-dir-%d", (int)getpid());
		r = mkdir(dir, 0700);
		if (r == 0)
			rmdir(dir);
		return r;
	}
	return errno = EINVAL, -2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: probe SYSCALL...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		long r = probe(argv[i]);
		if (r == -2) {
			printf("%s unknown\n", argv[i]);
			continue;
		}
		report(argv[i], r);
	}
	return 0;
}
