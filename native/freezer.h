/* The `thaw-on-kill` monitor op (PROTOCOL.md): after the monitor SIGKILLs the container, thaw its freezer. */
#ifndef EXECDRIVER_FREEZER_H
#define EXECDRIVER_FREEZER_H

#include <stddef.h>

/* Plan check: remember FILE and VALUE (plan strings, alive for the monitor's life). */
void check_thaw_on_kill(size_t i, char **a, char *msg, size_t sz);

/* Write VALUE to FILE if the plan gave them; best effort (the cgroup may be gone already). */
void thaw_on_kill(void);

#endif
