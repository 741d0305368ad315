/*
 * security.c: the seccomp filter (built with libseccomp from the plan's seccomp-* ops) and the
 * session keyring. No policy: the rules come resolved from TypeScript (src/security/seccomp/).
 */
#ifndef EXECDRIVER_SECURITY_H
#define EXECDRIVER_SECURITY_H

#include <stddef.h>

struct sec_err {
	int no;                 /* errno */
	char path[128];         /* the name the failing op was working on */
	char msg[256];          /* lower case, without the errno text */
};

/* 1 for the ops sec_seccomp_prepare consumes (seccomp-default, seccomp-arch, seccomp-rule). */
int sec_is_build_op(const char *name);

/*
 * Build the filter from the build ops among OPS (each an op's NULL-terminated fields, in plan
 * order) and compile it to BPF, kept in memory for sec_seccomp_load. Returns -1 when all went
 * well (or there is nothing to build), else the index in OPS of the op that failed, with E set.
 */
long sec_seccomp_prepare(char **const *ops, size_t n, struct sec_err *e);

/* Load the compiled filter into this process (seccomp(2)); -1 with E set on failure. */
int sec_seccomp_load(struct sec_err *e);

/* Join a new session keyring named NAME (keyctl JOIN_SESSION_KEYRING); ENOSYS is no error. */
int sec_join_session_keyring(const char *name, struct sec_err *e);

#endif
