/* Device filters on cgroup v2: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it. */
#ifndef EXECDRIVER_BPF_H
#define EXECDRIVER_BPF_H
#include <stddef.h>

/*
 * Load the program HEX (instructions as hexadecimal text, 16 digits an instruction, as the plan
 * carries them) and attach it to the cgroup2 directory DIR with BPF_F_ALLOW_MULTI. Returns 0, or
 * -1 with errno set and a lower case description in MSG (the verifier's log when it refused the
 * program, its lines joined with "; ").
 */
int device_filter_attach(const char *dir, const char *hex, char *msg, size_t msgsz);

/*
 * How many device programs are attached to the cgroup2 directory DIR itself, and how many are in
 * force there (its own and its ancestors'): BPF_PROG_QUERY. 0, or -1 with errno.
 */
int device_filter_query(const char *dir, unsigned *attached, unsigned *effective);

#endif
