/**
 * Freezing and thawing: v1 `freezer.state` (FROZEN / FREEZING / THAWED) or v2 `cgroup.freeze`
 * with the result in `cgroup.events` (`frozen 0|1`). Both settle asynchronously: write, then poll.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readText, sleep, writeValue } from '../io.js';

export interface FreezerTarget {
  version: 1 | 2;
  /** the container's directory in the freezer (v1) or unified (v2) hierarchy */
  path: string;
}

/** The file that tells the state: v1 freezer.state, v2 cgroup.events. */
export function stateFile(t: FreezerTarget): string {
  return join(t.path, t.version === 1 ? 'freezer.state' : 'cgroup.events');
}

/** Pure: is that file's text a frozen state? (v1 FREEZING is not frozen yet.) */
export function parseFrozen(version: 1 | 2, text: string): boolean {
  return version === 1 ? text.trim() === 'FROZEN' : /^frozen 1$/m.test(text);
}

/** Current state, read from the kernel. */
export async function readFrozen(t: FreezerTarget): Promise<boolean> {
  return parseFrozen(t.version, await readText(stateFile(t)));
}

/** The same, synchronously (for `inspect`). */
export function readFrozenSync(t: FreezerTarget): boolean {
  return parseFrozen(t.version, readFileSync(stateFile(t), 'utf8'));
}

/**
 * Ask for `frozen` and wait until the kernel reports it. v1 may stay FREEZING while a task is
 * busy in the kernel; the request is repeated, as the v1 freezer expects. Resolves false on timeout.
 */
export async function setFrozen(t: FreezerTarget, frozen: boolean, timeoutMs: number): Promise<boolean> {
  const file = t.version === 1 ? join(t.path, 'freezer.state') : join(t.path, 'cgroup.freeze');
  const value = t.version === 1 ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0';
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    if (t.version === 1 || delay === 1) await writeValue(file, value);
    if ((await readFrozen(t)) === frozen) return true;
    if (Date.now() >= deadline) return false;
    await sleep(delay);
  }
}
