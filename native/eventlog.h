/* eventlog.c: one line appended to a state root's event log, rotated as src/events/log.ts does */
#ifndef EVENTLOG_H
#define EVENTLOG_H
#include <stddef.h>
/* Append LINE (N bytes, one write, O_APPEND) to LOG; past MAX bytes (0: never) rename it to
 * LOG.1 under LOG.lock. Failing to write fails nothing (the log only records): no return value. */
void eventlog_append(const char *log, unsigned long long max, const char *line, size_t n);
#endif
