/*
 * The seccomp filter and the session keyring of a container (see security.h, PROTOCOL.md).
 *
 * libseccomp does what is hard to get right by hand: the per-architecture syscall tables, the
 * compat architectures of one filter (x86 and x32 beside x86_64, arm beside aarch64), the
 * multiplexed calls (socketcall, ipc) and 64-bit argument comparisons on 32-bit ABIs. Building a
 * filter of Docker's size takes libseccomp ~10 ms, so it is not done per container: the
 * `seccomp-compile` mode turns the resolved rules into a BPF program once (TypeScript keeps it,
 * src/native/seccomp.ts), and a container's `seccomp-filter` op only loads that program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "security.h"

static int set_err(struct sec_err *e, int no, const char *path, const char *msg)
{
	e->no = no;
	snprintf(e->path, sizeof e->path, "%s", path);
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	return -1;
}

static int number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	*v = strtoull(s, &end, 10);
	return errno || *end || *v > max ? -1 : 0;
}

/* ACTION ERRNO → a libseccomp action; 0 with E set when invalid. */
static int action(const char *name, const char *no, uint32_t *act, struct sec_err *e)
{
	unsigned long long n;
	if (number(no, 0xffff, &n) < 0)
		return set_err(e, EINVAL, no, "invalid errno (0 to 65535)");
	if (!strcmp(name, "allow"))
		*act = SCMP_ACT_ALLOW;
	else if (!strcmp(name, "errno"))
		*act = SCMP_ACT_ERRNO((uint16_t)n);
	else if (!strcmp(name, "kill-thread"))
		*act = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(name, "kill-process"))
		*act = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(name, "trap"))
		*act = SCMP_ACT_TRAP;
	else if (!strcmp(name, "trace"))
		*act = SCMP_ACT_TRACE((uint16_t)n);
	else if (!strcmp(name, "log"))
		*act = SCMP_ACT_LOG;
	else
		return set_err(e, EINVAL, name, "unknown seccomp action");
	return 0;
}

/* INDEX:OP:VALUE:VALUETWO → a comparison. */
static int condition(const char *s, struct scmp_arg_cmp *c, struct sec_err *e)
{
	char buf[128], *f[4], *save = NULL, *p;
	unsigned long long index, a, b;
	int n = 0;
	static const struct { const char *name; enum scmp_compare op; } ops[] = {
		{ "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE }, { "eq", SCMP_CMP_EQ },
		{ "ge", SCMP_CMP_GE }, { "gt", SCMP_CMP_GT }, { "masked-eq", SCMP_CMP_MASKED_EQ },
	};
	if (strlen(s) >= sizeof buf)
		return set_err(e, EINVAL, "", "argument condition too long");
	strcpy(buf, s);
	for (p = strtok_r(buf, ":", &save); p && n < 4; p = strtok_r(NULL, ":", &save))
		f[n++] = p;
	if (n != 4 || p || number(f[0], 5, &index) < 0 || number(f[2], ULLONG_MAX, &a) < 0 ||
	    number(f[3], ULLONG_MAX, &b) < 0)
		return set_err(e, EINVAL, s, "invalid argument condition (INDEX:OP:VALUE:VALUETWO)");
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (!strcmp(f[1], ops[i].name)) {
			*c = (struct scmp_arg_cmp){ .arg = (unsigned)index, .op = ops[i].op, .datum_a = a, .datum_b = b };
			return 0;
		}
	return set_err(e, EINVAL, f[1], "unknown comparison in an argument condition");
}

/* Compile CTX to BPF (through a memfd: libseccomp 2.5 exports only to an fd) into OUT. */
static int compile(scmp_filter_ctx ctx, struct sec_bpf *out, struct sec_err *e)
{
	int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC), rc;
	off_t size;
	if (fd < 0)
		return set_err(e, errno, "", "create a memfd for the seccomp filter");
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		close(fd);
		return set_err(e, -rc, "", "compile the seccomp filter");
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) || size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return set_err(e, size < 0 ? errno : E2BIG, "", "the compiled seccomp filter has a bad size (more than 4096 instructions?)");
	}
	out->bytes = malloc((size_t)size);
	if (!out->bytes || pread(fd, out->bytes, (size_t)size, 0) != size) {
		close(fd);
		return set_err(e, out->bytes ? errno : ENOMEM, "", "read the compiled seccomp filter");
	}
	out->len = (size_t)size;
	close(fd);
	return 0;
}

long sec_seccomp_compile(char **const *ops, size_t n, struct sec_bpf *out, struct sec_err *e)
{
	scmp_filter_ctx ctx = NULL;
	long failed = -1;
	int rc;
	for (size_t i = 0; i < n && failed < 0; i++) {
		char **a = ops[i];
		uint32_t act, bad;
		if (!strcmp(a[0], "seccomp-default")) {
			if (ctx) {
				failed = (long)i, set_err(e, EINVAL, "", "seccomp-default more than once");
			} else if (!a[1] || !a[2] || !a[3] || !a[4] || a[5]) {
				failed = (long)i, set_err(e, EINVAL, a[0], "seccomp-default takes 4 arguments");
			} else if (action(a[1], a[2], &act, e) < 0 || action(a[3], a[4], &bad, e) < 0) {
				failed = (long)i;
			} else if (!(ctx = seccomp_init(act))) {
				failed = (long)i, set_err(e, EINVAL, a[1], "create the seccomp filter");
			} else if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, bad)) < 0 ||
				   (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
				   (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
				/* no_new_privs is the plan's business (its own op), not libseccomp's; the
				 * syscalls as a binary tree: a few comparisons a call instead of hundreds */
				failed = (long)i, set_err(e, -rc, a[3], "set the seccomp filter's attributes");
			}
		} else if (!ctx) {
			failed = (long)i, set_err(e, EINVAL, a[0], "seccomp-default must come first");
		} else if (!strcmp(a[0], "seccomp-arch")) {
			uint32_t arch = a[1] && !a[2] ? seccomp_arch_resolve_name(a[1]) : 0;
			if (!arch)
				failed = (long)i, set_err(e, EINVAL, a[1] ? a[1] : "", "unknown seccomp architecture");
			else if ((rc = seccomp_arch_add(ctx, arch)) < 0 && rc != -EEXIST)
				failed = (long)i, set_err(e, -rc, a[1], "add the architecture to the seccomp filter");
		} else if (!strcmp(a[0], "seccomp-rule")) {      /* ACTION ERRNO SYSCALL [COND...] */
			struct scmp_arg_cmp conds[6];
			unsigned nc = 0;
			int nr;
			if (!a[1] || !a[2] || !a[3]) {
				failed = (long)i, set_err(e, EINVAL, a[0], "seccomp-rule takes at least 3 arguments");
				continue;
			}
			if (action(a[1], a[2], &act, e) < 0) {
				failed = (long)i;
				continue;
			}
			for (char **c = a + 4; *c && failed < 0; c++)
				if (nc == 6)
					failed = (long)i, set_err(e, EINVAL, a[3], "more than 6 argument conditions");
				else if (condition(*c, &conds[nc++], e) < 0)
					failed = (long)i;
			if (failed >= 0)
				continue;
			nr = seccomp_syscall_resolve_name(a[3]);
			if (nr == __NR_SCMP_ERROR)
				continue;                       /* not a syscall of this architecture: skipped */
			if ((rc = seccomp_rule_add_array(ctx, act, nr, nc, conds)) < 0)
				failed = (long)i, set_err(e, -rc, a[3], "add a seccomp rule");
		} else {
			failed = (long)i, set_err(e, EINVAL, a[0], "unknown seccomp op");
		}
	}
	if (failed < 0 && !ctx)
		failed = (long)n, set_err(e, EINVAL, "", "no seccomp-default op");
	if (failed < 0 && compile(ctx, out, e) < 0)
		failed = (long)n;
	if (ctx)
		seccomp_release(ctx);
	return failed;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int sec_seccomp_load_hex(const char *hex, struct sec_err *e)
{
	size_t n = strlen(hex), len = n / 2;
	struct sock_fprog prog;
	unsigned char *b;
	if (n % 2 || len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return set_err(e, EINVAL, "", "invalid seccomp program (hexadecimal sock_filter array, 1 to 4096 instructions)");
	if (!(b = malloc(len)))
		return set_err(e, ENOMEM, "", "decode the seccomp program");
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return set_err(e, EINVAL, "", "invalid seccomp program (not hexadecimal)");
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	prog.len = (unsigned short)(len / sizeof(struct sock_filter));
	prog.filter = (struct sock_filter *)(void *)b;
	int rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? set_err(e, errno, "", "load the seccomp filter") : 0;
	free(b);
	return rc;
}

int sec_join_session_keyring(const char *name, struct sec_err *e)
{
	/* an empty name: an anonymous keyring, always a new one (a named one is joined if it exists) */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, *name ? name : NULL) < 0 && errno != ENOSYS)
		return set_err(e, errno, name, "join a new session keyring");
	return 0;
}
