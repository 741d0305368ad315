/* `cgroup-join` (cgjoin.c): the monitor moves the child into its cgroups, before `pid`. */
#ifndef EXECDRIVER_CGJOIN_H
#define EXECDRIVER_CGJOIN_H
#include <sys/types.h>
/* Write PID to the file of every `cgroup-join` op, in plan order. -1: all done; else the index of
 * the op that failed (errno set, MSG filled). */
long cgroup_join(pid_t pid, char *msg, size_t sz);
#endif
