/* The monitor's records in the event log of a state root (see PROTOCOL.md, `event-log`). */
#ifndef EXECDRIVER_EVENTS_H
#define EXECDRIVER_EVENTS_H
#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#define EVENTS_NFDS 2                   /* poll slots events_pollfds fills */

/* (plan checks, ops.c) Take in `event-log`, `oom-watch`, `lxc-log`; a bad argument goes into msg. */
void check_event_log(size_t i, char **a, char *msg, size_t sz);
void check_oom_watch(size_t i, char **a, char *msg, size_t sz);
void check_lxc_log(size_t i, char **a, char *msg, size_t sz);

/* (monitor, after the child exists) Start watching: the OOM counter, LXC's log. */
void events_setup(pid_t pid);

/* The container's command runs (its exec succeeded): the `start` record (not in lxc-log mode). */
void events_started(void);

/* poll slots, the poll timeout it needs (ms, -1: none), and what to do when they fire. */
void events_pollfds(struct pollfd *p);
int events_timeout(void);
void events_handle(const struct pollfd *p);

/* After the reap: a last OOM check (OOM_KILLS: the counter's final value, -1 unknown), then `die`. */
void events_exit(int status, long long oom_kills);

#endif
