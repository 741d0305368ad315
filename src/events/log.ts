/**
 * The event log of a state root: `<root>/events.log`, one JSON object a line, appended with
 * O_APPEND in a single write (so lines of concurrent writers, Node and the C monitors, never mix).
 * It outlives the processes that write it: `events` reads it, from any process.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type EventType = 'create' | 'start' | 'exec_start' | 'exec_die' | 'die' | 'oom' | 'pause' | 'unpause' | 'update' | 'destroy';

export interface RecordedEvent {
  /** ISO 8601, UTC, with milliseconds */
  time: string;
  type: EventType;
  /** the driver's short name: `native`, `lxc` */
  driver: string;
  id: string;
  /** host pid of the container's init (create, start) or of the exec'd process (exec_start) */
  pid?: number;
  /** exec_start, exec_die */
  execId?: string;
  /** die, exec_die: the exit code (128+n after signal n) */
  exitCode?: number;
  /** die, exec_die: the signal's name when a signal ended it */
  signal?: string;
}

export const EVENTS_FILE = 'events.log';

export function eventsFile(root: string): string {
  return join(root, EVENTS_FILE);
}

/**
 * Append one event. The log records what happened; failing to write it never fails the
 * operation itself (the state directory is the truth), so errors are swallowed here.
 */
export function appendEvent(root: string, event: Omit<RecordedEvent, 'time'> & { time?: string }): void {
  const line = JSON.stringify({ time: event.time ?? new Date().toISOString(), ...event }) + '\n';
  try {
    appendFileSync(eventsFile(root), line, { mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
    try {
      mkdirSync(root, { recursive: true, mode: 0o711 });
      appendFileSync(eventsFile(root), line, { mode: 0o600 });
    } catch {
      /* see above */
    }
  }
}
