/*
 * Device filters on cgroup v2 (PROTOCOL.md, the `device-filter` op). TypeScript renders the
 * container's device rules into eBPF instructions (src/cgroups/devicefilter.ts); this file only
 * loads those bytes as a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to the container's
 * cgroup2 directory. The attachment lives as long as the cgroup: rmdir detaches and frees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "bpf.h"

#define LOG_SIZE (64u << 10)

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	long r;
	do
		r = syscall(SYS_bpf, cmd, attr, sizeof *attr);
	while (r < 0 && errno == EINTR);
	return r;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The verifier's log on one line: "; " between its lines, only its last part if it is long. */
static void flatten_log(const char *log, char *out, size_t sz)
{
	size_t n = strlen(log), k = 0;
	while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' '))
		n--;
	size_t start = n > sz / 2 ? n - sz / 2 : 0;
	for (size_t i = start; i < n && k + 3 < sz; i++) {
		if (log[i] == '\n') {
			out[k++] = ';';
			out[k++] = ' ';
		} else
			out[k++] = log[i];
	}
	out[k] = 0;
}

int device_filter_attach(const char *dir, const char *hex, char *msg, size_t msgsz)
{
	size_t len = strlen(hex);
	if (len == 0 || len % 16 || len / 16 > BPF_MAXINSNS) {
		snprintf(msg, msgsz, "device filter: %zu hex digits are not a program (16 an instruction, at most %d instructions)",
			 len, BPF_MAXINSNS);
		return errno = EINVAL, -1;
	}
	size_t n = len / 2;
	unsigned char *insns = malloc(n);
	char *log = malloc(LOG_SIZE);
	int prog = -1, cg = -1, rc = -1;
	if (!insns || !log) {
		snprintf(msg, msgsz, "device filter: out of memory");
		errno = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(msg, msgsz, "device filter: not hexadecimal at offset %zu", 2 * i);
			errno = EINVAL;
			goto out;
		}
		insns[i] = (unsigned char)(hi << 4 | lo);
	}

	/* First without a log (cheaper); on a refusal once more with it, for the error. */
	union bpf_attr attr;
	for (int verbose = 0; verbose < 2 && prog < 0; verbose++) {
		memset(&attr, 0, sizeof attr);
		attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		attr.insns = (uint64_t)(uintptr_t)insns;
		attr.insn_cnt = (uint32_t)(n / sizeof(struct bpf_insn));
		attr.license = (uint64_t)(uintptr_t)"Apache-2.0";     /* the project's; no GPL-only helper is used */
		attr.expected_attach_type = BPF_CGROUP_DEVICE;
		if (verbose) {
			log[0] = 0;
			attr.log_buf = (uint64_t)(uintptr_t)log;
			attr.log_size = LOG_SIZE;
			attr.log_level = 1;
		}
		prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
		if (prog < 0 && (errno == ENOSYS || errno == EPERM))
			break;                  /* no BPF here, or not allowed: the log would not help */
	}
	if (prog < 0) {
		int e = errno;
		char flat[1024] = "";
		flatten_log(log, flat, sizeof flat);
		snprintf(msg, msgsz, "device filter: load the BPF_PROG_TYPE_CGROUP_DEVICE program (%zu instructions)%s%s",
			 n / sizeof(struct bpf_insn), *flat ? ": verifier: " : "", flat);
		errno = e;
		goto out;
	}
	cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		snprintf(msg, msgsz, "device filter: open the cgroup directory");
		goto out;
	}
	memset(&attr, 0, sizeof attr);
	attr.target_fd = (uint32_t)cg;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
		snprintf(msg, msgsz, "device filter: attach the program to the cgroup (BPF_PROG_ATTACH)");
		goto out;
	}
	rc = 0;
out:;
	int e = errno;
	if (prog >= 0)
		close(prog);            /* the attachment keeps the program */
	if (cg >= 0)
		close(cg);
	free(insns);
	free(log);
	errno = e;
	return rc;
}

int device_filter_query(const char *dir, unsigned *attached, unsigned *effective)
{
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return -1;
	for (int eff = 0; eff < 2; eff++) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof attr);
		attr.query.target_fd = (uint32_t)cg;
		attr.query.attach_type = BPF_CGROUP_DEVICE;
		attr.query.query_flags = eff ? BPF_F_QUERY_EFFECTIVE : 0;
		if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) {
			int e = errno;
			close(cg);
			return errno = e, -1;
		}
		*(eff ? effective : attached) = attr.query.prog_cnt;
	}
	close(cg);
	return 0;
}
