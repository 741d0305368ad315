/**
 * The one state record of a container, `<root>/<driver>/<id>/state.json`, for every driver, and
 * its status machine (the OCI runtime spec's states). Written whole (tmp + rename) at each
 * change; created together with its directory (one rename), so no state directory ever exists
 * without a record naming its owner.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkState } from '../network/container.js';
import { ContainerExistsError, ExecDriverError, systemError } from '../errors.js';
import { isSameProcessAlive, processStartTime, STATE_FILE, StateDir } from '../state/index.js';
import { appendEvent } from '../events/log.js';

/** OCI's states. `paused` is never written by the engine: it is read from the freezer (a hook). */
export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** One process, for good: its pid and its start time (field 22 of /proc/PID/stat). */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

export const RECORD_VERSION = 1;

export interface ContainerRecord<X extends object = Record<string, unknown>> {
  version: number;
  id: string;
  driver: string;
  status: Status;
  /** the Node process that creates the container (and, in the foreground, waits for it) */
  owner: ProcessRef;
  /** the container's init; 0 until known */
  pid: number;
  startTime: number;
  /** the monitor (native: execdriver-init monitor; lxc: lxc-start, or our monitor around it); 0 until spawned */
  monitorPid: number;
  monitorStartTime: number;
  detached: boolean;
  createdAt: string;
  startedAt: string | null;
  command: string[];
  cgroupPaths: string[];
  network?: NetworkState;
  /** a `terminate` (or `delete --force`) under way, by this process: the next one finishes it */
  terminating?: ProcessRef;
  /** what only one driver needs */
  extra: X;
}

/** The status changes the engine makes; anything else is a bug (ERR_STATE). */
const NEXT: Record<Status, readonly Status[]> = {
  creating: ['created', 'running', 'stopped'],
  created: ['running', 'stopped'],
  running: ['paused', 'stopped'],
  paused: ['running', 'stopped'],
  stopped: [],
};

export function checkTransition(id: string, from: Status, to: Status): void {
  if (from !== to && !NEXT[from].includes(to)) {
    throw new ExecDriverError('ERR_STATE', `cannot go from ${from} to ${to}`, { containerId: id });
  }
}

let me: ProcessRef | undefined;
/** This process (read once: a process's start time never changes). */
export function self(): ProcessRef {
  if (!me || me.pid !== process.pid) me = { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 };
  return { ...me };
}

export const alive = (p: ProcessRef | undefined): boolean => !!p && p.pid > 0 && isSameProcessAlive(p.pid, p.startTime);

/**
 * Create a container's state directory with its first record (status `creating`, owner: this
 * process) in one step: made as `.<id>.<pid>.new`, then renamed to `<id>`. A taken id: the rename
 * finds a non-empty directory (ContainerExistsError).
 */
export function createRecord<X extends object>(state: StateDir, init: Omit<ContainerRecord<X>, 'version' | 'status' | 'owner' | 'pid' | 'startTime' | 'monitorPid' | 'monitorStartTime' | 'startedAt'>): ContainerRecord<X> {
  const parent = join(state.root, state.driver);
  try {
    mkdirSync(parent, { recursive: true, mode: 0o711 });
  } catch (e) {
    throw systemError('ERR_STATE', `create state root ${parent}`, e, { containerId: state.id });
  }
  const rec: ContainerRecord<X> = {
    version: RECORD_VERSION,
    status: 'creating',
    owner: self(),
    pid: 0,
    startTime: 0,
    monitorPid: 0,
    monitorStartTime: 0,
    startedAt: null,
    ...init,
  };
  const tmp = join(parent, `.${state.id}.${process.pid}.new`);
  try {
    try {
      mkdirSync(tmp, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      rmSync(tmp, { recursive: true, force: true }); // left by an earlier process with our pid
      mkdirSync(tmp, { mode: 0o700 });
    }
    writeFileSync(join(tmp, STATE_FILE), JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw systemError('ERR_STATE', `create state directory ${state.dir}`, e, { containerId: state.id, path: state.dir });
  }
  try {
    renameSync(tmp, state.dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') throw new ContainerExistsError(state.id, state.dir);
    throw systemError('ERR_STATE', `create state directory ${state.dir}`, e, { containerId: state.id, path: state.dir });
  }
  appendEvent(state.root, { type: 'create', driver: state.driver, id: state.id }); // the event log (src/events)
  return rec;
}

/**
 * Remove a container's state directory, the end of its record: the `destroy` event (src/events)
 * once, by whoever removes an existing directory (the run's end, a failed start, delete,
 * terminate, settling). The container's own `start`, `oom` and `die` are its monitor's.
 */
export function removeRecord(state: StateDir): void {
  const existed = state.exists();
  state.remove();
  if (existed) appendEvent(state.root, { type: 'destroy', driver: state.driver, id: state.id });
}

/** removeRecord, the removal off Node's main thread (StateDir.removeAsync). */
export async function removeRecordAsync(state: StateDir): Promise<void> {
  const existed = state.exists();
  await state.removeAsync();
  if (existed) appendEvent(state.root, { type: 'destroy', driver: state.driver, id: state.id });
}

/** Write the record whole, with its new status (checked against the machine). */
export function saveRecord(state: StateDir, rec: ContainerRecord<object>, status: Status = rec.status, from: Status = rec.status): void {
  checkTransition(rec.id, from, status);
  rec.status = status;
  state.writeJson(STATE_FILE, rec);
}

/** removeRecord at a run's end: the directory renamed away at once, removed in the background (StateDir.retire). */
export async function retireRecord(state: StateDir): Promise<void> {
  const existed = state.exists();
  await state.retire();
  if (existed) appendEvent(state.root, { type: 'destroy', driver: state.driver, id: state.id });
}

/** `.<id>.<pid>.new` directories: a creation that has not been renamed into place (yet). */
export function pendingCreation(name: string): { id: string; pid: number } | undefined {
  const m = /^\.(.+)\.(\d+)\.new$/.exec(name);
  return m ? { id: m[1]!, pid: Number(m[2]) } : undefined;
}
