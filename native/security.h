/*
 * security.c: the seccomp filter (compiled with libseccomp from rules TypeScript resolved, see
 * src/security/seccomp/) and the session keyring. No policy here.
 */
#ifndef EXECDRIVER_SECURITY_H
#define EXECDRIVER_SECURITY_H

#include <stddef.h>

struct sec_err {
	int no;                 /* errno */
	char path[128];         /* the name the failing op was working on */
	char msg[256];          /* lower case, without the errno text */
};

/* A compiled filter: an array of struct sock_filter. */
struct sec_bpf {
	void *bytes;
	size_t len;
};

/*
 * Build a filter from OPS (each a NULL-terminated field list: `seccomp-default ACTION ERRNO
 * BADARCH-ACTION BADARCH-ERRNO` first, then `seccomp-arch NAME` and `seccomp-rule ACTION ERRNO
 * SYSCALL [INDEX:OP:VALUE:VALUETWO...]`) with libseccomp and compile it into OUT. Returns -1 when
 * all went well, else the index of the op that failed (N: the compilation), with E set.
 */
long sec_seccomp_compile(char **const *ops, size_t n, struct sec_bpf *out, struct sec_err *e);

/* Load a compiled filter, given as hexadecimal, into this process (seccomp(2)); -1 with E set. */
int sec_seccomp_load_hex(const char *hex, struct sec_err *e);

/* Join a session keyring (keyctl JOIN_SESSION_KEYRING): NAME's, or a new anonymous one when NAME
 * is empty; ENOSYS is no error. */
int sec_join_session_keyring(const char *name, struct sec_err *e);

#endif
