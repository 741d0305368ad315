/* Mounts for a container in a user namespace (see PROTOCOL.md, `mount-source` / `move-mount`). */
#ifndef EXECDRIVER_USERNS_H
#define EXECDRIVER_USERNS_H
#include <sys/types.h>

/*
 * (monitor) A detached copy of the mount tree at PATH (open_tree OPEN_TREE_CLONE | AT_RECURSIVE);
 * with IDMAP, idmapped to the user namespace of process PID (mount_setattr MOUNT_ATTR_IDMAP).
 * Returns the tree's fd, or -1 with errno set and *what naming the step that failed.
 */
int userns_open_source(const char *path, int idmap, pid_t pid, const char **what);

/* (child) Attach the detached tree FD onto the open TARGET (move_mount, both as fds). */
int userns_move_mount(int fd, int target);

/* One fd over a unix socket (SCM_RIGHTS, one byte of data); recv returns it, or -1. */
int userns_send_fd(int sock, int fd);
int userns_recv_fd(int sock);

#endif

/*
 * (monitor) `net-helper PATH ARG...`: start a network helper for the child PID (slirp4netns) with
 * fd 3 the read end of a pipe whose write end stays in the monitor (EOF: the helper must exit),
 * fd 4 the write end of a ready pipe, fd 5 the child's net namespace, fd 6 its user namespace,
 * fds 0-2 /dev/null. Waits (up to TIMEOUT_MS) for one byte on the ready pipe. Returns the helper's
 * pid and *exit_w (the write end to close at the end), or -1 with errno and *what set.
 */
pid_t userns_net_helper(char *const argv[], pid_t pid, int timeout_ms, int *exit_w, const char **what);
