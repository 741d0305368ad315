/* Joining a running container: `join` (exec into it) and `read-in-root` (see PROTOCOL.md). */
#ifndef EXECDRIVER_JOIN_H
#define EXECDRIVER_JOIN_H
#include <sys/types.h>

/*
 * (monitor, before the fork) Open the namespaces (/proc/PID/ns/…) of process PID that differ from
 * our own and its root (/proc/PID/root), make the monitor non-dumpable (the child inherits it: it
 * is in the container's pid namespace from its first instruction), and join PID's pid namespace
 * for our children (setns CLONE_NEWPID). USERNS_FIRST: join its user namespace here first (a
 * rootless monitor has no capability over the pid namespace otherwise). -1 with errno and *what.
 */
int join_prepare(pid_t pid, int userns_first, const char **what);

/*
 * (child) Join the namespaces join_prepare opened: the user namespace first, then ipc, uts, net,
 * cgroup, and the mount namespace last, then chroot to the container's root and chdir("/").
 * -1 with errno and *what.
 */
int join_enter(const char **what);

/*
 * `execdriver-init read-in-root ROOT FILE...`: each FILE (a path in the container) resolved in
 * ROOT with RESOLVE_IN_ROOT (symlinks as the container sees them, never out of it), its contents
 * written to fd 1 as one frame (one field per FILE; a missing file is an empty field).
 */
int read_in_root(int argc, char **argv);

/* the `join` op's index in the plan (-1: none); its check when the plan is read, and its run in the child */
extern long join_index;
void check_join(size_t i, char **a, char *msg, size_t sz);
int op_join(char **a);

#endif
