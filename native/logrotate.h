/* logrotate.c: the detached output file bounded (`log-rotate`), its times (`log-times`) */
#ifndef LOGROTATE_H
#define LOGROTATE_H
#include <stddef.h>
void check_log_rotate(size_t i, char **a, char *msg, size_t sz);
void log_rotate_start(int to);
void log_rotate_wrote(size_t n, int to[2]);
void check_log_times(size_t i, char **a, char *msg, size_t sz);
void log_times_mark(int to, int stream);
#endif
