/**
 * The verbs that carry no policy, kept light to load (no driver, no cgroup module): state, list,
 * kill and start read and write the engine's record (src/lifecycle/record.ts) and exit.json
 * directly; paused is read from the freezer file under the record's cgroup paths.
 */
import { closeSync, openSync, readFileSync, readSync, rmSync, writeFileSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { ExecDriverError, NotFoundError } from '../errors.js';
import { saveRecord, type ContainerRecord, type Status } from '../lifecycle/record.js';
import type { Hook, State } from '../spec/types.js';
import { isSameProcessAlive, listIds, signalContainer, STATE_FILE, StateDir } from '../state/index.js';
import { sleep } from '../time.js';

export interface OciExtra {
  bundle: string;
  rootfs: string;
  cgroupParent: string;
  cgroupName: string;
  annotations: Record<string, string>;
  owner: string;
}
export type OciRecord = ContainerRecord<OciExtra>;
export type OciState = State & { rootfs: string; created: string; owner: string };

export const DRIVER_DIR = 'native';
export const FIFO = 'exec.fifo';
const VERSION = '1.1.0';

export function stateDir(root: string, id: string): StateDir {
  return new StateDir(root, DRIVER_DIR, id);
}

export function ociRecord(root: string, id: string): OciRecord {
  const rec = stateDir(root, id).readJson<OciRecord>(STATE_FILE);
  if (!rec || !rec.extra?.bundle) throw new NotFoundError(id);
  return rec;
}

function exited(root: string, id: string): boolean {
  return stateDir(root, id).readJson('exit.json') !== undefined;
}

/** Frozen now (v1 freezer.state, v2 cgroup.freeze) under the record's cgroup paths. */
function frozen(rec: OciRecord): boolean {
  for (const p of rec.cgroupPaths) {
    try {
      if (/\/freezer\//.test(p)) return readFileSync(join(p, 'freezer.state'), 'utf8').trim() !== 'THAWED';
      if (/\/unified\//.test(p) || !/\/sys\/fs\/cgroup\/[^/]+\//.test(p)) {
        const v = readFileSync(join(p, 'cgroup.freeze'), 'utf8').trim();
        if (v === '1') return true;
      }
    } catch {
      /* gone */
    }
  }
  return false;
}

export function statusOf(root: string, rec: OciRecord): Status {
  if (exited(root, rec.id)) return 'stopped';
  if (rec.status === 'running' || rec.status === 'paused') {
    if (!isSameProcessAlive(rec.pid, rec.startTime)) return 'stopped';
    return frozen(rec) ? 'paused' : 'running';
  }
  if (rec.status === 'created' && !isSameProcessAlive(rec.pid, rec.startTime)) return 'stopped';
  return rec.status;
}

export function ociState(root: string, id: string, rec = ociRecord(root, id)): OciState {
  const status = statusOf(root, rec);
  const live = status === 'created' || status === 'running' || status === 'paused';
  return {
    ociVersion: VERSION,
    id,
    pid: live ? rec.pid : 0,
    status,
    bundle: rec.extra.bundle,
    rootfs: rec.extra.rootfs,
    created: rec.createdAt,
    owner: rec.extra.owner,
    ...(Object.keys(rec.extra.annotations).length ? { annotations: rec.extra.annotations } : {}),
  };
}

export function ociList(root: string): OciState[] {
  const out: OciState[] = [];
  for (const id of listIds(root, DRIVER_DIR)) {
    try {
      out.push(ociState(root, id));
    } catch {
      /* removed meanwhile, or not ours */
    }
  }
  return out;
}

/** kill: a created, running or paused container's init (or every process of its cgroup with `all`). */
export function ociKill(root: string, id: string, signal: NodeJS.Signals | number, all: boolean): void {
  const rec = ociRecord(root, id);
  const status = statusOf(root, rec);
  if (status !== 'created' && status !== 'running' && status !== 'paused') {
    throw new ExecDriverError('ERR_NOT_RUNNING', `cannot kill a container that is ${status}`, { containerId: id });
  }
  let pids: number[] | undefined;
  if (all) {
    const procs = rec.cgroupPaths.map((p) => {
      try {
        return readFileSync(join(p, 'cgroup.procs'), 'utf8');
      } catch {
        return '';
      }
    });
    pids = [...new Set(procs.join('\n').split('\n').filter(Boolean).map(Number))];
  }
  signalContainer(id, signal, rec.pid, pids);
  if (status === 'paused' && (signal === 'SIGKILL' || signal === 9)) thaw(rec); // dies now, not at its thaw
}

function thaw(rec: OciRecord): void {
  for (const p of rec.cgroupPaths) {
    try {
      if (/\/freezer\//.test(p)) writeFileSync(join(p, 'freezer.state'), 'THAWED');
      else writeFileSync(join(p, 'cgroup.freeze'), '0');
    } catch {
      /* not this hierarchy */
    }
  }
}

/** start: open the exec fifo (the process goes on to exec), record `running`, run poststart hooks. */
export async function ociStart(root: string, id: string, warn: (msg: string) => void): Promise<void> {
  const rec = ociRecord(root, id);
  const status = statusOf(root, rec);
  if (status !== 'created') throw new ExecDriverError('ERR_STATE', `cannot start a container that is ${status} (only a created one)`, { containerId: id });
  const state = stateDir(root, id);
  const fifo = state.path(FIFO);
  // the native front (native/ocifront.c) took the fifo's byte, then could not write the record: the rest is ours
  const released = process.env['EXECDRIVER_OCI_FRONT_RELEASED'] === '1';
  delete process.env['EXECDRIVER_OCI_FRONT_RELEASED'];
  if (!released) await takeFifo(root, id, rec, fifo);
  rmSync(fifo, { force: true });
  rec.startedAt = new Date().toISOString();
  saveRecord(state, rec, 'running');
  const hooks = state.readJson<{ hooks?: { poststart?: Hook[] } }>('config.json')?.hooks?.poststart;
  if (hooks?.length) {
    const { runHooks } = await import('./hooks.js');
    await runHooks('poststart', hooks, { ...ociState(root, id, rec), status: 'running' }).catch((e) => warn(`poststart: ${(e as Error).message}`));
  }
}

/** Open the exec fifo and read its byte: the container's process goes on to exec. */
async function takeFifo(root: string, id: string, rec: OciRecord, fifo: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    throw new ExecDriverError('ERR_STATE', `cannot start: open the exec fifo ${fifo}: ${(e as Error).message}`, { containerId: id });
  }
  try {
    const buf = Buffer.alloc(1);
    const read = (): number => {
      try {
        return readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        return 0;
      }
    };
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (read() > 0) break;
      if (exited(root, id) || !isSameProcessAlive(rec.pid, rec.startTime) || Date.now() > deadline) {
        // a fast process may have written the byte, run and exited since the read: the byte stays in the fifo
        if (read() > 0) break;
        throw new ExecDriverError('ERR_START_FAILED', 'the container exited before it was started', { containerId: id });
      }
      await sleep(1);
    }
  } finally {
    closeSync(fd);
  }
}
