/* The `thaw-on-kill` monitor op: after the monitor SIGKILLs the container, thaw its freezer. */
#ifndef EXECDRIVER_FREEZER_H
#define EXECDRIVER_FREEZER_H

/* Remember FILE and VALUE (plan strings, alive for the monitor's life); a later op replaces them. */
void thaw_on_kill_set(const char *file, const char *value);

/* Write VALUE to FILE if an op gave them; best effort (the cgroup may be gone already). */
void thaw_on_kill(void);

#endif
