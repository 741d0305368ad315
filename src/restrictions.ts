/**
 * The kernel paths an unprivileged container must not read or change: Docker's default masked
 * and read-only paths, for both drivers (a privileged container gets none of this).
 */

/** Hidden: a directory gets an empty read-only tmpfs, a file /dev/null bound over it. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Read-only: bound onto themselves, remounted read-only. */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
